// svg.h — small hand-written SVG charts for report.html: no script, no fonts to fetch, no dependencies. Each chart
// is a value type rendered to one <svg> element; tooltips are SVG <title>s, which browsers show on hover offline.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace compaudit::report::svg {

/// A point with an optional interval [lo, hi] drawn as an error bar.
struct Point {
  double x = 0, y = 0;
  std::optional<double> lo, hi;
  std::string tip;  ///< Hover text.
};

struct Series {
  std::string label, color;
  std::vector<Point> points;  ///< Drawn in x order, joined by a line.
  bool dashed = false;
  bool joined = true;   ///< false: points only (a scatter).
  double radius = 4;    ///< Marker radius.
  bool ring = false;    ///< Markers as unfilled rings (to highlight points drawn by another series).
};

/// A horizontal reference line across the whole x range (e.g. the dense arm), with an optional shaded band.
struct RefLine {
  std::string label, color;
  double y = 0;
  std::optional<double> lo, hi;  ///< Drawn as a light band when both are set.
};

/// y against a numeric x (e.g. top-1 against sparsity).
struct XYChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  std::vector<RefLine> refs;
  bool y_percent = false;    ///< Tick labels as percentages (values are fractions).
  bool y_from_zero = false;  ///< Start the y axis at 0 (rates); else fit the data (top-1 differences are small).
  bool y_integer = false;    ///< Counts: tick steps of at least 1.
  int width = 560, height = 320;
};
std::string render(const XYChart& chart);

/// Grouped vertical bars: one group per category, one bar per series.
struct BarSeries {
  std::string label, color;
  std::vector<std::optional<double>> values;  ///< One per category; nullopt draws nothing.
};
struct BarChart {
  std::string title, y_label;
  std::vector<std::string> categories;
  std::vector<BarSeries> series;
  bool y_percent = false;
  int width = 640, height = 320;
};
std::string render(const BarChart& chart);

/// Horizontal bars, one per category from the top (e.g. a value per layer); negative values extend left of 0.
struct HBarChart {
  std::string title, x_label, color = "#1f6fb4";
  std::vector<std::string> categories;
  std::vector<std::optional<double>> values;  ///< One per category; nullopt draws nothing.
  bool x_percent = false;
  int width = 560;
};
std::string render(const HBarChart& chart);

/// A rows × columns grid coloured by a signed value on a diverging scale (red negative, blue positive); marked cells
/// get a heavy outline and an asterisk (e.g. classes impacted at the chosen alpha).
struct HeatCell {
  std::optional<double> value;
  bool marked = false;
  std::string text;  ///< Shown in the cell.
  std::string tip;
};
struct Heatmap {
  std::string title, legend;
  std::vector<std::string> rows, cols;
  std::vector<std::vector<HeatCell>> cells;  ///< [row][col]
};
std::string render(const Heatmap& map);

/// XML/HTML text escaping.
std::string esc(const std::string& text);
/// Colour i of a qualitative palette that stays readable on white and in grayscale print.
std::string palette(std::size_t i);
/// A number for a label: "12.5%" (percent) or a short decimal.
std::string label_number(double v, bool percent, double step = 0);

}  // namespace compaudit::report::svg
