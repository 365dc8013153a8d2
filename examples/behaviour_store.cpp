// A behaviour task that publishes its settings (a described config struct)
// and its state by name in an object store, and a second process that reads
// them. The store server runs on a thread of this program; any process of
// the same user can connect to its socket.
//
// Run:   build/examples/behaviour_store [SECONDS]      (default 20)
// and, in another shell while it runs:
//        build/src/cli/shmkit store get -s /tmp/shmkit-behaviour.sock --ns task state
//        build/src/cli/shmkit store get -s /tmp/shmkit-behaviour.sock --ns task settings
//        build/src/cli/shmkit store ls -s /tmp/shmkit-behaviour.sock --ns task
#include <shmkit/config/yaml_config.hpp>
#include <shmkit/store/brain.hpp>
#include <shmkit/store/store_server.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <boost/describe.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

struct TaskSettings {
  std::uint32_t stimulus_ms = 500;
  std::uint32_t response_ms = 1000;
  double reward_ul = 4.5;
};
BOOST_DESCRIBE_STRUCT(TaskSettings, (), (stimulus_ms, response_ms, reward_ul))

namespace {

constexpr const char* kSocket = "/tmp/shmkit-behaviour.sock";

// The reader: another process, with its own connection.
void watch(double seconds) {
  auto brain = shmkit::Brain::connect(kSocket, "task");  // retries while the server starts
  const auto settings = brain.get<TaskSettings>("settings", std::chrono::seconds(5));
  std::cout << "reader: settings say stimulus " << settings.stimulus_ms << " ms, reward " << settings.reward_ul
            << " ul\n";
  std::string last;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds + 10);
  while (last != "done" && std::chrono::steady_clock::now() < give_up) {
    const std::string state = brain.get<std::string>("state", std::chrono::seconds(5));
    if (state != last) {
      std::cout << "reader: " << state << std::endl;
      last = state;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::stod(argv[1]) : 20.0;
  // Fork before the server's thread exists: the child then copies a
  // process without threads.
  const pid_t reader = ::fork();
  if (reader == 0) {
    watch(seconds);
    ::_exit(0);
  }
  auto server = shmkit::StoreServer::start({.capacity = 16 << 20, .socket_path = kSocket});
  auto brain = shmkit::Brain::connect(kSocket, "task");
  const TaskSettings settings;
  brain.set("settings", settings);  // stored as its YAML text; read back as a TaskSettings

  const auto start = std::chrono::steady_clock::now();
  for (int trial = 1; std::chrono::steady_clock::now() - start < std::chrono::duration<double>(seconds); ++trial) {
    brain.set("trial", trial);
    brain.set("state", "trial " + std::to_string(trial) + ": stimulus");
    std::this_thread::sleep_for(std::chrono::milliseconds(settings.stimulus_ms));
    brain.set("state", "trial " + std::to_string(trial) + ": response");
    std::this_thread::sleep_for(std::chrono::milliseconds(settings.response_ms));
  }
  brain.set("state", std::string("done"));
  int status = 0;
  ::waitpid(reader, &status, 0);
  return 0;
}
