// Describes a rig configuration once, saves it as YAML, and loads it back;
// then shows the error a typo in the file produces.
//
// Run:  build/examples/config_quickstart [FILE.yaml]
//       (default: rig.yaml in the system's temporary directory)
#include <shmkit/config/yaml_config.hpp>

#include <boost/describe.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

enum class Trigger { internal, external };
BOOST_DESCRIBE_ENUM(Trigger, internal, external)

struct CameraConfig {
  std::uint32_t exposure_us = 10'000;
  double gain = 1.0;
  std::array<std::uint16_t, 4> roi{0, 0, 640, 480};
  Trigger trigger = Trigger::internal;
  std::optional<std::string> serial;
};
BOOST_DESCRIBE_STRUCT(CameraConfig, (), (exposure_us, gain, roi, trigger, serial))

struct RigConfig : shmkit::YamlConfig<RigConfig> {
  std::string animal = "mouse-1";
  CameraConfig camera;
};
BOOST_DESCRIBE_STRUCT(RigConfig, (), (animal, camera))

int main(int argc, char** argv) {
  const std::filesystem::path path =
      argc > 1 ? std::filesystem::path(argv[1]) : std::filesystem::temp_directory_path() / "rig.yaml";

  RigConfig rig;
  rig.camera.trigger = Trigger::external;
  rig.to_yaml(path);  // atomic: temp file, fsync, rename
  std::cout << "wrote " << path << ":\n" << rig.to_yaml_string();

  const RigConfig loaded = RigConfig::from_yaml(path);
  std::cout << "loaded exposure_us = " << loaded.camera.exposure_us << '\n';

  // A typo never runs an experiment on a default value.
  try {
    (void)RigConfig::from_yaml_string("animal: rat\ncamera:\n  exposure_usec: 500\n");
  } catch (const shmkit::ConfigError& e) {
    std::cout << "a typo is an error: " << e.what() << '\n';
  }
  return 0;
}
