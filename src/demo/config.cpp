#include "demo/config.hpp"

#include <shmkit/core/error.hpp>

#include <array>
#include <cmath>
#include <iterator>
#include <type_traits>
#include <utility>

namespace shmkit::cli::demo {

namespace {

class Checker {
 public:
  explicit Checker(const std::string& origin) : origin_(origin) {}

  template <class T>
  void range(const char* key, T value, T low, T high, const char* unit = "") const {
    if (!(value >= low && value <= high)) {  // also refuses NaN
      fail(key, "must be " + text(low) + unit + " to " + text(high) + unit + ", not " + text(value));
    }
  }

  [[noreturn]] void fail(const std::string& key, const std::string& reason) const {
    throw ConfigError(origin_ + ": " + key + ": " + reason);
  }

 private:
  template <class T>
  static std::string text(T value) {
    if constexpr (std::is_floating_point_v<T>) {
      std::string s = std::to_string(value);
      s.erase(s.find_last_not_of('0') + 1);
      return s.back() == '.' ? s.substr(0, s.size() - 1) : s;
    } else {
      return std::to_string(+value);
    }
  }
  const std::string& origin_;
};

}  // namespace

std::uint8_t source_of(Role role, const DemoConfig& config) noexcept {
  switch (role) {
    case Role::camera:
      return config.camera.source_id;
    case Role::behaviour:
      return config.behaviour.source_id;
    case Role::analysis:
      return config.analysis.source_id;
  }
  return 0;
}

void check_config(const DemoConfig& config, const std::string& origin) {
  const Checker check(origin);
  check.range("seconds", config.seconds, 0.001, 86400.0, " s");
  const CameraSettings& camera = config.camera;
  check.range("camera.frame_rate_hz", camera.frame_rate_hz, 0.1, 1000.0, " Hz");
  check.range("camera.height", camera.height, 8U, 8192U);
  check.range("camera.width", camera.width, 8U, 8192U);
  // The channel keeps one frame of history, so it needs the newest frame,
  // one being written and at least one more to hand out.
  check.range("camera.channel_slots", camera.channel_slots, 3U, 4096U);
  const double channel_bytes = 2.0 * camera.channel_slots * camera.height * camera.width;
  if (channel_bytes > double(1ULL << 32)) {
    check.fail("camera.channel_slots", "a channel of " + std::to_string(camera.channel_slots) +
                                           " frames would take more than 4 GiB of /dev/shm");
  }
  const BehaviourSettings& task = config.behaviour;
  check.range("behaviour.iti_ms", task.iti_ms, 0U, 60'000U, " ms");
  check.range("behaviour.stimulus_ms", task.stimulus_ms, 0U, 60'000U, " ms");
  check.range("behaviour.response_ms", task.response_ms, 0U, 60'000U, " ms");
  check.range("behaviour.outcome_ms", task.outcome_ms, 0U, 60'000U, " ms");
  if (task.iti_ms + task.stimulus_ms + task.response_ms + task.outcome_ms == 0) {
    check.fail("behaviour", "a trial must take some time: set iti_ms, stimulus_ms, response_ms or outcome_ms");
  }
  if (config.analysis.language != "c++" && config.analysis.language != "python") {
    check.fail("analysis.language", "must be c++ or python, not '" + config.analysis.language + "'");
  }
  check.range("logger.ring_mib", config.logger.ring_mib, 1U, 1024U, " MiB");
  check.range("logger.compression_level", config.logger.compression_level, 0, 12);
  check.range("store.capacity_mib", config.store.capacity_mib, 1U, 1U << 20, " MiB");

  // Each process logs to its own source: a shared id would merge two
  // processes' entries in one archive.
  const std::array<std::pair<const char*, std::uint8_t>, 4> sources{
      {{"logger.source_id", config.logger.source_id},
       {"camera.source_id", camera.source_id},
       {"behaviour.source_id", task.source_id},
       {"analysis.source_id", config.analysis.source_id}}};
  for (auto a = sources.begin(); a != sources.end(); ++a) {
    for (auto b = std::next(a); b != sources.end(); ++b) {
      if (a->second == b->second) {
        check.fail(b->first, "source id " + std::to_string(b->second) + " is taken by " + a->first +
                                 "; every process needs a source of its own");
      }
    }
  }
}

}  // namespace shmkit::cli::demo
