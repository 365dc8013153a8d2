// shmkit array set NAME INDEX... VALUE

#include <shmkit/array/dynamic_array.hpp>
#include <shmkit/core/error.hpp>

#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cli/array/array_commands.hpp"
#include "cli/common/format.hpp"
#include "cli/common/values.hpp"

namespace shmkit::cli {

namespace {

struct SetOptions {
  std::string name;
  std::vector<std::string> index_and_value;
};

std::string index_string(const std::vector<std::size_t>& index) {
  std::string text;
  for (const std::size_t i : index) {
    text += (text.empty() ? "" : ", ") + std::to_string(i);
  }
  return "[" + text + "]";
}

void run_set(const SetOptions& options) {
  const auto array = DynamicArray::open(options.name);
  const std::string object = "shared array '" + options.name + "'";
  const std::string& value_text = options.index_and_value.back();
  const std::span<const std::string> coordinates(options.index_and_value.data(), options.index_and_value.size() - 1);
  array.visit([&](auto typed) {
    using T = typename decltype(typed)::value_type;
    const std::vector<std::size_t> index = resolve_index(coordinates, typed.shape(), object);
    if (index.size() != typed.ndim()) {
      throw IndexError("set needs one coordinate per axis: " + object + " has shape " + shape_string(typed.shape()) +
                       ", but " + std::to_string(index.size()) + " coordinates were given (followed by the value '" +
                       value_text + "')");
    }
    const T value = parse_value<T>(value_text);
    const std::size_t flat = typed.flat_index(index);
    {
      // Under the lock, so locked readers and snapshot() never see a torn
      // element (complex128 is two stores).
      const ArrayLock guard = typed.lock();
      if (guard.recovered()) {
        std::cerr << "shmkit: warning: a process died holding the lock of " << object
                  << "; its last locked update may be incomplete\n";
      }
      typed[flat] = value;
    }
    std::cout << options.name << index_string(index) << " = " << format_value<T>(value) << '\n';
  });
}

}  // namespace

void register_array_set_command(CLI::App& array) {
  auto options = std::make_shared<SetOptions>();
  CLI::App* cmd = array.add_subcommand("set", "Write one element under the array's lock");
  cmd->add_option("NAME", options->name, "Array name")->required();
  cmd->add_option("INDEX...VALUE", options->index_and_value,
                  "One coordinate per axis (negative counts from the end), then the value; put '--' before the "
                  "first of them if a value starts with '-' and a letter, e.g. -- 0 -inf")
      ->required();
  cmd->callback([options] { run_set(*options); });
}

}  // namespace shmkit::cli
