// `shmkit bridge` as real processes: a bridge SIGKILLed and restarted
// converges (values set on either side meanwhile arrive), and SIGTERM ends
// it cleanly; the password is read from --config.

#include <unistd.h>

#include <gtest/gtest.h>
#include <shmkit/store/brain.hpp>

#include <string>
#include <vector>

#include "bridge_test_util.hpp"

namespace shmkit::testing {
namespace {

template <class T>
bool holds(Brain& brain, const std::string& name, const T& want) {
  return eventually([&] {
    const std::optional<T> got = brain.try_get<T>(name);
    return got && *got == want;
  });
}

std::vector<std::string> bridge_args(const TestStore& store, const TestRedis& redis, const std::string& host) {
  return {"bridge",
          "-s",
          store.path(),
          "--ns",
          "exp",
          "--redis",
          redis.url(),
          "--host-id",
          host,
          "--prefix",
          "p" + std::to_string(::getpid())};
}

TEST(BridgeProcessTest, BridgeKilledAndRestartedConverges) {
  TestRedis redis;
  TestStore a(8 << 20);
  TestStore b(8 << 20);
  const std::string log_a = "/tmp/shmkit-bridge-test-" + std::to_string(::getpid()) + "-a.log";
  const std::string log_b = "/tmp/shmkit-bridge-test-" + std::to_string(::getpid()) + "-b.log";
  ShmkitProcess bridge_a(bridge_args(a, redis, "host-a"), log_a);
  ShmkitProcess bridge_b(bridge_args(b, redis, "host-b"), log_b);
  Brain on_a = Brain::connect(a.path(), "exp");
  Brain on_b = Brain::connect(b.path(), "exp");
  on_a.set("x", 1.0);
  ASSERT_TRUE(holds(on_b, "x", 1.0)) << bridge_a.log() << bridge_b.log();

  bridge_a.kill9();
  on_a.set("x", 2.0);       // out at A's restart
  on_a.set("only_a", 5.0);  // likewise
  on_b.set("y", 3.0);       // in at A's restart
  on_b.set("x_seen", 1.0);
  bridge_a.start();
  EXPECT_TRUE(holds(on_b, "x", 2.0)) << bridge_a.log();
  EXPECT_TRUE(holds(on_b, "only_a", 5.0));
  EXPECT_TRUE(holds(on_a, "y", 3.0));

  // B killed while A erases and sets: B catches up when it is back.
  bridge_b.kill9();
  EXPECT_TRUE(on_a.erase("only_a"));
  on_a.set("z", 4.0);
  bridge_b.start();
  EXPECT_TRUE(holds(on_b, "z", 4.0)) << bridge_b.log();
  EXPECT_TRUE(eventually([&] { return !on_b.contains("only_a"); }));

  EXPECT_EQ(bridge_a.terminate(), 0);
  EXPECT_EQ(bridge_b.terminate(), 0);
  ::unlink(log_a.c_str());
  ::unlink(log_b.c_str());
}

TEST(BridgeProcessTest, PasswordFromTheConfigFile) {
  TestRedis redis;
  EXPECT_EQ(redis.command({"CONFIG", "SET", "requirepass", "s3cret"}), "OK");
  TestStore a(8 << 20);
  const std::string dir = "/tmp/shmkit-bridge-test-" + std::to_string(::getpid());
  const std::string config = dir + "-config.yaml";
  std::ofstream(config) << "password: s3cret\n";
  const std::string log = dir + "-pw.log";
  std::vector<std::string> args = bridge_args(a, redis, "host-a");
  args.push_back("--config");
  args.push_back(config);
  ShmkitProcess bridge(args, log);
  EXPECT_TRUE(eventually([&] { return bridge.log().find("connected to Redis") != std::string::npos; })) << bridge.log();
  EXPECT_EQ(bridge.terminate(), 0);
  ::unlink(config.c_str());
  ::unlink(log.c_str());
}

}  // namespace
}  // namespace shmkit::testing
