// The [run] table of a pipeline: how cells are executed (docs/isolation.md).
//
//   [run]
//   isolation = "auto"      # "process": every cell in a `compaudit worker` process; "none": in the host;
//                           # "auto": process when any compressor or augmentation plugin is not built in
//   cell_timeout = 600      # seconds per worker (start-up included); 0 = no limit
//   cell_memory_mb = 4096   # address-space limit (RLIMIT_AS) of a worker; 0 = the machine's physical memory
//
// The command line (`compaudit run --isolate MODE --cell-timeout S --cell-memory MIB`) overrides each key.
#include "pipeline_detail.h"

#include <fmt/format.h>

namespace compaudit::host::detail {

void read_run(TableReader& root, const std::string& file, Pipeline& out) {
  const toml::node* n = root.node("run");
  if (!n) return;
  const toml::table* t = n->as_table();
  if (!t) root.fail_value(*n, "'run' must be a table ([run])");
  TableReader r(*t, file, "[run]", ErrorCode::pipeline);
  RunSpec& s = out.run;
  s.isolation = r.string("isolation").value_or(s.isolation);
  if (s.isolation != "process" && s.isolation != "none" && s.isolation != "auto")
    r.fail("isolation", fmt::format("isolation = \"{}\" is not one of \"process\", \"none\", \"auto\"", s.isolation));
  s.cell_timeout = r.number("cell_timeout").value_or(s.cell_timeout);
  // A day per cell is generous for any audit this tool runs; more is almost certainly a unit mistake.
  if (!(s.cell_timeout >= 0 && s.cell_timeout <= 86400))
    r.fail("cell_timeout", fmt::format("cell_timeout = {} must be in [0, 86400] seconds (0 = no limit)",
                                       s.cell_timeout));
  s.cell_memory_mb = r.integer("cell_memory_mb").value_or(s.cell_memory_mb);
  // A worker maps LibTorch (about 1 GiB of address space) before it computes anything; less cannot even start.
  if (s.cell_memory_mb != 0 && (s.cell_memory_mb < 1024 || s.cell_memory_mb > (std::int64_t{1} << 30)))
    r.fail("cell_memory_mb", fmt::format("cell_memory_mb = {} must be 0 (the machine's memory) or at least 1024 "
                                         "(a worker maps LibTorch before it starts)", s.cell_memory_mb));
  r.finish();
}

}  // namespace compaudit::host::detail
