// Names and namespaces: bindings seen across processes, get_name blocking
// until another process binds, timeouts, namespace removal, a client killed
// in a blocked get_name, and atomic rebinding under load.

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <shmkit/core/error.hpp>
#include <shmkit/store/store_client.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "store_test_util.hpp"

namespace shmkit::testing {
namespace {

using namespace std::chrono_literals;

// True once `pid` (single-threaded) sleeps in poll, i.e. is waiting for the
// server's answer to a blocking get_name.
bool blocked_in_poll(pid_t pid) {
  std::ifstream syscall("/proc/" + std::to_string(pid) + "/syscall");
  long number = -1;
  syscall >> number;
  return number == SYS_poll || number == SYS_ppoll;
}

std::vector<std::string> names_of(StoreClient& client, const std::string& ns, const std::string& prefix = {}) {
  std::vector<std::string> names;
  for (const NameBinding& binding : client.list_names(ns, prefix)) {
    names.push_back(binding.name);
  }
  return names;
}

TEST(StoreNamesTest, BindingsAreSharedAcrossProcesses) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid("weights"), as_bytes("w1"));
  client.put_name("exp", "weights", oid("weights"));
  Child reader([&] {
    StoreClient mine = StoreClient::connect(store.path());
    require(mine.get_name("exp", "weights", 0ms) == oid("weights"), "bound by the parent");
    require(as_text(mine.get_named("exp", "weights", 0ms).data()) == "w1", "value readable");
    require(!mine.find_name("exp1", "weights"), "exp1 is another namespace");
    mine.create_and_seal(oid("child"), as_bytes("from child"));
    mine.put_name("exp", "child", oid("child"));
  });
  ASSERT_TRUE(exited_ok(reader.wait()));
  EXPECT_EQ(client.find_name("exp", "child"), oid("child"));
  EXPECT_EQ(names_of(client, "exp"), (std::vector<std::string>{"child", "weights"}));
  const auto spaces = client.namespaces();
  ASSERT_EQ(spaces.size(), 1U);
  EXPECT_EQ(spaces[0].name, "exp");
  EXPECT_EQ(spaces[0].names, 2U);
}

TEST(StoreNamesTest, NamedObjectsArePinnedAndGoWithTheirLastName) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  const std::uint64_t baseline = client.used();
  client.create_and_seal(oid("a"), std::vector<std::byte>(1000));
  const std::uint64_t one = client.used() - baseline;
  client.put_name("ns", "x", oid("a"));
  client.put_name("ns", "y", oid("a"));
  client.put_name("ns", "x", oid("a"));  // rebinding to the same object keeps it
  EXPECT_EQ(client.evict(1 << 30), 0U);  // named: not evictable
  EXPECT_TRUE(throws_with<Error>([&] { client.remove(oid("a")); }, {"name"}));
  EXPECT_TRUE(client.drop_name("ns", "x"));
  EXPECT_FALSE(client.drop_name("ns", "x"));
  EXPECT_EQ(client.used(), baseline + one);  // still named by "y"
  {
    const ObjectBuffer held = client.get_named("ns", "y", 0ms);
    EXPECT_TRUE(client.drop_name("ns", "y"));
    EXPECT_FALSE(client.contains(oid("a")));  // removed for new readers
    EXPECT_EQ(held.data().size(), 1000U);     // the holder keeps its bytes
    EXPECT_EQ(client.used(), baseline + one);
  }
  EXPECT_TRUE(eventually([&] { return client.used() == baseline; }));
  EXPECT_TRUE(client.namespaces().empty());
  // Only sealed objects can be named.
  EXPECT_TRUE(throws_with<NotFoundError>([&] { client.put_name("ns", "z", oid("missing")); }, {"sealed"}));
  (void)client.create(oid("unsealed"), 10);
  EXPECT_TRUE(throws_with<NotFoundError>([&] { client.put_name("ns", "z", oid("unsealed")); }, {"sealed"}));
}

TEST(StoreNamesTest, NamingAnEvictionCandidateSavesIt) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  const std::vector<std::byte> big(300000);
  for (const char* id : {"a", "b", "c", "d"}) {
    client.create_and_seal(oid(id), big);  // "d" evicts "a", queueing "b" and "c" as the next victims
  }
  EXPECT_FALSE(client.contains(oid("a")));
  client.put_name("ns", "keep", oid("b"));  // named after it was queued for eviction
  client.create_and_seal(oid("e"), big);    // must take "c", not the named "b"
  EXPECT_TRUE(client.contains(oid("b")));
  EXPECT_FALSE(client.contains(oid("c")));
  // "b" sits between the others: 600000 contiguous bytes exist only without
  // it, and evicting everything else is not enough.
  EXPECT_TRUE(throws_with<StoreFullError>([&] { client.create_and_seal(oid("f"), std::vector<std::byte>(600000)); },
                                          {"no room"}));
  EXPECT_TRUE(client.contains(oid("b")));
}

TEST(StoreNamesTest, NameCountIsBounded) {
  TestStore store(1 << 20, [](StoreOptions& o) { o.max_names = 32; });
  StoreClient client = store.client();
  client.create_and_seal(oid("a"), as_bytes("a"));
  for (int i = 0; i < 32; ++i) {
    client.put_name("ns", "n" + std::to_string(i), oid("a"));
  }
  EXPECT_TRUE(throws_with<Error>([&] { client.put_name("other", "n", oid("a")); }, {"32 names", "--max-names"}));
  client.put_name("ns", "n0", oid("a"));  // rebinding adds no name
  EXPECT_TRUE(client.drop_name("ns", "n0"));
  client.put_name("other", "n", oid("a"));
  EXPECT_EQ(client.remove_namespace("ns"), 31U);
  client.put_name("ns", "again", oid("a"));
  EXPECT_EQ(client.list_names("ns").size(), 1U);
}

TEST(StoreNamesTest, InvalidNamesAreRefused) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid("a"), as_bytes("a"));
  for (const std::string& bad : std::vector<std::string>{"", ".hidden", "a/b", "sp ace", std::string(201, 'n')}) {
    EXPECT_THROW(client.put_name(bad, "x", oid("a")), NameError) << bad;
    EXPECT_THROW(client.put_name("ns", bad, oid("a")), NameError) << bad;
    EXPECT_THROW((void)client.get_name(bad, "x", 0ms), NameError) << bad;
    EXPECT_THROW(client.remove_namespace(bad), NameError) << bad;
  }
  EXPECT_TRUE(client.namespaces().empty());
}

TEST(StoreNamesTest, ListByPrefix) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid("a"), as_bytes("a"));
  for (const char* name : {"run.1", "run.2", "run.10", "rung", "other", "ru"}) {
    client.put_name("exp", name, oid("a"));
  }
  EXPECT_EQ(names_of(client, "exp", "run."), (std::vector<std::string>{"run.1", "run.10", "run.2"}));
  EXPECT_EQ(names_of(client, "exp", "ru").size(), 5U);
  EXPECT_EQ(names_of(client, "exp", "zzz").size(), 0U);
  EXPECT_EQ(names_of(client, "nothing").size(), 0U);
}

TEST(StoreNamesTest, GetNameTimesOutAndPolls) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  EXPECT_TRUE(throws_with<TimeoutError>([&] { (void)client.get_name("ns", "late", 0ms); }, {"late"}));
  EXPECT_TRUE(throws_with<TimeoutError>([&] { (void)client.get_name("ns", "late", 30ms); }, {"late"}));
  EXPECT_FALSE(client.find_name("ns", "late"));
  // The timed-out waiter left nothing behind: a later bind and get work.
  EXPECT_TRUE(eventually([&] { return client.stats().clients == 1; }));
  client.create_and_seal(oid("late"), as_bytes("v"));
  client.put_name("ns", "late", oid("late"));
  EXPECT_EQ(client.get_name("ns", "late", 0ms), oid("late"));
}

TEST(StoreNamesTest, BlockedGetNameIsWokenByAnotherProcess) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  Child waiter([&] {
    StoreClient mine = StoreClient::connect(store.path());
    const ObjectBuffer value = mine.get_named("exp", "result", 60000ms);
    require(as_text(value.data()) == "42", "the bound value");
  });
  // Parent, the waiter and its side connection; the waiter sleeps in poll.
  ASSERT_TRUE(eventually([&] { return client.stats().clients == 3 && blocked_in_poll(waiter.pid()); }));
  Child writer([&] {
    StoreClient mine = StoreClient::connect(store.path());
    mine.create_and_seal(oid("result"), as_bytes("42"));
    mine.put_name("exp", "result", oid("result"));
  });
  EXPECT_TRUE(exited_ok(writer.wait()));
  EXPECT_TRUE(exited_ok(waiter.wait()));
}

TEST(StoreNamesTest, ClientKilledInGetNameDoesNotHurtTheServer) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  Child waiter([&] {
    StoreClient mine = StoreClient::connect(store.path());
    (void)mine.get_name("exp", "never", -1ms);
  });
  ASSERT_TRUE(eventually([&] { return client.stats().clients == 3 && blocked_in_poll(waiter.pid()); }));
  EXPECT_EQ(waiter.kill_and_wait().signal, SIGKILL);
  EXPECT_TRUE(eventually([&] { return client.stats().clients == 1; }));
  // The server binds the name (answering nobody) and keeps serving.
  client.create_and_seal(oid("never"), as_bytes("n"));
  client.put_name("exp", "never", oid("never"));
  EXPECT_EQ(client.get_name("exp", "never", 0ms), oid("never"));
  Child second([&] {
    StoreClient mine = StoreClient::connect(store.path());
    require(mine.get_name("exp", "next", 60000ms) == oid("never"), "woken");
  });
  ASSERT_TRUE(eventually([&] { return client.stats().clients == 3 && blocked_in_poll(second.pid()); }));
  client.put_name("exp", "next", oid("never"));
  EXPECT_TRUE(exited_ok(second.wait()));
}

TEST(StoreNamesTest, RemoveNamespaceIsExact) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  const std::uint64_t baseline = client.used();
  client.create_and_seal(oid("only-exp"), std::vector<std::byte>(100));
  client.create_and_seal(oid("shared"), std::vector<std::byte>(100));
  client.create_and_seal(oid("only-exp1"), std::vector<std::byte>(100));
  client.create_and_seal(oid("unnamed"), std::vector<std::byte>(100));
  const std::uint64_t each = (client.used() - baseline) / 4;
  client.put_name("exp", "a", oid("only-exp"));
  client.put_name("exp", "b", oid("shared"));
  client.put_name("exp", "c", oid("only-exp"));
  client.put_name("exp1", "a", oid("only-exp1"));
  client.put_name("exp1", "b", oid("shared"));
  client.put_name("ex", "a", oid("shared"));
  Child remover([&] {
    StoreClient mine = StoreClient::connect(store.path());
    require(mine.remove_namespace("exp") == 3, "three names dropped");
    require(mine.remove_namespace("exp") == 0, "nothing left");
  });
  ASSERT_TRUE(exited_ok(remover.wait()));
  EXPECT_FALSE(client.contains(oid("only-exp")));
  EXPECT_TRUE(client.contains(oid("shared")));
  EXPECT_TRUE(client.contains(oid("only-exp1")));
  EXPECT_TRUE(client.contains(oid("unnamed")));
  EXPECT_EQ(client.used(), baseline + 3 * each);
  EXPECT_EQ(names_of(client, "exp1"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(names_of(client, "ex"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(names_of(client, "exp").size(), 0U);
  std::vector<std::string> spaces;
  for (const NamespaceInfo& info : client.namespaces()) {
    spaces.push_back(info.name);
  }
  EXPECT_EQ(spaces, (std::vector<std::string>{"ex", "exp1"}));
  EXPECT_EQ(client.remove_namespace("exp1"), 2U);
  EXPECT_FALSE(client.contains(oid("only-exp1")));
  EXPECT_TRUE(client.contains(oid("shared")));  // still named in "ex"
  EXPECT_EQ(client.remove_namespace("ex"), 1U);
  EXPECT_FALSE(client.contains(oid("shared")));
  EXPECT_EQ(client.used(), baseline + each);  // "unnamed" was never a name's
}

// A value that proves itself: 8 bytes of seed, then bytes derived from it.
std::vector<std::byte> make_value(std::uint64_t seed) {
  std::vector<std::byte> bytes(8 + 256 + seed % 512);
  std::memcpy(bytes.data(), &seed, 8);
  for (std::size_t i = 8; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::byte>((seed * 31 + i * 7) & 0xff);
  }
  return bytes;
}

bool valid_value(std::span<const std::byte> bytes) {
  if (bytes.size() < 8) {
    return false;
  }
  std::uint64_t seed = 0;
  std::memcpy(&seed, bytes.data(), 8);
  return bytes.size() == 8 + 256 + seed % 512 && std::equal(bytes.begin(), bytes.end(), make_value(seed).begin());
}

TEST(StoreNamesTest, AtomicReplaceUnderLoad) {
  constexpr int kWrites = 2000;
  TestStore store(8 << 20);
  StoreClient client = store.client();
  const std::uint64_t baseline = client.used();
  std::vector<Child> children;
  for (int w = 0; w < 2; ++w) {
    children.emplace_back([&, w] {
      StoreClient mine = StoreClient::connect(store.path());
      for (int i = 0; i < kWrites; ++i) {
        const std::uint64_t seed = static_cast<std::uint64_t>(w) * 1000000 + static_cast<std::uint64_t>(i);
        const ObjectId id = oid("value-" + std::to_string(seed));
        mine.create_and_seal(id, make_value(seed));
        mine.put_name("load", "current", id);
      }
    });
  }
  Signal stop_readers;
  std::vector<Child> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      StoreClient mine = StoreClient::connect(store.path());
      std::uint64_t reads = 0;
      do {
        const ObjectBuffer value = mine.get_named("load", "current", 60000ms);
        require(valid_value(value.data()), "a torn or freed value was read");
        ++reads;
      } while (!stop_readers.wait(0ms));
      require(reads > 0, "read something");
    });
  }
  for (Child& writer : children) {
    ASSERT_TRUE(exited_ok(writer.wait()));
  }
  stop_readers.notify();
  stop_readers.notify();
  for (Child& reader : readers) {
    ASSERT_TRUE(exited_ok(reader.wait()));
  }
  const ObjectBuffer last = client.get_named("load", "current", 0ms);
  EXPECT_TRUE(valid_value(last.data()));
  std::uint64_t seed = 0;
  std::memcpy(&seed, last.data().data(), 8);
  EXPECT_TRUE(seed == kWrites - 1 || seed == 1000000 + kWrites - 1) << seed;
  const std::uint64_t allocated = (last.data().size() + 63) / 64 * 64;
  EXPECT_TRUE(eventually([&] { return client.used() == baseline + allocated; })) << client.used();
  EXPECT_EQ(client.list().size(), 1U);
}

// A batch applies its values in order even when they take different
// paths: a value too large for one request or a slab goes through the
// server as a create and a bind, the small ones after it in one round
// trip, so the last value of a name in the batch is the one that stays.
TEST(StoreNamesTest, ABatchKeepsItsOrderAcrossPaths) {
  TestStore store(64 << 20);
  StoreClient client = store.client();
  const std::vector<std::byte> large(300 << 10, std::byte{1});  // > a quarter of the 1 MiB slab
  const std::vector<std::byte> small(100, std::byte{2});
  const std::vector<NamedObject> batch = {
      {"batch", "x", ObjectId::from_bytes("batch-large"), large, {}},
      {"batch", "x", ObjectId::from_bytes("batch-small"), small, {}},
      {"batch", "y", ObjectId::from_bytes("batch-small-y"), small, {}},
      {"batch", "y", ObjectId::from_bytes("batch-large-y"), large, {}},
  };
  client.put_named(batch);
  EXPECT_EQ(client.get_named("batch", "x", 0ms).data().size(), small.size());
  EXPECT_EQ(client.get_named("batch", "y", 0ms).data().size(), large.size());
}

}  // namespace
}  // namespace shmkit::testing
