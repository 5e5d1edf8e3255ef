// host/engine/run/plugin_check.h — fail before work, engine side (compaudit/host/plugin_check.h, docs/cli.md).
//
// `run` creates every plugin of its pipeline before it loads data, trains or creates a store: in this process, or —
// when cells run isolated — in a `compaudit worker --check-plugins` process with the cells' limits, so that a plugin
// that crashes, hangs or exhausts memory while being created does not take the host down. `validate --load` calls
// create_plugins() through EngineApi.
#pragma once

#include <compaudit/host/engine_api.h>
#include <compaudit/host/plugin_check.h>

#include <vector>

namespace compaudit::host {
class Registry;
struct Pipeline;
}  // namespace compaudit::host

namespace compaudit::engine {

struct IsolationSettings;

/// What a checking worker prints before it creates a plugin, followed by "plugin<TAB>manifest<TAB>use<TAB>line<TAB>
/// column" (where the pipeline uses it): the host names the plugin from the last such line when the worker dies
/// inside create().
inline constexpr const char* kCreatingPrefix = "compaudit worker: creating ";

/// Creates every plugin of `pipeline` in this process; each object must implement its kind's interface. With
/// `announce`, each plugin is announced on stderr (kCreatingPrefix) before it is created.
std::vector<host::PluginCreationFailure> create_plugins(const host::Pipeline& pipeline,
                                                        const host::Registry& registry, bool announce = false);

/// `compaudit worker --check-plugins PIPELINE` (run_worker): create_plugins() with announcements; prints the
/// failures and returns exit_plugin when any.
int check_plugins_here(const host::WorkerRequest& request);

/// `run`: throws host::PluginCreationError when a plugin of `pipeline` cannot be created — in this process, or in a
/// worker when `isolation` is given (run/worker.cpp, check_plugins_in_worker).
void create_plugins_before_work(const host::Pipeline& pipeline, const host::Registry& registry,
                                const IsolationSettings* isolation);

}  // namespace compaudit::engine
