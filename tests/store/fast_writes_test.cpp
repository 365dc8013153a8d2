// Client-side writes (docs/STORE_FAST_WRITES.md): creates and sets that do
// not wait for the server, with real processes throughout. A set must work
// while the server is stopped, readers must never see a gap, and whatever
// writers leave behind when they are killed or lie must come back to the
// store.

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <shmkit/core/error.hpp>
#include <shmkit/store/store_client.hpp>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "store/common/layout.hpp"
#include "store_test_util.hpp"

namespace shmkit::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kNs[] = "rig";

std::vector<std::byte> value_of(std::uint32_t writer, std::uint32_t sequence, std::size_t size) {
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

void set(StoreClient& client, const std::string& name, std::uint32_t writer, std::uint32_t sequence,
         std::size_t size = 100) {
  static std::atomic<std::uint64_t> counter{0};
  const std::string id = "fw-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  client.put_named(kNs, name, ObjectId::from_bytes(id), value_of(writer, sequence, size));
}

// Every byte the store lent or allocated is back: the whole capacity can be
// taken again by one object (which goes through the server: too large for
// a slab). A slab tail or gap that was never given back would make it fail.
void expect_whole_capacity_free(StoreClient& client, std::uint64_t capacity) {
  ASSERT_TRUE(eventually([&] { return client.stats().objects == 0; })) << client.stats().objects << " objects left";
  EXPECT_EQ(client.used(), 0U);
  const ObjectId whole = oid("whole-capacity");
  ASSERT_NO_THROW(client.create_and_seal(whole, std::vector<std::byte>(capacity)));
  EXPECT_TRUE(client.remove(whole));
}

// The arena's control region mapped by hand in this process (which must
// hold a connection), for tests that play a crashed or hostile client.
detail::ArenaView map_arena_by_hand() {
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
  void* control = ::mmap(nullptr, probe.data_offset, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  require(control != MAP_FAILED, "cannot map the arena");
  return detail::ArenaView(static_cast<std::byte*>(control), nullptr, nullptr);
}

// This process's client slot in `view`.
std::uint64_t own_slot(const detail::ArenaView& view) {
  for (std::uint64_t slot = 0; slot < view.header().max_clients; ++slot) {
    if (view.client(slot).pid == ::getpid() && view.client(slot).in_use.load() != 0) {
      return slot;
    }
  }
  throw std::runtime_error("no client slot of this process");
}

TEST(StoreFastWritesTest, SetsNeedNoServerAndAreSeenAtOnce) {
  const std::string path = unique_socket_path();
  // A process of its own, so it can be stopped.
  StoreServerProcess server(path, "64M", "0600", {"--spin-us", "0"});
  StoreClient writer = StoreClient::connect(path, 20000ms);
  StoreClient reader = StoreClient::connect(path, 20000ms);
  set(writer, "state", 1, 0);  // a first bind, published
  set(writer, "state", 1, 1);  // a rebind
  ASSERT_EQ(check_value(reader.get_named(kNs, "state", 0ms).data()).sequence, 1U);

  // With the server stopped, sets still complete, and another process
  // reads each one the moment it returns.
  ASSERT_EQ(::kill(server.child().pid(), SIGSTOP), 0);
  Signal reader_checked;
  for (std::uint32_t sequence = 2; sequence < 500; ++sequence) {
    set(writer, "state", 1, sequence);
    EXPECT_EQ(check_value(reader.get_named(kNs, "state", 0ms).data()).sequence, sequence);
  }
  Child remote_reader([&] {
    // This process connected before the stop: it reads the latest value
    // through its own mapping.
    require(check_value(reader.get_named(kNs, "state", 0ms).data()).sequence == 499, "stale value in another process");
    reader_checked.notify();
  });
  EXPECT_TRUE(reader_checked.wait(20s));
  EXPECT_TRUE(exited_ok(remote_reader.wait()));
  ASSERT_EQ(::kill(server.child().pid(), SIGCONT), 0);

  // The server catches up: one object (the last value) holds the name, the
  // 499 values it replaced are freed.
  EXPECT_TRUE(eventually([&] { return writer.stats().objects == 1; })) << writer.stats().objects;
  const std::vector<NameBinding> names = writer.list_names(kNs);
  ASSERT_EQ(names.size(), 1U);
  EXPECT_EQ(writer.list().size(), 1U);
  EXPECT_EQ(check_value(writer.get(names[0].id, 0ms)->data()).sequence, 499U);
}

// A set asks nothing of the server, even after a quiet spell: the server
// drains the rings on its own (every 10 ms when idle), so another client
// sees the store's counters follow without anyone ringing or asking it (a
// request would drain every ring first; stats() reads shared memory and
// rings only for the caller's own ring).
TEST(StoreFastWritesTest, AnIdleServerDrainsWithoutBeingRung) {
  TestStore store(8 << 20);
  StoreClient writer = store.client();
  StoreClient observer = store.client();
  set(writer, "quiet", 3, 0);
  set(writer, "quiet", 3, 1);
  ASSERT_TRUE(eventually([&] { return observer.used() < 1024; }));
  // Past the 100 ms in which the server drains every millisecond.
  std::this_thread::sleep_for(150ms);
  // A larger value: `used` grows once the server adopts it.
  set(writer, "quiet", 3, 2, 3000);
  EXPECT_TRUE(eventually([&] { return observer.used() >= 3000; })) << observer.used();
}

TEST(StoreFastWritesTest, NameSubscribersAndListsSeeFastSets) {
  TestStore store(8 << 20);
  StoreClient writer = store.client();
  set(writer, "pose", 2, 0);
  Subscription events = writer.subscribe_names();
  for (std::uint32_t sequence = 1; sequence <= 20; ++sequence) {
    set(writer, "pose", 2, sequence);
  }
  // Changes are announced in order, ending with the last value. Sets the
  // server drains together announce once, with the newest value: the id
  // says which set made it (see set()), as earlier values may be gone.
  const auto set_number = [](const ObjectId& id) {
    const auto* chars = reinterpret_cast<const char*>(id.bytes.data());
    const std::string text(chars, ::strnlen(chars, ObjectId::kSize));
    return std::stoull(text.substr(text.rfind('-') + 1));
  };
  const std::uint64_t final_number = set_number(writer.list_names(kNs).at(0).id);
  std::uint64_t last = 0;
  while (last != final_number) {
    const std::optional<StoreEvent> event = events.next(10s);
    ASSERT_TRUE(event.has_value());
    ASSERT_EQ(event->kind, StoreEvent::Kind::name_changed);
    EXPECT_EQ(event->name, "pose");
    const std::uint64_t number = set_number(event->id);
    ASSERT_GT(number, last);
    last = number;
  }
  // list_names is a request, so it sees this client's own writes.
  EXPECT_EQ(check_value(writer.get(writer.list_names(kNs).at(0).id, 0ms)->data()).sequence, 20U);
  EXPECT_EQ(writer.stats().objects, 1U);
  EXPECT_EQ(writer.remove_namespace(kNs), 1U);
  expect_whole_capacity_free(writer, 8 << 20);
}

TEST(StoreFastWritesTest, CreateAndSealFromSlabBehavesLikeTheServers) {
  TestStore store(8 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid(1), as_bytes("first"));
  EXPECT_EQ(as_text(client.get(oid(1), 0ms)->data()), "first");
  EXPECT_THROW(client.create_and_seal(oid(1), as_bytes("again")), ExistsError);
  WritableBuffer half = client.create(oid(2), 10, as_bytes("meta"));
  EXPECT_FALSE(client.get(oid(2), 0ms).has_value());
  std::memcpy(half.data.data(), "0123456789", 10);
  client.seal(oid(2));
  ObjectBuffer sealed = *client.get(oid(2), 0ms);
  EXPECT_EQ(as_text(sealed.data()), "0123456789");
  EXPECT_EQ(as_text(sealed.metadata()), "meta");
  (void)client.create(oid(3), 10);
  client.abort(oid(3));
  const std::vector<ObjectInfo> infos = client.list();
  ASSERT_EQ(infos.size(), 2U);
  EXPECT_EQ(infos[0].creator_pid, ::getpid());
  EXPECT_EQ(client.stats().used, 128U);
  EXPECT_TRUE(client.remove(oid(1)));
  sealed.release();
  EXPECT_TRUE(client.remove(oid(2)));
  expect_whole_capacity_free(client, 8 << 20);
}

// 4 writers set their own name and a shared one while 2 readers check
// every value they see: whole, and per writer never older than before.
TEST(StoreFastWritesTest, ManyWritersNeverShowReadersAGap) {
  constexpr std::uint32_t kWriters = 4;
  constexpr std::uint32_t kSets = 3000;
  TestStore store(16 << 20);
  StoreClient setup = store.client();
  for (std::uint32_t w = 0; w < kWriters; ++w) {
    set(setup, "own-" + std::to_string(w), w, 0);
  }
  set(setup, "shared", 0, 0);
  Signal go_readers;
  std::vector<Child> writers;
  for (std::uint32_t w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      StoreClient mine = StoreClient::connect(store.path());
      for (std::uint32_t sequence = 1; sequence <= kSets; ++sequence) {
        set(mine, "own-" + std::to_string(w), w, sequence, 64 + sequence % 900);
        set(mine, "shared", w, sequence, 64 + sequence % 300);
      }
    });
  }
  std::vector<Child> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      StoreClient mine = StoreClient::connect(store.path());
      std::vector<std::uint32_t> seen(kWriters, 0);
      bool done = false;
      while (!done) {
        done = true;
        for (std::uint32_t w = 0; w < kWriters; ++w) {
          const Decoded d = check_value(mine.get_named(kNs, "own-" + std::to_string(w), 0ms).data());
          require(d.writer == w, "own name of writer " + std::to_string(w) + " holds another writer's value");
          require(d.sequence >= seen[w], "value went back in time");
          seen[w] = d.sequence;
          done = done && d.sequence == kSets;
        }
        (void)check_value(mine.get_named(kNs, "shared", 0ms).data());
      }
    });
  }
  for (Child& writer : writers) {
    EXPECT_TRUE(exited_ok(writer.wait(300s)));
  }
  for (Child& reader : readers) {
    EXPECT_TRUE(exited_ok(reader.wait(300s)));
  }
  // Replaced values are all freed: one object per name is left.
  EXPECT_TRUE(eventually([&] { return setup.stats().clients == 1 && setup.stats().objects == kWriters + 1; }))
      << setup.stats().objects;
  EXPECT_EQ(setup.remove_namespace(kNs), kWriters + 1);
  expect_whole_capacity_free(setup, 16 << 20);
}

// A store too small for everyone's slabs: writers' sets fall back to the
// server, which evicts unnamed objects and recalls slabs' unused parts.
TEST(StoreFastWritesTest, PressureRecallsSlabsAndFallsBackToTheServer) {
  constexpr std::uint64_t kCapacity = 256 << 10;
  TestStore store(kCapacity, [](StoreOptions& o) {
    o.max_clients = 8;
    o.slab_bytes = 16 << 10;
  });
  StoreClient setup = store.client();
  for (int w = 0; w < 3; ++w) {
    set(setup, "own-" + std::to_string(w), static_cast<std::uint32_t>(w), 0);
  }
  std::vector<Child> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      StoreClient mine = StoreClient::connect(store.path());
      for (std::uint32_t sequence = 1; sequence <= 2000; ++sequence) {
        set(mine, "own-" + std::to_string(w), static_cast<std::uint32_t>(w), sequence, 200 + sequence % 3000);
        // Unnamed objects fill the store; eviction takes the oldest.
        mine.create_and_seal(ObjectId::from_bytes("junk-" + std::to_string(w) + "-" + std::to_string(sequence)),
                             std::vector<std::byte>(4000));
      }
    });
  }
  for (Child& writer : writers) {
    EXPECT_TRUE(exited_ok(writer.wait(300s)));
  }
  for (int w = 0; w < 3; ++w) {
    EXPECT_EQ(check_value(setup.get_named(kNs, "own-" + std::to_string(w), 0ms).data()).sequence, 2000U);
  }
  EXPECT_EQ(setup.remove_namespace(kNs), 3U);
  EXPECT_TRUE(eventually([&] { return setup.stats().clients == 1; }));
  for (const ObjectInfo& info : setup.list()) {
    EXPECT_TRUE(setup.remove(info.id));
  }
  expect_whole_capacity_free(setup, kCapacity);
}

// Every client gets a slab at connect; one nobody wrote in is taken back
// before a create through the server evicts anything. Two clients hold
// 256 KiB slabs of a 4 MiB store, seven 512 KiB objects fill the rest, and
// the eighth takes the two slabs' room: the first seven stay.
TEST(StoreFastWritesTest, UnwrittenSlabsGoBackBeforeAnythingIsEvicted) {
  constexpr std::uint64_t kCapacity = 4 << 20;
  constexpr std::size_t kObject = 512 << 10;  // more than a quarter of a slab: through the server
  TestStore store(kCapacity, [](StoreOptions& o) {
    o.max_clients = 4;
    o.slab_bytes = 256 << 10;
  });
  StoreClient reader = store.client();
  StoreClient writer = store.client();
  std::vector<ObjectId> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back(ObjectId::from_bytes("big-" + std::to_string(i)));
    writer.create_and_seal(ids.back(), std::vector<std::byte>(kObject, std::byte{7}));
  }
  for (const ObjectId& id : ids) {
    EXPECT_TRUE(reader.get(id, 0ms).has_value()) << "evicted while slabs lay unwritten: " << id.hex();
  }
  EXPECT_EQ(writer.stats().used, 8 * kObject);
}

// Writers SIGKILLed at random points of client-side writes: whatever they
// allocated, claimed or held comes back, and names keep a whole value.
TEST(StoreFastWritesTest, RandomKillsMidWriteLeakNothing) {
  constexpr std::uint64_t kCapacity = 4 << 20;
  TestStore store(kCapacity, [](StoreOptions& o) {
    o.max_clients = 8;
    o.slab_bytes = 8 << 10;  // small, so refills happen too
  });
  StoreClient client = store.client();
  for (int n = 0; n < 4; ++n) {
    set(client, "name-" + std::to_string(n), 9, 0);
  }
  std::mt19937 rng(4242);
  for (int round = 0; round < 200; ++round) {
    const int ops_before_signal = static_cast<int>(rng() % 40);
    const unsigned seed = rng();
    Signal started;
    Child worker([&] {
      StoreClient mine = StoreClient::connect(store.path());
      std::mt19937 local(seed);
      for (int op = 0;; ++op) {
        if (op == ops_before_signal) {
          started.notify();
        }
        const auto sequence = static_cast<std::uint32_t>(op);
        switch (local() % 4) {
          case 0:
          case 1:
            set(mine, "name-" + std::to_string(local() % 4), 9, sequence, local() % 1500);
            break;
          case 2:
            mine.create_and_seal(ObjectId::from_bytes("r" + std::to_string(round) + "-" + std::to_string(op)),
                                 std::vector<std::byte>(local() % 1500));
            break;
          default:
            (void)mine.create(ObjectId::from_bytes("u" + std::to_string(round) + "-" + std::to_string(op)),
                              local() % 1500);  // never sealed
            break;
        }
      }
    });
    ASSERT_TRUE(started.wait()) << "round " << round;
    (void)worker.kill_and_wait();
    ASSERT_TRUE(eventually([&] { return client.stats().clients == 1; })) << "round " << round;
    // Every name still reads a whole value; no unsealed object survives
    // its creator; the child's sealed unnamed objects are kept and removed.
    for (int n = 0; n < 4; ++n) {
      ASSERT_NO_THROW((void)check_value(client.get_named(kNs, "name-" + std::to_string(n), 0ms).data()))
          << "round " << round;
    }
    const std::vector<NameBinding> names = client.list_names(kNs);
    ASSERT_EQ(names.size(), 4U);
    for (const ObjectInfo& info : client.list()) {
      ASSERT_NE(info.state, ObjectState::created) << "round " << round;
      const bool named = std::any_of(names.begin(), names.end(), [&](const NameBinding& b) { return b.id == info.id; });
      if (!named) {
        ASSERT_TRUE(client.remove(info.id)) << "round " << round;
      }
    }
    ASSERT_TRUE(eventually([&] { return client.stats().objects == 4; })) << "round " << round;
  }
  EXPECT_EQ(client.remove_namespace(kNs), 4U);
  expect_whole_capacity_free(client, kCapacity);
}

// A client that writes garbage into everything it can write (its ring, its
// slab word, index entries, name cells) costs the server nothing: it is
// dropped, other clients' names keep their values, no byte is lost.
TEST(StoreFastWritesTest, CorruptedClientWritesDoNotHurtTheServer) {
  constexpr std::uint64_t kCapacity = 4 << 20;
  std::atomic<int> dropped{0};
  TestStore store(kCapacity, [&dropped](StoreOptions& o) {
    o.max_clients = 8;
    o.log = [&dropped](std::string_view line) {
      if (line.find("disconnecting it") != std::string_view::npos) {
        ++dropped;
      }
    };
  });
  StoreClient client = store.client();
  for (int n = 0; n < 8; ++n) {
    set(client, "victim-" + std::to_string(n), 5, static_cast<std::uint32_t>(n));
  }
  std::mt19937 rng(777);
  for (int round = 0; round < 40; ++round) {
    const unsigned seed = rng();
    Child hostile([&] {
      StoreClient mine = StoreClient::connect(store.path());
      for (int i = 0; i < 4; ++i) {
        set(mine, "victim-" + std::to_string(i), 6, static_cast<std::uint32_t>(100 + i));
      }
      // The arena is this process's too: map it a second time by hand.
      const detail::ArenaView view = map_arena_by_hand();
      const std::uint64_t slot = own_slot(view);
      std::mt19937_64 chaos(seed);
      detail::ClientSlot& me = view.client(slot);
      detail::PublishRecord* ring = view.ring(slot);
      // It stops once it learns it was dropped: a process that goes on
      // writing the arena after that is beyond what the server can undo
      // (the trade docs/STORE_FAST_WRITES.md states).
      bool dropped_here = false;
      for (int burst = 0; burst < 50 && !dropped_here; ++burst) {
        switch (chaos() % 5) {
          case 0: {  // garbage records
            const std::uint64_t head = me.ring_head.load();
            for (int r = 0; r < 8; ++r) {
              detail::PublishRecord& record = ring[(head + r) % view.header().ring_records];
              record.kind = static_cast<std::uint32_t>(chaos() % 6);
              record.index = static_cast<std::uint32_t>(chaos() % (view.slots() + 2));
              record.generation = static_cast<std::uint32_t>(chaos() % 4);
              record.cell = static_cast<std::uint32_t>(chaos() % (view.header().cells + 2));
            }
            me.ring_head.store(chaos() % 2 == 0 ? head + 8 : chaos());
            break;
          }
          case 1:  // a slab word that claims more than was lent
            me.slab_alloc.store(chaos());
            break;
          case 2: {  // an entry of its own, or a free one it takes, rewritten and published
            const auto index = static_cast<std::uint32_t>(chaos() % view.slots());
            detail::ObjectEntry& e = view.entry(index);
            std::uint64_t ctl = e.ctl.load();
            const std::uint32_t state = detail::ctl_state(ctl);
            const bool free = state == detail::kEntryEmpty || state == detail::kEntryTombstone;
            if (!free && e.owner.load() != slot + 1) {
              break;  // other clients' objects: the trade documented in DESIGN.md
            }
            if (free && !e.ctl.compare_exchange_strong(
                            ctl, detail::make_ctl(detail::ctl_generation(ctl), detail::kEntryCreated))) {
              break;
            }
            e.owner.store(static_cast<std::uint32_t>(slot + 1));
            e.data_offset = chaos() % 2 == 0 ? chaos() : me.slab_offset.load() + 64 * (chaos() % 64);
            e.data_size = chaos() % 3 == 0 ? chaos() : chaos() % 4096;
            e.metadata_size = chaos() % 5 == 0 ? chaos() : 0;
            const std::uint64_t head = me.ring_head.load();
            detail::PublishRecord& record = ring[head % view.header().ring_records];
            record.kind = detail::kPublishAdopt + static_cast<std::uint32_t>(chaos() % 2);
            record.index = index;
            record.generation = detail::ctl_generation(e.ctl.load());
            record.cell = 0;
            me.ring_head.store(head + 1);
            break;
          }
          case 3:  // a name cell pointed anywhere
            view.cell(chaos() % view.header().cells).store(chaos());
            break;
          default: {  // then ask the server something, so it drains
            try {
              (void)mine.list();
            } catch (const Error&) {
              dropped_here = true;  // expected sooner or later
            }
            break;
          }
        }
      }
      try {
        (void)mine.list();
      } catch (const Error&) {
      }
    });
    EXPECT_EQ(hostile.wait(60s).exit_code, 0) << "round " << round;
    ASSERT_TRUE(eventually([&] { return client.stats().clients == 1; })) << "round " << round;
    // The server lives, and the names the hostile client never set keep
    // exactly the values this client gave them, whatever it wrote into
    // their cells (a damaged cell sends readers to the server). The names
    // it did set are bound to values it wrote, which it could scribble on:
    // the trade docs/STORE_FAST_WRITES.md states.
    for (int n = 4; n < 8; ++n) {
      const Decoded d = check_value(client.get_named(kNs, "victim-" + std::to_string(n), 0ms).data());
      EXPECT_EQ(d.writer, 5U) << "round " << round;
      EXPECT_EQ(d.sequence,
                n == 7 && round > 0 ? 999U + static_cast<std::uint32_t>(round) : static_cast<std::uint32_t>(n))
          << "round " << round;
    }
    set(client, "victim-7", 5, 1000 + static_cast<std::uint32_t>(round));
    EXPECT_EQ(check_value(client.get_named(kNs, "victim-7", 0ms).data()).sequence,
              1000U + static_cast<std::uint32_t>(round));
  }
  // The garbage was seen, not skipped: most hostile clients were dropped.
  EXPECT_GT(dropped.load(), 20);
  EXPECT_EQ(client.remove_namespace(kNs), 8U);
  for (const ObjectInfo& info : client.list()) {
    EXPECT_TRUE(client.remove(info.id));
  }
  expect_whole_capacity_free(client, kCapacity);
}

// A name dropped while a client is between its lookup of the name and its
// swap of the cell: the cell must not go to the next name bound, or that
// late swap would rebind it. The client in flight is played by hand: its
// name operation is counted open, then it writes the cell it looked up.
TEST(StoreFastWritesTest, DroppedNamesCellWaitsForClientsInFlight) {
  TestStore store(8 << 20, [](StoreOptions& o) { o.max_names = 1; });  // one cell: reused at once otherwise
  StoreClient client = store.client();
  set(client, "first", 1, 1);
  Signal looked_up;
  Signal rebound;
  Child late([&] {
    StoreClient mine = StoreClient::connect(store.path());
    const detail::ArenaView view = map_arena_by_hand();
    detail::ClientSlot& me = view.client(own_slot(view));
    me.name_ops_begun.fetch_add(1);  // looked "first" up: cell 0
    const std::uint64_t seen = view.cell(0).load();
    require(seen != 0, "'first' has no cell");
    looked_up.notify();
    require(rebound.wait(), "no signal");
    view.cell(0).store(seen);  // the late swap, with what it read
    me.name_ops_ended.fetch_add(1);
  });
  ASSERT_TRUE(looked_up.wait());
  ASSERT_TRUE(client.drop_name(kNs, "first"));
  set(client, "second", 2, 2);  // no cell is free: the server answers for it
  rebound.notify();
  EXPECT_TRUE(exited_ok(late.wait()));
  EXPECT_EQ(check_value(client.get_named(kNs, "second", 0ms).data()).writer, 2U);
  set(client, "second", 2, 3);
  EXPECT_EQ(check_value(client.get_named(kNs, "second", 0ms).data()).sequence, 3U);
  EXPECT_FALSE(client.find_name(kNs, "first").has_value());
}

// With fast writes off no client can change which object another finds
// under a name: the cells are in the name index, which clients can only
// map read-only, and the arena's cell words are not read.
TEST(StoreFastWritesTest, NoFastWritesKeepsNamesUnforgeable) {
  TestStore store(8 << 20, [](StoreOptions& o) { o.fast_writes = false; });
  StoreClient client = store.client();
  set(client, "a", 1, 1);
  set(client, "b", 2, 2);
  Child forger([&] {
    StoreClient mine = StoreClient::connect(store.path());
    const detail::ArenaView view = map_arena_by_hand();
    for (std::uint64_t c = 0; c < view.header().cells; ++c) {
      view.cell(c).store(detail::cell_target(static_cast<std::uint32_t>(c % 7), 1));
    }
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      if (std::filesystem::read_symlink(entry.path(), ec).string().find("memfd:shmkit-store-names") !=
          std::string::npos) {
        const int fd = std::stoi(entry.path().filename().string());
        require(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED,
                "the name index could be mapped writable");
      }
    }
  });
  EXPECT_TRUE(exited_ok(forger.wait()));
  ASSERT_TRUE(eventually([&] { return client.stats().clients == 1; }));
  EXPECT_EQ(check_value(client.get_named(kNs, "a", 0ms).data()).writer, 1U);
  EXPECT_EQ(check_value(client.get_named(kNs, "b", 0ms).data()).writer, 2U);
  EXPECT_EQ(client.stats().objects, 2U);
}

// A writer killed right after its claim, before it wrote the entry's
// owner and fields: the claim itself carries the owner, so the server
// finds the entry, and the id can be created again.
TEST(StoreFastWritesTest, KilledRightAfterItsClaimLeavesNothingStuck) {
  TestStore store(8 << 20);
  StoreClient client = store.client();
  const ObjectId stuck = oid("claimed-then-killed");
  Child writer([&] {
    StoreClient mine = StoreClient::connect(store.path());
    set(mine, "warm", 1, 0);
    set(mine, "warm", 1, 1);  // this client holds a slab now
    const detail::ArenaView view = map_arena_by_hand();
    const std::uint64_t slot = own_slot(view);
    // fast_create_locked up to the claim: one granule allocated, then the
    // slot claimed, then killed.
    view.client(slot).slab_alloc.fetch_add(std::uint64_t{1} << 32);
    const detail::ArenaView::Found claimed = view.claim(stuck, static_cast<std::uint32_t>(slot + 1));
    require(claimed.index != view.slots(), "claim");
    ::kill(::getpid(), SIGKILL);
  });
  (void)writer.wait();
  ASSERT_TRUE(eventually([&] { return client.stats().clients == 1; }));
  EXPECT_NO_THROW(client.create_and_seal(stuck, as_bytes("after the crash")));
  EXPECT_EQ(as_text(client.get(stuck, 0ms)->data()), "after the crash");
}

}  // namespace
}  // namespace shmkit::testing
