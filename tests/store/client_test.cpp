// Every client operation against a real server, with forked client
// processes wherever another process is part of the behaviour.

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <shmkit/core/error.hpp>
#include <shmkit/store/store_client.hpp>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "store_test_util.hpp"

namespace shmkit::testing {
namespace {

using namespace std::chrono_literals;

TEST(StoreClientTest, CreateSealGetRoundTrip) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  const StoreStats before = client.stats();
  EXPECT_EQ(before.capacity, 1U << 20);
  EXPECT_EQ(before.used, 0U);

  WritableBuffer buffer = client.create(oid("a"), 5, as_bytes("meta"));
  ASSERT_EQ(buffer.data.size(), 5U);
  EXPECT_EQ(as_text(buffer.metadata), "meta");
  std::memcpy(buffer.data.data(), "hello", 5);
  EXPECT_FALSE(client.contains(oid("a")));  // not readable before the seal
  client.seal(oid("a"));
  EXPECT_TRUE(client.contains(oid("a")));

  std::optional<ObjectBuffer> got = client.get(oid("a"), 0ms);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(as_text(got->data()), "hello");
  EXPECT_EQ(as_text(got->metadata()), "meta");
  EXPECT_EQ(got->id(), oid("a"));
  EXPECT_EQ(client.stats().objects, 1U);
  EXPECT_EQ(client.stats().used, 64U);  // 9 bytes in one 64-byte granule
  EXPECT_EQ(store.server().stats().used, 64U);
}

TEST(StoreClientTest, CreateAndSealAndGetManyKeepOrder) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid(1), as_bytes("one"));
  const std::vector<ObjectToPut> batch = {{oid(2), as_bytes("two"), as_bytes("m2")}, {oid(3), as_bytes("three"), {}}};
  client.create_and_seal(batch);
  const std::vector<ObjectId> ids = {oid(3), oid(99), oid(1), oid(2)};
  std::vector<ObjectBuffer> got = client.get(ids, 0ms);
  ASSERT_EQ(got.size(), 4U);
  EXPECT_EQ(as_text(got[0].data()), "three");
  EXPECT_FALSE(got[1].valid());
  EXPECT_EQ(as_text(got[2].data()), "one");
  EXPECT_EQ(as_text(got[3].data()), "two");
  EXPECT_EQ(as_text(got[3].metadata()), "m2");
}

TEST(StoreClientTest, IdsAreWriteOnce) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid("w"), as_bytes("first"));
  EXPECT_TRUE(throws_with<ExistsError>([&] { (void)client.create(oid("w"), 3); }, {oid("w").hex(), "write-once"}));
  EXPECT_TRUE(throws_with<ExistsError>([&] { client.create_and_seal(oid("w"), as_bytes("second")); }, {"exists"}));
  EXPECT_EQ(as_text(client.get(oid("w"), 0ms)->data()), "first");  // bad input changed nothing
}

TEST(StoreClientTest, BatchCreateIsAllOrNothing) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid("taken"), as_bytes("x"));
  const std::uint64_t used = client.used();
  const std::vector<ObjectToPut> batch = {{oid("new-1"), as_bytes("a"), {}}, {oid("taken"), as_bytes("b"), {}}};
  EXPECT_TRUE(throws_with<ExistsError>([&] { client.create_and_seal(batch); }, {oid("taken").hex()}));
  EXPECT_FALSE(client.contains(oid("new-1")));
  EXPECT_EQ(client.used(), used);
  client.create_and_seal(oid("new-1"), as_bytes("a"));  // the id was not consumed
}

TEST(StoreClientTest, DoubleSealAndForeignSealAreErrors) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  (void)client.create(oid("s"), 1);
  client.seal(oid("s"));
  EXPECT_TRUE(throws_with<Error>([&] { client.seal(oid("s")); }, {"already sealed"}));
  EXPECT_TRUE(throws_with<NotFoundError>([&] { client.seal(oid("never")); }, {"not created by this client"}));
  StoreClient other = store.client();
  (void)client.create(oid("mine"), 1);
  EXPECT_TRUE(throws_with<NotFoundError>([&] { other.seal(oid("mine")); }, {"not created by this client"}));
}

TEST(StoreClientTest, AbortFreesTheObjectAndTheId) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  StoreClient other = store.client();
  (void)client.create(oid("ab"), 1000, as_bytes("m"));
  EXPECT_EQ(client.used(), 1024U);
  EXPECT_TRUE(throws_with<Error>([&] { other.abort(oid("ab")); }, {"another client"}));
  client.abort(oid("ab"));
  EXPECT_EQ(client.used(), 0U);
  EXPECT_EQ(client.stats().objects, 0U);
  EXPECT_TRUE(throws_with<NotFoundError>([&] { client.seal(oid("ab")); }, {"not created"}));
  EXPECT_TRUE(throws_with<NotFoundError>([&] { client.abort(oid("ab")); }, {"not an unsealed object"}));
  client.create_and_seal(oid("ab"), as_bytes("again"));
  EXPECT_TRUE(throws_with<NotFoundError>([&] { client.abort(oid("ab")); }, {"not an unsealed object"}));
}

TEST(StoreClientTest, GetPollsAndTimesOut) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  EXPECT_FALSE(client.get(oid("missing"), 0ms).has_value());
  EXPECT_FALSE(client.get(oid("missing"), 30ms).has_value());
  (void)client.create(oid("unsealed"), 4);
  EXPECT_FALSE(client.get(oid("unsealed"), 0ms).has_value());
  EXPECT_FALSE(client.get(oid("unsealed"), 30ms).has_value());
  const std::vector<ObjectId> ids = {oid("unsealed"), oid("missing")};
  for (const ObjectBuffer& b : client.get(ids, 20ms)) {
    EXPECT_FALSE(b.valid());
  }
  EXPECT_EQ(client.stats().waiting, 0U);  // timed-out gets deregister
}

TEST(StoreClientTest, BlockingGetIsWokenBySealFromAnotherProcess) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  Child waiter([&] {
    StoreClient mine = StoreClient::connect(store.path());
    std::optional<ObjectBuffer> got = mine.get(oid("later"), -1ms);  // forever
    require(got.has_value() && as_text(got->data()) == "arrived", "woken with the sealed data");
  });
  ASSERT_TRUE(eventually([&] { return blocked_in_futex(waiter.pid()); }));
  Child sealer([&] {
    StoreClient mine = StoreClient::connect(store.path());
    WritableBuffer b = mine.create(oid("later"), 7);
    std::memcpy(b.data.data(), "arrived", 7);
    mine.seal(oid("later"));
  });
  EXPECT_TRUE(exited_ok(sealer.wait()));
  EXPECT_TRUE(exited_ok(waiter.wait()));
}

TEST(StoreClientTest, BlockingGetOfManyWaitsForAll) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid(1), as_bytes("1"));
  Child waiter([&] {
    StoreClient mine = StoreClient::connect(store.path());
    const std::vector<ObjectId> ids = {oid(1), oid(2), oid(3)};
    const std::vector<ObjectBuffer> got = mine.get(ids, 30000ms);
    require(got[0].valid() && got[1].valid() && got[2].valid(), "all three arrive");
    require(as_text(got[2].data()) == "3", "data of the last seal");
  });
  ASSERT_TRUE(eventually([&] { return blocked_in_futex(waiter.pid()); }));
  client.create_and_seal(oid(2), as_bytes("2"));
  client.create_and_seal(oid(3), as_bytes("3"));
  EXPECT_TRUE(exited_ok(waiter.wait()));
}

TEST(StoreClientTest, BlockingGetEndsWhenTheServerStops) {
  TestStore store(1 << 20);
  Child waiter([&] {
    StoreClient mine = StoreClient::connect(store.path());
    require(throws_with<Error>([&] { (void)mine.get(oid("never"), -1ms); }, {"stopped"}), "get ends with an error");
  });
  ASSERT_TRUE(eventually([&] { return blocked_in_futex(waiter.pid()); }));
  store.server().stop();
  EXPECT_TRUE(exited_ok(waiter.wait()));
}

TEST(StoreClientTest, RemoveIsDeferredWhileAnotherProcessReads) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid("r"), std::vector<std::byte>(4000, std::byte{7}));
  const std::uint64_t used = client.used();
  Signal holding;
  Signal removed;
  Child reader([&] {
    StoreClient mine = StoreClient::connect(store.path());
    std::optional<ObjectBuffer> got = mine.get(oid("r"), 0ms);
    require(got.has_value(), "object readable");
    holding.notify();
    require(removed.wait(), "parent removed it");
    // Still valid after the remove: the bytes are ours until release.
    for (const std::byte b : got->data()) {
      require(b == std::byte{7}, "data intact after remove");
    }
    got->release();
  });
  ASSERT_TRUE(holding.wait());
  EXPECT_TRUE(client.remove(oid("r")));
  EXPECT_FALSE(client.contains(oid("r")));
  EXPECT_FALSE(client.get(oid("r"), 0ms).has_value());
  EXPECT_EQ(client.used(), used);  // deferred: the reader still holds it
  EXPECT_TRUE(throws_with<ExistsError>([&] { (void)client.create(oid("r"), 1); }, {"exists"}));
  removed.notify();
  EXPECT_TRUE(exited_ok(reader.wait()));
  EXPECT_TRUE(eventually([&] { return client.used() == 0; }));
  client.create_and_seal(oid("r"), as_bytes("new"));
  EXPECT_EQ(as_text(client.get(oid("r"), 0ms)->data()), "new");
}

TEST(StoreClientTest, RemoveOfMissingOrUnsealed) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  EXPECT_FALSE(client.remove(oid("none")));
  (void)client.create(oid("u"), 1);
  EXPECT_TRUE(throws_with<Error>([&] { client.remove(oid("u")); }, {"not sealed"}));
  client.create_and_seal(oid("s"), as_bytes("x"));
  EXPECT_TRUE(client.remove(oid("s")));
  EXPECT_FALSE(client.remove(oid("s")));
  EXPECT_EQ(client.used(), 64U);  // only the unsealed one
}

TEST(StoreClientTest, ListReportsStateSizesReferencesAndCreator) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid("sealed"), as_bytes("12345"), as_bytes("mm"));
  (void)client.create(oid("open"), 10);
  std::optional<ObjectBuffer> held = client.get(oid("sealed"), 0ms);
  std::optional<ObjectBuffer> again = client.get(oid("sealed"), 0ms);
  const std::vector<ObjectInfo> infos = client.list();
  ASSERT_EQ(infos.size(), 2U);
  const ObjectInfo& sealed = infos[0].id == oid("sealed") ? infos[0] : infos[1];
  const ObjectInfo& open = infos[0].id == oid("open") ? infos[0] : infos[1];
  EXPECT_EQ(sealed.state, ObjectState::sealed);
  EXPECT_EQ(sealed.data_size, 5U);
  EXPECT_EQ(sealed.metadata_size, 2U);
  EXPECT_EQ(sealed.ref_count, 2U);
  EXPECT_EQ(sealed.creator_pid, ::getpid());
  EXPECT_GT(sealed.created_unix_ns, 0);
  EXPECT_EQ(open.state, ObjectState::created);
  EXPECT_EQ(open.ref_count, 0U);
  held->release();
  held->release();  // idempotent
  EXPECT_EQ(client.list()[infos[0].id == oid("sealed") ? 0 : 1].ref_count, 1U);
}

TEST(StoreClientTest, EvictAndRefresh) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  for (int i = 0; i < 4; ++i) {
    client.create_and_seal(oid(i), std::vector<std::byte>(1000));
  }
  const std::vector<ObjectId> keep = {oid(0)};
  client.refresh(keep);  // object 0 becomes the most recently used
  EXPECT_EQ(client.evict(1), 1024U);
  EXPECT_FALSE(client.contains(oid(1)));
  EXPECT_TRUE(client.contains(oid(0)));
  EXPECT_EQ(client.evict(1 << 30), 3U * 1024U);
  EXPECT_EQ(client.used(), 0U);
}

TEST(StoreClientTest, SealedDataIsMappedReadOnly) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid("ro"), as_bytes("read only"));
  Child writer([&] {
    StoreClient mine = StoreClient::connect(store.path());
    std::optional<ObjectBuffer> got = mine.get(oid("ro"), 0ms);
    require(got.has_value(), "readable");
    ::signal(SIGSEGV, SIG_DFL);  // die of the fault even under AddressSanitizer, which catches it
    auto* p = const_cast<std::byte*>(got->data().data());
    *static_cast<volatile std::byte*>(p) = std::byte{0};  // must fault
  });
  const ChildResult result = writer.wait();
  EXPECT_FALSE(result.exited);
  EXPECT_EQ(result.signal, SIGSEGV);
  EXPECT_EQ(as_text(client.get(oid("ro"), 0ms)->data()), "read only");
}

TEST(StoreClientTest, BuffersOutliveTheClient) {
  TestStore store(1 << 20);
  std::optional<ObjectBuffer> kept;
  {
    StoreClient client = store.client();
    client.create_and_seal(oid("k"), as_bytes("kept"));
    kept = client.get(oid("k"), 0ms);
  }
  EXPECT_EQ(as_text(kept->data()), "kept");
  kept.reset();
  StoreClient client = store.client();
  EXPECT_TRUE(eventually([&] { return client.list()[0].ref_count == 0; }));
}

TEST(StoreClientTest, ConcurrentThreadsShareOneClient) {
  TestStore store(4 << 20);
  StoreClient client = store.client();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&client, t] {
      for (int i = 0; i < 200; ++i) {
        const ObjectId id = oid(t * 1000 + i);
        client.create_and_seal(id, as_bytes(std::to_string(i)));
        std::optional<ObjectBuffer> got = client.get(id, 0ms);
        ASSERT_TRUE(got.has_value());
        EXPECT_EQ(as_text(got->data()), std::to_string(i));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(client.stats().objects, 800U);
  EXPECT_EQ(client.list().size(), 800U);
}

TEST(StoreServerTest, IndexFullIsAClearErrorAndChurnKeepsLookupsRight) {
  TestStore store(1 << 20, [](StoreOptions& o) { o.max_objects = 16; });
  StoreClient client = store.client();
  for (int i = 0; i < 12; ++i) {  // 3/4 of the slots
    client.create_and_seal(oid(i), as_bytes("x"));
  }
  EXPECT_TRUE(
      throws_with<Error>([&] { client.create_and_seal(oid(12), as_bytes("x")); }, {"index is full", "--max-objects"}));
  // Churn through many ids: tombstones come and go, lookups stay exact.
  for (int round = 0; round < 2000; ++round) {
    ASSERT_TRUE(client.remove(oid(round)));
    client.create_and_seal(oid(round + 12), as_bytes(std::to_string(round)));
  }
  for (int i = 0; i < 2012; ++i) {
    ASSERT_EQ(client.contains(oid(i)), i >= 2000) << i;
  }
  EXPECT_EQ(as_text(client.get(oid(2011), 0ms)->data()), "1999");
}

TEST(StoreServerTest, SocketIsOwnerOnlyUnlessModeSaysOtherwise) {
  {
    TestStore store(1 << 16);
    struct stat st {};
    ASSERT_EQ(::stat(store.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600U);
  }
  TestStore group(1 << 16, [](StoreOptions& o) { o.socket_mode = 0660; });
  struct stat st {};
  ASSERT_EQ(::stat(group.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660U);
}

TEST(StoreServerTest, PeerUidMustBeAllowed) {
  TestStore store(1 << 16, [](StoreOptions& o) { o.allowed_uids = {::geteuid() + 4242}; });
  EXPECT_TRUE(throws_with<Error>([&] { (void)StoreClient::connect(store.path(), 2000ms); },
                                 {"refused", "uid " + std::to_string(::geteuid()), "--allow-uid"}));
}

TEST(StoreServerTest, CapacityBeyondAvailableMemoryIsRefused) {
  const std::string path = unique_socket_path();
  StoreOptions options;
  options.capacity = std::size_t{1} << 50;
  options.socket_path = path;
  EXPECT_TRUE(throws_with<Error>([&] { (void)StoreServer::start(options); }, {"does not fit", "available", "-m"}));
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // nothing left behind
}

// Huge pages exist only where the administrator reserved them: with enough
// free, the store works on them; without, the refusal says what to do.
TEST(StoreServerTest, HugePagesAreUsedOrRefusedClearly) {
  std::ifstream meminfo("/proc/meminfo");
  std::uint64_t free_pages = 0;
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("HugePages_Free:", 0) == 0) {
      free_pages = std::stoull(line.substr(15));
    }
  }
  const std::string path = unique_socket_path();
  StoreOptions options;
  options.capacity = 4 << 20;
  options.socket_path = path;
  options.huge_pages = true;
  if (free_pages < 8) {  // 4 MiB of data + the index: a few 2 MiB pages
    EXPECT_TRUE(throws_with<StoreFullError>([&] { (void)StoreServer::start(options); },
                                            {"huge pages", "vm.nr_hugepages", "--hugepages"}));
    return;
  }
  StoreServer server = StoreServer::start(options);
  StoreClient client = StoreClient::connect(path);
  client.create_and_seal(oid("huge"), std::vector<std::byte>(3 << 20, std::byte{9}));
  EXPECT_EQ(client.get(oid("huge"), 0ms)->data()[12345], std::byte{9});
}

TEST(StoreServerTest, OneServerPerSocketAndStaleSocketsAreReplaced) {
  TestStore store(1 << 16);
  StoreOptions options;
  options.capacity = 1 << 16;
  options.socket_path = store.path();
  EXPECT_TRUE(throws_with<ExistsError>([&] { (void)StoreServer::start(options); }, {"already listens"}));

  // A socket file left by a dead server: bound, never listening.
  const std::string stale = unique_socket_path();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, stale.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
  options.socket_path = stale;
  StoreServer server = StoreServer::start(options);
  StoreClient client = StoreClient::connect(stale);
  client.create_and_seal(oid(1), as_bytes("x"));
  server.stop();
  EXPECT_NE(::access(stale.c_str(), F_OK), 0);  // stop removes the socket
  EXPECT_TRUE(throws_with<Error>([&] { client.create_and_seal(oid(2), as_bytes("x")); }, {"closed the connection"}));
}

TEST(StoreServerTest, ConnectTimesOutWithoutServer) {
  EXPECT_TRUE(throws_with<TimeoutError>([] { (void)StoreClient::connect(unique_socket_path(), 50ms); },
                                        {"no store server", "shmkit store"}));
}

TEST(StoreServerTest, ConnectRetriesUntilTheServerStarts) {
  const std::string path = unique_socket_path();
  Signal go;
  Child client([&] {
    go.notify();
    StoreClient mine = StoreClient::connect(path, 30000ms);
    mine.create_and_seal(oid("hi"), as_bytes("x"));
  });
  ASSERT_TRUE(go.wait());
  StoreOptions options;
  options.capacity = 1 << 16;
  options.socket_path = path;
  StoreServer server = StoreServer::start(options);
  EXPECT_TRUE(exited_ok(client.wait()));
  EXPECT_EQ(server.stats().objects, 1U);
}

TEST(ObjectIdTest, HexRoundTripAndErrors) {
  const ObjectId id = ObjectId::from_hex("00112233445566778899AABBCCDDEEFF01234567");
  EXPECT_EQ(id.hex(), "00112233445566778899aabbccddeeff01234567");
  EXPECT_EQ(ObjectId::from_hex(id.hex()), id);
  EXPECT_TRUE(throws_with<NameError>([] { (void)ObjectId::from_hex("abc"); }, {"3 characters", "40"}));
  EXPECT_TRUE(throws_with<NameError>([] { (void)ObjectId::from_hex("00112233445566778899aabbccddeeff0123456g"); },
                                     {"'g'", "position 40"}));
}

}  // namespace
}  // namespace shmkit::testing
