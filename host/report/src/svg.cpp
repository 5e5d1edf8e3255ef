#include "svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace compaudit::report::svg {

std::string esc(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string palette(std::size_t i) {
  static const char* colors[] = {"#1f6fb4", "#e07b00", "#2e9d4a", "#c0392b", "#7b52ab",
                                 "#8c564b", "#d45fa6", "#6b6b6b", "#a8a800", "#17a2b8"};
  return colors[i % (sizeof colors / sizeof *colors)];
}

std::string label_number(double v, bool percent, double step) {
  if (percent) {
    const double s = step * 100;
    const int digits = s <= 0 || s >= 1 ? (step ? 0 : 1) : s >= 0.1 ? 1 : 2;
    return fmt::format("{:.{}f}%", v * 100, digits);
  }
  if (step > 0) {
    const int digits = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
    return fmt::format("{:.{}f}", v, std::clamp(digits, 0, 6));
  }
  return fmt::format("{:.3g}", v);
}

namespace {

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

/// Round tick step (1, 2 or 5 × 10^k) giving about `n` ticks over [lo, hi].
double nice_step(double lo, double hi, int n) {
  const double raw = (hi - lo) / std::max(n, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

/// Widens a range to whole tick steps; a degenerate range gets some room around its value.
double fit(Range& r, int ticks, bool integer = false) {
  if (r.empty()) r.lo = 0, r.hi = 1;
  if (r.hi - r.lo < 1e-12) {
    const double pad = std::abs(r.lo) > 0 ? std::abs(r.lo) * 0.1 : 0.5;
    r.lo -= pad, r.hi += pad;
  }
  const double step = integer ? std::max(1.0, nice_step(r.lo, r.hi, ticks)) : nice_step(r.lo, r.hi, ticks);
  r.lo = std::floor(r.lo / step + 1e-9) * step;
  r.hi = std::ceil(r.hi / step - 1e-9) * step;
  return step;
}

std::string open_svg(int w, int h, const std::string& title) {
  return fmt::format(
      "<svg class=\"chart\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" "
      "height=\"{1}\" role=\"img\" aria-label=\"{2}\"><rect width=\"{0}\" height=\"{1}\" fill=\"#fff\"/>"
      "<text x=\"{3}\" y=\"20\" text-anchor=\"middle\" class=\"ctitle\">{2}</text>",
      w, h, esc(title), w / 2);
}

std::string truncate(const std::string& s, std::size_t n) { return s.size() <= n ? s : s.substr(0, n - 1) + "…"; }

/// Legend to the right of the plot area: one row per entry.
std::string legend(double x, double y, const std::vector<std::pair<std::string, std::string>>& entries,
                   const std::vector<bool>& dashed = {}) {
  std::string out;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const double yy = y + 18.0 * static_cast<double>(i);
    const bool d = i < dashed.size() && dashed[i];
    out += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"3\"{}/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"legend\"><title>{}</title>{}</text>",
        x, yy, x + 18, yy, entries[i].second, d ? " stroke-dasharray=\"5 3\"" : "", x + 24, yy + 4,
        esc(entries[i].first), esc(truncate(entries[i].first, 22)));
  }
  return out;
}

/// Horizontal grid lines and y tick labels.
std::string y_axis(double left, double right, double top, double bottom, const Range& r, double step, bool percent,
                   const std::string& label) {
  std::string out;
  auto Y = [&](double v) { return bottom - (v - r.lo) / (r.hi - r.lo) * (bottom - top); };
  for (double v = r.lo; v <= r.hi + step * 1e-6; v += step) {
    out += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"grid\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" class=\"tick\">{}</text>",
        left, Y(v), right, Y(v), left - 6, Y(v) + 4, label_number(v, percent, step));
  }
  out += fmt::format(
      "<text transform=\"translate(14 {:.1f}) rotate(-90)\" text-anchor=\"middle\" "
      "class=\"alabel\">{}</text>",
      (top + bottom) / 2, esc(label));
  out += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" class=\"axis\"/>", left, top,
                     bottom);
  return out;
}

}  // namespace

std::string render(const XYChart& c) {
  const double left = 64, top = 34, legend_w = 170;
  const double right = c.width - legend_w, bottom = c.height - 46.0;
  Range xr, yr;
  for (const auto& s : c.series)
    for (const auto& p : s.points) {
      xr.add(p.x), yr.add(p.y);
      if (p.lo) yr.add(*p.lo);
      if (p.hi) yr.add(*p.hi);
    }
  for (const auto& r : c.refs) {
    yr.add(r.y);
    if (r.lo) yr.add(*r.lo);
    if (r.hi) yr.add(*r.hi);
  }
  if (c.y_from_zero) yr.add(0);
  const double ystep = fit(yr, 5, c.y_integer);
  if (c.y_percent && c.y_from_zero && yr.hi > 1 && yr.lo >= 0) yr.hi = std::max(1.0, yr.hi);
  const double xstep = fit(xr, 6);
  auto X = [&](double v) { return left + (v - xr.lo) / (xr.hi - xr.lo) * (right - left); };
  auto Y = [&](double v) { return bottom - (v - yr.lo) / (yr.hi - yr.lo) * (bottom - top); };

  std::string out = open_svg(c.width, c.height, c.title);
  out += y_axis(left, right, top, bottom, yr, ystep, c.y_percent, c.y_label);
  for (double v = xr.lo; v <= xr.hi + xstep * 1e-6; v += xstep)
    out += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" class=\"axis\"/>"
        "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\" class=\"tick\">{4}</text>",
        X(v), bottom, bottom + 4, bottom + 17, label_number(v, false, xstep));
  out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"axis\"/>", left, bottom,
                     right, bottom);
  out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" class=\"alabel\">{}</text>",
                     (left + right) / 2, bottom + 36, esc(c.x_label));

  std::vector<std::pair<std::string, std::string>> entries;
  std::vector<bool> dashed;
  for (const auto& r : c.refs) {
    if (r.lo && r.hi)
      out += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\" "
          "opacity=\"0.07\"/>",
          left, Y(*r.hi), right - left, std::max(0.5, Y(*r.lo) - Y(*r.hi)), r.color);
    out += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
        "stroke-width=\"2\" stroke-dasharray=\"6 4\"><title>{}: {}</title></line>",
        left, Y(r.y), right, Y(r.y), r.color, esc(r.label), label_number(r.y, c.y_percent));
    entries.emplace_back(r.label, r.color);
    dashed.push_back(true);
  }
  for (const auto& s : c.series) {
    auto pts = s.points;
    std::sort(pts.begin(), pts.end(), [](const Point& a, const Point& b) { return a.x < b.x; });
    std::string path;
    for (const auto& p : pts) path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "M" : " L", X(p.x), Y(p.y));
    if (pts.size() > 1 && s.joined)
      out += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.2\"{}/>", path, s.color,
                         s.dashed ? " stroke-dasharray=\"5 3\"" : "");
    for (const auto& p : pts) {
      if (p.lo && p.hi)
        out += fmt::format(
            "<path d=\"M{0:.1f},{1:.1f} V{2:.1f} M{3:.1f},{1:.1f} H{4:.1f} M{3:.1f},{2:.1f} "
            "H{4:.1f}\" stroke=\"{5}\" stroke-width=\"1.4\" fill=\"none\"/>",
            X(p.x), Y(*p.lo), Y(*p.hi), X(p.x) - 4, X(p.x) + 4, s.color);
      out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{:g}\" {}><title>{}</title></circle>", X(p.x),
                         Y(p.y), s.radius,
                         s.ring ? fmt::format("fill=\"none\" stroke=\"{}\" stroke-width=\"2.5\"", s.color)
                                : fmt::format("fill=\"{}\"", s.color),
                         esc(p.tip.empty() ? s.label : p.tip));
    }
    entries.emplace_back(s.label, s.color);
    dashed.push_back(s.dashed);
  }
  out += legend(right + 16, top + 8, entries, dashed);
  return out + "</svg>";
}

std::string render(const BarChart& c) {
  const double left = 64, top = 34, legend_w = 190;
  const double right = c.width - legend_w, bottom = c.height - 70.0;
  Range yr;
  yr.add(0);
  for (const auto& s : c.series)
    for (const auto& v : s.values)
      if (v) yr.add(*v);
  const double ystep = fit(yr, 5);
  auto Y = [&](double v) { return bottom - (v - yr.lo) / (yr.hi - yr.lo) * (bottom - top); };
  std::string out = open_svg(c.width, c.height, c.title);
  out += y_axis(left, right, top, bottom, yr, ystep, c.y_percent, c.y_label);
  const double group = (right - left) / std::max<std::size_t>(c.categories.size(), 1);
  const double bar = group * 0.8 / std::max<std::size_t>(c.series.size(), 1);
  for (std::size_t k = 0; k < c.categories.size(); ++k) {
    const double gx = left + group * static_cast<double>(k) + group * 0.1;
    for (std::size_t s = 0; s < c.series.size(); ++s) {
      if (k >= c.series[s].values.size() || !c.series[s].values[k]) continue;
      const double v = *c.series[s].values[k];
      const double y0 = Y(std::max(0.0, yr.lo)), y1 = Y(v);
      out += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\">"
          "<title>{} — {}: {}</title></rect>",
          gx + bar * static_cast<double>(s), std::min(y0, y1), std::max(bar - 1, 1.0), std::abs(y0 - y1),
          c.series[s].color, esc(c.categories[k]), esc(c.series[s].label), label_number(v, c.y_percent));
    }
    // Category labels slanted so ten class names fit.
    out += fmt::format(
        "<text transform=\"translate({:.1f} {:.1f}) rotate(-30)\" text-anchor=\"end\" "
        "class=\"tick\">{}</text>",
        gx + group * 0.4, bottom + 14, esc(truncate(c.categories[k], 16)));
  }
  out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"axis\"/>", left,
                     Y(std::max(0.0, yr.lo)), right, Y(std::max(0.0, yr.lo)));
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& s : c.series) entries.emplace_back(s.label, s.color);
  out += legend(right + 16, top + 8, entries);
  return out + "</svg>";
}

std::string render(const HBarChart& c) {
  const double left = 150, top = 34, row = 22, right = c.width - 24.0;
  const double bottom = top + row * static_cast<double>(std::max<std::size_t>(c.categories.size(), 1));
  Range xr;
  xr.add(0);
  for (const auto& v : c.values)
    if (v) xr.add(*v);
  const double step = fit(xr, 5);
  auto X = [&](double v) { return left + (v - xr.lo) / (xr.hi - xr.lo) * (right - left); };
  std::string out = open_svg(c.width, static_cast<int>(bottom + 46), c.title);
  for (double v = xr.lo; v <= xr.hi + step * 1e-6; v += step)
    out += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" class=\"grid\"/>"
        "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\" class=\"tick\">{4}</text>",
        X(v), top, bottom, bottom + 15, label_number(v, c.x_percent, step));
  out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" class=\"alabel\">{}</text>",
                     (left + right) / 2, bottom + 34, esc(c.x_label));
  for (std::size_t k = 0; k < c.categories.size(); ++k) {
    const double y = top + row * static_cast<double>(k);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" class=\"tick\"><title>{}</title>{}</text>",
                       left - 6, y + row / 2 + 4, esc(c.categories[k]), esc(truncate(c.categories[k], 22)));
    if (k >= c.values.size() || !c.values[k]) continue;
    const double x0 = X(0), x1 = X(*c.values[k]);
    out += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{}: {}</title></rect>",
        std::min(x0, x1), y + 3, std::max(std::abs(x1 - x0), 0.5), row - 6, c.color, esc(c.categories[k]),
        label_number(*c.values[k], c.x_percent));
  }
  out += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" class=\"axis\"/>", X(0), top,
                     bottom);
  return out + "</svg>";
}

std::string render(const Heatmap& m) {
  const double row_label = 130, col_label = 110,
               cw = std::clamp(560.0 / std::max<std::size_t>(m.cols.size(), 1), 46.0, 90.0), ch = 24, top = 34;
  const double width = std::max(540.0, row_label + cw * static_cast<double>(m.cols.size()) + 20);
  const double height = top + col_label + ch * static_cast<double>(m.rows.size()) + 50;
  double vmax = 0;
  for (const auto& row : m.cells)
    for (const auto& cell : row)
      if (cell.value) vmax = std::max(vmax, std::abs(*cell.value));
  if (vmax <= 0) vmax = 1;
  std::string out = open_svg(static_cast<int>(width), static_cast<int>(height), m.title);
  for (std::size_t j = 0; j < m.cols.size(); ++j)
    out += fmt::format(
        "<text transform=\"translate({:.1f} {:.1f}) rotate(-40)\" class=\"tick\"><title>{}</title>"
        "{}</text>",
        row_label + cw * (static_cast<double>(j) + 0.5), top + col_label - 6, esc(m.cols[j]),
        esc(truncate(m.cols[j], 20)));
  for (std::size_t i = 0; i < m.rows.size(); ++i) {
    const double y = top + col_label + ch * static_cast<double>(i);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" class=\"tick\">{}</text>", row_label - 6,
                       y + ch / 2 + 4, esc(truncate(m.rows[i], 18)));
    for (std::size_t j = 0; j < m.cols.size() && i < m.cells.size() && j < m.cells[i].size(); ++j) {
      const auto& cell = m.cells[i][j];
      const double x = row_label + cw * static_cast<double>(j);
      std::string fill = "#f2f2f2";
      if (cell.value) {
        const double a = std::min(1.0, std::abs(*cell.value) / vmax);
        // White to red (negative) or white to blue (positive), linear in |value|.
        const int r = *cell.value < 0 ? 255 : static_cast<int>(255 - a * (255 - 31));
        const int g =
            *cell.value < 0 ? static_cast<int>(255 - a * (255 - 80)) : static_cast<int>(255 - a * (255 - 111));
        const int b =
            *cell.value < 0 ? static_cast<int>(255 - a * (255 - 60)) : static_cast<int>(255 - a * (255 - 180));
        fill = fmt::format("#{:02x}{:02x}{:02x}", r, g, b);
      }
      out += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\" "
          "stroke=\"{}\" stroke-width=\"{}\"><title>{}</title></rect>",
          x + 1, y + 1, cw - 2, ch - 2, fill, cell.marked ? "#111" : "#fff", cell.marked ? 2.5 : 1, esc(cell.tip));
      out +=
          fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" class=\"hcell{}\">{}{}</text>",
                      x + cw / 2, y + ch / 2 + 4, cell.marked ? " marked" : "", esc(cell.text), cell.marked ? "*" : "");
    }
  }
  // The legend may be long: one line per ';'-separated part.
  double ly = height - 30;
  std::size_t start = 0;
  while (start <= m.legend.size()) {
    auto end = m.legend.find(';', start);
    if (end == std::string::npos) end = m.legend.size();
    out += fmt::format("<text x=\"8\" y=\"{:.1f}\" class=\"legend\">{}</text>", ly,
                       esc(m.legend.substr(start, end - start)));
    ly += 16;
    start = end + 1;
  }
  return out + "</svg>";
}

}  // namespace compaudit::report::svg
