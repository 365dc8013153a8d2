// Precompiled header of the shmkit command: every subcommand file includes
// CLI11 (header-only, ~1.3 s to parse) and some shmkit headers. Files still
// include what they use; this header only makes that cheap.

#include <CLI/CLI.hpp>

#include <shmkit/shmkit.hpp>
