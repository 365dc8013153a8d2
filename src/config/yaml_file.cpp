// Reading a config file whole, and replacing one atomically (core does the
// replacing; this names the file a configuration file).

#include "core/detail/file_io.hpp"
#include "core/detail/unique_fd.hpp"

#include <shmkit/config/yaml_config.hpp>
#include <shmkit/core/error.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>

namespace shmkit::detail {

namespace {

std::string quoted(const std::filesystem::path& path) {
  return "'" + path.string() + "'";
}

}  // namespace

void check_yaml_extension(const std::filesystem::path& path, std::string_view action) {
  const std::filesystem::path extension = path.extension();
  if (extension != ".yaml" && extension != ".yml") {
    const std::string file = path.string();
    throw ConfigError("cannot " + std::string(action) + " configuration file " + quoted(path) +
                          ": the file name must end in .yaml or .yml",
                      "", file, 0, 0);
  }
}

std::string read_config_file(const std::filesystem::path& path) {
  const UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file) {
    throw_errno("cannot read configuration file " + quoted(path), errno);
  }
  std::string text;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(file.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("cannot read configuration file " + quoted(path), errno);
    }
    if (n == 0) {
      break;
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  atomic_write_file(path, contents, "configuration file");
}

}  // namespace shmkit::detail
