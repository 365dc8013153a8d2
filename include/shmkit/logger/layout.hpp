#pragma once
/// @file
/// The byte layout of a logger segment (`/dev/shm/shmkit-log.<instance>`).
/// `shmkit ls` and debugging tools read it, so offsets are pinned by
/// static_asserts; changing one means bumping kLoggerLayoutVersion.
///
/// ```
/// offset 0                       ring 0: RingHeader (one page), then ring_bytes of data
/// ring_stride                    ring 1 ...
/// max_writers * ring_stride      LoggerTrailer (kTrailerBytes, starts with the SegmentTag)
/// ```
///
/// Each ring is a single-producer, single-consumer byte ring (its two
/// halves are in src/logger/ring/byte_ring.hpp): only the writer that
/// claimed the slot advances `head`, only the logger's saver advances
/// `tail`. Records are `RingRecord` headers followed by payload
/// bytes, padded to 8 bytes; a record may wrap around the end of the data
/// area. Boost.Lockfree's `spsc_queue` is not used because it stores
/// fixed-size elements: variable-length records would either waste a
/// maximum-size slot each or need a second queue of lengths, and its
/// compile-time-or-heap storage cannot be placed at an offset in a segment
/// shared by processes mapping it at different addresses.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <shmkit/core/segment.hpp>

namespace shmkit {

inline constexpr std::uint32_t kLoggerLayoutVersion = 2;

/// Prefix of every logger segment name: the segment of instance `x` is
/// `/dev/shm/shmkit-log.x`.
inline constexpr const char kLoggerSegmentPrefix[] = "shmkit-log.";

/// State of a writer slot (`RingHeader::state`).
enum class WriterSlotState : std::uint32_t {
  free = 0,      ///< no writer; the ring is empty
  claiming = 1,  ///< a writer is filling in its identity
  active = 2,    ///< a writer owns the ring
  closed = 3,    ///< the writer disconnected; the saver frees the slot once the ring is drained
};

/// Kind of a ring record (`RingRecord::kind`). A payload larger than the
/// ring's chunk limit (ring_bytes / 4) is split into first/middle/last
/// chunks that the saver reassembles (spilling the chunks taken so far to
/// a file, so a logger crash mid-entry loses nothing), so no payload needs
/// a ring larger than itself.
enum class RingRecordKind : std::uint8_t { whole = 0, first = 1, middle = 2, last = 3 };

/// Header of one record in a ring.
struct RingRecord {
  std::uint64_t acquisition_time;
  std::uint32_t chunk_bytes;  ///< payload bytes that follow this header
  std::uint32_t total_bytes;  ///< payload bytes of the whole entry (== chunk_bytes for `whole`)
  std::uint8_t source_id;
  std::uint8_t kind;  ///< RingRecordKind
  std::uint8_t reserved[6];
};
static_assert(sizeof(RingRecord) == 24 && std::is_trivially_copyable_v<RingRecord>);

/// Control words of one ring. Producer-owned and consumer-owned words sit
/// on separate cache lines so the two sides never false-share.
struct RingHeader {
  /// Producer line: bytes ever published (the producer is the only writer).
  alignas(64) std::atomic<std::uint64_t> head;
  std::atomic<std::uint64_t> logged;   ///< entries accepted by log()
  std::atomic<std::uint64_t> dropped;  ///< entries refused (drop policy or block timeout)
  /// Consumer line: bytes ever consumed (the saver is the only writer).
  alignas(64) std::atomic<std::uint64_t> tail;
  /// Futex word bumped by the saver after freeing space while a producer waits.
  std::atomic<std::uint32_t> space_seq;
  std::atomic<std::uint32_t> producer_waiting;
  std::atomic<std::uint64_t> saved;  ///< entries written to files by the saver
  /// Slot line: ownership, changed only when a writer connects or leaves.
  alignas(64) std::atomic<std::uint32_t> state;  ///< WriterSlotState
  std::int32_t owner_pid;
  std::uint64_t owner_start_ticks;
  std::atomic<std::uint64_t> generation;  ///< bumped on every claim
};
static_assert(std::is_standard_layout_v<RingHeader>, "RingHeader lives in shared memory");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "ring counters are shared between processes and must be lock-free");
static_assert(offsetof(RingHeader, head) == 0);
static_assert(offsetof(RingHeader, tail) == 64, "consumer words get their own cache line");
static_assert(offsetof(RingHeader, state) == 128, "slot words get their own cache line");
static_assert(sizeof(RingHeader) <= 4096, "a ring header fits its page");

/// Bytes from the start of a ring's header to its data.
inline constexpr std::size_t kRingHeaderBytes = 4096;

/// The trailer: identity tag plus the segment's geometry and logger ownership.
struct LoggerTrailer {
  SegmentTag tag;  ///< kind == SegmentKind::logger
  std::uint32_t max_writers;
  std::uint32_t reserved;
  std::uint64_t ring_bytes;   ///< data bytes per ring (a power of two)
  std::uint64_t ring_stride;  ///< kRingHeaderBytes + ring_bytes
  /// The process currently running the logger (0: none). Claimed by CAS;
  /// a dead owner's claim may be taken over.
  alignas(64) std::atomic<std::int32_t> logger_pid;
  std::uint32_t reserved2;
  std::atomic<std::uint64_t> logger_start_ticks;
  /// Saver wake-up (src/logger/ring/saver_wake.hpp): the idle saver raises
  /// `saver_sleeping` and waits on the futex word `saver_seq`; a writer
  /// whose ring passes half full, or that waits for space, wakes it.
  alignas(64) std::atomic<std::uint32_t> saver_seq;
  std::atomic<std::uint32_t> saver_sleeping;
};
static_assert(std::is_standard_layout_v<LoggerTrailer>, "LoggerTrailer lives in shared memory");
static_assert(std::atomic<std::int32_t>::is_always_lock_free);
static_assert(offsetof(LoggerTrailer, max_writers) == 40);
static_assert(offsetof(LoggerTrailer, ring_bytes) == 48);
static_assert(offsetof(LoggerTrailer, ring_stride) == 56);
static_assert(offsetof(LoggerTrailer, logger_pid) == 64);
static_assert(offsetof(LoggerTrailer, saver_seq) == 128, "the saver's wake-up words get their own cache line");
static_assert(sizeof(LoggerTrailer) <= kTrailerBytes, "the trailer must fit its reserved page");

}  // namespace shmkit
