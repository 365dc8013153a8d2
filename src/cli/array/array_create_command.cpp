// shmkit array create NAME --dtype D --shape S [--fill V] [--mode M] [--exist-ok]

#include <shmkit/array/options.hpp>
#include <shmkit/array/shared_array.hpp>
#include <shmkit/core/dtype.hpp>
#include <shmkit/core/segment_scan.hpp>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/array/array_commands.hpp"
#include "cli/common/format.hpp"
#include "cli/common/values.hpp"

namespace shmkit::cli {

namespace {

struct CreateOptions {
  std::string name;
  std::string dtype;
  std::string shape;
  std::optional<std::string> fill;
  std::string mode = "0600";
  bool exist_ok = false;
};

void run_create(const CreateOptions& options) {
  // Every value is checked before anything is created, so a typo never
  // leaves a half-configured array behind.
  const Dtype dtype = parse_dtype(options.dtype);
  const std::vector<std::size_t> shape = parse_shape(options.shape);
  const mode_t mode = parse_mode(options.mode);
  // Only for the message: another process may create the name meanwhile,
  // which create() itself handles.
  const bool existed = options.exist_ok && inspect_segment(options.name).has_value();

  visit_dtype(dtype, [&](auto type) {
    using T = typename decltype(type)::type;
    ArrayOptions<T> array_options;
    array_options.exist_ok = options.exist_ok;
    array_options.mode = mode;
    if (options.fill) {
      array_options.fill = parse_value<T>(*options.fill);
    }
    const auto array = SharedArray<T>::create(options.name, shape, array_options);
    const ArrayInfo info = array.info();
    std::cout << (existed ? "opened existing" : "created") << " shared array '" << info.name
              << "': " << dtype_string(dtype) << " (" << dtype_name(dtype) << "), shape " << shape_string(info.shape)
              << ", " << human_size(info.data_bytes) << " in a " << human_size(info.segment_bytes) << " segment";
    if (!existed) {
      std::cout << ", mode " << mode_string(mode);
    }
    std::cout << '\n';
  });
}

}  // namespace

void register_array_create_command(CLI::App& array) {
  auto options = std::make_shared<CreateOptions>();
  CLI::App* cmd = array.add_subcommand("create", "Create a shared array, every element set to --fill (default 0)");
  cmd->add_option("NAME", options->name, "Array name: 1..200 characters from [A-Za-z0-9._-]")->required();
  cmd->add_option("--dtype,-d", options->dtype,
                  "numpy dtype: f4, <f8, float32, u1, uint8, i8, int64, bool, c8, complex128, ...")
      ->required();
  cmd->add_option("--shape,-s", options->shape, "Shape, e.g. 3,4 or (3, 4); '' or () for a 0-d array")->required();
  cmd->add_option("--fill,-f", options->fill,
                  "Initial value of every element, range-checked for the dtype (bool: true/false/1/0; complex: 1+2j "
                  "or (1,2))");
  cmd->add_option("--mode,-m", options->mode, "Permission bits in octal; 0660 shares with the group")
      ->capture_default_str();
  cmd->add_flag("--exist-ok", options->exist_ok,
                "If the array exists with the same dtype and shape, use it (not refilled) instead of failing");
  cmd->callback([options] { run_create(*options); });
}

}  // namespace shmkit::cli
