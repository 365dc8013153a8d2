#pragma once
/// @file
/// Zero-copy publish/subscribe of samples between processes on one machine.
///
/// A channel is a named segment (`/dev/shm/shmkit-chan.<name>`) holding a
/// fixed pool of sample slots. The publisher *loans* a slot, fills it in
/// place and *publishes* it (one atomic store); every subscriber *receives*
/// a read-only view of the same bytes, valid while it holds the sample. No
/// byte is copied between processes and no daemon runs.
///
/// ```
/// auto channel = shmkit::Channel::create("frames", {.sample = shmkit::SampleSpec::array(shmkit::Dtype::u2, {480,
/// 640})}); auto pub = channel.publisher(); if (auto loan = pub.loan()) { auto view = loan->view<std::uint16_t>();
/// view.fill(7); pub.publish(std::move(*loan)); }
///
/// auto sub = shmkit::Channel::open("frames").subscriber();      // another process
/// if (sub.wait(std::chrono::seconds(1))) { auto sample = sub.receive(); sample->view<std::uint16_t>(); }
/// ```
///
/// Process safety: one publisher at a time (a second one is an ExistsError
/// while the first lives), up to `max_subscribers` subscribers, each in any
/// process. A handle (Channel, publisher, subscriber, loan, sample) belongs
/// to one thread at a time; loans and samples must not outlive the
/// publisher or subscriber they came from. A forked child must not use its
/// parent's publisher or subscriber (it is another participant).
///
/// Caveats (crash and cleanup):
/// - A subscriber killed while holding samples keeps those slots until some
///   participant notices: the publisher does when it runs short of slots
///   (or waits under the blocking policy), a new subscriber does when the
///   table is full, and anyone may call `Channel::reclaim_dead()`. A process
///   counts as dead by pid + start time, so a recycled pid is not mistaken
///   for the old owner.
/// - A publisher killed mid-loan never exposes the sample it was writing:
///   a sample becomes visible only when it is published, and the next
///   publisher (or `reclaim_dead`) returns the dead loan's slot empty.
/// - The segment outlives every handle. `Channel::create` of the same name
///   removes a channel whose creator, publisher and subscribers are all
///   dead and creates a fresh one; `shmkit gc` removes it too, and
///   `Channel::remove` at any time.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xadapt.hpp>

#include <shmkit/channel/layout.hpp>
#include <shmkit/channel/options.hpp>
#include <shmkit/core/dtype.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/core/process.hpp>

namespace shmkit {

static_assert(std::is_same_v<std::size_t, std::uint64_t>, "shapes in shared memory are read as size_t");

namespace detail {
class ChannelCore;
class PublisherState;
class SubscriberState;
/// The deleters that make a Loan's (a Sample's) pointer to its owner the
/// one owning member: a move leaves the pointer null, so moves and
/// destruction are the defaults, inline, and call into the library only
/// while the handle still holds its slot (a loan is moved into its optional
/// and destroyed empty on every publish). Exported explicitly: the state
/// classes are hidden in the library, which would hide these too.
struct ReturnLoanSlot {
  std::uint32_t slot = 0;
  [[gnu::visibility("default")]] void operator()(PublisherState* owner) const noexcept;  // gives the slot back
};
struct ReleaseSampleSlot {
  std::uint32_t slot = 0;
  [[gnu::visibility("default")]] void operator()(SubscriberState* owner) const noexcept;  // frees the slot for reuse
};
/// Throws LayoutError unless `expected` is the channel's dtype (the message names both).
void check_sample_dtype(const ChannelCore& core, Dtype expected);
}  // namespace detail

/// One subscriber as seen by `Channel::info()`.
struct ChannelSubscriberInfo {
  std::uint32_t index = 0;     ///< its record in the segment
  ProcessIdentity process;     ///< who connected it
  bool alive = false;          ///< is_alive(process) when the info was taken
  std::uint64_t cursor = 0;    ///< sequence number it reads next
  std::uint64_t received = 0;  ///< samples it received
  std::uint64_t missed = 0;    ///< samples overwritten before it read them
  std::uint64_t skipped = 0;   ///< samples it passed over with latest()
  std::uint32_t holding = 0;   ///< slots it holds right now
};

/// A snapshot of a channel's geometry and state, for tools and tests.
struct ChannelInfo {
  std::string name;          ///< the channel's name (without the segment prefix)
  std::string segment_name;  ///< its file in /dev/shm
  SampleSpec sample;
  std::uint32_t slots = 0;
  std::uint32_t history = 0;
  std::uint32_t max_subscribers = 0;
  ChannelOverflow overflow = ChannelOverflow::drop_oldest;
  std::uint64_t segment_bytes = 0;
  ProcessIdentity creator;
  bool creator_alive = false;
  std::uint64_t published = 0;  ///< sequence number of the newest sample
  std::int64_t last_publish_unix_ns = 0;
  std::optional<ProcessIdentity> publisher;  ///< the publisher's claim, if any
  bool publisher_alive = false;
  std::uint64_t loans_failed = 0;
  std::uint64_t reclaimed = 0;   ///< dead participants cleaned up so far
  std::uint32_t free_slots = 0;  ///< slots neither held nor on loan
  std::vector<ChannelSubscriberInfo> subscribers;
};

class DynamicPublisher;
class DynamicSubscriber;

/// A handle on a named channel segment. Cheap to copy (copies share one
/// mapping); publishers and subscribers keep the mapping alive on their own.
class Channel {
 public:
  /// Creates channel `name`. If a channel of that name exists but every
  /// process that used it (creator, publisher, subscribers) is dead, it is
  /// removed and created afresh.
  /// @throws NameError (bad name), ExistsError (a live process uses it),
  ///   Error (bad options: the message names the field; no memory; permission)
  static Channel create(std::string_view name, const ChannelOptions& options);

  /// Opens an existing channel.
  /// @throws NameError, NotFoundError, LayoutError (not a channel, another
  ///   layout version, or a geometry that does not fit the segment)
  static Channel open(std::string_view name);

  /// Opens `name` if it exists (its sample type must equal
  /// `options.sample`, else LayoutError), or creates it.
  static Channel open_or_create(std::string_view name, const ChannelOptions& options);

  /// Unlinks the channel's segment; true if it existed. Processes that have
  /// it mapped keep working on the old one.
  /// @throws NameError, Error (permission)
  static bool remove(std::string_view name);

  /// The /dev/shm file name of channel `name` ("shmkit-chan.<name>").
  /// @throws NameError
  static std::string segment_name(std::string_view name);

  /// Claims the channel's publisher role.
  /// @throws ExistsError (another live process publishes), Error
  [[nodiscard]] DynamicPublisher publisher() const;

  /// Connects a subscriber.
  /// @throws Error (every subscriber record is taken by a live process)
  [[nodiscard]] DynamicSubscriber subscriber(const SubscriberOptions& options = {}) const;

  /// Takes back the slots and records of dead participants; returns how
  /// many participants were reclaimed. Safe to call from any process at any
  /// time; costs one /proc read per participant.
  std::size_t reclaim_dead() const;

  /// A snapshot of geometry, counters and participants.
  [[nodiscard]] ChannelInfo info() const;

  /// Throws LayoutError unless the channel's samples are `expected`
  /// (kind, dtype, shape, size, alignment); the message names both.
  void expect(const SampleSpec& expected) const;

  [[nodiscard]] const std::string& name() const noexcept;
  [[nodiscard]] const SampleSpec& sample() const noexcept;

 private:
  explicit Channel(std::shared_ptr<detail::ChannelCore> core) noexcept : core_(std::move(core)) {}
  std::shared_ptr<detail::ChannelCore> core_;
  friend class DynamicPublisher;
  friend class DynamicSubscriber;
};

/// A slot on loan to the publisher: fill it, then `publish` it, or drop it
/// (its slot goes back unpublished). Move-only.
class Loan {
 public:
  Loan(Loan&&) noexcept = default;
  Loan& operator=(Loan&&) noexcept = default;  // gives this loan's slot back first
  Loan(const Loan&) = delete;
  Loan& operator=(const Loan&) = delete;
  ~Loan() = default;  // gives the slot back unless published (see detail::ReturnLoanSlot)

  /// The slot's bytes (`bytes()` long), uninitialised (an earlier sample's).
  [[nodiscard]] std::span<std::byte> bytes() const noexcept { return {data_, bytes_}; }
  /// The sample's shape (array kinds; empty for values).
  [[nodiscard]] std::span<const std::size_t> shape() const noexcept { return {shape_, ndim_}; }
  /// The slot index, for diagnostics.
  [[nodiscard]] std::uint32_t slot() const noexcept { return owner_.get_deleter().slot; }

  /// The elements, as a span.
  /// @throws LayoutError if T is not the channel's dtype
  template <ArrayElement T>
  [[nodiscard]] std::span<T> span() const {
    detail::check_sample_dtype(*core_, dtype_of<T>);
    return {reinterpret_cast<T*>(data_), bytes_ / sizeof(T)};
  }

  /// A zero-copy xtensor view with the sample's shape (building the view
  /// allocates its shape vector; `span` does not allocate).
  /// @throws LayoutError if T is not the channel's dtype
  template <ArrayElement T>
  [[nodiscard]] auto view() const {
    const auto elements = span<T>();
    return xt::adapt(elements.data(), elements.size(), xt::no_ownership(),
                     std::vector<std::size_t>(shape_, shape_ + ndim_));
  }

 private:
  friend class DynamicPublisher;
  Loan() noexcept = default;

  std::unique_ptr<detail::PublisherState, detail::ReturnLoanSlot> owner_;  // null once published or moved
  const detail::ChannelCore* core_ = nullptr;
  std::byte* data_ = nullptr;
  std::size_t bytes_ = 0;
  const std::size_t* shape_ = nullptr;
  std::size_t ndim_ = 0;
};

/// A received sample: read-only, valid while this object lives (the
/// publisher cannot reuse its slot meanwhile). Move-only.
class Sample {
 public:
  Sample(Sample&&) noexcept = default;
  Sample& operator=(Sample&&) noexcept = default;  // releases this sample's slot first
  Sample(const Sample&) = delete;
  Sample& operator=(const Sample&) = delete;
  ~Sample() = default;  // releases the slot (see detail::ReleaseSampleSlot)

  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, bytes_}; }
  [[nodiscard]] std::span<const std::size_t> shape() const noexcept { return {shape_, ndim_}; }
  /// 1 for the first sample ever published on the channel, then +1 each.
  [[nodiscard]] std::uint64_t sequence() const noexcept { return sequence_; }
  /// CLOCK_MONOTONIC (std::chrono::steady_clock) nanoseconds at publish. Where
  /// the kernel keeps time with the TSC, the publisher reads the TSC and
  /// converts (a clock_gettime costs 30-90 ns in a VM): within a microsecond
  /// of clock_gettime, never decreasing.
  [[nodiscard]] std::uint64_t publish_ns() const noexcept { return publish_ns_; }
  [[nodiscard]] std::uint32_t slot() const noexcept { return owner_.get_deleter().slot; }

  /// @throws LayoutError if T is not the channel's dtype
  template <ArrayElement T>
  [[nodiscard]] std::span<const T> span() const {
    detail::check_sample_dtype(*core_, dtype_of<T>);
    return {reinterpret_cast<const T*>(data_), bytes_ / sizeof(T)};
  }

  /// A zero-copy read-only xtensor view with the sample's shape.
  /// @throws LayoutError if T is not the channel's dtype
  template <ArrayElement T>
  [[nodiscard]] auto view() const {
    const auto elements = span<T>();
    return xt::adapt(elements.data(), elements.size(), xt::no_ownership(),
                     std::vector<std::size_t>(shape_, shape_ + ndim_));
  }

 private:
  friend class DynamicSubscriber;
  Sample() noexcept = default;

  std::unique_ptr<detail::SubscriberState, detail::ReleaseSampleSlot> owner_;  // null once moved
  const detail::ChannelCore* core_ = nullptr;
  const std::byte* data_ = nullptr;
  std::size_t bytes_ = 0;
  const std::size_t* shape_ = nullptr;
  std::size_t ndim_ = 0;
  std::uint64_t sequence_ = 0;
  std::uint64_t publish_ns_ = 0;
};

/// The channel's publisher, for samples of any kind (runtime-typed).
/// Move-only; the destructor gives up the publisher role and returns any
/// unpublished loans.
class DynamicPublisher {
 public:
  DynamicPublisher(DynamicPublisher&&) noexcept;
  DynamicPublisher& operator=(DynamicPublisher&&) noexcept;
  ~DynamicPublisher();

  /// Loans a slot without waiting. nullopt when none is usable: every slot
  /// is held or on loan, or (blocking policy) the one to reuse is unread.
  /// Never allocates or makes a system call. For variable_array channels
  /// the sample's shape is the largest 1-D one (bytes / item size).
  [[nodiscard]] std::optional<Loan> loan() noexcept;

  /// As `loan()`, waiting up to `timeout` for a usable slot (a futex sleep,
  /// woken when a subscriber reads or releases a sample; dead subscribers
  /// are reclaimed while waiting).
  [[nodiscard]] std::optional<Loan> loan(std::chrono::nanoseconds timeout) noexcept;

  /// variable_array channels: loans a slot for a sample of `shape`.
  /// @throws LayoutError if the shape needs more than the channel's maximum
  ///   bytes or more than kMaxChannelDims dimensions, or the channel is not
  ///   a variable_array channel
  [[nodiscard]] std::optional<Loan> loan(std::span<const std::size_t> shape,
                                         std::chrono::nanoseconds timeout = std::chrono::nanoseconds(0));

  /// Publishes a loan of this publisher; returns its sequence number. Wakes
  /// waiting subscribers (a futex wake only when one waits).
  std::uint64_t publish(Loan&& loan) noexcept;

  /// Copies `bytes` (exactly the sample size) into a loan and publishes it;
  /// nullopt if no slot was usable within `timeout`.
  std::optional<std::uint64_t> send(std::span<const std::byte> bytes,
                                    std::chrono::nanoseconds timeout = std::chrono::nanoseconds(0));

  /// Sequence number of the newest sample published on the channel.
  [[nodiscard]] std::uint64_t published() const noexcept;
  [[nodiscard]] const Channel& channel() const noexcept { return channel_; }

 private:
  friend class Channel;
  explicit DynamicPublisher(Channel channel);
  Channel channel_;
  std::unique_ptr<detail::PublisherState> state_;
};

/// A subscriber, for samples of any kind (runtime-typed). Move-only; the
/// destructor disconnects (samples still held must be gone by then).
class DynamicSubscriber {
 public:
  DynamicSubscriber(DynamicSubscriber&&) noexcept;
  DynamicSubscriber& operator=(DynamicSubscriber&&) noexcept;
  ~DynamicSubscriber();

  /// The next sample in publish order, or nullopt if there is none yet.
  /// Samples overwritten before this subscriber got to them are skipped and
  /// counted in `missed()`. Never blocks, allocates or makes a system call
  /// (except a futex wake under the blocking policy when the publisher waits).
  [[nodiscard]] std::optional<Sample> receive() noexcept;

  /// Waits up to `timeout` for a sample, then receives it.
  [[nodiscard]] std::optional<Sample> receive(std::chrono::nanoseconds timeout) noexcept;

  /// The newest sample (even if received before), passing over older unread
  /// ones (counted in `skipped()`, not `missed()`); nullopt if nothing was
  /// published yet.
  [[nodiscard]] std::optional<Sample> latest() noexcept;

  /// True when a sample is ready to receive, waiting up to `timeout` for
  /// one (a futex sleep, woken by the publish).
  bool wait(std::chrono::nanoseconds timeout) noexcept;

  /// Samples published but not yet received (counting any since overwritten).
  [[nodiscard]] std::uint64_t pending() const noexcept;
  [[nodiscard]] std::uint64_t missed() const noexcept;
  [[nodiscard]] std::uint64_t received() const noexcept;
  [[nodiscard]] std::uint64_t skipped() const noexcept;
  /// This subscriber's record index in the segment.
  [[nodiscard]] std::uint32_t index() const noexcept;
  [[nodiscard]] const Channel& channel() const noexcept { return channel_; }

 private:
  friend class Channel;
  DynamicSubscriber(Channel channel, const SubscriberOptions& options);
  Sample make(std::uint32_t slot, std::uint64_t sequence) noexcept;
  Channel channel_;
  std::unique_ptr<detail::SubscriberState> state_;
};

}  // namespace shmkit
