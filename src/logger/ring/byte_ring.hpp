#pragma once
// The logger's byte ring: one producer process writes, one consumer reads;
// only the producer advances `head`, only the consumer advances `tail`, and
// the bytes in [tail, head) are complete records (a RingRecord header and
// its payload, padded to 8 bytes), any of which may wrap past the end of
// the data area.
//
// The shared words are RingHeader's (include/shmkit/logger/layout.hpp, whose
// offsets are pinned there); this header holds the two halves that use them.
// The producer keeps a private copy of `head` and a cached `tail`, so its
// common case touches no cache line the consumer writes; the consumer
// publishes `tail` only after the bytes it took are safe elsewhere, and wakes
// a producer that waits for space.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <shmkit/logger/layout.hpp>

#include "core/detail/futex.hpp"

namespace shmkit::detail {

inline constexpr std::size_t kRingAlign = 8;

static_assert(offsetof(RingHeader, tail) - offsetof(RingHeader, head) >= 64 &&
                  offsetof(RingHeader, state) - offsetof(RingHeader, tail) >= 64,
              "the producer's, the consumer's and the slot's words sit on cache lines of their own");
static_assert(kRingHeaderBytes % 64 == 0, "the data area starts on a cache line");

/// Ring bytes a record with `chunk_bytes` of payload occupies.
[[nodiscard]] constexpr std::uint64_t ring_record_bytes(std::uint64_t chunk_bytes) noexcept {
  return (sizeof(RingRecord) + chunk_bytes + kRingAlign - 1) & ~std::uint64_t{kRingAlign - 1};
}

/// A view of one ring: its header and data area.
struct RingView {
  RingHeader* header = nullptr;
  std::byte* data = nullptr;
  std::uint64_t capacity = 0;  // power of two
  std::uint64_t mask = 0;

  /// The (up to two) contiguous pieces of [pos, pos + size).
  struct Pieces {
    std::byte* first;
    std::size_t first_size;
    std::byte* second;
    std::size_t second_size;
  };
  [[nodiscard]] Pieces pieces(std::uint64_t pos, std::size_t size) const noexcept {
    const std::uint64_t at = pos & mask;
    const std::size_t first = static_cast<std::size_t>(std::min<std::uint64_t>(capacity - at, size));
    return {data + at, first, data, size - first};
  }

  /// Copies `size` bytes into the ring at absolute position `pos`.
  void copy_in(std::uint64_t pos, const void* src, std::size_t size) const noexcept {
    const Pieces p = pieces(pos, size);
    std::memcpy(p.first, src, p.first_size);
    if (p.second_size > 0) {
      std::memcpy(p.second, static_cast<const std::byte*>(src) + p.first_size, p.second_size);
    }
  }

  /// Copies `size` bytes out of the ring from absolute position `pos`.
  void copy_out(std::uint64_t pos, void* dst, std::size_t size) const noexcept {
    const Pieces p = pieces(pos, size);
    std::memcpy(dst, p.first, p.first_size);
    if (p.second_size > 0) {
      std::memcpy(static_cast<std::byte*>(dst) + p.first_size, p.second, p.second_size);
    }
  }
};

/// The producer half. Not thread-safe: one producer per ring.
class RingProducer {
 public:
  RingProducer() = default;
  /// Takes over the ring where it stands (a new writer continues at `head`).
  explicit RingProducer(RingView ring) noexcept
      : ring_(ring),
        head_(ring.header->head.load(std::memory_order_relaxed)),
        cached_tail_(ring.header->tail.load(std::memory_order_acquire)) {}

  [[nodiscard]] const RingView& view() const noexcept { return ring_; }
  [[nodiscard]] RingHeader& header() const noexcept { return *ring_.header; }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return ring_.capacity; }
  /// Bytes ever published.
  [[nodiscard]] std::uint64_t head() const noexcept { return head_; }
  /// Largest payload of one record: a quarter of the ring, so a record
  /// never needs the whole ring free. Larger payloads go in chunks.
  [[nodiscard]] std::uint64_t max_chunk() const noexcept { return ring_.capacity / 4 - sizeof(RingRecord); }

  /// Whether `need` bytes fit, re-reading `tail` only when the cached one says no.
  [[nodiscard]] bool try_reserve(std::uint64_t need) noexcept { return fits(need) || (refresh_tail(), fits(need)); }

  /// Waits until `need` bytes fit or `deadline` passes, on the futex the
  /// consumer bumps after releasing space while a producer waits.
  /// `on_full()` runs on every round the ring is still full (the logger
  /// wakes its saver there). Returns whether the bytes fit.
  template <class Clock, class OnFull>
  bool wait_for_space(std::uint64_t need, typename Clock::time_point deadline, OnFull&& on_full) noexcept {
    constexpr std::chrono::milliseconds kMaxFutexSlice{50};
    RingHeader& h = *ring_.header;
    while (true) {
      h.producer_waiting.store(1, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      const std::uint32_t seq = h.space_seq.load(std::memory_order_acquire);
      refresh_tail();
      if (fits(need)) {
        h.producer_waiting.store(0, std::memory_order_relaxed);
        return true;
      }
      on_full();
      const auto now = Clock::now();
      if (now >= deadline) {
        h.producer_waiting.store(0, std::memory_order_relaxed);
        return false;
      }
      futex_wait(h.space_seq, seq, std::min<typename Clock::duration>(deadline - now, kMaxFutexSlice));
    }
  }

  /// Writes one record and publishes it. The caller reserved its bytes.
  void put(RingRecordKind kind, std::uint8_t source, std::uint64_t time, std::uint32_t total, const std::byte* bytes,
           std::uint32_t chunk) noexcept {
    RingRecord record{};
    record.acquisition_time = time;
    record.chunk_bytes = chunk;
    record.total_bytes = total;
    record.source_id = source;
    record.kind = static_cast<std::uint8_t>(kind);
    ring_.copy_in(head_, &record, sizeof record);
    if (chunk > 0) {
      ring_.copy_in(head_ + sizeof record, bytes, chunk);
    }
    head_ += ring_record_bytes(chunk);
    ring_.header->head.store(head_, std::memory_order_release);
  }

  /// Bytes in the ring by a fresh read of `tail` (a line the consumer
  /// writes: not for every record).
  [[nodiscard]] std::uint64_t used() noexcept {
    refresh_tail();
    return head_ - cached_tail_;
  }
  /// The `tail` last read.
  [[nodiscard]] std::uint64_t cached_tail() const noexcept { return cached_tail_; }

 private:
  [[nodiscard]] bool fits(std::uint64_t need) const noexcept { return head_ + need - cached_tail_ <= ring_.capacity; }
  void refresh_tail() noexcept { cached_tail_ = ring_.header->tail.load(std::memory_order_acquire); }

  RingView ring_;
  std::uint64_t head_ = 0;         // our copy of header->head (we are its only writer)
  std::uint64_t cached_tail_ = 0;  // refreshed only when the ring looks full
};

/// The consumer half. Not thread-safe: one consumer per ring. A pass reads
/// records from `tail()` up to a `head()` snapshot, then `release()`s them.
class RingConsumer {
 public:
  /// One record as it sits in the ring.
  struct Record {
    RingRecord header;
    RingView::Pieces payload;  // chunk_bytes, in up to two pieces
    std::uint64_t size;        // ring bytes the record occupies
  };

  explicit RingConsumer(RingView ring) noexcept : ring_(ring) {}

  [[nodiscard]] const RingView& view() const noexcept { return ring_; }
  /// Bytes ever released (we are its only writer).
  [[nodiscard]] std::uint64_t tail() const noexcept { return ring_.header->tail.load(std::memory_order_relaxed); }
  /// Bytes ever published; the records before it are complete.
  [[nodiscard]] std::uint64_t head() const noexcept { return ring_.header->head.load(std::memory_order_acquire); }

  /// Reads the record at `pos`, which is below `head`. Returns false if it
  /// is malformed (an unknown kind, a chunk larger than the producer writes
  /// or than its entry, or a record reaching past `head`).
  [[nodiscard]] bool read(std::uint64_t pos, std::uint64_t head, Record& out) const noexcept {
    ring_.copy_out(pos, &out.header, sizeof out.header);
    const RingRecord& r = out.header;
    out.size = ring_record_bytes(r.chunk_bytes);
    if (r.kind > static_cast<std::uint8_t>(RingRecordKind::last) || r.chunk_bytes > ring_.capacity / 4 ||
        r.chunk_bytes > r.total_bytes || out.size > head - pos) {
      return false;
    }
    out.payload = ring_.pieces(pos + sizeof r, r.chunk_bytes);
    return true;
  }

  /// Frees the bytes before `new_tail` for the producer, waking it if it waits.
  void release(std::uint64_t new_tail) noexcept {
    RingHeader& h = *ring_.header;
    h.tail.store(new_tail, std::memory_order_release);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (h.producer_waiting.load(std::memory_order_relaxed) != 0) {
      h.producer_waiting.store(0, std::memory_order_relaxed);
      h.space_seq.fetch_add(1, std::memory_order_release);
      futex_wake_all(h.space_seq);
    }
  }

 private:
  RingView ring_;
};

}  // namespace shmkit::detail
