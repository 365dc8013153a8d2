// The real `shmkit` binary: `shmkit store` as a foreground server, and the
// put/get/ls/rm/stats commands against it.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <shmkit/store/brain.hpp>
#include <shmkit/store/store_client.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "store_test_util.hpp"

namespace shmkit::testing {
namespace {

using namespace std::chrono_literals;

TEST(StoreCliTest, ServerAndClientCommands) {
  const std::string path = unique_socket_path();
  StoreServerProcess server(path);
  StoreClient probe = StoreClient::connect(path, 20000ms);  // waits for the server to listen

  const std::string id = "00112233445566778899aabbccddeeff00112233";
  const std::string id2 = "ffeeddccbbaa99887766554433221100ffeeddcc";
  const std::string file = "/tmp/shmkit-store-cli-" + std::to_string(::getpid()) + ".bin";
  { std::ofstream(file) << "file contents"; }
  CommandResult r = run_command(shmkit_binary() + " store put -s " + path + " " + id + " " + file);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("13 bytes"), std::string::npos) << r.output;
  r = run_command("printf 'from stdin' | " + shmkit_binary() + " store put -s " + path + " " + id2 + " -");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(probe.contains(ObjectId::from_hex(id)));

  r = run_command(shmkit_binary() + " store get -s " + path + " " + id2);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "from stdin");
  const std::string out = file + ".out";
  r = run_command(shmkit_binary() + " store get -s " + path + " " + id + " -o " + out);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(out);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "file contents");

  r = run_command(shmkit_binary() + " store ls -s " + path);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find(id + "  sealed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(id2), std::string::npos) << r.output;

  r = run_command(shmkit_binary() + " store stats -s " + path);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("capacity  4194304"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("objects   2"), std::string::npos) << r.output;

  r = run_command(shmkit_binary() + " store rm -s " + path + " " + id);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(probe.contains(ObjectId::from_hex(id)));
  r = run_command(shmkit_binary() + " store rm -s " + path + " " + id);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no sealed object " + id), std::string::npos) << r.output;
  r = run_command(shmkit_binary() + " store get -s " + path + " " + id);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--timeout"), std::string::npos) << r.output;
  r = run_command(shmkit_binary() + " store put -s " + path + " 0011zz " + file);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("40 hexadecimal"), std::string::npos) << r.output;
  r = run_command(shmkit_binary() + " store put -s " + path + " " + id2 + " " + file);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("write-once"), std::string::npos) << r.output;
  ::unlink(file.c_str());
  ::unlink(out.c_str());

  ASSERT_EQ(::kill(server.child().pid(), SIGTERM), 0);
  const ChildResult result = server.child().wait();
  EXPECT_TRUE(result.exited);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // socket removed on the way out
}

TEST(StoreCliTest, SigintStopsTheServerCleanlyAndModeApplies) {
  const std::string path = unique_socket_path();
  StoreServerProcess server(path, "1M", "0660");
  { (void)StoreClient::connect(path, 20000ms); }
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660U);  // --mode
  ASSERT_EQ(::kill(server.child().pid(), SIGINT), 0);
  const ChildResult result = server.child().wait();
  EXPECT_TRUE(result.exited);
  EXPECT_EQ(result.exit_code, 0);
}

TEST(StoreCliTest, NamesAndNamespaces) {
  const std::string path = unique_socket_path();
  StoreServerProcess server(path);
  StoreClient probe = StoreClient::connect(path, 20000ms);
  const std::string store = shmkit_binary() + " store ";
  const std::uint64_t baseline = probe.used();

  CommandResult r = run_command(store + "set -s " + path + " --ns exp lr 0.001");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("exp/lr"), std::string::npos) << r.output;
  r = run_command(store + "set -s " + path + " --ns exp1 lr 42");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_command("printf 'a string value' | " + store + "set -s " + path + " --ns exp note");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_command(store + "set -s " + path + " --ns exp lr 0.002");  // rebinding replaces the value
  EXPECT_EQ(r.exit_code, 0) << r.output;

  r = run_command(store + "set -s " + path + " --ns exp gain 7 --type u2 --description 'PMT gain'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("uint16 scalar"), std::string::npos) << r.output;
  r = run_command(store + "set -s " + path + " --ns exp label 'left lick' --type string");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_command(store + "set -s " + path + " --ns exp gain 70000 --type u2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("out of range"), std::string::npos) << r.output;

  r = run_command(store + "get -s " + path + " --ns exp lr");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "0.002\n");
  r = run_command(store + "get -s " + path + " --ns exp1 lr");
  EXPECT_EQ(r.output, "42\n");
  r = run_command(store + "get -s " + path + " --ns exp note");
  EXPECT_EQ(r.output, "a string value");
  r = run_command(store + "get -s " + path + " --ns exp gain");
  EXPECT_EQ(r.output, "7\n");
  // The API reads what the shell set, with its type.
  Brain brain(StoreClient::connect(path, 2000ms), "exp");
  EXPECT_EQ(brain.get<double>("lr"), 0.002);
  EXPECT_EQ(brain.get<std::uint16_t>("gain"), 7);
  EXPECT_EQ(brain.get<std::string>("label"), "left lick");
  EXPECT_EQ(brain.metadata("gain").description, "PMT gain");
  EXPECT_EQ(as_text(brain.get_bytes("note")), "a string value");
  EXPECT_EQ(Brain(StoreClient::connect(path, 2000ms), "exp1").get<std::int64_t>("lr"), 42);
  EXPECT_TRUE(brain.erase("gain"));
  EXPECT_TRUE(brain.erase("label"));

  r = run_command(store + "ls -s " + path + " --ns exp");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("lr    float64 scalar"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("note  bytes"), std::string::npos) << r.output;
  r = run_command(store + "ls -s " + path + " --ns exp no");
  EXPECT_NE(r.output.find("note "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("lr "), std::string::npos) << r.output;
  r = run_command(store + "namespaces -s " + path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("exp            2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("exp1           1"), std::string::npos) << r.output;
  EXPECT_EQ(probe.list().size(), 3U);  // the replaced 0.001 is gone

  r = run_command(store + "rm -s " + path + " --ns exp lr");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_command(store + "rm -s " + path + " --ns exp lr");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no name 'lr'"), std::string::npos) << r.output;
  r = run_command(store + "get -s " + path + " --ns exp lr");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--timeout"), std::string::npos) << r.output;
  r = run_command(store + "set -s " + path + " --ns exp 'bad name' 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("invalid store name 'bad name'"), std::string::npos) << r.output;
  r = run_command(store + "rm -s " + path + " --ns exp1 --all");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 names dropped"), std::string::npos) << r.output;
  EXPECT_EQ(as_text(probe.get_named("exp", "note", 0ms).data()), "a string value");
  r = run_command(store + "rm -s " + path + " --ns exp --all");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(probe.namespaces().empty());
  EXPECT_TRUE(eventually([&] { return probe.used() == baseline; }));  // no value outlives its names
}

TEST(StoreCliTest, BadArgumentsAreClearErrors) {
  const std::string path = unique_socket_path();
  CommandResult r = run_command(shmkit_binary() + " store -m 12Q -s " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("invalid size '12Q'"), std::string::npos) << r.output;
  r = run_command(shmkit_binary() + " store -s " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("-m SIZE"), std::string::npos) << r.output;
  r = run_command(shmkit_binary() + " store -m 1P -s " + path);
  EXPECT_EQ(r.exit_code, 1);
  r = run_command(shmkit_binary() + " store -m 4096G -s " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("does not fit"), std::string::npos) << r.output;
  r = run_command(shmkit_binary() + " store ls -s " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no store server"), std::string::npos) << r.output;
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
}

// The durability promise of --persist, with the real binary: every set that
// returned before a SIGKILL of the server is there after a restart, with
// the same bytes; drops are remembered too; a snapshot restarts as a store.
TEST(StoreCliTest, PersistedNamesSurviveSigkillAndSnapshotsRestart) {
  const std::string base = "/tmp/shmkit-store-persist-" + std::to_string(::getpid());
  const std::string persist = base + "/persist";
  const std::string snapshot = base + "/snapshot";
  std::filesystem::remove_all(base);
  const std::string path = unique_socket_path();
  std::vector<std::uint32_t> pattern(10000);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    pattern[i] = static_cast<std::uint32_t>(i * 2654435761U);
  }
  {
    StoreServerProcess server(path, "16M", "0600", {"--persist", persist});
    Brain brain(StoreClient::connect(path, 20000ms), "exp");
    brain.set("rate", 30.0, "frames per second");
    brain.set("pattern", pattern);  // larger than one message: the shared-memory path
    brain.set("gone", std::string("dropped before the kill"));
    EXPECT_TRUE(brain.erase("gone"));
    brain.set("rate", 60.0, "frames per second");  // the last value is the one kept
    Brain other(StoreClient::connect(path, 2000ms), "other");
    for (int i = 0; i < 200; ++i) {
      other.set("n" + std::to_string(i), i);
    }
    CommandResult r = run_command(shmkit_binary() + " store snapshot -s " + path + " " + snapshot);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("202 names written"), std::string::npos) << r.output;
    r = run_command(shmkit_binary() + " store snapshot -s " + path + " " + snapshot);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("holds a database already"), std::string::npos) << r.output;
    brain.set("after-snapshot", 1);
    // A second store may not share the directory.
    r = run_command("timeout 60 " + shmkit_binary() + " store -m 1M -s " + unique_socket_path() + " --persist " +
                    persist);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("in use by another running store"), std::string::npos) << r.output;
    server.child().kill_and_wait();
  }
  {
    StoreServerProcess server(path, "16M", "0600", {"--persist", persist});
    Brain brain(StoreClient::connect(path, 20000ms), "exp");
    EXPECT_EQ(brain.get<double>("rate"), 60.0);
    EXPECT_EQ(brain.metadata("rate").description, "frames per second");
    EXPECT_EQ(brain.get<std::vector<std::uint32_t>>("pattern"), pattern);
    EXPECT_FALSE(brain.contains("gone"));
    EXPECT_EQ(brain.get<int>("after-snapshot"), 1);
    EXPECT_EQ(Brain(StoreClient::connect(path, 2000ms), "other").size(), 200U);
    server.child().kill_and_wait();
  }
  {
    StoreServerProcess server(path, "16M", "0600", {"--persist", snapshot});
    Brain brain(StoreClient::connect(path, 20000ms), "exp");
    EXPECT_EQ(brain.get<double>("rate"), 60.0);
    EXPECT_FALSE(brain.contains("after-snapshot"));
    Brain other(StoreClient::connect(path, 2000ms), "other");
    EXPECT_EQ(other.get<int>("n199"), 199);
    server.child().kill_and_wait();
  }
  {
    // Too small for what was persisted: a clear refusal, the data untouched.
    const CommandResult r = run_command("timeout 60 " + shmkit_binary() + " store -m 32K -s " + unique_socket_path() +
                                        " --persist " + persist);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("larger -m"), std::string::npos) << r.output;
    StoreServerProcess server(path, "16M", "0600", {"--persist", persist});
    EXPECT_EQ(Brain(StoreClient::connect(path, 20000ms), "exp").get<std::vector<std::uint32_t>>("pattern"), pattern);
    server.child().kill_and_wait();
  }
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace shmkit::testing
