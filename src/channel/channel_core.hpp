#pragma once
// The channel engine behind the public handles: one mapping of a channel
// segment, plus the private state of a publisher and of a subscriber.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <shmkit/channel/channel.hpp>
#include <shmkit/channel/layout.hpp>
#include <shmkit/channel/options.hpp>
#include <shmkit/core/segment.hpp>

namespace shmkit::detail {

/// Packs an owner word: pid above two state bits.
[[nodiscard]] constexpr std::uint64_t owner_word(pid_t pid, ChannelOwnerState state) noexcept {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(pid)) << 2) | static_cast<std::uint64_t>(state);
}
[[nodiscard]] constexpr pid_t owner_pid(std::uint64_t word) noexcept {
  return static_cast<pid_t>(word >> 2);
}
[[nodiscard]] constexpr ChannelOwnerState owner_state(std::uint64_t word) noexcept {
  return static_cast<ChannelOwnerState>(word & 3U);
}

/// CLOCK_MONOTONIC in nanoseconds (vDSO, no system call).
[[nodiscard]] std::uint64_t monotonic_ns() noexcept;

/// CLOCK_MONOTONIC for publish stamps, read through the TSC where the kernel
/// keeps time with the TSC itself: clock_gettime costs 30-90 ns in a VM (a
/// third of a publish), the TSC 10-15 ns. A reading extrapolates from a
/// (TSC, clock_gettime) pair taken less than 2^21 ticks (about a
/// millisecond) before, at the rate measured over the clock's whole life, so
/// it stays within a microsecond of clock_gettime even while NTP slews that
/// (by at most 500 ppm). Readings never go backwards. Elsewhere, and in its
/// first 10 ms, it is clock_gettime. One per publisher; not thread-safe.
class PublishClock {
 public:
  PublishClock() noexcept;
  [[nodiscard]] std::uint64_t now() noexcept {
#if defined(__x86_64__)
    if (tsc_) {
      const std::uint64_t tsc = __builtin_ia32_rdtsc();
      const std::uint64_t ticks = tsc - anchor_tsc_;
      if (mult_ != 0 && ticks < kAnchorTicks) {
        const std::uint64_t ns = anchor_ns_ + ((ticks * mult_) >> 32);
        last_ = ns > last_ ? ns : last_;
        return last_;
      }
      return anchor();
    }
#endif
    return monotonic_ns();
  }

 private:
  static constexpr std::uint64_t kAnchorTicks = std::uint64_t{1} << 21;
  // Takes a new (TSC, clock_gettime) pair and returns the clock_gettime.
  std::uint64_t anchor() noexcept;
  // A pair read within a few microseconds (not interrupted): false otherwise.
  bool read_pair(std::uint64_t& tsc, std::uint64_t& ns) noexcept;

  bool tsc_ = false;
  std::uint64_t first_tsc_ = 0;
  std::uint64_t first_ns_ = 0;
  std::uint64_t anchor_tsc_ = 0;
  std::uint64_t anchor_ns_ = 0;
  std::uint64_t mult_ = 0;  // ns per tick, times 2^32; 0 until measured over 10 ms
  std::uint64_t last_ = 0;
};

/// Starts fetching the cache line at `p` in a writable state, so the write
/// (or locked RMW) that follows later does not wait for another core to
/// hand the line over. PREFETCHW: AMD since the K6, Intel since Broadwell;
/// older Intel cores execute it as a NOP.
inline void prefetch_for_write(const void* p) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 1, 3);
#endif
}

/// Starts fetching the cache line at `p` for reading.
inline void prefetch_for_read(const void* p) noexcept {
  __builtin_prefetch(p, 0, 3);
}

class ChannelCore {
 public:
  static constexpr std::string_view kWhat = "channel";

  static std::shared_ptr<ChannelCore> create(std::string_view name, const ChannelOptions& options);
  static std::shared_ptr<ChannelCore> open(std::string_view name);

  ChannelCore(SharedSegment segment, std::string name);

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const SharedSegment& segment() const noexcept { return segment_; }
  [[nodiscard]] ChannelTrailer& trailer() const noexcept { return *trailer_; }
  [[nodiscard]] ChannelControl& control() const noexcept { return *control_; }
  [[nodiscard]] ChannelSubscriber& subscriber(std::uint32_t j) const noexcept { return subscribers_[j]; }
  [[nodiscard]] ChannelSlot& slot(std::uint32_t k) const noexcept { return slots_[k]; }
  [[nodiscard]] std::atomic<std::uint32_t>& ring(std::uint64_t sequence) const noexcept {
    return ring_[sequence & ring_mask_];
  }
  [[nodiscard]] std::byte* payload(std::uint32_t k) const noexcept { return data_ + k * stride_; }
  [[nodiscard]] std::uint32_t slots() const noexcept { return slot_count_; }
  [[nodiscard]] std::uint32_t max_subscribers() const noexcept { return max_subscribers_; }
  [[nodiscard]] std::uint64_t ring_size() const noexcept { return ring_mask_ + 1; }
  [[nodiscard]] bool blocking() const noexcept { return blocking_; }
  [[nodiscard]] const SampleSpec& sample() const noexcept { return sample_; }
  /// The fixed shape of array samples (empty for values) as size_t.
  [[nodiscard]] const std::size_t* fixed_shape() const noexcept { return trailer_->shape; }

  /// Reclaims dead participants (see Channel::reclaim_dead).
  std::size_t reclaim_dead() const noexcept;

  [[nodiscard]] ChannelInfo info() const;
  void expect(const SampleSpec& expected) const;

 private:
  SharedSegment segment_;
  std::string name_;
  ChannelTrailer* trailer_;
  ChannelControl* control_;
  ChannelSubscriber* subscribers_;
  ChannelSlot* slots_;
  std::atomic<std::uint32_t>* ring_;
  std::byte* data_;
  std::uint64_t stride_;
  std::uint64_t ring_mask_;
  std::uint32_t slot_count_;
  std::uint32_t max_subscribers_;
  bool blocking_;
  SampleSpec sample_;
};

// PublisherState and SubscriberState are used only inside libshmkit (the
// public handles hold them by pointer and define every special member in
// the library), so they are hidden: calls between their members are then
// direct and may be inlined, where exported ones went through the PLT.

/// The publisher's private bookkeeping. `order_` lists the slots not on
/// loan, oldest sample first (empty slots before any published one), so a
/// loan usually takes the front entry.
class __attribute__((visibility("hidden"))) PublisherState {
 public:
  explicit PublisherState(std::shared_ptr<ChannelCore> core);
  PublisherState(const PublisherState&) = delete;
  PublisherState& operator=(const PublisherState&) = delete;
  ~PublisherState();

  /// Returned by try_loan() and loan() when no slot is usable. Plain
  /// integers, not std::optional: GCC returns an optional through the stack
  /// as two stores read back by one wider load, which the core cannot
  /// forward (a stall of about 20 cycles per call on the hot path).
  static constexpr std::uint32_t kNoSlot = UINT32_MAX;
  [[nodiscard]] std::uint32_t try_loan() noexcept;
  [[nodiscard]] std::uint32_t loan(std::chrono::nanoseconds timeout) noexcept;
  std::uint64_t publish(std::uint32_t slot, std::uint64_t bytes, std::span<const std::size_t> shape) noexcept;
  void drop(std::uint32_t slot) noexcept;
  [[nodiscard]] ChannelCore& core() const noexcept { return *core_; }

 private:
  [[nodiscard]] std::uint64_t min_cursor() const noexcept;

  std::shared_ptr<ChannelCore> core_;
  std::vector<std::uint32_t> order_;  // sized once; never grows past slots
  std::size_t count_ = 0;
  std::uint32_t protect_;  // newest published samples kept (history, at least 1)
  std::uint64_t sequence_ = 0;
  std::uint64_t owner_ = 0;
  std::uint64_t last_reclaim_ns_ = 0;  // a refused loan looks for dead holders at most once a millisecond
  PublishClock clock_;
  // Blocking policy: the lowest subscriber cursor read so far, valid while
  // ChannelControl::subscriber_epoch stays at `epoch_` (cursors only grow).
  std::uint64_t unread_from_ = 0;
  std::uint64_t epoch_ = UINT64_MAX;
};

/// A subscriber's private bookkeeping: its record, the sequence it reads
/// next, and how many times it holds each slot (a slot's shared bit is set
/// once however often the same sample is held).
class __attribute__((visibility("hidden"))) SubscriberState {
 public:
  SubscriberState(std::shared_ptr<ChannelCore> core, const SubscriberOptions& options);
  SubscriberState(const SubscriberState&) = delete;
  SubscriberState& operator=(const SubscriberState&) = delete;
  ~SubscriberState();

  /// A held sample; `sequence` 0 (never a sample's) means none. Returned
  /// in two registers, where std::optional<Held> went through the stack (see
  /// PublisherState::kNoSlot).
  struct Held {
    std::uint32_t slot = 0;
    std::uint64_t sequence = 0;
    explicit operator bool() const noexcept { return sequence != 0; }
  };

  [[nodiscard]] Held receive() noexcept;
  [[nodiscard]] Held latest() noexcept;
  bool wait(std::chrono::nanoseconds timeout) noexcept;
  void release(std::uint32_t slot) noexcept;

  [[nodiscard]] std::uint64_t pending() const noexcept;
  [[nodiscard]] ChannelCore& core() const noexcept { return *core_; }
  [[nodiscard]] ChannelSubscriber& record() const noexcept { return *record_; }
  [[nodiscard]] std::uint32_t index() const noexcept { return index_; }

 private:
  bool hold(std::uint32_t slot, std::uint64_t sequence) noexcept;
  // Stores the cursor; `released_later`: it passed over nothing but the
  // sample just held, so the publisher may wait for release() to wake it.
  void advance(std::uint64_t cursor, bool released_later) noexcept;

  std::shared_ptr<ChannelCore> core_;
  std::uint32_t index_ = 0;
  std::uint64_t bit_ = 0;
  ChannelSubscriber* record_ = nullptr;
  std::vector<std::uint32_t> held_;  // per slot, sized once
  std::uint64_t cursor_ = 1;
  std::uint64_t known_published_ = 0;  // `published` as last read by receive()
  std::uint64_t missed_ = 0;
  std::uint64_t received_ = 0;
  std::uint64_t skipped_ = 0;
};

}  // namespace shmkit::detail
