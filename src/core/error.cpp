#include <shmkit/core/error.hpp>

#include <cerrno>
#include <cstring>

namespace shmkit::detail {

namespace {

std::string describe(const std::string& what, int err, const std::string& hint) {
  std::string message = what + ": " + std::strerror(err);
  if (!hint.empty()) {
    message += " (" + hint + ")";
  }
  return message;
}

}  // namespace

void throw_system_error(const std::string& what, int err) {
  throw Error(describe(what, err, {}), std::error_code(err, std::generic_category()));
}

void throw_errno(const std::string& what, int err, const std::string& hint) {
  const std::error_code code(err, std::generic_category());
  const std::string message = describe(what, err, hint);
  switch (err) {
    case ENOENT:
      throw NotFoundError(message, code);
    case EEXIST:
      throw ExistsError(message, code);
    default:
      throw Error(message, code);
  }
}

}  // namespace shmkit::detail
