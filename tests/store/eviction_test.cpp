// Full store: LRU eviction of sealed, unreferenced objects; referenced and
// unsealed objects are never evicted; StoreFullError only when nothing can go.

#include <gtest/gtest.h>
#include <shmkit/core/error.hpp>
#include <shmkit/store/store_client.hpp>

#include <vector>

#include "store_test_util.hpp"

namespace shmkit::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kObject = 8192;
constexpr std::size_t kCapacity = 8 * kObject;  // exactly eight objects

void fill(StoreClient& client) {
  for (int i = 0; i < 8; ++i) {
    client.create_and_seal(oid(i), std::vector<std::byte>(kObject, std::byte(i)));
  }
  ASSERT_EQ(client.free(), 0U);
}

TEST(StoreEvictionTest, EvictsInLeastRecentlyUsedOrder) {
  TestStore store(kCapacity);
  StoreClient client = store.client();
  fill(client);
  (void)client.get(oid(0), 0ms);  // used: now the most recent
  const std::vector<ObjectId> touched = {oid(1)};
  client.refresh(touched);
  // LRU order is now 2, 3, 4, 5, 6, 7, 0, 1; two adjacent victims make room.
  client.create_and_seal(oid(100), std::vector<std::byte>(2 * kObject));
  EXPECT_FALSE(client.contains(oid(2)));
  EXPECT_FALSE(client.contains(oid(3)));
  for (const int survivor : {0, 1, 4, 5, 6, 7, 100}) {
    EXPECT_TRUE(client.contains(oid(survivor))) << survivor;
  }
  client.create_and_seal(oid(101), std::vector<std::byte>(kObject));
  EXPECT_FALSE(client.contains(oid(4)));
  EXPECT_TRUE(client.contains(oid(5)));
  EXPECT_EQ(as_text(client.get(oid(5), 0ms)->data()).front(), '\x05');  // survivors' bytes intact
}

TEST(StoreEvictionTest, AFullStoreKeepsTheMostRecentlyUsed) {
  TestStore store(kCapacity);
  StoreClient client = store.client();
  for (int i = 0; i < 56; ++i) {
    if (i == 50) {
      (void)client.get(oid(45), 0ms);  // 42..49 are present; 45 becomes the newest
    }
    client.create_and_seal(oid(i), std::vector<std::byte>(kObject, std::byte(i)));
  }
  std::vector<int> present;
  for (int i = 0; i < 56; ++i) {
    if (client.contains(oid(i))) {
      present.push_back(i);
    }
  }
  EXPECT_EQ(present, (std::vector<int>{45, 49, 50, 51, 52, 53, 54, 55}));
}

TEST(StoreEvictionTest, PinnedAndUnsealedObjectsSurvive) {
  TestStore store(kCapacity);
  StoreClient client = store.client();
  fill(client);
  std::optional<ObjectBuffer> pinned = client.get(oid(0), 0ms);  // oldest, but referenced
  Signal holding;
  Signal done;
  Child other([&] {
    StoreClient mine = StoreClient::connect(store.path());
    std::optional<ObjectBuffer> held = mine.get(oid(1), 0ms);  // pinned by another process
    require(held.has_value(), "readable");
    holding.notify();
    require(done.wait(), "parent finished");
  });
  ASSERT_TRUE(holding.wait());
  for (int i = 0; i < 6; ++i) {
    client.create_and_seal(oid(200 + i), std::vector<std::byte>(kObject));
  }
  EXPECT_TRUE(client.contains(oid(0)));
  EXPECT_TRUE(client.contains(oid(1)));
  for (int i = 2; i < 8; ++i) {
    EXPECT_FALSE(client.contains(oid(i))) << i;
  }
  done.notify();
  EXPECT_TRUE(exited_ok(other.wait()));
}

TEST(StoreEvictionTest, StoreFullErrorWhenEverythingIsPinned) {
  TestStore store(kCapacity);
  StoreClient client = store.client();
  for (int i = 0; i < 4; ++i) {
    client.create_and_seal(oid(i), std::vector<std::byte>(kObject));
  }
  const std::vector<ObjectId> ids = {oid(0), oid(1), oid(2), oid(3)};
  std::vector<ObjectBuffer> held = client.get(ids, 0ms);
  for (int i = 0; i < 4; ++i) {
    (void)client.create(oid(10 + i), kObject);  // unsealed: pinned too
  }
  const std::uint64_t used = client.used();
  EXPECT_TRUE(throws_with<StoreFullError>([&] { (void)client.create(oid(99), 1); }, {"no room", oid(99).hex()}));
  EXPECT_EQ(client.used(), used);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(client.list().size(), 8U);
  }
  held[2].release();  // one becomes evictable
  client.create_and_seal(oid(99), std::vector<std::byte>(kObject));
  EXPECT_FALSE(client.contains(oid(2)));
  EXPECT_TRUE(client.contains(oid(3)));
}

TEST(StoreEvictionTest, ObjectLargerThanTheStoreIsRefused) {
  TestStore store(kCapacity);
  StoreClient client = store.client();
  client.create_and_seal(oid(1), std::vector<std::byte>(10));
  EXPECT_TRUE(
      throws_with<StoreFullError>([&] { (void)client.create(oid(2), kCapacity + 1); }, {"capacity", "larger -m"}));
  EXPECT_TRUE(client.contains(oid(1)));  // nothing evicted for a hopeless create
}

TEST(StoreEvictionTest, FragmentedFreeSpaceIsCoalesced) {
  TestStore store(kCapacity);
  StoreClient client = store.client();
  fill(client);
  for (const int i : {1, 3, 5, 7}) {
    ASSERT_TRUE(client.remove(oid(i)));
  }
  EXPECT_EQ(client.free(), 4 * kObject);
  for (const int i : {0, 2}) {
    ASSERT_TRUE(client.remove(oid(i)));
  }
  // 0..3 are free and adjacent now: a 4-object create fits without eviction.
  client.create_and_seal(oid(50), std::vector<std::byte>(4 * kObject));
  EXPECT_TRUE(client.contains(oid(4)));
  EXPECT_TRUE(client.contains(oid(6)));
}

}  // namespace
}  // namespace shmkit::testing
