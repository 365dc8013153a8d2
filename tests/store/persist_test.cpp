// Persistence and spill with real processes: sets acknowledged before a
// SIGKILL of the store are all there after a restart; a disk that refuses
// a write fails that set and keeps the old value; with a spill directory,
// a store filled far past its capacity keeps every object gettable, and a
// spill that cannot write keeps the object in memory instead of losing it.

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <shmkit/core/error.hpp>
#include <shmkit/store/brain.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "store_test_util.hpp"

namespace shmkit::testing {
namespace {

using namespace std::chrono_literals;

// A directory under /tmp for this test, removed at scope exit.
class ScopedDir {
 public:
  explicit ScopedDir(const std::string& tag)
      : path_("/tmp/shmkit-persist-test-" + std::to_string(::getpid()) + "-" + tag) {
    std::filesystem::remove_all(path_);
  }
  ScopedDir(const ScopedDir&) = delete;
  ScopedDir& operator=(const ScopedDir&) = delete;
  ~ScopedDir() { std::filesystem::remove_all(path_); }
  [[nodiscard]] std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A store server in a child process of its own, so it can be SIGKILLed.
// `file_limit` > 0 caps the size of every file it writes from then on
// (RLIMIT_FSIZE): a disk that fills up. It is set after the start, which
// sizes the arena's memfd, a file the limit would refuse too.
class ServerChild {
 public:
  // Returns once the server runs with its limit: a client connects as soon
  // as the socket exists, and on a busy machine its first requests could
  // otherwise reach the server before the limit does.
  ServerChild(const std::string& socket, StoreOptions options, rlim_t file_limit = 0)
      : child_([this, socket, options, file_limit]() mutable {
          options.socket_path = socket;
          StoreServer server = StoreServer::start(options);
          if (file_limit != 0) {
            ::signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead
            const rlimit limit{file_limit, file_limit};
            ::setrlimit(RLIMIT_FSIZE, &limit);
          }
          ready_.notify();
          for (;;) {
            ::pause();
          }
        }) {
    require(ready_.wait(), "the store server child started");
  }
  Child& child() noexcept { return child_; }

 private:
  Signal ready_;  // before child_: the child notifies it
  Child child_;
};

StoreOptions persist_options(const std::string& dir, std::size_t capacity = 8 << 20) {
  StoreOptions options;
  options.capacity = capacity;
  options.persist_dir = dir;
  return options;
}

std::vector<std::uint64_t> value_for(std::uint64_t key) {
  std::vector<std::uint64_t> value(16 + key % 64);
  for (std::size_t i = 0; i < value.size(); ++i) {
    value[i] = key * 1'000'003 + i;
  }
  return value;
}

TEST(StorePersistTest, SetsAcknowledgedBeforeSigkillSurviveARestart) {
  const ScopedDir dir("ack");
  const std::string socket = unique_socket_path();
  int acks[2];
  ASSERT_EQ(::pipe(acks), 0);
  std::optional<ServerChild> server;
  server.emplace(socket, persist_options(dir.sub("db")));
  Child writer([&] {
    ::close(acks[0]);
    Brain brain = Brain::connect(socket, "exp", 20s);
    for (std::uint64_t key = 0;; ++key) {
      brain.set("k" + std::to_string(key), value_for(key));
      brain.set("latest", key);
      // Reported only once both sets returned: these are the promises.
      if (::write(acks[1], &key, sizeof(key)) != sizeof(key)) {
        return;
      }
    }
  });
  ::close(acks[1]);
  std::uint64_t acknowledged = 0;
  bool any = false;
  // Kill the server while the writer is busy, after a few hundred sets.
  while (!any || acknowledged < 300) {
    pollfd p{acks[0], POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 30000), 1) << "the writer stopped acknowledging";
    ASSERT_EQ(::read(acks[0], &acknowledged, sizeof(acknowledged)), static_cast<ssize_t>(sizeof(acknowledged)));
    any = true;
  }
  server->child().kill_and_wait();
  // Acknowledgements already in the pipe were also promises.
  std::uint64_t later = 0;
  while (::read(acks[0], &later, sizeof(later)) == static_cast<ssize_t>(sizeof(later))) {
    acknowledged = later;
  }
  ::close(acks[0]);
  const ChildResult written = writer.wait();
  EXPECT_TRUE(written.exited && written.exit_code != 0) << "the writer saw its server die";

  server.emplace(socket, persist_options(dir.sub("db")));
  Brain brain = Brain::connect(socket, "exp", 20s);
  for (std::uint64_t key = 0; key <= acknowledged; ++key) {
    ASSERT_EQ(brain.get<std::vector<std::uint64_t>>("k" + std::to_string(key)), value_for(key)) << key;
  }
  EXPECT_GE(brain.get<std::uint64_t>("latest"), acknowledged);
  // At most the one set in flight got further than its acknowledgement.
  EXPECT_LE(brain.size(), acknowledged + 1 + 1 + 1);
  server->child().kill_and_wait();
}

TEST(StorePersistTest, SyncedPersistenceRoundTripsAndRemovesNamespaces) {
  const ScopedDir dir("sync");
  StoreOptions options = persist_options(dir.sub("db"));
  options.persist_sync = true;
  {
    TestStore store(8 << 20, [&](StoreOptions& o) {
      o.persist_dir = options.persist_dir;
      o.persist_sync = true;
    });
    Brain a(store.client(), "a");
    Brain b(store.client(), "ab");
    a.set("x", std::string("kept"));
    a.set("y", 2.5);
    b.set("x", std::string("removed with its namespace"));
    EXPECT_EQ(b.clear(), 1U);
    EXPECT_TRUE(a.erase("y"));
  }
  TestStore store(8 << 20, [&](StoreOptions& o) { o.persist_dir = options.persist_dir; });
  Brain a(store.client(), "a");
  EXPECT_EQ(a.get<std::string>("x"), "kept");
  EXPECT_FALSE(a.contains("y"));
  EXPECT_EQ(Brain(store.client(), "ab").size(), 0U);
}

TEST(StorePersistTest, AFullDiskFailsTheSetAndKeepsTheOldValue) {
  const ScopedDir dir("full");
  const std::string socket = unique_socket_path();
  ServerChild server(socket, persist_options(dir.sub("db")), 256 * 1024);
  Brain brain = Brain::connect(socket, "exp", 20s);
  brain.set("frame", std::vector<std::uint8_t>(1000, 1));
  const std::uint64_t used = brain.used();
  EXPECT_TRUE(throws_with<Error>([&] { brain.set("frame", std::vector<std::uint8_t>(1 << 20, 2)); },
                                 {"store persistence", "LMDB"}));
  EXPECT_EQ(brain.get<std::vector<std::uint8_t>>("frame"), std::vector<std::uint8_t>(1000, 1));
  EXPECT_TRUE(eventually([&] { return brain.used() == used; })) << "the refused value was not freed";
  brain.set("small", 1);  // the store goes on
  EXPECT_EQ(brain.get<int>("small"), 1);
  server.child().kill_and_wait();
}

std::vector<std::byte> pattern(int n, std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<std::byte>((i * 31 + static_cast<std::size_t>(n) * 7) & 0xff);
  }
  return bytes;
}

TEST(StorePersistTest, SpillKeepsEveryObjectGettablePastCapacity) {
  const ScopedDir dir("spill");
  constexpr int kObjects = 40;
  constexpr std::size_t kSize = 100 * 1024;
  TestStore store(1 << 20, [&](StoreOptions& o) { o.spill_dir = dir.sub("spill"); });
  StoreClient client = store.client();
  for (int i = 0; i < kObjects; ++i) {
    client.create_and_seal(oid(i), pattern(i, kSize), as_bytes("meta " + std::to_string(i)));
  }
  const StoreStats stats = client.stats();
  EXPECT_GE(stats.spilled, 30U);  // 4 MB through a 1 MiB store
  EXPECT_EQ(stats.spilled + stats.objects, static_cast<std::uint64_t>(kObjects));
  EXPECT_GE(stats.spilled_bytes, stats.spilled * (kSize + 6));  // data + "meta N"
  EXPECT_LE(stats.spilled_bytes, stats.spilled * (kSize + 7));
  // Every object comes back, from another process too, bytes intact.
  Child reader([&] {
    StoreClient mine = StoreClient::connect(store.path());
    for (int i = 0; i < kObjects; i += 3) {
      const std::optional<ObjectBuffer> got = mine.get(oid(i), 0ms);
      require(got.has_value(), "object " + std::to_string(i) + " gettable");
      require(std::equal(got->data().begin(), got->data().end(), pattern(i, kSize).begin()), "bytes intact");
    }
  });
  ASSERT_TRUE(exited_ok(reader.wait()));
  for (int i = 0; i < kObjects; ++i) {
    const std::optional<ObjectBuffer> got = client.get(oid(i), 0ms);
    ASSERT_TRUE(got.has_value()) << i;
    EXPECT_TRUE(std::equal(got->data().begin(), got->data().end(), pattern(i, kSize).begin())) << i;
    EXPECT_EQ(as_text(got->metadata()), "meta " + std::to_string(i));
  }
  // Ids stay write-once while spilled; removing a spilled object works.
  const int spilled = [&] {
    for (int i = 0; i < kObjects; ++i) {
      if (!client.contains(oid(i))) {
        return i;
      }
    }
    return -1;
  }();
  ASSERT_GE(spilled, 0);
  EXPECT_THROW(client.create_and_seal(oid(spilled), as_bytes("again")), ExistsError);
  EXPECT_TRUE(client.remove(oid(spilled)));
  EXPECT_FALSE(client.get(oid(spilled), 0ms).has_value());
  EXPECT_FALSE(client.remove(oid(spilled)));
  EXPECT_EQ(client.stats().spilled + client.stats().objects, static_cast<std::uint64_t>(kObjects - 1));
}

TEST(StorePersistTest, SpillRestartsEmpty) {
  const ScopedDir dir("restart");
  {
    TestStore store(1 << 20, [&](StoreOptions& o) { o.spill_dir = dir.sub("spill"); });
    StoreClient client = store.client();
    for (int i = 0; i < 20; ++i) {
      client.create_and_seal(oid(i), pattern(i, 100 * 1024));
    }
    EXPECT_GT(client.stats().spilled, 0U);
  }
  TestStore store(1 << 20, [&](StoreOptions& o) { o.spill_dir = dir.sub("spill"); });
  StoreClient client = store.client();
  EXPECT_EQ(client.stats().spilled, 0U);
  EXPECT_FALSE(client.get(oid(0), 0ms).has_value());
}

TEST(StorePersistTest, ASpillThatCannotWriteKeepsObjectsInMemory) {
  const ScopedDir dir("nospace");
  const std::string socket = unique_socket_path();
  StoreOptions options;
  options.capacity = 1 << 20;
  options.spill_dir = dir.sub("spill");
  ServerChild server(socket, options, 512 * 1024);
  StoreClient client = StoreClient::connect(socket, 20s);
  int stored = 0;
  bool refused = false;
  for (int i = 0; i < 40 && !refused; ++i) {
    try {
      client.create_and_seal(oid(i), pattern(i, 100 * 1024));
      ++stored;
    } catch (const StoreFullError&) {
      refused = true;  // the spill is full and nothing could be dropped
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_GT(stored, 10);  // some went to the spill before it filled
  // Nothing was lost: the objects in memory read back, and once they are
  // removed there is room to bring back each spilled one.
  std::vector<int> spilled;
  for (int i = 0; i < stored; ++i) {
    if (!client.contains(oid(i))) {
      spilled.push_back(i);
      continue;
    }
    const std::optional<ObjectBuffer> got = client.get(oid(i), 0ms);
    ASSERT_TRUE(got.has_value()) << i;
    EXPECT_TRUE(std::equal(got->data().begin(), got->data().end(), pattern(i, 100 * 1024).begin())) << i;
  }
  ASSERT_FALSE(spilled.empty());
  EXPECT_TRUE(throws_with<StoreFullError>([&] { (void)client.get(oid(spilled[0]), 0ms); }, {"no room"}));
  for (int i = 0; i < stored; ++i) {
    if (client.contains(oid(i))) {
      EXPECT_TRUE(client.remove(oid(i)));
    }
  }
  for (const int i : spilled) {
    const std::optional<ObjectBuffer> got = client.get(oid(i), 0ms);
    ASSERT_TRUE(got.has_value()) << "spilled object " << i << " was lost";
    EXPECT_TRUE(std::equal(got->data().begin(), got->data().end(), pattern(i, 100 * 1024).begin())) << i;
  }
  server.child().kill_and_wait();
}

}  // namespace
}  // namespace shmkit::testing
