// `shmkit store --config FILE`: the real binary takes its server options from
// a YAML file, the command line overrides them, and a bad file is refused
// with its line and key.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <shmkit/store/store_client.hpp>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>

#include "store_test_util.hpp"

namespace shmkit::testing {
namespace {

using namespace std::chrono_literals;

std::string shmkit_binary() {
  return build_dir() + "/src/cli/shmkit";
}

// A config file next to the socket, removed at scope exit.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& socket_path) : path_(socket_path + ".yaml") {}
  ConfigFile(const ConfigFile&) = delete;
  ConfigFile& operator=(const ConfigFile&) = delete;
  ~ConfigFile() { ::unlink(path_.c_str()); }
  void write(const std::string& text) const { std::ofstream(path_) << text; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

TEST(StoreConfigCliTest, ServerTakesItsOptionsFromAConfigFile) {
  const std::string socket = unique_socket_path();
  const ConfigFile config(socket);
  config.write("---\ncapacity: 2097152\nsocket_path: " + socket + "\nsocket_mode: 0660\nmax_clients: 4\n...\n");
  // -m on the command line overrides the file's capacity.
  Child server([&] {
    const std::string binary = shmkit_binary();
    ::execl(binary.c_str(), binary.c_str(), "store", "--config", config.path().c_str(), "-m", "3M", nullptr);
    throw std::runtime_error("exec failed");
  });
  {
    StoreClient client = StoreClient::connect(socket, 20000ms);  // waits for the server to listen
    EXPECT_EQ(client.stats().capacity, std::size_t{3} << 20);
    struct stat info {};
    ASSERT_EQ(::stat(socket.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0660U);
  }
  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  const ChildResult result = server.wait();
  EXPECT_TRUE(result.exited && result.exit_code == 0) << "exit " << result.exit_code << " signal " << result.signal;
  ::unlink(socket.c_str());
}

TEST(StoreConfigCliTest, BadConfigFilesAreRefusedWithLineAndKey) {
  const std::string socket = unique_socket_path();
  const ConfigFile config(socket);
  config.write("socket_path: " + socket + "\ncapacity: 1G\n");
  CommandResult r = run_command(shmkit_binary() + " store --config " + config.path());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(config.path() + ":2:11: capacity: expected a whole number, found '1G'"), std::string::npos)
      << r.output;

  config.write("socket_path: " + socket + "\nmax_client: 4\n");
  r = run_command(shmkit_binary() + " store --config " + config.path() + " -m 1M");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("unknown setting 'max_client'; did you mean 'max_clients'?"), std::string::npos) << r.output;

  config.write("capacity: 1048576\n");
  r = run_command(shmkit_binary() + " store --config " + config.path());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("or capacity and socket_path in its --config file"), std::string::npos) << r.output;

  // The file's mode obeys the rules of --mode: the owner keeps read and write.
  config.write("capacity: 1048576\nsocket_mode: 0440\n");
  r = run_command(shmkit_binary() + " store --config " + config.path() + " -s " + socket);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(config.path() + ": socket_mode: invalid mode 0440"), std::string::npos) << r.output;
  EXPECT_NE(::access(socket.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace shmkit::testing
