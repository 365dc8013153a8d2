// shmkit array get NAME [INDEX...]

#include <shmkit/array/dynamic_array.hpp>

#include <xtensor/xarray.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/array/array_commands.hpp"
#include "cli/common/array_print.hpp"
#include "cli/common/values.hpp"

namespace shmkit::cli {

namespace {

// Arrays up to this size are read through snapshot(): a copy no locked
// writer tore. Larger ones are read in place, because copying gigabytes to
// print a few summarised numbers would be absurd.
constexpr std::size_t kSnapshotLimitBytes = std::size_t{64} << 20;

struct GetOptions {
  std::string name;
  std::vector<std::string> index;
};

void run_get(const GetOptions& options) {
  const auto array = DynamicArray::open(options.name);
  array.visit([&](auto typed) {
    using T = typename decltype(typed)::value_type;
    const auto shape = typed.shape();
    const std::vector<std::size_t> index = resolve_index(options.index, shape, "shared array '" + options.name + "'");

    // A partial index selects a C-contiguous block: the sub-array at `first`
    // with the remaining axes as its shape.
    std::size_t first = 0;
    std::size_t stride = typed.size();
    for (std::size_t axis = 0; axis < index.size(); ++axis) {
      stride = shape[axis] == 0 ? 0 : stride / shape[axis];
      first += index[axis] * stride;
    }
    const std::vector<std::size_t> sub_shape(shape.begin() + static_cast<std::ptrdiff_t>(index.size()), shape.end());

    xt::xarray<T> snapshot;
    const T* data = typed.data();
    if (typed.nbytes() <= kSnapshotLimitBytes) {
      snapshot = typed.snapshot();
      data = snapshot.data();
    }
    print_array(std::cout, sub_shape, [&](std::size_t flat) { return format_value<T>(data[first + flat]); });
  });
}

}  // namespace

void register_array_get_command(CLI::App& array) {
  auto options = std::make_shared<GetOptions>();
  CLI::App* cmd =
      array.add_subcommand("get", "Print an array (numpy style, summarised when large), a sub-array, or one element");
  cmd->add_option("NAME", options->name, "Array name")->required();
  cmd->add_option("INDEX", options->index,
                  "Coordinates, one per leading axis; fewer than ndim print a sub-array; negative counts from the end");
  cmd->callback([options] { run_get(*options); });
}

}  // namespace shmkit::cli
