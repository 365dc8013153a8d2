// Clients SIGKILLed at bad moments: the server survives, their references
// are released, their unsealed objects are aborted, and no byte leaks.

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <shmkit/core/error.hpp>
#include <shmkit/store/store_client.hpp>

#include <cstring>
#include <random>
#include <vector>

#include "store_test_util.hpp"

namespace shmkit::testing {
namespace {

using namespace std::chrono_literals;

std::uint32_t ref_count(StoreClient& client, const ObjectId& id) {
  for (const ObjectInfo& info : client.list()) {
    if (info.id == id) {
      return info.ref_count;
    }
  }
  return 0;
}

TEST(StoreCrashTest, KilledWhileHoldingReferences) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid("a"), std::vector<std::byte>(1000));
  client.create_and_seal(oid("b"), std::vector<std::byte>(3000));
  const std::uint64_t before = client.used();
  Signal holding;
  Signal never;
  Child holder([&] {
    StoreClient mine = StoreClient::connect(store.path());
    const std::vector<ObjectId> ids = {oid("a"), oid("b")};
    std::vector<ObjectBuffer> held = mine.get(ids, 0ms);
    std::vector<ObjectBuffer> twice = mine.get(ids, 0ms);
    require(held[0].valid() && held[1].valid() && twice[1].valid(), "both readable");
    holding.notify();
    (void)never.wait(std::chrono::hours(1));
  });
  ASSERT_TRUE(holding.wait());
  EXPECT_EQ(ref_count(client, oid("b")), 2U);
  EXPECT_TRUE(client.remove(oid("a")));  // deferred: the holder has it
  EXPECT_EQ(client.used(), before);
  EXPECT_EQ(client.evict(1 << 30), 0U);  // everything is pinned
  const ChildResult result = holder.kill_and_wait();
  EXPECT_EQ(result.signal, SIGKILL);
  EXPECT_TRUE(eventually([&] { return client.used() == before - 1024; }));  // "a" freed
  EXPECT_EQ(ref_count(client, oid("b")), 0U);
  EXPECT_EQ(client.evict(1 << 30), 3008U);
  EXPECT_EQ(client.used(), 0U);
}

TEST(StoreCrashTest, KilledWhileBlockedInGet) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  Child waiter([&] {
    StoreClient mine = StoreClient::connect(store.path());
    (void)mine.get(oid("never-yet"), -1ms);
  });
  ASSERT_TRUE(eventually([&] { return blocked_in_futex(waiter.pid()); }));
  EXPECT_EQ(client.stats().waiting, 1U);
  EXPECT_EQ(waiter.kill_and_wait().signal, SIGKILL);
  EXPECT_TRUE(eventually([&] { return client.stats().waiting == 0; }));  // its share is taken back
  client.create_and_seal(oid("never-yet"), as_bytes("now"));
  EXPECT_EQ(as_text(client.get(oid("never-yet"), 0ms)->data()), "now");
  EXPECT_TRUE(eventually([&] { return ref_count(client, oid("never-yet")) == 0; }));
  // Later blocking gets still work.
  Child second([&] {
    StoreClient mine = StoreClient::connect(store.path());
    require(mine.get(oid("second"), 30000ms).has_value(), "woken");
  });
  ASSERT_TRUE(eventually([&] { return blocked_in_futex(second.pid()); }));
  client.create_and_seal(oid("second"), as_bytes("x"));
  EXPECT_TRUE(exited_ok(second.wait()));
}

TEST(StoreCrashTest, KilledBetweenCreateAndSeal) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid("keep"), as_bytes("k"));
  const std::uint64_t before = client.used();
  Signal created;
  Signal never;
  Child creator([&] {
    StoreClient mine = StoreClient::connect(store.path());
    WritableBuffer b = mine.create(oid("half"), 5000);
    std::memset(b.data.data(), 1, 100);
    created.notify();
    (void)never.wait(std::chrono::hours(1));
  });
  ASSERT_TRUE(created.wait());
  EXPECT_GT(client.used(), before);
  EXPECT_EQ(client.list().size(), 2U);
  (void)creator.kill_and_wait();
  EXPECT_TRUE(eventually([&] { return client.used() == before; }));
  EXPECT_EQ(client.list().size(), 1U);
  client.create_and_seal(oid("half"), as_bytes("whole"));  // the id is free again
  EXPECT_EQ(as_text(client.get(oid("half"), 0ms)->data()), "whole");
}

// A child runs random operations without end; it signals after a random
// number of them and is killed right away, so the kill lands wherever the
// child happens to be: inside create, between create and seal, holding
// references, blocked in get, mid-request.
TEST(StoreCrashTest, RandomKillsLeakNothing) {
  TestStore store(4 << 20, [](StoreOptions& o) { o.max_clients = 8; });
  StoreClient client = store.client();
  for (int i = 0; i < 8; ++i) {
    client.create_and_seal(oid("base-" + std::to_string(i)), std::vector<std::byte>(777));
  }
  const std::uint64_t baseline = client.used();
  const std::size_t baseline_objects = client.list().size();
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    const int ops_before_signal = static_cast<int>(rng() % 20);
    const unsigned seed = rng();
    Signal started;
    Child worker([&] {
      StoreClient mine = StoreClient::connect(store.path());
      std::mt19937 local(seed);
      std::vector<ObjectBuffer> held;
      for (int op = 0;; ++op) {
        if (op == ops_before_signal) {
          started.notify();
        }
        const ObjectId id = oid("r" + std::to_string(round) + "-" + std::to_string(op));
        switch (local() % 5) {
          case 0:
            mine.create_and_seal(id, std::vector<std::byte>(local() % 5000));
            break;
          case 1:
            (void)mine.create(id, local() % 5000);  // never sealed
            break;
          case 2: {
            const std::vector<ObjectId> ids = {oid("base-" + std::to_string(local() % 8))};
            for (ObjectBuffer& b : mine.get(ids, 0ms)) {
              held.push_back(std::move(b));
            }
            break;
          }
          case 3:
            (void)mine.get(oid("nobody-seals-this"), 1ms);
            break;
          default:
            (void)mine.list();
            break;
        }
      }
    });
    ASSERT_TRUE(started.wait()) << "round " << round;
    (void)worker.kill_and_wait();
    // Once the server has seen the socket close, it has handled every
    // request the child managed to send, and cleaned up after it.
    ASSERT_TRUE(eventually([&] { return client.stats().clients == 1; })) << "round " << round;
    // Sealed objects the child made are legitimately kept; remove them, and
    // everything else must already be back to the baseline.
    ASSERT_TRUE(eventually([&] {
      for (const ObjectInfo& info : client.list()) {
        if (info.state == ObjectState::created || info.ref_count != 0) {
          return false;
        }
      }
      return true;
    })) << "round "
        << round;
    for (const ObjectInfo& info : client.list()) {
      if (as_text({reinterpret_cast<const std::byte*>(info.id.bytes.data()), 5}).rfind("base-", 0) != 0) {
        ASSERT_TRUE(client.remove(info.id));
      }
    }
    ASSERT_EQ(client.used(), baseline) << "round " << round;
    ASSERT_EQ(client.list().size(), baseline_objects) << "round " << round;
  }
  EXPECT_EQ(store.server().stats().used, baseline);
}

}  // namespace
}  // namespace shmkit::testing
