// test_api.h — a tiny plugin interface for the loader's tests, so fault plugins need no LibTorch. It lives in its
// own shared library (compaudit_test_api), as the SDK's interfaces do, so its type_info has one home and
// Loader::instantiate_as<Worker> works across the plugin boundary.
#pragma once

#include <compaudit/plugin.h>

#include <string>

namespace compaudit::test {

class COMPAUDIT_EXPORT Worker : public Plugin {
 public:
  ~Worker() noexcept(false) override;
  /// Returns x plus a counter private to the library image (shows whether two manifests reached one image).
  virtual int work(int x) = 0;
  /// The value of the library's own `compaudit_test_whoami()` (shows which symbol a plugin resolved).
  virtual std::string whoami() const = 0;
};

}  // namespace compaudit::test
