#pragma once
/// @file
/// The exception hierarchy shared by every shmkit module.
///
/// Setup and I/O failures throw a subclass of `shmkit::Error`; hot paths
/// never throw and report expected outcomes (full, empty, timed out) by
/// return value. Callers branch on the subclass, and every message names the
/// object involved and, where there is one, the fix.

#include <stdexcept>
#include <string>
#include <system_error>

namespace shmkit {

/// Base of every shmkit exception. `code()` carries the errno of a failed
/// system call, or an empty error_code when the failure is not a system one.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::error_code code = {}) : std::runtime_error(message), code_(code) {}

  /// The system error behind this failure, if any (`code().value()` is errno).
  [[nodiscard]] const std::error_code& code() const noexcept { return code_; }

 private:
  std::error_code code_;
};

/// A name breaks the naming rules (`[A-Za-z0-9._-]`, 1..200 chars, no leading dot).
class NameError : public Error {
  using Error::Error;
};

/// The object already exists and the caller did not ask to reuse it.
class ExistsError : public Error {
  using Error::Error;
};

/// The object does not exist.
class NotFoundError : public Error {
  using Error::Error;
};

/// A segment's magic, layout version, dtype or shape is not what was expected.
class LayoutError : public Error {
  using Error::Error;
};

/// A bounded wait ran out of time.
class TimeoutError : public Error {
  using Error::Error;
};

/// The object store has no room and nothing can be evicted.
class StoreFullError : public Error {
  using Error::Error;
};

/// A configuration file or value is invalid.
class ConfigError : public Error {
  using Error::Error;
};

/// Stored data failed a check (CRC, framing, truncation).
class CorruptDataError : public Error {
  using Error::Error;
};

/// An index is outside the bounds of the object it addresses.
class IndexError : public Error {
  using Error::Error;
};

namespace detail {

/// Builds "<what>: <strerror(err)>" and the matching error_code; used by every
/// module so system failures read the same way everywhere.
[[noreturn]] void throw_system_error(const std::string& what, int err);

/// Throws the subclass that matches `err` (ENOENT -> NotFoundError,
/// EEXIST -> ExistsError, otherwise Error) with "<what>: <strerror>" + `hint`.
[[noreturn]] void throw_errno(const std::string& what, int err, const std::string& hint = {});

}  // namespace detail
}  // namespace shmkit
