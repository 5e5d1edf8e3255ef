// One source, built into several test plugins by compile definitions:
//   PLUGIN_ID, PLUGIN_KIND   what the descriptor says (a manifest may say otherwise: identity faults)
//   WHOAMI                   the value of this library's exported compaudit_test_whoami()
//   THROW_ON_CREATE / THROW_ON_WORK / THROW_ON_DESTROY
//   CALL_MISSING             references a function no library defines (an unresolved symbol at load)
#include "test_api.h"

#include <stdexcept>

#ifndef PLUGIN_ID
#define PLUGIN_ID "org.test.compressor.good"
#endif
#ifndef PLUGIN_KIND
#define PLUGIN_KIND compressor
#endif
#ifndef WHOAMI
#define WHOAMI "good"
#endif

// Exported by every test plugin under the same name: each plugin must call its own (RTLD_LOCAL).
extern "C" COMPAUDIT_EXPORT const char* compaudit_test_whoami() { return WHOAMI; }

#ifdef CALL_MISSING
extern "C" int compaudit_test_missing_function();
#endif

namespace {

int g_calls = 0;  // one per library image

class TestPlugin final : public compaudit::test::Worker {
 public:
  explicit TestPlugin(const compaudit::Params& params) {
    if (params.has("fail")) throw std::runtime_error("parameter says fail");
#ifdef THROW_ON_CREATE
    throw std::runtime_error("boom in constructor");
#endif
  }
  ~TestPlugin() noexcept(false) override {
#ifdef THROW_ON_DESTROY
    throw std::runtime_error("boom in destructor");
#endif
  }
  int work(int x) override {
#ifdef THROW_ON_WORK
    throw std::runtime_error("boom in work");
#endif
#ifdef CALL_MISSING
    x += compaudit_test_missing_function();
#endif
    return x + ++g_calls;
  }
  std::string whoami() const override { return compaudit_test_whoami(); }
};

}  // namespace

COMPAUDIT_PLUGIN(TestPlugin, PLUGIN_ID, compaudit::PluginKind::PLUGIN_KIND, "1.0.0")
