// The store bridge against a real redis-server: two or three stores on
// this machine act as hosts, each with its Bridge on a thread. Values of
// every type cross, erases cross, a start-up sync goes both ways, three
// hosts do not loop, concurrent writers converge by last-writer-wins, a
// SIGKILLed Redis is survived, and oversized values are refused.

#include <gtest/gtest.h>
#include <boost/describe.hpp>
#include <shmkit/store/brain.hpp>

#include <string>
#include <vector>

#include "bridge_test_util.hpp"

namespace shmkit::testing {

struct Lens {
  std::string name = "4x";
  double focal_mm = 12.5;
  std::vector<int> stops{2, 4};
};
BOOST_DESCRIBE_STRUCT(Lens, (), (name, focal_mm, stops))

namespace {

using namespace std::chrono_literals;

// True once `brain` holds `name` with value `want`.
template <class T>
bool holds(Brain& brain, const std::string& name, const T& want) {
  return eventually([&] {
    const std::optional<T> got = brain.try_get<T>(name);
    return got && *got == want;
  });
}

bool gone(Brain& brain, const std::string& name) {
  return eventually([&] { return !brain.contains(name); });
}

TEST(BridgeTest, ValuesOfEveryTypeSetOnOneHostAppearOnTheOther) {
  TestRedis redis;
  TestStore a(8 << 20);
  TestStore b(8 << 20);
  BridgeThread bridge_a(a.path(), redis.url(), "host-a");
  BridgeThread bridge_b(b.path(), redis.url(), "host-b");
  ASSERT_TRUE(bridge_a.synced());
  ASSERT_TRUE(bridge_b.synced());
  Brain on_a = Brain::connect(a.path(), "exp");
  Brain on_b = Brain::connect(b.path(), "exp");

  on_a.set("animal", std::string("mouse-7"), "the subject");
  on_a.set("rate", 30.5);
  xt::xarray<std::uint16_t> roi = {{1, 2, 3}, {4, 5, 6}};
  on_a.set("roi", roi);
  Lens lens;
  lens.focal_mm = 25.0;
  on_a.set("lens", lens);

  EXPECT_TRUE(holds(on_b, "animal", std::string("mouse-7")));
  EXPECT_TRUE(holds(on_b, "rate", 30.5));
  ASSERT_TRUE(eventually([&] { return on_b.contains("roi") && on_b.contains("lens"); }));
  const ArrayValue<std::uint16_t> got = on_b.get_array<std::uint16_t>("roi");
  EXPECT_EQ(got.shape(), (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(xt::xarray<std::uint16_t>(got.view()), roi);
  EXPECT_EQ(on_b.get<Lens>("lens").focal_mm, 25.0);
  EXPECT_EQ(on_b.metadata("animal").description, "the subject");

  // The other way, and an unbridged namespace stays home.
  on_b.set("reply", std::string("ok"));
  EXPECT_TRUE(holds(on_a, "reply", std::string("ok")));
  Brain private_b = Brain::connect(b.path(), "private");
  private_b.set("secret", 1.0);
  on_b.set("marker", 1.0);
  EXPECT_TRUE(holds(on_a, "marker", 1.0));
  EXPECT_FALSE(Brain::connect(a.path(), "private").contains("secret"));

  // Redis holds the value with its metadata.
  const std::string key = "t" + std::to_string(::getpid()) + ":v:exp:roi";
  EXPECT_EQ(redis.command({"HGET", key, "origin"}), "host-a");
  EXPECT_EQ(redis.command({"HGET", key, "dtype"}), "uint16");
  EXPECT_EQ(redis.command({"HGET", key, "shape"}), "2,3");
}

TEST(BridgeTest, EraseAndRebindPropagate) {
  TestRedis redis;
  TestStore a(8 << 20);
  TestStore b(8 << 20);
  BridgeThread bridge_a(a.path(), redis.url(), "host-a");
  BridgeThread bridge_b(b.path(), redis.url(), "host-b");
  ASSERT_TRUE(bridge_a.synced() && bridge_b.synced());
  Brain on_a = Brain::connect(a.path(), "exp");
  Brain on_b = Brain::connect(b.path(), "exp");
  on_a.set("x", 1.0);
  ASSERT_TRUE(holds(on_b, "x", 1.0));
  on_a.set("x", 2.0);
  EXPECT_TRUE(holds(on_b, "x", 2.0));
  EXPECT_TRUE(on_a.erase("x"));
  EXPECT_TRUE(gone(on_b, "x"));
  on_b.set("y", 3.0);
  ASSERT_TRUE(holds(on_a, "y", 3.0));
  EXPECT_TRUE(on_b.erase("y"));
  EXPECT_TRUE(gone(on_a, "y"));
}

TEST(BridgeTest, StartUpSyncGoesBothWays) {
  TestRedis redis;
  TestStore a(8 << 20);
  TestStore b(8 << 20);
  Brain on_a = Brain::connect(a.path(), "exp");
  Brain on_b = Brain::connect(b.path(), "exp");
  on_a.set("from_a", std::string("a"));
  {
    BridgeThread bridge_a(a.path(), redis.url(), "host-a");
    ASSERT_TRUE(bridge_a.synced());
  }
  // A set before B's bridge runs: it goes out at B's start-up, and A's
  // value comes in.
  on_b.set("from_b", std::string("b"));
  BridgeThread bridge_b(b.path(), redis.url(), "host-b");
  ASSERT_TRUE(bridge_b.synced());
  EXPECT_TRUE(holds(on_b, "from_a", std::string("a")));
  BridgeThread bridge_a(a.path(), redis.url(), "host-a");
  EXPECT_TRUE(holds(on_a, "from_b", std::string("b")));
}

TEST(BridgeTest, ThreeHostsApplyEachValueOnceAndDoNotLoop) {
  TestRedis redis;
  TestStore a(8 << 20);
  TestStore b(8 << 20);
  TestStore c(8 << 20);
  BridgeThread bridge_a(a.path(), redis.url(), "host-a");
  BridgeThread bridge_b(b.path(), redis.url(), "host-b");
  BridgeThread bridge_c(c.path(), redis.url(), "host-c");
  ASSERT_TRUE(bridge_a.synced() && bridge_b.synced() && bridge_c.synced());
  Brain on_a = Brain::connect(a.path(), "exp");
  Brain on_b = Brain::connect(b.path(), "exp");
  Brain on_c = Brain::connect(c.path(), "exp");
  constexpr int kValues = 50;
  for (int i = 0; i < kValues; ++i) {
    on_a.set("v" + std::to_string(i), static_cast<double>(i));
  }
  for (int i = 0; i < kValues; ++i) {
    ASSERT_TRUE(holds(on_b, "v" + std::to_string(i), static_cast<double>(i)));
    ASSERT_TRUE(holds(on_c, "v" + std::to_string(i), static_cast<double>(i)));
  }
  // A marker from C, after everything: any echo of A's values would have
  // been announced before it reaches A.
  on_c.set("marker", 1.0);
  ASSERT_TRUE(holds(on_a, "marker", 1.0));
  ASSERT_TRUE(holds(on_b, "marker", 1.0));
  const std::string prefix = "t" + std::to_string(::getpid());
  EXPECT_EQ(redis.command({"GET", prefix + ":seq:host-a"}), std::to_string(kValues));
  EXPECT_EQ(redis.command({"GET", prefix + ":seq:host-b"}), "(nil)");
  EXPECT_EQ(redis.command({"GET", prefix + ":seq:host-c"}), "1");
  EXPECT_EQ(bridge_a.stats().exported, static_cast<std::uint64_t>(kValues));
  EXPECT_EQ(bridge_a.stats().imported, 1U);
  EXPECT_EQ(bridge_b.stats().imported, static_cast<std::uint64_t>(kValues + 1));
  EXPECT_EQ(bridge_b.stats().exported, 0U);
  EXPECT_EQ(bridge_c.stats().imported, static_cast<std::uint64_t>(kValues));
}

TEST(BridgeTest, ConcurrentWritersOnTwoHostsConvergeToTheLastWriter) {
  TestRedis redis;
  TestStore a(16 << 20);
  TestStore b(16 << 20);
  BridgeThread bridge_a(a.path(), redis.url(), "host-a");
  BridgeThread bridge_b(b.path(), redis.url(), "host-b");
  ASSERT_TRUE(bridge_a.synced() && bridge_b.synced());
  constexpr int kWrites = 300;
  Child writer_a([&] {
    Brain brain = Brain::connect(a.path(), "exp");
    for (int i = 0; i < kWrites; ++i) {
      brain.set("shared", "a-" + std::to_string(i));
    }
  });
  Child writer_b([&] {
    Brain brain = Brain::connect(b.path(), "exp");
    for (int i = 0; i < kWrites; ++i) {
      brain.set("shared", "b-" + std::to_string(i));
    }
  });
  ASSERT_TRUE(exited_ok(writer_a.wait()));
  ASSERT_TRUE(exited_ok(writer_b.wait()));
  Brain on_a = Brain::connect(a.path(), "exp");
  Brain on_b = Brain::connect(b.path(), "exp");
  // Both hosts end on the value Redis kept, the later of the two writers'
  // last writes by (origin timestamp, origin).
  const std::string key = "t" + std::to_string(::getpid()) + ":v:exp:shared";
  ASSERT_TRUE(eventually([&] {
    const std::string kept = redis.command({"HGET", key, "data"});
    return on_a.try_get<std::string>("shared") == kept && on_b.try_get<std::string>("shared") == kept;
  })) << redis.command({"HGET", key, "data"})
      << " vs " << *on_a.try_get<std::string>("shared") << " / " << *on_b.try_get<std::string>("shared");
  const std::string kept = redis.command({"HGET", key, "data"});
  EXPECT_TRUE(kept == "a-" + std::to_string(kWrites - 1) || kept == "b-" + std::to_string(kWrites - 1)) << kept;
}

TEST(BridgeTest, RedisKilledAndRestartedConverges) {
  TestRedis redis;
  TestStore a(8 << 20);
  TestStore b(8 << 20);
  BridgeThread bridge_a(a.path(), redis.url(), "host-a");
  BridgeThread bridge_b(b.path(), redis.url(), "host-b");
  ASSERT_TRUE(bridge_a.synced() && bridge_b.synced());
  Brain on_a = Brain::connect(a.path(), "exp");
  Brain on_b = Brain::connect(b.path(), "exp");
  on_a.set("before", 1.0);
  ASSERT_TRUE(holds(on_b, "before", 1.0));

  redis.kill9();
  // The local stores keep working; the bridges notice and retry.
  on_a.set("during", 2.0);
  on_a.set("before", 1.5);
  on_b.set("from_b", 3.0);
  EXPECT_TRUE(on_a.erase("before") || true);
  on_a.set("before", 1.75);
  ASSERT_TRUE(eventually([&] { return !bridge_a.stats().connected && !bridge_b.stats().connected; }));
  EXPECT_EQ(on_a.get<double>("during"), 2.0);
  // A failed attempt is logged only if one is made while Redis is away:
  // restarting it before the first retry would leave nothing to check.
  ASSERT_TRUE(eventually([&] { return bridge_a.logged("retrying in"); }));

  redis.start();
  ASSERT_TRUE(bridge_a.synced(2));
  ASSERT_TRUE(bridge_b.synced(2));
  EXPECT_TRUE(holds(on_b, "during", 2.0));
  EXPECT_TRUE(holds(on_b, "before", 1.75));
  EXPECT_TRUE(holds(on_a, "from_b", 3.0));
  EXPECT_TRUE(bridge_a.logged("lost Redis"));
  EXPECT_TRUE(bridge_a.logged("retrying in"));
}

TEST(BridgeTest, OversizedValueIsRefusedWithTheNameAndTheLimit) {
  TestRedis redis;
  TestStore a(8 << 20);
  TestStore b(8 << 20);
  const auto limit = [](BridgeOptions& o) { o.max_value_bytes = 4096; };
  BridgeThread bridge_a(a.path(), redis.url(), "host-a", {"exp"}, limit);
  BridgeThread bridge_b(b.path(), redis.url(), "host-b", {"exp"}, limit);
  ASSERT_TRUE(bridge_a.synced() && bridge_b.synced());
  Brain on_a = Brain::connect(a.path(), "exp");
  Brain on_b = Brain::connect(b.path(), "exp");
  on_a.set("big", std::vector<double>(1000, 1.0));
  on_a.set("small", 1.0);
  ASSERT_TRUE(holds(on_b, "small", 1.0));
  EXPECT_FALSE(on_b.contains("big"));
  EXPECT_EQ(bridge_a.stats().refused, 1U);
  EXPECT_TRUE(bridge_a.logged("not bridging exp/big"));
  EXPECT_TRUE(bridge_a.logged("limit of 4096 bytes"));
}

TEST(BridgeTest, CreateNamesWhatIsWrong) {
  TestStore a(1 << 20);
  BridgeOptions options;
  options.store_socket = a.path();
  options.redis_url = "http://x";
  options.namespaces = {"exp"};
  try {
    (void)Bridge::create(options);
    FAIL() << "accepted a bad URL";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("malformed Redis URL 'http://x'"), std::string::npos) << e.what();
  }
  options.redis_url = "redis://localhost:6379/0";
  options.namespaces.clear();
  EXPECT_THROW((void)Bridge::create(options), Error);
}

}  // namespace
}  // namespace shmkit::testing
