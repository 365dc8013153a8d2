#include <yaml-cpp/yaml.h>
#include <shmkit/core/error.hpp>

#include <cstdlib>

#include "bridge_command.hpp"

namespace shmkit::cli {

std::string redis_password(const std::string& config) {
  if (!config.empty()) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(config);
    } catch (const YAML::Exception& e) {
      throw Error("cannot read config '" + config + "': " + e.what());
    }
    if (root["password"]) {
      return root["password"].as<std::string>();
    }
  }
  const char* password = std::getenv("SHMKIT_REDIS_PASSWORD");
  return password != nullptr ? password : "";
}

}  // namespace shmkit::cli
