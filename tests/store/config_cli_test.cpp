// `shmkit store --config FILE`: the real binary takes its server options from
// a YAML file, the command line overrides every one of them, and a bad file
// is refused with its line and key.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <shmkit/config/yaml_config.hpp>
#include <shmkit/store/store_client.hpp>
#include <shmkit/store/store_options.hpp>

#include <boost/describe.hpp>
#include <boost/mp11.hpp>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "store_test_util.hpp"

namespace shmkit::testing {
namespace {

using namespace std::chrono_literals;

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

// Every setting differs from its default.
StoreOptions file_options(const std::string& socket) {
  StoreOptions o;
  o.capacity = std::size_t{2} << 20;
  o.socket_path = socket;
  o.socket_mode = 0660;
  o.allowed_uids = {1000, 1001};
  o.prefault = true;
  o.huge_pages = true;
  o.max_objects = 8192;
  o.max_names = 100;
  o.persist_dir = socket + ".names";
  o.persist_sync = true;
  o.spill_dir = socket + ".spill";
  o.spin_us = 0;
  o.fast_writes = true;
  o.slab_bytes = 8192;
  o.max_clients = 8;
  o.leases_per_client = 16;
  o.subscriber_queue = 32;
  return o;
}

TEST(StoreConfigCliTest, CommandLineOverridesEverySettingOfTheFile) {
  const std::string socket = unique_socket_path();
  const ConfigFile config(socket);
  const ConfigFile written(socket + ".written");
  const StoreOptions in_file = file_options(socket);
  shmkit::to_yaml(in_file, config.path());

  // With no option given, --write-config writes the file's settings back.
  CommandResult r =
      run_command(shmkit_binary() + " store --config " + config.path() + " --write-config " + written.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(shmkit::to_yaml_string(shmkit::from_yaml<StoreOptions>(written.path())), shmkit::to_yaml_string(in_file));

  // One option for each setting, each a value the file does not hold; the
  // switches turn off what the file turns on.
  const std::string other = socket + ".other";
  r = run_command(shmkit_binary() + " store --config " + config.path() + " -m 3M -s " + other +
                  " --mode 0640 --allow-uid 7 --no-prefault --no-hugepages --max-objects 4096 --max-names 50"
                  " --persist " +
                  other + ".names --no-persist-sync --spill " + other +
                  ".spill --spin-us 5 --no-fast-writes --slab-bytes 65536 --max-clients 3 --leases-per-client 4 "
                  "--subscriber-queue 9 --write-config " +
                  written.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto written_options = shmkit::from_yaml<StoreOptions>(written.path());
  EXPECT_EQ(written_options.capacity, std::size_t{3} << 20);
  EXPECT_EQ(written_options.socket_path, other);
  EXPECT_EQ(written_options.socket_mode, 0640U);
  EXPECT_EQ(written_options.allowed_uids, std::vector<uid_t>{7});
  EXPECT_FALSE(written_options.prefault);
  EXPECT_FALSE(written_options.huge_pages);
  EXPECT_EQ(written_options.max_objects, 4096U);
  EXPECT_EQ(written_options.max_names, 50U);
  EXPECT_EQ(written_options.persist_dir, other + ".names");
  EXPECT_FALSE(written_options.persist_sync);
  EXPECT_EQ(written_options.spill_dir, other + ".spill");
  EXPECT_EQ(written_options.spin_us, 5U);
  EXPECT_FALSE(written_options.fast_writes);
  EXPECT_EQ(written_options.slab_bytes, 65536U);
  EXPECT_EQ(written_options.max_clients, 3U);
  EXPECT_EQ(written_options.leases_per_client, 4U);
  EXPECT_EQ(written_options.subscriber_queue, 9U);
  // A setting added to StoreOptions without an option here fails this.
  boost::mp11::mp_for_each<boost::describe::describe_members<StoreOptions, boost::describe::mod_public>>(
      [&](auto member) {
        EXPECT_NE(written_options.*member.pointer, in_file.*member.pointer) << member.name << " kept the file's value";
      });

  // And the switches turn on what the file turns off.
  StoreOptions off = in_file;
  off.prefault = false;
  off.huge_pages = false;
  off.persist_sync = false;
  off.fast_writes = false;
  shmkit::to_yaml(off, config.path());
  r = run_command(shmkit_binary() + " store --config " + config.path() +
                  " --prefault --hugepages --persist-sync --fast-writes --write-config " + written.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto on = shmkit::from_yaml<StoreOptions>(written.path());
  EXPECT_TRUE(on.prefault);
  EXPECT_TRUE(on.huge_pages);
  EXPECT_TRUE(on.persist_sync);
  EXPECT_TRUE(on.fast_writes);
  EXPECT_NE(::access(socket.c_str(), F_OK), 0);  // writing the options runs no server
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
  EXPECT_NE(r.output.find(config.path() + ":2:14: socket_mode: invalid mode 0440: the owner needs read and write"),
            std::string::npos)
      << r.output;
  EXPECT_NE(::access(socket.c_str(), F_OK), 0);

  // 600 is decimal in YAML 1.1, as in Python: 01130, which the message explains.
  config.write("capacity: 1048576\nsocket_mode: 600\n");
  r = run_command(shmkit_binary() + " store --config " + config.path() + " -s " + socket);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(config.path() +
                          ":2:14: socket_mode: invalid mode 01130 (written 600: without a leading 0 a number is "
                          "decimal, as in Python): use octal permission bits"),
            std::string::npos)
      << r.output;
  EXPECT_NE(::access(socket.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace shmkit::testing
