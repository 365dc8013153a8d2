#pragma once
// Described structs shared by the config tests: a rig configuration that uses
// every supported field type, nested three levels deep (Rig -> Camera -> Roi).

#include <shmkit/config/yaml_config.hpp>

#include <boost/describe.hpp>

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <ratio>
#include <string>
#include <string_view>
#include <vector>

namespace shmkit::testing {

enum class Trigger { internal, external, software };
BOOST_DESCRIBE_ENUM(Trigger, internal, external, software)

struct Roi {
  std::array<std::uint16_t, 4> box{0, 0, 640, 480};
  std::optional<double> scale;
  bool operator==(const Roi&) const = default;
};
BOOST_DESCRIBE_STRUCT(Roi, (), (box, scale))

struct Camera {
  std::uint32_t exposure_us = 10'000;
  float gain = 1.5F;
  Trigger trigger = Trigger::internal;
  Roi roi;
  std::vector<Roi> extra_rois;
  std::string serial = "cam-0";
  bool operator==(const Camera&) const = default;
};
BOOST_DESCRIBE_STRUCT(Camera, (), (exposure_us, gain, trigger, roi, extra_rois, serial))

struct Rig {
  bool enabled = true;
  std::int8_t i8 = -8;
  std::uint8_t u8 = 8;
  std::int16_t i16 = -16;
  std::uint16_t u16 = 16;
  std::int32_t i32 = -32;
  std::uint32_t u32 = 32;
  std::int64_t i64 = -64;
  std::uint64_t u64 = 64;
  float f32 = 0.25F;
  double f64 = 0.1;
  std::string animal = "mouse-1";
  std::filesystem::path output = "/data/rig";
  std::optional<std::int32_t> seed;
  std::vector<std::int32_t> channels{1, 2, 3};
  std::map<std::string, Camera> cameras;
  Camera main_camera;
  std::vector<std::string> notes;
  bool operator==(const Rig&) const = default;
};
BOOST_DESCRIBE_STRUCT(Rig, (),
                      (enabled, i8, u8, i16, u16, i32, u32, i64, u64, f32, f64, animal, output, seed, channels, cameras,
                       main_camera, notes))

// A session whose data path is set by the program, never read from a file.
struct Session {
  std::string animal = "mouse-1";
  std::filesystem::path raw_data_path = "/set/by/program";
  static constexpr std::array kYamlExclude{std::string_view{"raw_data_path"}};
  bool operator==(const Session&) const = default;
};
BOOST_DESCRIBE_STRUCT(Session, (), (animal, raw_data_path))

// The Python-style mixin: cfg.to_yaml(path), Operator::from_yaml(path).
struct Operator : shmkit::YamlConfig<Operator> {
  std::string name = "ada";
  std::uint8_t level = 3;
};
BOOST_DESCRIBE_STRUCT(Operator, (), (name, level))

// Durations in several units and counts, and permission bits in octal.
struct Timing {
  std::chrono::seconds timeout{30};
  std::chrono::milliseconds interval{1500};
  std::chrono::nanoseconds resolution{250};
  std::chrono::duration<double> period{0.5};
  std::chrono::duration<std::uint16_t, std::ratio<60>> retention{90};  // minutes, in 16 bits
  std::optional<std::chrono::microseconds> deadline;
  std::vector<std::chrono::milliseconds> backoff{std::chrono::milliseconds{10}, std::chrono::milliseconds{100}};
  mode_t mode = 0600;
  static constexpr std::array kYamlOctal{std::string_view{"mode"}};
  bool operator==(const Timing&) const = default;
};
BOOST_DESCRIBE_STRUCT(Timing, (), (timeout, interval, resolution, period, retention, deadline, backoff, mode))

/// A Timing whose every field differs from its default.
inline Timing filled_timing() {
  Timing timing;
  timing.timeout = std::chrono::seconds{-5};
  timing.interval = std::chrono::milliseconds{86'400'000};
  timing.resolution = std::chrono::nanoseconds{9'223'372'036'854'775'807LL};
  timing.period = std::chrono::duration<double>{2.5e-6};
  timing.retention = std::chrono::duration<std::uint16_t, std::ratio<60>>{65535};
  timing.deadline = std::chrono::microseconds{1};
  timing.backoff = {};
  timing.mode = 02775;  // setgid + rwxrwxr-x
  return timing;
}

/// A Rig whose every field differs from its default, extremes included.
inline Rig filled_rig() {
  Rig rig;
  rig.enabled = false;
  rig.i8 = -128;
  rig.u8 = 255;
  rig.i16 = -32768;
  rig.u16 = 65535;
  rig.i32 = -2147483647 - 1;
  rig.u32 = 4294967295U;
  rig.i64 = -9223372036854775807LL - 1;
  rig.u64 = 18446744073709551615ULL;
  rig.f32 = -3.5e-7F;
  rig.f64 = 6.02214076e23;
  rig.animal = "yes";  // must be quoted to stay text
  rig.output = "/data/2026-11-22/session 1";
  rig.seed = 42;
  rig.channels = {};
  Camera side;
  side.exposure_us = 500;
  side.gain = 0.125F;
  side.trigger = Trigger::external;
  side.roi.box = {10, 20, 30, 40};
  side.roi.scale = 0.5;
  side.extra_rois = {Roi{{1, 2, 3, 4}, std::nullopt}, Roi{{5, 6, 7, 8}, 2.0}};
  side.serial = "123";  // looks like a number
  rig.cameras = {{"side", side}, {"top", Camera{}}};
  rig.main_camera.trigger = Trigger::software;
  rig.main_camera.roi.scale = 1e-5;
  rig.main_camera.serial = "";
  rig.notes = {"first line: with a colon", "# not a comment", "ünïcödé"};
  return rig;
}

}  // namespace shmkit::testing
