// Published first binds (StoreConnection::put_named_fast, ArenaHeader::
// binds_in_flight): a name's first set returns with no round trip, is seen
// at once by every process, keeps its order against later sets, survives
// its writer being SIGKILLed, and a client that lies about it (garbage
// keys, records or in-flight word) is dropped or corrected without hurting
// anyone else. Real processes and real signals throughout; no sleeps.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <shmkit/core/error.hpp>
#include <shmkit/store/store_client.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/common/layout.hpp"
#include "store_test_util.hpp"

namespace shmkit::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kNs[] = "pb";

std::vector<std::byte> value_of(std::uint32_t writer, std::uint32_t sequence, std::size_t size = 100) {
  // writer, sequence, then a pattern both determine: a torn or foreign
  // value cannot pass check_value.
  std::vector<std::byte> bytes(std::max<std::size_t>(size, 8));
  std::memcpy(bytes.data(), &writer, 4);
  std::memcpy(bytes.data() + 4, &sequence, 4);
  for (std::size_t i = 8; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::byte>((writer * 31 + sequence * 7 + i) & 0xff);
  }
  return bytes;
}

struct Decoded {
  std::uint32_t writer;
  std::uint32_t sequence;
  bool operator==(const Decoded&) const = default;
};

Decoded check_value(std::span<const std::byte> bytes) {
  require(bytes.size() >= 8, "value shorter than its header");
  Decoded d{};
  std::memcpy(&d.writer, bytes.data(), 4);
  std::memcpy(&d.sequence, bytes.data() + 4, 4);
  for (std::size_t i = 8; i < bytes.size(); ++i) {
    require(bytes[i] == static_cast<std::byte>((d.writer * 31 + d.sequence * 7 + i) & 0xff),
            "torn value of writer " + std::to_string(d.writer) + " seq " + std::to_string(d.sequence));
  }
  return d;
}

void set(StoreClient& client, const std::string& ns, const std::string& name, std::uint32_t writer,
         std::uint32_t sequence, std::size_t size = 100) {
  static std::atomic<std::uint64_t> counter{0};
  const std::string id = "pb-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  client.put_named(ns, name, ObjectId::from_bytes(id), value_of(writer, sequence, size));
}

Decoded read(StoreClient& client, const std::string& ns, const std::string& name) {
  return check_value(client.get_named(ns, name, 0ms).data());
}

// Every byte the store lent or allocated is back: the whole capacity can be
// taken again by one object (too large for a slab: through the server).
void expect_whole_capacity_free(StoreClient& client, std::uint64_t capacity) {
  ASSERT_TRUE(eventually([&] { return client.stats().objects == 0; })) << client.stats().objects << " objects left";
  EXPECT_EQ(client.used(), 0U);
  const ObjectId whole = oid("whole-capacity");
  ASSERT_NO_THROW(client.create_and_seal(whole, std::vector<std::byte>(capacity)));
  EXPECT_TRUE(client.remove(whole));
}

// The arena's control region mapped by hand in this process (which must
// hold a connection to the store), to read or corrupt shared words.
class HandMapping {
 public:
  HandMapping() {
    int fd = -1;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      if (std::filesystem::read_symlink(entry.path(), ec).string().find("memfd:shmkit-store (deleted)") !=
          std::string::npos) {
        fd = std::stoi(entry.path().filename().string());
      }
    }
    require(fd >= 0, "no store arena among this process's descriptors");
    detail::ArenaHeader probe{};
    require(::pread(fd, &probe, sizeof(probe), 0) == sizeof(probe), "cannot read the arena header");
    bytes_ = probe.data_offset;
    base_ = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    require(base_ != MAP_FAILED, "cannot map the arena");
  }
  HandMapping(const HandMapping&) = delete;
  HandMapping& operator=(const HandMapping&) = delete;
  ~HandMapping() { ::munmap(base_, bytes_); }
  [[nodiscard]] detail::ArenaView view() const {
    return detail::ArenaView(static_cast<std::byte*>(base_), nullptr, nullptr);
  }
  [[nodiscard]] std::atomic<std::uint64_t>& in_flight() const { return view().header().binds_in_flight; }
  // This process's client slot.
  [[nodiscard]] std::uint64_t own_slot() const {
    const detail::ArenaView v = view();
    for (std::uint64_t slot = 0; slot < v.header().max_clients; ++slot) {
      if (v.client(slot).pid == ::getpid() && v.client(slot).in_use.load() != 0) {
        return slot;
      }
    }
    throw std::runtime_error("no client slot of this process");
  }

 private:
  void* base_ = nullptr;
  std::size_t bytes_ = 0;
};

// A pipe of 32-bit messages between processes, read with a deadline.
class Pipe {
 public:
  Pipe() { require(::pipe(fds_) == 0, "pipe"); }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe() {
    close_write();
    if (fds_[0] >= 0) {
      ::close(fds_[0]);
    }
  }
  void send(std::uint32_t value) const {
    require(::write(fds_[1], &value, 4) == 4, "pipe write");  // atomic: under PIPE_BUF
  }
  // nullopt at end of file (every writer gone) or after 20 s.
  [[nodiscard]] std::optional<std::uint32_t> receive() const {
    std::uint32_t value = 0;
    std::size_t got = 0;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (got < 4) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd pfd{fds_[0], POLLIN, 0};
      if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) != 1) {
        return std::nullopt;
      }
      const ssize_t n = ::read(fds_[0], reinterpret_cast<char*>(&value) + got, 4 - got);
      if (n <= 0) {
        return std::nullopt;
      }
      got += static_cast<std::size_t>(n);
    }
    return value;
  }
  void close_write() {
    if (fds_[1] >= 0) {
      ::close(fds_[1]);
      fds_[1] = -1;
    }
  }

 private:
  int fds_[2] = {-1, -1};
};

// SIGSTOPs `pid` and waits until every thread of it is stopped: kill()
// returns before a thread running on another core has stopped.
bool stop_process(pid_t pid) {
  if (::kill(pid, SIGSTOP) != 0) {
    return false;
  }
  return eventually([pid] {
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
      std::ifstream stat(task.path() / "stat");
      std::string line;
      std::getline(stat, line);
      const std::size_t close = line.rfind(')');
      if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'T') {
        return false;
      }
    }
    return true;
  });
}

std::string unique_ns(const std::string& tag) {
  return std::string(kNs) + "-" + tag + "-" + std::to_string(::getpid());
}

// 1a. With the server stopped, a client's first sets of new names (up to
// its kBindKeySlots key slots) still return: they are published, not
// asked. Once the server runs again another process reads every one.
TEST(StorePublishedBindTest, FirstSetsNeedNoServer) {
  const std::string path = unique_socket_path();
  StoreServerProcess server(path, "64M", "0600", {"--spin-us", "0"});
  StoreClient writer = StoreClient::connect(path, 20000ms);
  StoreClient reader = StoreClient::connect(path, 20000ms);
  // Name 0 fills the bind key exactly (namespace + name = 88 bytes).
  const auto name_of = [](std::uint32_t n) { return n == 0 ? std::string(86, 'k') : "stopped-" + std::to_string(n); };
  static_assert(sizeof(kNs) - 1 + 86 == sizeof(detail::BindKey::key));
  ASSERT_TRUE(stop_process(server.child().pid()));
  Signal done;
  std::exception_ptr failed;
  std::thread setter([&] {
    try {
      for (std::uint32_t n = 0; n < detail::kBindKeySlots; ++n) {
        set(writer, kNs, name_of(n), 1, n);
      }
    } catch (...) {
      failed = std::current_exception();
    }
    done.notify();
  });
  const bool finished = done.wait(20s);
  ASSERT_EQ(::kill(server.child().pid(), SIGCONT), 0);
  setter.join();
  ASSERT_FALSE(failed) << "a first set failed";
  EXPECT_TRUE(finished) << "a first set waited for the stopped server";
  Child other([&] {
    StoreClient mine = StoreClient::connect(path, 20000ms);
    for (std::uint32_t n = 0; n < detail::kBindKeySlots; ++n) {
      require(read(mine, kNs, name_of(n)) == Decoded{1, n}, "wrong value in another process");
    }
  });
  EXPECT_TRUE(exited_ok(other.wait()));
  for (std::uint32_t n = 0; n < detail::kBindKeySlots; ++n) {
    EXPECT_EQ(read(reader, kNs, name_of(n)), (Decoded{1, n}));
  }
  // One byte longer than a bind key: not in the index, through the server.
  const std::string too_long(87, 'l');
  set(writer, kNs, too_long, 1, 87);
  Child third([&] {
    StoreClient mine = StoreClient::connect(path, 20000ms);
    require(read(mine, kNs, too_long) == Decoded{1, 87}, "unindexed name wrong in another process");
  });
  EXPECT_TRUE(exited_ok(third.wait()));
  EXPECT_EQ(reader.list_names(kNs).size(), detail::kBindKeySlots + 1);
}

// 1b. Process A sets a new name and only then tells B (this process)
// through a pipe; B's get must return A's value every time, most of them
// while A's bind is still in flight. A reads its own value right after
// its set (even names) or after B did (odd names).
TEST(StorePublishedBindTest, FirstSetIsSeenAtOnceByAnotherProcess) {
  constexpr std::uint32_t kNames = 200;
  TestStore store(16 << 20, [](StoreOptions& o) { o.spin_us = 0; });
  StoreClient reader = store.client();
  const HandMapping arena;
  const std::string ns = unique_ns("seen");
  Pipe published;
  Signal checked;
  Child writer([&] {
    StoreClient mine = StoreClient::connect(store.path());
    for (std::uint32_t n = 0; n < kNames; ++n) {
      const std::string name = "name-" + std::to_string(n);
      set(mine, ns, name, 7, n, 64 + n * 13 % 900);
      if (n % 2 == 0) {
        require(read(mine, ns, name) == Decoded{7, n}, "own value not read back at once");
      }
      published.send(n);
      require(checked.wait(), "no ack");
      if (n % 2 == 1) {
        require(read(mine, ns, name) == Decoded{7, n}, "own value not read back");
      }
    }
  });
  int seen_in_flight = 0;
  for (std::uint32_t n = 0; n < kNames; ++n) {
    const std::optional<std::uint32_t> got = published.receive();
    ASSERT_TRUE(got.has_value()) << n;
    ASSERT_EQ(*got, n);
    seen_in_flight += arena.in_flight().load() != 0 ? 1 : 0;
    Decoded d{};
    ASSERT_NO_THROW(d = read(reader, ns, "name-" + std::to_string(n))) << "name " << n;
    ASSERT_EQ(d, (Decoded{7, n}));
    checked.notify();
  }
  EXPECT_TRUE(exited_ok(writer.wait()));
  // The race this test is about was run: B read while A's bind was in
  // flight (odd names, where A does not read first).
  EXPECT_GT(seen_in_flight, 0);
  EXPECT_EQ(reader.list_names(ns).size(), kNames);
  EXPECT_TRUE(eventually([&] { return reader.stats().clients == 1 && reader.stats().objects == kNames; }));
}

// 2a. A publishes a first bind, then B sets the same name after A's set
// returned: B's value must be the one that stays, whatever order the
// server sees A's record and B's request in.
TEST(StorePublishedBindTest, ALaterSetOfAnotherProcessWins) {
  constexpr std::uint32_t kNames = 150;
  TestStore store(16 << 20, [](StoreOptions& o) { o.spin_us = 0; });
  StoreClient later = store.client();
  const std::string ns = unique_ns("order");
  Pipe published;
  Signal overwritten;
  Child first([&] {
    StoreClient mine = StoreClient::connect(store.path());
    for (std::uint32_t n = 0; n < kNames; ++n) {
      set(mine, ns, "name-" + std::to_string(n), 1, n);
      published.send(n);
      require(overwritten.wait(), "no ack");
      require(read(mine, ns, "name-" + std::to_string(n)) == Decoded{2, n}, "the first bind overtook a later set");
    }
  });
  for (std::uint32_t n = 0; n < kNames; ++n) {
    const std::optional<std::uint32_t> got = published.receive();
    ASSERT_TRUE(got.has_value() && *got == n) << n;
    set(later, ns, "name-" + std::to_string(n), 2, n);
    ASSERT_EQ(read(later, ns, "name-" + std::to_string(n)), (Decoded{2, n})) << n;
    overwritten.notify();
  }
  EXPECT_TRUE(exited_ok(first.wait()));
  ASSERT_TRUE(eventually([&] { return later.stats().clients == 1; }));
  for (std::uint32_t n = 0; n < kNames; ++n) {
    EXPECT_EQ(read(later, ns, "name-" + std::to_string(n)), (Decoded{2, n})) << n;
  }
  // A's replaced values are freed: one object per name.
  EXPECT_TRUE(eventually([&] { return later.stats().objects == kNames; })) << later.stats().objects;
  EXPECT_EQ(later.remove_namespace(ns), kNames);
  expect_whole_capacity_free(later, 16 << 20);
}

// 2b. One process sets a new name several times in a row (each a first
// bind while the earlier ones are in flight): the last set wins, for it
// and for another process.
TEST(StorePublishedBindTest, RepeatedFirstBindsOfOneNameLastWins) {
  constexpr std::uint32_t kNames = 150;
  TestStore store(16 << 20, [](StoreOptions& o) { o.spin_us = 0; });
  StoreClient reader = store.client();
  const std::string ns = unique_ns("repeat");
  Pipe published;
  Signal checked;
  Child writer([&] {
    StoreClient mine = StoreClient::connect(store.path());
    std::mt19937 rng(99);
    for (std::uint32_t n = 0; n < kNames; ++n) {
      const std::string name = "name-" + std::to_string(n);
      const std::uint32_t times = 2 + rng() % 6;  // up to 7, within the 8 key slots or past them
      for (std::uint32_t t = 0; t < times; ++t) {
        set(mine, ns, name, n, t, 64 + rng() % 2000);
      }
      if (n % 2 == 0) {
        require(read(mine, ns, name) == Decoded{n, times - 1}, "own last set not read back");
      }
      published.send(times - 1);
      require(checked.wait(), "no ack");
    }
  });
  for (std::uint32_t n = 0; n < kNames; ++n) {
    const std::optional<std::uint32_t> last = published.receive();
    ASSERT_TRUE(last.has_value()) << n;
    ASSERT_EQ(read(reader, ns, "name-" + std::to_string(n)), (Decoded{n, *last})) << n;
    checked.notify();
  }
  EXPECT_TRUE(exited_ok(writer.wait()));
  ASSERT_TRUE(eventually([&] { return reader.stats().clients == 1; }));
  EXPECT_TRUE(eventually([&] { return reader.stats().objects == kNames; })) << reader.stats().objects;
  EXPECT_EQ(reader.remove_namespace(ns), kNames);
  expect_whole_capacity_free(reader, 16 << 20);
}

// 3. Four processes bind many new names at once, each its own and a set
// of shared ones: every name ends bound to a whole value one of them set
// (its own names to its last value), the counts are right, and once all
// are gone and the namespace removed no byte is left.
TEST(StorePublishedBindTest, ManyProcessesBindingNewNames) {
  constexpr std::uint32_t kWriters = 4;
  constexpr std::uint32_t kOwn = 300;
  constexpr std::uint32_t kShared = 60;
  constexpr std::uint64_t kCapacity = 32 << 20;
  TestStore store(kCapacity, [](StoreOptions& o) { o.max_clients = 8; });
  StoreClient observer = store.client();
  const std::string ns = unique_ns("many");
  std::vector<Child> writers;
  for (std::uint32_t w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      StoreClient mine = StoreClient::connect(store.path());
      for (std::uint32_t n = 0; n < kOwn; ++n) {
        set(mine, ns, "own-" + std::to_string(w) + "-" + std::to_string(n), w, n, 64 + (n * 37 + w) % 1500);
        // The shared names in a different order per writer: first binds
        // of one name race between processes.
        const std::uint32_t s = (n * (w + 1) + w * 7) % kShared;
        set(mine, ns, "shared-" + std::to_string(s), w, 1000 + n, 64 + n % 700);
        if (n % 50 == 0) {
          require(read(mine, ns, "own-" + std::to_string(w) + "-" + std::to_string(n)) == Decoded{w, n},
                  "own name not read back");
        }
      }
    });
  }
  for (Child& writer : writers) {
    EXPECT_TRUE(exited_ok(writer.wait(120s)));
  }
  ASSERT_TRUE(eventually([&] { return observer.stats().clients == 1; }));
  for (std::uint32_t w = 0; w < kWriters; ++w) {
    for (std::uint32_t n = 0; n < kOwn; ++n) {
      ASSERT_EQ(read(observer, ns, "own-" + std::to_string(w) + "-" + std::to_string(n)), (Decoded{w, n}))
          << w << " " << n;
    }
  }
  for (std::uint32_t s = 0; s < kShared; ++s) {
    Decoded d{};
    ASSERT_NO_THROW(d = read(observer, ns, "shared-" + std::to_string(s))) << s;
    EXPECT_LT(d.writer, kWriters);
    EXPECT_GE(d.sequence, 1000U);
  }
  const std::uint64_t names = kWriters * kOwn + kShared;
  const std::vector<NameBinding> bound = observer.list_names(ns);
  EXPECT_EQ(bound.size(), names);
  const std::vector<NamespaceInfo> spaces = observer.namespaces();
  const auto it = std::find_if(spaces.begin(), spaces.end(), [&](const NamespaceInfo& i) { return i.name == ns; });
  ASSERT_NE(it, spaces.end());
  EXPECT_EQ(it->names, names);
  // Every object left is a name's: no value lost its way (held forever,
  // or adopted and never bound nor freed).
  EXPECT_TRUE(eventually([&] { return observer.stats().objects == names; })) << observer.stats().objects;
  std::set<std::string> named_ids;
  for (const NameBinding& b : bound) {
    named_ids.insert(std::string(reinterpret_cast<const char*>(b.id.bytes.data()), b.id.bytes.size()));
  }
  EXPECT_EQ(named_ids.size(), names);  // every set had its own id
  for (const ObjectInfo& info : observer.list()) {
    EXPECT_TRUE(
        named_ids.contains(std::string(reinterpret_cast<const char*>(info.id.bytes.data()), info.id.bytes.size())));
    EXPECT_EQ(info.state, ObjectState::sealed);
  }
  EXPECT_EQ(observer.remove_namespace(ns), names);
  expect_whole_capacity_free(observer, kCapacity);
}

// 4. A child that binds new names without end is SIGKILLed at random
// points, after reporting each name its set returned for. Every reported
// name is bound to the child's value, the in-flight word goes back to 0
// (so names are read without the server again), names of others still
// read at once, and removing the child's names leaves the baseline.
TEST(StorePublishedBindTest, KilledWhilePublishingFirstBinds) {
  constexpr int kRounds = 60;
  TestStore store(8 << 20, [](StoreOptions& o) {
    o.max_clients = 8;
    o.slab_bytes = 16 << 10;  // small: refills happen too
  });
  StoreClient client = store.client();
  const HandMapping arena;
  for (std::uint32_t n = 0; n < 4; ++n) {
    set(client, kNs, "base-" + std::to_string(n), 9, n);
  }
  ASSERT_EQ(read(client, kNs, "base-3"), (Decoded{9, 3}));
  ASSERT_TRUE(eventually([&] { return client.stats().objects == 4; }));
  const std::uint64_t baseline_used = client.used();
  std::mt19937 rng(31337);
  for (int round = 0; round < kRounds; ++round) {
    const std::string ns = unique_ns("kill-" + std::to_string(round));
    const std::uint32_t reports_before_kill = rng() % 25;
    const unsigned seed = rng();
    Pipe returned;
    Child worker([&] {
      StoreClient mine = StoreClient::connect(store.path());
      std::mt19937 local(seed);
      for (std::uint32_t op = 0;; ++op) {
        set(mine, ns, "n-" + std::to_string(op), static_cast<std::uint32_t>(round), op, 8 + local() % 3000);
        returned.send(op);
      }
    });
    returned.close_write();
    std::vector<std::uint32_t> reported;
    for (std::uint32_t r = 0; r < reports_before_kill; ++r) {
      const std::optional<std::uint32_t> op = returned.receive();
      ASSERT_TRUE(op.has_value()) << "round " << round;
      reported.push_back(*op);
    }
    (void)worker.kill_and_wait();
    while (const std::optional<std::uint32_t> op = returned.receive()) {
      reported.push_back(*op);
    }
    // Another client's gets by name answer (through the server while the
    // dead child's word may still be up), with the right values.
    for (std::uint32_t n = 0; n < 4; ++n) {
      ASSERT_EQ(read(client, kNs, "base-" + std::to_string(n)), (Decoded{9, n})) << "round " << round;
    }
    ASSERT_TRUE(eventually([&] { return client.stats().clients == 1; })) << "round " << round;
    ASSERT_TRUE(eventually([&] { return arena.in_flight().load() == 0; }))
        << "round " << round << ": binds_in_flight stuck at " << std::hex << arena.in_flight().load();
    for (const std::uint32_t op : reported) {
      Decoded d{};
      ASSERT_NO_THROW(d = read(client, ns, "n-" + std::to_string(op))) << "round " << round << " op " << op;
      ASSERT_EQ(d, (Decoded{static_cast<std::uint32_t>(round), op})) << "round " << round;
    }
    // Names past the last report may be bound too (set done, report not
    // sent); any that is holds the child's whole value.
    std::uint64_t bound = 0;
    for (const NameBinding& b : client.list_names(ns)) {
      const std::uint32_t op = static_cast<std::uint32_t>(std::stoul(b.name.substr(2)));
      ASSERT_EQ(read(client, ns, b.name), (Decoded{static_cast<std::uint32_t>(round), op})) << "round " << round;
      ++bound;
    }
    ASSERT_GE(bound, reported.size());
    ASSERT_TRUE(eventually([&] {
      for (const ObjectInfo& info : client.list()) {
        if (info.state == ObjectState::created || info.ref_count != 0) {
          return false;
        }
      }
      return true;
    })) << "round "
        << round;
    ASSERT_TRUE(eventually([&] { return client.stats().objects == 4 + bound; }))
        << "round " << round << ": " << client.stats().objects << " objects for " << bound << " names";
    ASSERT_EQ(client.remove_namespace(ns), bound) << "round " << round;
    ASSERT_TRUE(eventually([&] { return client.stats().objects == 4; })) << "round " << round;
    ASSERT_EQ(client.used(), baseline_used) << "round " << round;
  }
  // With the word back at 0 a get by name needs no server: with the
  // in-process server still answering, this only checks the word is clear
  // and the values right.
  EXPECT_EQ(arena.in_flight().load(), 0U);
  EXPECT_EQ(read(client, kNs, "base-0"), (Decoded{9, 0}));
  EXPECT_EQ(client.remove_namespace(kNs), 4U);
  expect_whole_capacity_free(client, 8 << 20);
}

// 5a/5b. A client publishes a first bind while the server is stopped,
// then corrupts it before the server drains: garbage in its bind key, a
// key slot out of range, a value it does not hold. The server drops that
// client, binds nothing false, clears its in-flight word, frees what it
// held, and another client keeps its values and can bind new names.
TEST(StorePublishedBindTest, CorruptedBindRecordsDropTheClient) {
  const std::string path = unique_socket_path();
  StoreServerProcess server(path, "64M", "0600", {"--spin-us", "0", "--max-clients", "8"});
  StoreClient client = StoreClient::connect(path, 20000ms);
  set(client, kNs, "victim", 5, 1);
  ASSERT_EQ(read(client, kNs, "victim"), (Decoded{5, 1}));
  const HandMapping arena;
  ASSERT_TRUE(eventually([&] { return arena.in_flight().load() == 0; }));
  const ObjectId victim_id = *client.find_name(kNs, "victim");
  ASSERT_TRUE(eventually([&] { return client.stats().objects == 1; }));
  enum Variant : std::uint32_t {
    kNsSizeZero,
    kNsSizeHuge,
    kSizesPastKey,
    kNameSizeZero,
    kLeadingDot,
    kBadCharacter,
    kRandomKey,
    kKeySlotEight,
    kKeySlotHuge,
    kOthersValue,
    kStaleGeneration,
    kBoundTwice,
    kVariants
  };
  for (std::uint32_t variant = 0; variant < kVariants; ++variant) {
    const std::string name = "bad-" + std::to_string(variant);
    Signal connected;
    Signal stopped;
    Signal corrupted;
    Signal resumed;
    Child hostile([&] {
      StoreClient mine = StoreClient::connect(path, 20000ms);
      connected.notify();
      require(stopped.wait(), "no stop");
      set(mine, kNs, name, 6, variant);  // published: the server is stopped
      const HandMapping own;
      const detail::ArenaView v = own.view();
      const std::uint64_t slot = own.own_slot();
      detail::ClientSlot& me = v.client(slot);
      const std::uint64_t head = me.ring_head.load();
      require(head != me.ring_tail.load(), "nothing published while the server was stopped");
      detail::PublishRecord& record = v.ring(slot)[(head - 1) % v.header().ring_records];
      require(record.kind.load() == detail::kPublishBind, "the last record is not the bind");
      detail::BindKey& key = v.bind_keys(slot).keys[record.cell.load()];
      std::mt19937_64 chaos(variant);
      switch (variant) {
        case kNsSizeZero:
          key.ns_size = 0;
          break;
        case kNsSizeHuge:
          key.ns_size = 0xffffffffU;
          break;
        case kSizesPastKey:
          key.ns_size = 60;
          key.name_size = 60;
          break;
        case kNameSizeZero:
          key.name_size = 0;
          break;
        case kLeadingDot:
          key.key[key.ns_size] = '.';
          break;
        case kBadCharacter:
          key.key[key.ns_size + 1] = '/';
          break;
        case kRandomKey:
          for (char& c : key.key) {
            c = static_cast<char>(chaos());
          }
          key.ns_size = static_cast<std::uint32_t>(chaos() % 40);
          key.name_size = static_cast<std::uint32_t>(chaos() % 40);
          break;
        case kKeySlotEight:
          record.cell.store(static_cast<std::uint32_t>(detail::kBindKeySlots));
          break;
        case kKeySlotHuge:
          record.cell.store(0xffffffffU);
          break;
        case kOthersValue: {
          const detail::ArenaView::Found found = v.find(victim_id);
          require(found.index != v.slots(), "victim not found");
          record.index.store(static_cast<std::uint32_t>(found.index));
          record.generation.store(detail::ctl_generation(found.ctl));
          break;
        }
        case kStaleGeneration:
          record.generation.store(record.generation.load() + 1);
          break;
        case kBoundTwice: {  // the same value bound a second time: no longer held then
          const std::uint32_t second = (record.cell.load() + 1) % detail::kBindKeySlots;
          std::memcpy(&v.bind_keys(slot).keys[second], &key, sizeof(key));
          detail::PublishRecord& again = v.ring(slot)[head % v.header().ring_records];
          again.kind.store(detail::kPublishBind);
          again.index.store(record.index.load());
          again.generation.store(record.generation.load());
          again.cell.store(second);
          me.ring_head.store(head + 1);
          break;
        }
        default:
          break;
      }
      corrupted.notify();
      require(resumed.wait(), "no resume");
      // Dropped at the server's next drain: a request fails soon.
      require(eventually([&] {
                try {
                  (void)mine.list();
                  return false;
                } catch (const Error&) {
                  return true;
                }
              }),
              "the client that published a bad bind was not dropped");
    });
    ASSERT_TRUE(connected.wait(20s)) << "variant " << variant;
    ASSERT_TRUE(stop_process(server.child().pid()));
    stopped.notify();
    const bool done = corrupted.wait(20s);
    ASSERT_EQ(::kill(server.child().pid(), SIGCONT), 0);
    ASSERT_TRUE(done) << "variant " << variant;
    resumed.notify();
    EXPECT_TRUE(exited_ok(hostile.wait())) << "variant " << variant;
    ASSERT_TRUE(eventually([&] { return client.stats().clients == 1; })) << "variant " << variant;
    EXPECT_TRUE(eventually([&] { return arena.in_flight().load() == 0; })) << "variant " << variant;
    // Nothing false was bound: only the twice-bound one has a good first record.
    const std::optional<ObjectId> bad = client.find_name(kNs, name);
    if (variant == kBoundTwice) {
      ASSERT_TRUE(bad.has_value());
      EXPECT_EQ(read(client, kNs, name), (Decoded{6, variant}));
      EXPECT_TRUE(client.drop_name(kNs, name));
    } else {
      EXPECT_FALSE(bad.has_value()) << "variant " << variant;
    }
    EXPECT_EQ(client.list_names(kNs).size(), 1U) << "variant " << variant;
    EXPECT_EQ(read(client, kNs, "victim"), (Decoded{5, 1})) << "variant " << variant;
    EXPECT_EQ(*client.find_name(kNs, "victim"), victim_id);
    // What the hostile client held for its bind is freed.
    EXPECT_TRUE(eventually([&] { return client.stats().objects == 1; }))
        << "variant " << variant << ": " << client.stats().objects;
    // The other client binds a new name (published) and reads it back.
    set(client, kNs, "good-" + std::to_string(variant), 5, 100 + variant);
    EXPECT_EQ(read(client, kNs, "good-" + std::to_string(variant)), (Decoded{5, 100 + variant}));
    EXPECT_TRUE(client.drop_name(kNs, "good-" + std::to_string(variant)));
    EXPECT_TRUE(eventually([&] { return client.stats().objects == 1; })) << "variant " << variant;
  }
}

// 5c. Garbage in ArenaHeader::binds_in_flight that names no connected
// client (no owner, a free slot, a slot past the table, a huge count) is
// cleared at the server's next request, whose answer is right; a word a
// live client holds by garbage is cleared when it disconnects, and costs
// only round trips meanwhile.
TEST(StorePublishedBindTest, GarbageInFlightWordIsCleared) {
  std::atomic<int> cleared{0};
  TestStore store(8 << 20, [&cleared](StoreOptions& o) {
    o.max_clients = 8;
    o.log = [&cleared](std::string_view line) {
      if (line.find("named no client") != std::string_view::npos) {
        ++cleared;
      }
    };
  });
  StoreClient client = store.client();
  const HandMapping arena;
  set(client, kNs, "victim", 5, 1);
  ASSERT_EQ(read(client, kNs, "victim"), (Decoded{5, 1}));
  ASSERT_TRUE(eventually([&] { return arena.in_flight().load() == 0; }));
  const std::uint64_t mine = arena.own_slot() + 1;
  const std::uint64_t free_owner = mine == 8 ? 7 : 8;  // a slot no client holds (only `client` is connected)
  const std::vector<std::uint64_t> garbage = {
      detail::bind_word(0, 5),          detail::bind_word(free_owner, 1),  detail::bind_word(free_owner, 0xffffffffU),
      detail::bind_word(9999, 3),       detail::bind_word(0xffffffffU, 0), ~std::uint64_t{0},
      detail::bind_word(free_owner, 0),
  };
  int round = 0;
  for (const std::uint64_t word : garbage) {
    arena.in_flight().store(word);
    // A get by name, from another process and from this one: right values.
    Child other([&] {
      StoreClient theirs = StoreClient::connect(store.path());
      require(read(theirs, kNs, "victim") == Decoded{5, 1}, "victim wrong");
    });
    EXPECT_TRUE(exited_ok(other.wait())) << std::hex << word;
    EXPECT_EQ(read(client, kNs, "victim"), (Decoded{5, 1}));
    // A request was answered since: the word is clear.
    EXPECT_EQ(arena.in_flight().load(), 0U) << std::hex << word;
    // New names bind and read back.
    const std::string name = "after-" + std::to_string(round++);
    set(client, kNs, name, 5, 2);
    EXPECT_EQ(read(client, kNs, name), (Decoded{5, 2}));
    ASSERT_TRUE(eventually([&] { return arena.in_flight().load() == 0 && client.stats().clients == 1; }));
  }
  EXPECT_GE(cleared.load(), static_cast<int>(garbage.size()));
  // Without any request, the server's idle drain clears it too.
  arena.in_flight().store(detail::bind_word(free_owner, 2));
  EXPECT_TRUE(eventually([&] { return arena.in_flight().load() == 0; }));

  // A live client that claims a huge count for itself: every name
  // operation goes to the server meanwhile and stays right; its
  // disconnect clears the word.
  Signal claimed;
  Signal finish;
  Child liar([&] {
    StoreClient theirs = StoreClient::connect(store.path());
    const HandMapping own;
    own.in_flight().store(detail::bind_word(own.own_slot() + 1, 0xfffffff0U));
    set(theirs, kNs, "liar-own", 6, 1);  // past its key slots: through the server
    require(read(theirs, kNs, "liar-own") == Decoded{6, 1}, "liar's own name");
    claimed.notify();
    require(finish.wait(), "no finish");
  });
  ASSERT_TRUE(claimed.wait(20s));
  EXPECT_EQ(read(client, kNs, "liar-own"), (Decoded{6, 1}));
  set(client, kNs, "during-liar", 5, 3);
  EXPECT_EQ(read(client, kNs, "during-liar"), (Decoded{5, 3}));
  set(client, kNs, "victim", 5, 4);
  EXPECT_EQ(read(client, kNs, "victim"), (Decoded{5, 4}));
  finish.notify();
  EXPECT_TRUE(exited_ok(liar.wait()));
  EXPECT_TRUE(eventually([&] { return arena.in_flight().load() == 0; })) << std::hex << arena.in_flight().load();
  EXPECT_EQ(read(client, kNs, "victim"), (Decoded{5, 4}));
  const std::uint64_t names = client.list_names(kNs).size();
  EXPECT_EQ(names, 1 + garbage.size() + 2);
  EXPECT_EQ(client.remove_namespace(kNs), names);
  expect_whole_capacity_free(client, 8 << 20);
}

// 6. With --max-names 16, first binds up to the limit work (published or
// not) and the next gets the server's limit error, leaving nothing bound
// and nothing allocated; a rebind at the limit still works, and a dropped
// name makes room again.
TEST(StorePublishedBindTest, NameLimitIsAnErrorNotALoss) {
  constexpr std::uint32_t kMax = 16;
  std::atomic<int> lost{0};
  TestStore store(8 << 20, [&lost](StoreOptions& o) {
    o.max_names = kMax;
    o.log = [&lost](std::string_view line) {
      if (line.find("was lost") != std::string_view::npos) {
        ++lost;
      }
    };
  });
  StoreClient client = store.client();
  for (std::uint32_t n = 0; n < kMax; ++n) {
    ASSERT_NO_THROW(set(client, kNs, "n-" + std::to_string(n), 1, n)) << n;
  }
  for (std::uint32_t n = 0; n < kMax; ++n) {
    EXPECT_EQ(read(client, kNs, "n-" + std::to_string(n)), (Decoded{1, n}));
  }
  EXPECT_TRUE(throws_with<Error>([&] { set(client, kNs, "one-too-many", 1, 99); }, {"limit"}));
  EXPECT_TRUE(throws_with<Error>([&] { set(client, kNs, "one-too-many-large", 1, 99, 20000); }, {"limit"}));
  EXPECT_FALSE(client.find_name(kNs, "one-too-many").has_value());
  EXPECT_FALSE(client.find_name(kNs, "one-too-many-large").has_value());
  EXPECT_EQ(client.list_names(kNs).size(), kMax);
  EXPECT_TRUE(eventually([&] { return client.stats().objects == kMax; })) << client.stats().objects;
  set(client, kNs, "n-3", 1, 333);  // a rebind at the limit
  EXPECT_EQ(read(client, kNs, "n-3"), (Decoded{1, 333}));
  ASSERT_TRUE(client.drop_name(kNs, "n-0"));
  ASSERT_NO_THROW(set(client, kNs, "room-again", 1, 7));
  EXPECT_EQ(read(client, kNs, "room-again"), (Decoded{1, 7}));
  EXPECT_TRUE(throws_with<Error>([&] { set(client, kNs, "full-again", 1, 8); }, {"limit"}));
  EXPECT_EQ(lost.load(), 0);
  EXPECT_EQ(client.remove_namespace(kNs), kMax);
  expect_whole_capacity_free(client, 8 << 20);
}

// 6b. Two processes race first binds of distinct new names against the
// limit: each set either returns and its name is bound to its value, or
// throws the limit error and its name is not bound; never a set that
// returned and a name missing. The limit may give way by the binds that
// were in flight (RequestHandler::bind_published), no more.
TEST(StorePublishedBindTest, NameLimitRaceLosesNoSetThatReturned) {
  constexpr std::uint32_t kMax = 24;
  constexpr std::uint32_t kPerWriter = 30;
  TestStore store(8 << 20, [](StoreOptions& o) {
    o.max_names = kMax;
    o.max_clients = 8;
  });
  StoreClient client = store.client();
  Pipe outcomes;  // writer << 16 | n << 1 | returned
  std::vector<Child> writers;
  for (std::uint32_t w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      StoreClient mine = StoreClient::connect(store.path());
      for (std::uint32_t n = 0; n < kPerWriter; ++n) {
        bool returned = true;
        try {
          set(mine, kNs, "w" + std::to_string(w) + "-" + std::to_string(n), w, n);
        } catch (const Error& e) {
          require(std::string(e.what()).find("limit") != std::string::npos, e.what());
          returned = false;
        }
        outcomes.send((w << 16) | (n << 1) | (returned ? 1U : 0U));
      }
    });
  }
  std::map<std::pair<std::uint32_t, std::uint32_t>, bool> returned;
  for (std::uint32_t i = 0; i < 2 * kPerWriter; ++i) {
    const std::optional<std::uint32_t> got = outcomes.receive();
    ASSERT_TRUE(got.has_value()) << i;
    returned[{*got >> 16, (*got & 0xffff) >> 1}] = (*got & 1) != 0;
  }
  for (Child& writer : writers) {
    EXPECT_TRUE(exited_ok(writer.wait()));
  }
  ASSERT_TRUE(eventually([&] { return client.stats().clients == 1; }));
  std::uint64_t bound = 0;
  for (const auto& [key, ok] : returned) {
    const std::string name = "w" + std::to_string(key.first) + "-" + std::to_string(key.second);
    const std::optional<ObjectId> id = client.find_name(kNs, name);
    EXPECT_EQ(id.has_value(), ok) << name << (ok ? " returned but is not bound" : " failed but is bound");
    if (id) {
      EXPECT_EQ(read(client, kNs, name), (Decoded{key.first, key.second}));
      ++bound;
    }
  }
  EXPECT_GE(bound, kMax);
  EXPECT_LE(bound, kMax + detail::kBindKeySlots);
  EXPECT_EQ(client.list_names(kNs).size(), bound);
  EXPECT_TRUE(eventually([&] { return client.stats().objects == bound; })) << client.stats().objects;
  EXPECT_EQ(client.remove_namespace(kNs), bound);
  expect_whole_capacity_free(client, 8 << 20);
}

// 7. A get by name blocked waiting for a name that does not exist yet is
// answered by a published first bind of it.
TEST(StorePublishedBindTest, BlockedGetIsWokenByAPublishedFirstBind) {
  TestStore store(8 << 20, [](StoreOptions& o) { o.spin_us = 0; });
  StoreClient writer = store.client();
  const HandMapping arena;
  for (std::uint32_t round = 0; round < 20; ++round) {
    const std::string name = "awaited-" + std::to_string(round);
    Child waiter([&] {
      StoreClient mine = StoreClient::connect(store.path());
      require(check_value(mine.get_named(kNs, name, 20000ms).data()) == Decoded{3, round}, "woken with a wrong value");
    });
    ASSERT_TRUE(eventually([&] { return arena.view().header().name_getters.load() == 1; })) << round;
    set(writer, kNs, name, 3, round);
    EXPECT_TRUE(exited_ok(waiter.wait())) << round;
    ASSERT_TRUE(eventually([&] { return writer.stats().clients == 1; }));
    EXPECT_EQ(arena.view().header().name_getters.load(), 0U);
  }
  EXPECT_EQ(writer.remove_namespace(kNs), 20U);
  expect_whole_capacity_free(writer, 8 << 20);
}

// 8. A first set that fails in the client (its id is taken) gives back its
// share of the in-flight word at once and binds nothing.
TEST(StorePublishedBindTest, AFailedFirstSetGivesBackItsShare) {
  TestStore store(8 << 20);
  StoreClient client = store.client();
  const HandMapping arena;
  client.create_and_seal(oid("taken"), as_bytes("unnamed"));
  for (int n = 0; n < 3 * static_cast<int>(detail::kBindKeySlots); ++n) {
    const std::string name = "fresh-" + std::to_string(n);
    EXPECT_THROW(client.put_named(kNs, name, oid("taken"), value_of(4, 1)), ExistsError) << n;
    EXPECT_EQ(arena.in_flight().load(), 0U) << n;
    EXPECT_FALSE(client.find_name(kNs, name).has_value());
  }
  // Still publishing: a first set returns and is read back.
  set(client, kNs, "after", 4, 2);
  EXPECT_EQ(read(client, kNs, "after"), (Decoded{4, 2}));
  EXPECT_EQ(as_text(client.get(oid("taken"), 0ms)->data()), "unnamed");
  EXPECT_TRUE(eventually([&] { return client.stats().objects == 2; }));
}

// 9. The name limit's race, played deterministically: the publisher read
// the count of names before a bind through the server took the last place
// (the server is stopped and the count it wrote is set one back, which is
// what the publisher would have read). Its set returned, so the name must
// be bound and readable by every process (the server lets the limit give
// way by what can be in flight).
TEST(StorePublishedBindTest, APublishedBindPastTheLimitIsNotLost) {
  constexpr std::uint32_t kMax = 16;
  const std::string path = unique_socket_path();
  StoreServerProcess server(path, "16M", "0600", {"--spin-us", "0", "--max-names", std::to_string(kMax)});
  StoreClient writer = StoreClient::connect(path, 20000ms);
  StoreClient reader = StoreClient::connect(path, 20000ms);
  const HandMapping arena;
  for (std::uint32_t n = 0; n < kMax; ++n) {
    set(writer, kNs, "n-" + std::to_string(n), 1, n);
  }
  ASSERT_EQ(reader.list_names(kNs).size(), kMax);
  ASSERT_EQ(arena.view().header().names.load(), kMax);
  ASSERT_TRUE(stop_process(server.child().pid()));
  arena.view().header().names.store(kMax - 1);
  Signal done;
  std::exception_ptr failed;
  std::thread setter([&] {
    try {
      set(writer, kNs, "past-limit", 1, 99);
    } catch (...) {
      failed = std::current_exception();
    }
    done.notify();
  });
  const bool finished = done.wait(20s);
  ASSERT_EQ(::kill(server.child().pid(), SIGCONT), 0);
  setter.join();
  ASSERT_TRUE(finished) << "the set did not publish (it waited for the server)";
  ASSERT_FALSE(failed) << "the published set failed";
  Child other([&] {
    StoreClient mine = StoreClient::connect(path, 20000ms);
    require(read(mine, kNs, "past-limit") == Decoded{1, 99}, "another process: past-limit wrong");
  });
  EXPECT_TRUE(exited_ok(other.wait()));
  EXPECT_EQ(read(reader, kNs, "past-limit"), (Decoded{1, 99}));
  EXPECT_EQ(read(writer, kNs, "past-limit"), (Decoded{1, 99}));
  EXPECT_EQ(reader.list_names(kNs).size(), kMax + 1);
  // Its later sets (rebinds of a name past the cells) work too.
  set(writer, kNs, "past-limit", 1, 100);
  EXPECT_EQ(read(reader, kNs, "past-limit"), (Decoded{1, 100}));
  // No new name while over the limit.
  EXPECT_TRUE(throws_with<Error>([&] { set(writer, kNs, "next", 1, 1); }, {"limit"}));
  EXPECT_EQ(reader.remove_namespace(kNs), kMax + 1);
  EXPECT_TRUE(eventually([&] { return reader.stats().objects == 0; })) << reader.stats().objects;
}

}  // namespace
}  // namespace shmkit::testing
