// The logger's byte ring on its own: wrap-around, a full ring, a record
// split by the end of the data area, an empty ring, and a producer process
// streaming to a consumer process across many wrap-arounds.

#include <sys/mman.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

#include "logger/ring/byte_ring.hpp"
#include "logger_test_util.hpp"

namespace shmkit {
namespace {

using detail::ring_record_bytes;
using detail::RingConsumer;
using detail::RingProducer;
using detail::RingView;
using testing::Child;
using testing::exited_ok;
using testing::require;
using Clock = std::chrono::steady_clock;

/// One ring (header page + data) in anonymous MAP_SHARED memory, so a
/// forked child shares it and nothing needs a name or cleanup on disk.
class SharedRing {
 public:
  explicit SharedRing(std::uint64_t capacity) : bytes_(kRingHeaderBytes + capacity) {
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      throw std::runtime_error("mmap failed");
    }
    base_ = static_cast<std::byte*>(p);
    view_.header = new (base_) RingHeader{};
    view_.data = base_ + kRingHeaderBytes;
    view_.capacity = capacity;
    view_.mask = capacity - 1;
  }
  SharedRing(const SharedRing&) = delete;
  SharedRing& operator=(const SharedRing&) = delete;
  ~SharedRing() { ::munmap(base_, bytes_); }

  [[nodiscard]] const RingView& view() const noexcept { return view_; }

 private:
  std::size_t bytes_;
  std::byte* base_ = nullptr;
  RingView view_;
};

std::byte pattern_byte(std::uint64_t seq, std::size_t i) {
  return std::byte(static_cast<unsigned char>(seq * 131 + i * 7 + (i >> 8)));
}

// Payload of record `seq`: a byte pattern whose last 4 bytes (when it has
// at least 8) are an FNV-1a checksum of the bytes before them.
std::vector<std::byte> payload_of(std::uint64_t seq, std::size_t size) {
  std::vector<std::byte> out(size);
  for (std::size_t i = 0; i < size; ++i) {
    out[i] = pattern_byte(seq, i);
  }
  if (size >= 8) {
    std::uint32_t h = 2166136261U;
    for (std::size_t i = 0; i + 4 < size; ++i) {
      h = (h ^ static_cast<std::uint8_t>(out[i])) * 16777619U;
    }
    std::memcpy(out.data() + size - 4, &h, 4);
  }
  return out;
}

std::vector<std::byte> gather(const RingConsumer::Record& record) {
  std::vector<std::byte> out(record.payload.first, record.payload.first + record.payload.first_size);
  out.insert(out.end(), record.payload.second, record.payload.second + record.payload.second_size);
  return out;
}

// Record sizes that vary and are not multiples of the alignment.
std::size_t size_of(std::uint64_t seq, std::size_t max) {
  std::uint64_t x = seq * 6364136223846793005ULL + 1442695040888963407ULL;
  x ^= x >> 29;
  return static_cast<std::size_t>(x % (max + 1));
}

void put_whole(RingProducer& producer, std::uint64_t seq, const std::vector<std::byte>& payload) {
  const auto size = static_cast<std::uint32_t>(payload.size());
  producer.put(RingRecordKind::whole, static_cast<std::uint8_t>(seq), seq, size, payload.data(), size);
}

// Puts and releases records until the next record starts `at` bytes into
// the data area.
void move_to(RingProducer& producer, RingConsumer& consumer, std::uint64_t at) {
  const std::uint64_t mask = producer.capacity() - 1;
  while (producer.head() % producer.capacity() != at) {
    const std::uint64_t to_go = (at - producer.head()) & mask;
    const std::uint64_t size =
        to_go >= sizeof(RingRecord) && to_go - sizeof(RingRecord) <= producer.max_chunk() ? to_go : sizeof(RingRecord);
    const auto payload = payload_of(0, size - sizeof(RingRecord));
    require(producer.try_reserve(size), "move_to: the ring is full");
    put_whole(producer, 0, payload);
    consumer.release(producer.head());
  }
}

TEST(LoggerRingTest, EmptyRingHasNoRecordsAndTakesAWholeRing) {
  SharedRing shared(4096);
  RingProducer producer(shared.view());
  const RingConsumer consumer(shared.view());
  EXPECT_EQ(consumer.head(), 0U);
  EXPECT_EQ(consumer.tail(), 0U);
  EXPECT_EQ(producer.used(), 0U);
  EXPECT_TRUE(producer.try_reserve(4096));
  EXPECT_FALSE(producer.try_reserve(4096 + 8));
  EXPECT_EQ(producer.max_chunk(), 4096 / 4 - sizeof(RingRecord));
}

TEST(LoggerRingTest, WrapsAroundManyTimesInOneProcess) {
  constexpr std::uint64_t kCapacity = 4096;
  SharedRing shared(kCapacity);
  RingProducer producer(shared.view());
  RingConsumer consumer(shared.view());
  for (std::uint64_t seq = 0; seq < 5000; ++seq) {
    const auto payload = payload_of(seq, size_of(seq, producer.max_chunk()));
    ASSERT_TRUE(producer.try_reserve(ring_record_bytes(payload.size())));
    put_whole(producer, seq, payload);
    const std::uint64_t tail = consumer.tail();
    RingConsumer::Record record{};
    ASSERT_TRUE(consumer.read(tail, consumer.head(), record));
    EXPECT_EQ(record.header.acquisition_time, seq);
    EXPECT_EQ(record.size, ring_record_bytes(payload.size()));
    ASSERT_EQ(gather(record), payload) << "record " << seq;
    consumer.release(tail + record.size);
    ASSERT_EQ(consumer.tail(), consumer.head());
  }
  EXPECT_GT(consumer.tail(), 100 * kCapacity);
}

TEST(LoggerRingTest, FullRingRefusesUntilSpaceIsReleased) {
  constexpr std::uint64_t kCapacity = 4096;
  SharedRing shared(kCapacity);
  RingProducer producer(shared.view());
  RingConsumer consumer(shared.view());
  const auto payload = payload_of(1, 100);
  const std::uint64_t need = ring_record_bytes(payload.size());
  std::uint64_t records = 0;
  while (producer.try_reserve(need)) {
    put_whole(producer, records++, payload);
  }
  EXPECT_EQ(records, kCapacity / need);
  EXPECT_LE(producer.used(), kCapacity);
  EXPECT_GT(producer.used() + need, kCapacity);

  int full_rounds = 0;
  EXPECT_FALSE(producer.wait_for_space<Clock>(need, Clock::now(), [&] { ++full_rounds; }));
  EXPECT_EQ(full_rounds, 1);
  EXPECT_EQ(shared.view().header->producer_waiting.load(), 0U);

  RingConsumer::Record record{};
  ASSERT_TRUE(consumer.read(consumer.tail(), consumer.head(), record));
  const std::uint32_t seq = shared.view().header->space_seq.load();
  shared.view().header->producer_waiting.store(1);
  consumer.release(consumer.tail() + record.size);
  EXPECT_EQ(shared.view().header->space_seq.load(), seq + 1) << "a waiting producer is woken";
  EXPECT_EQ(shared.view().header->producer_waiting.load(), 0U);
  EXPECT_TRUE(producer.try_reserve(need));
  EXPECT_TRUE(producer.wait_for_space<Clock>(need, Clock::now(), [] {}));
}

TEST(LoggerRingTest, RecordWrappingPastTheEndComesInTwoPieces) {
  constexpr std::uint64_t kCapacity = 4096;
  SharedRing shared(kCapacity);
  RingProducer producer(shared.view());
  RingConsumer consumer(shared.view());
  move_to(producer, consumer, kCapacity - 64);

  const auto payload = payload_of(7, 300);
  ASSERT_TRUE(producer.try_reserve(ring_record_bytes(payload.size())));
  put_whole(producer, 7, payload);
  RingConsumer::Record record{};
  ASSERT_TRUE(consumer.read(consumer.tail(), consumer.head(), record));
  EXPECT_EQ(record.payload.first_size, 64 - sizeof(RingRecord));
  EXPECT_EQ(record.payload.second_size, payload.size() - record.payload.first_size);
  EXPECT_EQ(record.payload.second, shared.view().data);
  EXPECT_EQ(gather(record), payload);

  // The header itself may be the part split by the end.
  consumer.release(consumer.tail() + record.size);
  move_to(producer, consumer, kCapacity - 8);
  ASSERT_TRUE(producer.try_reserve(ring_record_bytes(payload.size())));
  put_whole(producer, 9, payload_of(9, 300));
  ASSERT_TRUE(consumer.read(consumer.tail(), consumer.head(), record));
  EXPECT_EQ(record.header.acquisition_time, 9U);
  EXPECT_EQ(record.payload.first_size + record.payload.second_size, 300U);
  EXPECT_EQ(gather(record), payload_of(9, 300));
}

TEST(LoggerRingTest, MalformedRecordIsRefused) {
  SharedRing shared(4096);
  RingProducer producer(shared.view());
  const RingConsumer consumer(shared.view());
  const auto payload = payload_of(1, 16);
  ASSERT_TRUE(producer.try_reserve(ring_record_bytes(payload.size())));
  producer.put(static_cast<RingRecordKind>(9), 1, 1, 16, payload.data(), 16);
  RingConsumer::Record record{};
  EXPECT_FALSE(consumer.read(0, consumer.head(), record)) << "an unknown kind";
  const std::uint64_t pos = producer.head();
  ASSERT_TRUE(producer.try_reserve(ring_record_bytes(payload.size())));
  put_whole(producer, 2, payload);
  EXPECT_FALSE(consumer.read(pos, consumer.head() - 8, record)) << "a record reaching past head";
  EXPECT_TRUE(consumer.read(pos, consumer.head(), record));
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::uint64_t kStressRecords = 100'000;
#else
constexpr std::uint64_t kStressRecords = 1'000'000;
#endif

// True once `pid` has exited; it stays unreaped for Child::wait.
bool has_exited(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

TEST(LoggerRingTest, ProducerProcessStreamsToConsumerAcrossWrapArounds) {
  constexpr std::uint64_t kCapacity = 64 * 1024;
  SharedRing shared(kCapacity);
  const std::size_t max_payload = RingProducer(shared.view()).max_chunk();

  Child producer_process([&] {
    RingProducer producer(shared.view());
    for (std::uint64_t seq = 0; seq < kStressRecords; ++seq) {
      // Mostly small records, every 16th up to the largest chunk.
      const std::size_t size = size_of(seq, seq % 16 == 0 ? max_payload : 600);
      const auto payload = payload_of(seq, size);
      const std::uint64_t need = ring_record_bytes(size);
      if (!producer.try_reserve(need)) {
        require(producer.wait_for_space<Clock>(need, Clock::now() + std::chrono::minutes(2), [] {}),
                "the consumer released no space");
      }
      put_whole(producer, seq, payload);
    }
  });

  RingConsumer consumer(shared.view());
  std::uint64_t seq = 0;
  while (seq < kStressRecords) {
    const std::uint64_t head = consumer.head();
    std::uint64_t tail = consumer.tail();
    if (tail == head) {
      if (has_exited(producer_process.pid()) && consumer.head() == tail) {
        break;  // the producer stopped early; the checks below report it
      }
      std::this_thread::yield();
      continue;
    }
    while (tail != head) {
      RingConsumer::Record record{};
      ASSERT_TRUE(consumer.read(tail, head, record)) << "record " << seq << " at " << tail;
      ASSERT_EQ(record.header.acquisition_time, seq) << "records arrive in order";
      ASSERT_EQ(record.header.source_id, static_cast<std::uint8_t>(seq));
      const std::size_t size = size_of(seq, seq % 16 == 0 ? max_payload : 600);
      ASSERT_EQ(record.header.chunk_bytes, size);
      ASSERT_EQ(gather(record), payload_of(seq, size)) << "record " << seq;
      tail += record.size;
      ++seq;
    }
    consumer.release(tail);
  }
  EXPECT_TRUE(exited_ok(producer_process.wait()));
  EXPECT_EQ(seq, kStressRecords);
  EXPECT_EQ(consumer.tail(), consumer.head());
  EXPECT_GT(consumer.tail(), 100 * kCapacity) << "the stream wrapped around the ring many times";
}

}  // namespace
}  // namespace shmkit
