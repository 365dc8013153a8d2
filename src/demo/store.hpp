#pragma once
// The rig's named values: a Brain (typed values in the store) in the rig's
// namespace, with the latency of every call recorded for the summary.

#include <shmkit/store/brain.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <span>
#include <string>

#include "demo/latency.hpp"

namespace shmkit::cli::demo {

class RigStore {
 public:
  /// Connects to the server at `socket_path` (waiting up to 5 s for it).
  /// @throws NameError, TimeoutError, Error (see Brain::connect)
  static RigStore connect(const std::string& socket_path, const std::string& ns) {
    return RigStore(Brain::connect(socket_path, ns));
  }

  /// Brain::set, timed: as a first bind when `name` was not set before
  /// (the client publishes the new name for the server to bind), else as
  /// a set (a rebind the client does itself). @throws as Brain::set
  template <class T>
  void set(const std::string& name, const T& value) {
    recorder_for(brain_.contains(name)).time([&] { brain_.set(name, value); });
  }

  /// Brain::set_many, timed as one set (a first bind if any name is new).
  void set_many(std::span<const NamedValue> values) {
    const bool all_bound =
        std::all_of(values.begin(), values.end(), [&](const NamedValue& v) { return brain_.contains(v.name); });
    recorder_for(all_bound).time([&] { brain_.set_many(values); });
  }

  /// Brain::get, timed. @throws as Brain::get
  template <class T>
  [[nodiscard]] T get(const std::string& name, std::chrono::milliseconds timeout) {
    return get_latency_.time([&] { return brain_.get<T>(name, timeout); });
  }

  /// Brain::get, timed apart from the run's calls: a read done once (at
  /// start or at the end), whose cost says little about the store's speed.
  /// @throws as Brain::get
  template <class T>
  [[nodiscard]] T get_once(const std::string& name, std::chrono::milliseconds timeout) {
    return once_latency_.time([&] { return brain_.get<T>(name, timeout); });
  }

  /// Brain::try_get, timed as `get_once`.
  template <class T>
  [[nodiscard]] std::optional<T> find_once(const std::string& name) {
    return once_latency_.time([&] { return brain_.try_get<T>(name); });
  }

  /// Brain::try_get, timed: the value, or nullopt when `name` is not set.
  template <class T>
  [[nodiscard]] std::optional<T> find(const std::string& name) {
    return get_latency_.time([&] { return brain_.try_get<T>(name); });
  }

  /// Brain::get_array (a zero-copy view), timed; nullopt when not set.
  template <ArrayElement T>
  [[nodiscard]] std::optional<ArrayValue<T>> find_array(const std::string& name) {
    if (!brain_.contains(name)) {
      return std::nullopt;
    }
    try {
      return get_latency_.time([&] { return brain_.get_array<T>(name); });
    } catch (const NotFoundError&) {
      return std::nullopt;  // erased between the two calls
    }
  }

  [[nodiscard]] const LatencyRecorder& set_latency() const noexcept { return set_latency_; }
  [[nodiscard]] const LatencyRecorder& first_bind_latency() const noexcept { return first_bind_latency_; }
  [[nodiscard]] const LatencyRecorder& get_latency() const noexcept { return get_latency_; }
  [[nodiscard]] const LatencyRecorder& once_latency() const noexcept { return once_latency_; }

 private:
  explicit RigStore(Brain brain) noexcept : brain_(std::move(brain)) {}

  // Looked up before the call and outside its timing, so a set's row says
  // which path it took without adding the lookup to it.
  [[nodiscard]] LatencyRecorder& recorder_for(bool bound) noexcept {
    return bound ? set_latency_ : first_bind_latency_;
  }

  Brain brain_;
  LatencyRecorder set_latency_;
  LatencyRecorder first_bind_latency_;
  LatencyRecorder get_latency_;
  LatencyRecorder once_latency_;
};

}  // namespace shmkit::cli::demo
