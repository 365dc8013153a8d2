#include "cli/array/array_commands.hpp"
#include "cli/commands.hpp"

namespace shmkit::cli {

void register_array_command(CLI::App& app) {
  CLI::App* array = app.add_subcommand("array", "Create, inspect, read, write and remove shared arrays");
  array->require_subcommand(1);
  array->footer(
      "Arrays live in /dev/shm/<NAME> until removed with 'shmkit array rm', or by 'shmkit gc' once their creator\n"
      "has exited and no process has them open. numpy attaches with np.ndarray(shape, dtype, buffer=shm.buf).");
  register_array_create_command(*array);
  register_array_info_command(*array);
  register_array_get_command(*array);
  register_array_set_command(*array);
  register_array_rm_command(*array);
}

}  // namespace shmkit::cli
