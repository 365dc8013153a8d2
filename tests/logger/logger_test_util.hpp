#pragma once
// Helpers for the logger tests: a unique temporary directory removed at the
// end of the test, deterministic payloads, and running a Python snippet with
// the interpreter the build was configured with (numpy required: a missing
// numpy fails the test, it is never skipped).

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <shmkit/logger/data_logger.hpp>

#include "test_support.hpp"

namespace shmkit::testing {

/// A unique logger instance name whose segment is removed at scope exit,
/// even when the test fails or a logger was SIGKILLed.
class InstanceName {
 public:
  explicit InstanceName(std::string_view tag) : name_(tag) {}
  InstanceName(const InstanceName&) = delete;
  InstanceName& operator=(const InstanceName&) = delete;
  ~InstanceName() {
    try {
      DataLogger::remove_segment(name_.str());
    } catch (...) {
    }
  }
  [[nodiscard]] const std::string& str() const noexcept { return name_.str(); }

 private:
  ScopedName name_;
};

/// A payload whose bytes depend on (seed, index) only.
inline std::vector<std::byte> make_payload(std::size_t size, std::uint64_t seed) {
  std::vector<std::byte> payload(size);
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (auto& b : payload) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = std::byte(static_cast<unsigned char>(x));
  }
  return payload;
}

/// Runs `script` (Python source) with `args`; the output is stdout+stderr.
inline CommandResult run_python(const TempDir& dir, const std::string& script, const std::string& args = {}) {
  const auto file = dir / "check.py";
  std::ofstream(file) << script;
  return run_command(python() + " " + file.string() + " " + args);
}

}  // namespace shmkit::testing
