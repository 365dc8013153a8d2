// Named, typed values shared between processes through the store: an
// embedded store server keeps them in a persistence directory, a second
// process sets them, this one reads them (one zero-copy), and a restarted
// store still has them.
//
// Run:  build/examples/brain_quickstart [PERSIST_DIR]
//       (default: a new directory in the system's temporary directory)
#include <shmkit/store/brain.hpp>
#include <shmkit/store/store_server.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <boost/describe.hpp>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>

struct TaskConfig {
  std::string protocol = "go-nogo";
  std::uint32_t trials = 200;
  double reward_ul = 4.0;
};
BOOST_DESCRIBE_STRUCT(TaskConfig, (), (protocol, trials, reward_ul))

int main(int argc, char** argv) {
  const std::string dir =
      argc > 1
          ? argv[1]
          : (std::filesystem::temp_directory_path() / ("shmkit-brain-example-" + std::to_string(::getpid()))).string();
  const std::string socket = dir + ".sock";
  try {
    shmkit::StoreOptions options;
    options.capacity = 64 << 20;
    options.socket_path = socket;
    options.persist_dir = dir;
    auto server = shmkit::StoreServer::start(options);

    // Another process (here a forked child, which must connect its own client).
    if (const pid_t child = ::fork(); child == 0) {
      auto brain = shmkit::Brain::connect(socket, "session-1");
      brain.set("trial", std::uint32_t{17}, "current trial number");
      brain.set("animal", std::string("mouse-7"));
      brain.set("config", TaskConfig{});
      brain.set("mean_frame", xt::xarray<float>{{1.5F, 2.5F}, {3.5F, 4.5F}});
      ::_exit(0);
    } else {
      int status = 0;
      ::waitpid(child, &status, 0);
    }

    auto brain = shmkit::Brain::connect(socket, "session-1");
    std::cout << "trial       " << brain.get<std::uint32_t>("trial") << "  (" << brain.metadata("trial").description
              << ")\n";
    std::cout << "animal      " << brain.get<std::string>("animal") << "\n";
    std::cout << "protocol    " << brain.get<TaskConfig>("config").protocol << "\n";
    const auto frame = brain.get_array<float>("mean_frame");  // a view of the store's memory, no copy
    std::cout << "mean_frame  " << frame.info().type_text() << ", first element " << frame.view()(0, 0) << "\n";
    try {
      (void)brain.get<double>("trial");
    } catch (const shmkit::TypeError& e) {
      std::cout << "wrong type  " << e.what() << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "brain_quickstart: " << e.what() << "\n";
    return 1;
  }

  // A new store on the same directory comes back with every name.
  try {
    shmkit::StoreOptions options;
    options.capacity = 64 << 20;
    options.socket_path = socket;
    options.persist_dir = dir;
    auto server = shmkit::StoreServer::start(options);
    auto brain = shmkit::Brain::connect(socket, "session-1");
    std::cout << "after a restart: " << brain.size() << " names, trial " << brain.get<std::uint32_t>("trial") << "\n";
  } catch (const std::exception& e) {
    std::cerr << "brain_quickstart: " << e.what() << "\n";
    return 1;
  }
  if (argc <= 1) {
    std::filesystem::remove_all(dir);
  }
  return 0;
}
