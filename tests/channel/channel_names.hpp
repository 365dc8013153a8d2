#pragma once
// A unique channel name for one test, whose segment is removed even when the
// test fails.

#include <shmkit/channel/channel.hpp>

#include <string>
#include <string_view>

#include "test_support.hpp"

namespace shmkit::testing {

class ScopedChannelName {
 public:
  explicit ScopedChannelName(std::string_view tag = {}) : name_(tag) {}
  ScopedChannelName(const ScopedChannelName&) = delete;
  ScopedChannelName& operator=(const ScopedChannelName&) = delete;
  ~ScopedChannelName() {
    try {
      Channel::remove(name_.str());
    } catch (...) {  // NOLINT(bugprone-empty-catch): cleanup must not throw
    }
  }
  [[nodiscard]] const std::string& str() const noexcept { return name_.str(); }
  operator std::string_view() const noexcept { return name_.str(); }  // NOLINT(google-explicit-constructor)

 private:
  ScopedName name_;
};

}  // namespace shmkit::testing
