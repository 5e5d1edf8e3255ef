#include <compaudit/plugin.h>

COMPAUDIT_NAMESPACE_BEGIN

// Key function: anchors Plugin's vtable and type_info in the SDK library (see plugin-host rules on RTLD_LOCAL).
Plugin::~Plugin() noexcept(false) = default;

const char* to_string(PluginKind kind) noexcept {
  switch (kind) {
    case PluginKind::compressor: return "compressor";
    case PluginKind::metric: return "metric";
    case PluginKind::augmentation: return "augmentation";
  }
  return "unknown";
}

std::optional<PluginKind> plugin_kind_from_string(const std::string& name) noexcept {
  for (auto kind : {PluginKind::compressor, PluginKind::metric, PluginKind::augmentation})
    if (name == to_string(kind)) return kind;
  return std::nullopt;
}

COMPAUDIT_NAMESPACE_END
