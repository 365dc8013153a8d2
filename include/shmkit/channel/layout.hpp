#pragma once
/// @file
/// The byte layout of a channel segment (`/dev/shm/shmkit-chan.<name>`).
/// `shmkit ls`, `shmkit channel` and the Python bindings read it, so offsets
/// are pinned by static_asserts; changing one means bumping
/// kChannelLayoutVersion.
///
/// ```
/// offset 0                 ChannelControl (publish counter, publisher claim, wake-up words)
/// subscribers_offset       ChannelSubscriber[max_subscribers] (cursor, counters, owner)
/// slots_offset             ChannelSlot[slots] (holders, sequence, per-sample shape)
/// ring_offset              std::atomic<uint32_t>[ring_size]: slot of sequence s at s % ring_size
/// data_offset              slots * slot_stride payload bytes (page aligned)
/// size - kTrailerBytes     ChannelTrailer (SegmentTag + geometry + sample type)
/// ```
///
/// Contract, in one sentence: one publisher at a time writes samples, and it
/// alone changes a slot's sequence, which it does only while the slot's
/// `holders` word has kSlotLoaned set and no subscriber bit, so a subscriber
/// that sets its bit and then reads the sequence it expects holds that
/// sample until it clears the bit.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <shmkit/core/segment.hpp>

namespace shmkit {

inline constexpr std::uint32_t kChannelLayoutVersion = 2;

/// Prefix of every channel segment name: channel `x` lives in
/// `/dev/shm/shmkit-chan.x`.
inline constexpr const char kChannelSegmentPrefix[] = "shmkit-chan.";

/// Most subscribers a channel can have: each owns one bit of a slot's
/// 64-bit `holders` word, and the top bit marks the publisher's loan.
inline constexpr std::uint32_t kMaxChannelSubscribers = 63;

/// Most dimensions of an array sample.
inline constexpr std::size_t kMaxChannelDims = 16;

/// `ChannelSlot::holders` bit: the publisher has this slot on loan.
inline constexpr std::uint64_t kSlotLoaned = std::uint64_t{1} << 63;

/// What a sample is (`ChannelTrailer::sample_kind`).
enum class ChannelSampleKind : std::uint32_t {
  value = 0,           ///< one trivially copyable C++ value of `sample_bytes` bytes
  array = 1,           ///< an N-d array of `dtype`, every sample of shape `shape`
  variable_array = 2,  ///< an N-d array of `dtype`, shape chosen per sample, at most `sample_bytes`
};

/// What the publisher does when the slot it would reuse holds a sample a
/// subscriber has not read yet (`ChannelTrailer::policy`).
enum class ChannelOverflow : std::uint32_t {
  drop_oldest = 0,  ///< reuse it; the subscriber's `missed` counter grows
  block = 1,        ///< wait (bounded by the loan's timeout) until it is read
};

/// Owner word states (low 2 bits of an owner word; the pid is above them).
enum class ChannelOwnerState : std::uint32_t { free = 0, claiming = 1, active = 2, reclaiming = 3 };

/// The control block at offset 0. Words written by the publisher on every
/// publish, words written by waiters, and the publisher's claim each get a
/// cache line of their own.
struct ChannelControl {
  /// Sequence number of the newest published sample (0: none yet). The
  /// publisher's release store here is the moment a sample becomes visible.
  alignas(64) std::atomic<std::uint64_t> published;
  /// Futex word bumped after a publish when `waiters` is non-zero.
  std::atomic<std::uint32_t> publish_futex;
  /// Subscribers inside wait() (each counted once through its `waiting` flag).
  std::atomic<std::uint32_t> waiters;
  std::atomic<std::uint64_t> publish_unix_ns;  ///< wall-clock time of the newest publish (for tools)
  /// Slot of the newest sample, on the same cache line as `published`, so a
  /// subscriber that keeps up finds it without reading the ring (it is
  /// validated against the slot's sequence like a ring entry).
  std::atomic<std::uint32_t> newest_slot;

  /// The publisher's claim: `pid << 2 | ChannelOwnerState`, 0 when none.
  alignas(64) std::atomic<std::uint64_t> publisher_owner;
  std::atomic<std::uint64_t> publisher_start_ticks;
  std::atomic<std::uint64_t> publisher_generation;  ///< bumped on every claim
  std::atomic<std::uint64_t> loans_failed;          ///< loans refused (every slot held, or block timed out)
  std::atomic<std::uint64_t> reclaimed;             ///< dead participants whose slots were taken back
  /// Bumped by every subscriber once it is connected. A blocking publisher
  /// keeps the lowest cursor it read until this changes (a new subscriber
  /// may start further back), so it need not read every cursor per loan.
  /// Written rarely, so the publisher finds it in its own cache.
  std::atomic<std::uint64_t> subscriber_epoch;

  /// Blocking policy: the publisher raises `publisher_waiting` and sleeps on
  /// `space_futex`; a subscriber that reads or releases a sample wakes it.
  alignas(64) std::atomic<std::uint32_t> space_futex;
  std::atomic<std::uint32_t> publisher_waiting;
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "channel words are shared between processes and must be lock-free");
static_assert(std::is_standard_layout_v<ChannelControl>, "ChannelControl lives in shared memory");
static_assert(offsetof(ChannelControl, published) == 0);
static_assert(offsetof(ChannelControl, newest_slot) < 64, "the newest slot shares the publish counter's line");
static_assert(offsetof(ChannelControl, publisher_owner) == 64, "the publisher's claim gets its own cache line");
static_assert(offsetof(ChannelControl, space_futex) == 128, "the blocking policy's words get their own cache line");
static_assert(offsetof(ChannelControl, subscriber_epoch) < 128,
              "the subscriber epoch is on the read-mostly claim line");

/// One subscriber's record. The first line changes when it connects or
/// leaves; the second only when it reads (the subscriber is its only writer).
struct ChannelSubscriber {
  /// `pid << 2 | ChannelOwnerState`, 0 when the record is free.
  alignas(64) std::atomic<std::uint64_t> owner;
  std::atomic<std::uint64_t> start_ticks;
  std::atomic<std::uint64_t> generation;  ///< bumped on every claim
  std::atomic<std::uint32_t> waiting;     ///< 1 while counted in ChannelControl::waiters

  /// Sequence number of the next sample this subscriber will read.
  alignas(64) std::atomic<std::uint64_t> cursor;
  std::atomic<std::uint64_t> received;  ///< samples handed out by receive() / latest()
  std::atomic<std::uint64_t> missed;    ///< samples overwritten before it read them
  std::atomic<std::uint64_t> skipped;   ///< samples passed over by latest()
};

static_assert(std::is_standard_layout_v<ChannelSubscriber>, "ChannelSubscriber lives in shared memory");
static_assert(offsetof(ChannelSubscriber, cursor) == 64, "the read cursor gets its own cache line");
static_assert(sizeof(ChannelSubscriber) == 128);

/// One sample slot's record.
struct ChannelSlot {
  /// Bit j: subscriber j holds this sample; kSlotLoaned: on loan to the
  /// publisher. The publisher takes a slot with a CAS from 0.
  alignas(64) std::atomic<std::uint64_t> holders;
  /// Sequence number of the sample in the slot; 0 while on loan or empty.
  std::atomic<std::uint64_t> sequence;
  std::uint64_t publish_ns;  ///< CLOCK_MONOTONIC at publish (the same clock in every process; see Sample::publish_ns)
  std::uint64_t bytes;       ///< payload bytes of this sample
  std::uint32_t ndim;        ///< variable_array: dimensions of this sample
  std::uint32_t reserved;
  std::uint64_t shape[kMaxChannelDims];  ///< variable_array: its shape
};

static_assert(std::is_standard_layout_v<ChannelSlot>, "ChannelSlot lives in shared memory");
static_assert(offsetof(ChannelSlot, shape) == 40);
static_assert(sizeof(ChannelSlot) % 64 == 0, "slot records do not share cache lines");

/// The trailer: identity tag, geometry and the sample type.
struct ChannelTrailer {
  SegmentTag tag;                 ///< kind == SegmentKind::channel
  std::uint32_t sample_kind;      ///< ChannelSampleKind
  std::uint32_t policy;           ///< ChannelOverflow
  std::uint32_t slots;            ///< sample slots in the pool
  std::uint32_t history;          ///< newest samples kept for late joiners
  std::uint32_t max_subscribers;  ///< 1..kMaxChannelSubscribers
  std::uint32_t ring_size;        ///< a power of two >= 2 * slots
  std::uint64_t sample_bytes;     ///< bytes per sample (the maximum, for variable_array)
  std::uint64_t slot_stride;      ///< distance between two slots' payloads
  std::uint64_t subscribers_offset;
  std::uint64_t slots_offset;
  std::uint64_t ring_offset;
  std::uint64_t data_offset;
  char dtype[8];                         ///< array kinds: numpy dtype.str ("<f4"), NUL padded; empty for values
  std::uint32_t ndim;                    ///< array: dimensions of every sample
  std::uint32_t value_align;             ///< value: alignof the C++ type
  std::uint64_t shape[kMaxChannelDims];  ///< array: the shape
};

static_assert(std::is_standard_layout_v<ChannelTrailer>, "ChannelTrailer lives in shared memory");
static_assert(offsetof(ChannelTrailer, sample_kind) == 40, "tools read the sample kind at offset 40");
static_assert(offsetof(ChannelTrailer, sample_bytes) == 64);
static_assert(offsetof(ChannelTrailer, dtype) == 112, "tools read the dtype at offset 112");
static_assert(offsetof(ChannelTrailer, ndim) == 120);
static_assert(offsetof(ChannelTrailer, shape) == 128, "tools read the shape at offset 128");
static_assert(sizeof(ChannelTrailer) <= kTrailerBytes, "the trailer must fit its reserved page");

}  // namespace shmkit
