#pragma once
// The rig's named values in the store: typed set and get in one namespace,
// the calls of the store's typed-value client that the demo needs, with the
// latency of every call recorded for the summary.
//
// A value is a string, an arithmetic scalar or a described config struct
// (stored as its YAML text). Each set puts the value in a fresh object and
// binds the name to it, which replaces the previous value atomically:
// readers see the old value or the new one, never a mix.

#include <shmkit/config/yaml_config.hpp>
#include <shmkit/store/store_client.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "demo_latency.hpp"

namespace shmkit::cli::demo {

template <class T>
concept StoreValue = std::is_same_v<T, std::string> || std::is_arithmetic_v<T> || YamlStruct<T>;

class RigStore {
 public:
  /// Connects to the server at `socket_path` (waiting up to 5 s for it).
  /// @throws TimeoutError, Error (see StoreClient::connect)
  static RigStore connect(const std::string& socket_path, std::string ns);

  /// Binds `name` to `value`. @throws NameError, StoreFullError, Error
  template <StoreValue T>
  void set(const std::string& name, const T& value) {
    if constexpr (std::is_same_v<T, std::string>) {
      put(name, std::as_bytes(std::span(value)));
    } else if constexpr (std::is_arithmetic_v<T>) {
      put(name, std::as_bytes(std::span(&value, 1)));
    } else {
      const std::string text = to_yaml_string(value);
      put(name, std::as_bytes(std::span(text)));
    }
  }

  /// The value bound to `name`, waiting up to `timeout` for it to be bound.
  /// @throws TimeoutError (not bound in time), LayoutError (the value is not
  ///         a T), ConfigError (a struct's text does not load as T)
  template <StoreValue T>
  [[nodiscard]] T get(const std::string& name, std::chrono::milliseconds timeout) {
    const ObjectBuffer buffer = fetch(name, timeout);
    const std::span<const std::byte> data = buffer.data();
    if constexpr (std::is_same_v<T, std::string>) {
      return {reinterpret_cast<const char*>(data.data()), data.size()};
    } else if constexpr (std::is_arithmetic_v<T>) {
      check_size(name, data.size(), sizeof(T));
      T value{};
      std::memcpy(&value, data.data(), sizeof(T));
      return value;
    } else {
      return from_yaml_string<T>(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
    }
  }

  /// The value bound to `name` now, or nullopt when the name is not bound.
  template <StoreValue T>
  [[nodiscard]] std::optional<T> find(const std::string& name) {
    try {
      return get<T>(name, std::chrono::milliseconds(0));
    } catch (const TimeoutError&) {
      return std::nullopt;
    }
  }

  [[nodiscard]] const LatencyRecorder& set_latency() const noexcept { return set_latency_; }
  [[nodiscard]] const LatencyRecorder& get_latency() const noexcept { return get_latency_; }
  [[nodiscard]] StoreStats stats() const noexcept { return client_.stats(); }

 private:
  RigStore(StoreClient client, std::string ns) noexcept;
  void put(const std::string& name, std::span<const std::byte> data);
  ObjectBuffer fetch(const std::string& name, std::chrono::milliseconds timeout);
  void check_size(const std::string& name, std::size_t size, std::size_t expected) const;
  ObjectId next_id() noexcept;

  StoreClient client_;
  std::string ns_;
  std::uint64_t id_base_ = 0;
  std::uint64_t id_count_ = 0;
  LatencyRecorder set_latency_;
  LatencyRecorder get_latency_;
};

}  // namespace shmkit::cli::demo
