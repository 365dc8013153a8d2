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

/// A stored value is of another type than the one asked for (a store value
/// read as the wrong C++ type); the message names both types.
class TypeError : public LayoutError {
  using LayoutError::LayoutError;
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
///
/// Errors raised while reading a YAML file carry where the problem is: the
/// key path (`camera.roi[2]`, empty for the document as a whole), the file
/// (or `<string>` for text parsed from memory) and the 1-based line and
/// column. `what()` already holds all of it, formatted as
/// `<file>:<line>:<column>: <key path>: <reason>`.
class ConfigError : public Error {
 public:
  using Error::Error;

  /// A located error. `message` is the complete text returned by `what()`.
  ConfigError(const std::string& message, std::string key_path, std::string file, std::size_t line, std::size_t column)
      : Error(message), key_path_(std::move(key_path)), file_(std::move(file)), line_(line), column_(column) {}

  /// Dotted path of the offending key (`camera.roi[2]`); empty when the
  /// error concerns the whole document or has no key.
  [[nodiscard]] const std::string& key_path() const noexcept { return key_path_; }
  /// The file the error was found in, `<string>` for in-memory text, or
  /// empty when no file is involved.
  [[nodiscard]] const std::string& file() const noexcept { return file_; }
  /// 1-based line of the offending text; 0 when the error has no position.
  [[nodiscard]] std::size_t line() const noexcept { return line_; }
  /// 1-based column of the offending text; 0 when the error has no position.
  [[nodiscard]] std::size_t column() const noexcept { return column_; }

 private:
  std::string key_path_;
  std::string file_;
  std::size_t line_ = 0;
  std::size_t column_ = 0;
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
