// toml++'s implementation, compiled once with the sanitizers and coverage hooks so that the fuzzers see inside the
// TOML parser (the rest of the fuzz build includes toml++ with TOML_HEADER_ONLY=0, i.e. declarations only).
#define TOML_IMPLEMENTATION 1
#include <toml++/toml.h>
