// Subscriptions: sealed/removed events in order, a late subscriber's
// snapshot, events from other processes, and a subscriber that does not
// read getting an overflow event while the server keeps serving; name
// subscribers seeing binds, rebinds and erases.

#include <gtest/gtest.h>
#include <shmkit/core/error.hpp>
#include <shmkit/store/store_client.hpp>

#include <string>
#include <vector>

#include "store_test_util.hpp"

namespace shmkit::testing {
namespace {

using namespace std::chrono_literals;
using Kind = StoreEvent::Kind;

::testing::AssertionResult next_is(Subscription& sub, Kind kind, const ObjectId& id) {
  const std::optional<StoreEvent> event = sub.next(20000ms);
  if (!event) {
    return ::testing::AssertionFailure() << "no event";
  }
  if (event->kind != kind || event->id != id) {
    return ::testing::AssertionFailure() << "got kind " << static_cast<int>(event->kind) << " for " << event->id.hex();
  }
  return ::testing::AssertionSuccess();
}

TEST(StoreSubscribeTest, SealedAndRemovedEventsInOrder) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  Subscription sub = client.subscribe();
  EXPECT_FALSE(sub.next(0ms).has_value());
  client.create_and_seal(oid("a"), as_bytes("12345"), as_bytes("m"));
  (void)client.create(oid("b"), 3);
  client.create_and_seal(oid("c"), as_bytes("x"));
  client.seal(oid("b"));
  (void)client.create(oid("aborted"), 3);
  client.abort(oid("aborted"));  // never sealed: no event
  EXPECT_TRUE(client.remove(oid("a")));
  EXPECT_GT(client.evict(1 << 20), 0U);

  const std::optional<StoreEvent> first = sub.next(20000ms);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->kind, Kind::sealed);
  EXPECT_EQ(first->id, oid("a"));
  EXPECT_EQ(first->data_size, 5U);
  EXPECT_EQ(first->metadata_size, 1U);
  EXPECT_TRUE(next_is(sub, Kind::sealed, oid("c")));
  EXPECT_TRUE(next_is(sub, Kind::sealed, oid("b")));
  EXPECT_TRUE(next_is(sub, Kind::removed, oid("a")));
  // Eviction in LRU order: c (older) then b.
  EXPECT_TRUE(next_is(sub, Kind::removed, oid("c")));
  EXPECT_TRUE(next_is(sub, Kind::removed, oid("b")));
  EXPECT_FALSE(sub.next(0ms).has_value());
}

TEST(StoreSubscribeTest, LateSubscriberFirstGetsEverySealedObject) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid(1), as_bytes("1"));
  client.create_and_seal(oid(2), as_bytes("2"));
  (void)client.create(oid(3), 1);  // unsealed: not in the snapshot
  Subscription early = client.subscribe();
  EXPECT_TRUE(next_is(early, Kind::sealed, oid(1)));
  EXPECT_TRUE(next_is(early, Kind::sealed, oid(2)));
  client.seal(oid(3));
  Subscription late = client.subscribe();
  EXPECT_TRUE(next_is(late, Kind::sealed, oid(1)));
  EXPECT_TRUE(next_is(late, Kind::sealed, oid(2)));
  EXPECT_TRUE(next_is(late, Kind::sealed, oid(3)));
  EXPECT_TRUE(next_is(early, Kind::sealed, oid(3)));  // each subscriber sees it once
  client.create_and_seal(oid(4), as_bytes("4"));
  EXPECT_TRUE(next_is(late, Kind::sealed, oid(4)));
  EXPECT_TRUE(next_is(early, Kind::sealed, oid(4)));
  EXPECT_FALSE(early.next(0ms).has_value());
  EXPECT_FALSE(late.next(0ms).has_value());
}

TEST(StoreSubscribeTest, EventsFromAnotherProcess) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  Subscription sub = client.subscribe();
  Child producer([&] {
    StoreClient mine = StoreClient::connect(store.path());
    for (int i = 0; i < 10; ++i) {
      mine.create_and_seal(oid(i), as_bytes(std::to_string(i)));
    }
    require(mine.remove(oid(0)), "removed");
  });
  EXPECT_TRUE(exited_ok(producer.wait()));
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(next_is(sub, Kind::sealed, oid(i))) << i;
  }
  EXPECT_TRUE(next_is(sub, Kind::removed, oid(0)));
}

TEST(StoreSubscribeTest, SlowSubscriberGetsOverflowWhileServerKeepsServing) {
  TestStore store(8 << 20, [](StoreOptions& o) { o.subscriber_queue = 16; });
  StoreClient client = store.client();
  Subscription slow = client.subscribe();  // never read until the end
  Subscription fast = client.subscribe();
  std::size_t fast_events = 0;
  for (int i = 0; i < 3000; ++i) {
    client.create_and_seal(oid(i), as_bytes("x"));
    ASSERT_TRUE(client.remove(oid(i)));
    while (fast.next(0ms)) {
      ++fast_events;
    }
  }
  client.create_and_seal(oid("marker"), as_bytes("end"));
  EXPECT_TRUE(client.contains(oid("marker")));  // the server served throughout
  bool overflow = false;
  for (;;) {
    const std::optional<StoreEvent> event = slow.next(20000ms);
    ASSERT_TRUE(event.has_value());
    if (event->kind == Kind::overflow) {
      overflow = true;
    }
    if (event->kind == Kind::sealed && event->id == oid("marker")) {
      break;
    }
  }
  EXPECT_TRUE(overflow);
  // The subscriber that kept up saw every event.
  while (fast_events < 6001) {
    const std::optional<StoreEvent> event = fast.next(20000ms);
    ASSERT_TRUE(event.has_value()) << fast_events;
    ASSERT_NE(event->kind, Kind::overflow);
    ++fast_events;
  }
}

::testing::AssertionResult name_event_is(Subscription& sub, const std::string& ns, const std::string& name,
                                         const ObjectId& id) {
  const std::optional<StoreEvent> event = sub.next(20000ms);
  if (!event) {
    return ::testing::AssertionFailure() << "no event";
  }
  if (event->kind != Kind::name_changed || event->ns != ns || event->name != name || event->id != id) {
    return ::testing::AssertionFailure() << "got kind " << static_cast<int>(event->kind) << " for " << event->ns << "/"
                                         << event->name << " -> " << event->id.hex();
  }
  return ::testing::AssertionSuccess();
}

TEST(StoreSubscribeTest, NameSubscriberSeesBindsRebindsAndErasesInOrder) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  Subscription objects = client.subscribe();
  Subscription names = client.subscribe_names();
  client.put_named("exp", "a", oid("a1"), as_bytes("one"), as_bytes("meta"));
  client.create_and_seal(oid("a2"), as_bytes("two"));
  client.put_name("exp", "a", oid("a2"));  // rebind
  client.put_named("other", "b", oid("b1"), as_bytes("three"));
  EXPECT_TRUE(client.drop_name("exp", "a"));
  EXPECT_FALSE(client.drop_name("exp", "a"));  // not bound: no event
  EXPECT_EQ(client.remove_namespace("other"), 1U);

  const std::optional<StoreEvent> first = names.next(20000ms);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->kind, Kind::name_changed);
  EXPECT_EQ(first->ns, "exp");
  EXPECT_EQ(first->name, "a");
  EXPECT_EQ(first->id, oid("a1"));
  EXPECT_EQ(first->data_size, 3U);
  EXPECT_EQ(first->metadata_size, 4U);
  EXPECT_TRUE(name_event_is(names, "exp", "a", oid("a2")));
  EXPECT_TRUE(name_event_is(names, "other", "b", oid("b1")));
  EXPECT_TRUE(name_event_is(names, "exp", "a", ObjectId{}));
  EXPECT_TRUE(name_event_is(names, "other", "b", ObjectId{}));
  EXPECT_FALSE(names.next(0ms).has_value());

  // Object subscribers do not receive name events.
  for (;;) {
    const std::optional<StoreEvent> event = objects.next(0ms);
    if (!event) {
      break;
    }
    EXPECT_NE(event->kind, Kind::name_changed);
  }
}

TEST(StoreSubscribeTest, NameEventsFromAnotherProcess) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  Subscription names = client.subscribe_names();
  Child setter([&] {
    StoreClient mine = StoreClient::connect(store.path());
    for (int i = 0; i < 10; ++i) {
      mine.put_named("exp", "n" + std::to_string(i), oid(i), as_bytes(std::to_string(i)));
    }
  });
  EXPECT_TRUE(exited_ok(setter.wait()));
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(name_event_is(names, "exp", "n" + std::to_string(i), oid(i))) << i;
  }
}

}  // namespace
}  // namespace shmkit::testing
