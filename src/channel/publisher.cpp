// The publisher: loaning slots, publishing them, and the blocking policy.

#include <shmkit/channel/channel.hpp>
#include <shmkit/core/error.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>

#include "channel_core.hpp"
#include "core/detail/futex.hpp"

namespace shmkit {

namespace detail {

PublisherState::PublisherState(std::shared_ptr<ChannelCore> core)
    : core_(std::move(core)), protect_(std::max<std::uint32_t>(core_->trailer().history, 1)) {
  ChannelControl& control = core_->control();
  const ProcessIdentity self = current_process();
  const std::uint64_t claiming = owner_word(self.pid, ChannelOwnerState::claiming);
  for (int attempt = 0;; ++attempt) {
    std::uint64_t expected = 0;
    if (control.publisher_owner.compare_exchange_strong(expected, claiming, std::memory_order_acq_rel)) {
      break;
    }
    // Taken: by a dead process (reclaim it and try again) or a live one.
    if (attempt == 0 && core_->reclaim_dead() > 0) {
      continue;
    }
    if (attempt < 2 && control.publisher_owner.load() == 0) {
      continue;
    }
    throw ExistsError("cannot publish on channel '" + core_->name() + "': process " +
                      std::to_string(owner_pid(expected)) +
                      " is its publisher (a channel has one publisher at a time; stop that one first)");
  }
  control.publisher_start_ticks.store(self.start_ticks, std::memory_order_relaxed);
  control.publisher_generation.fetch_add(1, std::memory_order_relaxed);
  owner_ = owner_word(self.pid, ChannelOwnerState::active);
  control.publisher_owner.store(owner_, std::memory_order_release);

  // Rebuild the age order from the slots themselves: the shared sequence
  // numbers are the truth whoever published before.
  const std::uint32_t n = core_->slots();
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), 0U);
  std::stable_sort(order_.begin(), order_.end(), [&](std::uint32_t a, std::uint32_t b) {
    return core_->slot(a).sequence.load(std::memory_order_relaxed) <
           core_->slot(b).sequence.load(std::memory_order_relaxed);
  });
  count_ = n;
  sequence_ = control.published.load(std::memory_order_acquire);
}

PublisherState::~PublisherState() {
  // Loans must be gone by now; return any that were leaked all the same.
  const std::uint32_t n = core_->slots();
  for (std::uint32_t k = 0; k < n; ++k) {
    ChannelSlot& slot = core_->slot(k);
    if ((slot.holders.load(std::memory_order_acquire) & kSlotLoaned) != 0) {
      slot.sequence.store(0, std::memory_order_relaxed);
      slot.holders.fetch_and(~kSlotLoaned, std::memory_order_release);
    }
  }
  ChannelControl& control = core_->control();
  control.publisher_waiting.store(0, std::memory_order_relaxed);
  std::uint64_t expected = owner_;
  control.publisher_owner.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
}

std::uint64_t PublisherState::min_cursor() const noexcept {
  std::uint64_t lowest = UINT64_MAX;
  for (std::uint32_t j = 0; j < core_->max_subscribers(); ++j) {
    const ChannelSubscriber& s = core_->subscriber(j);
    if (owner_state(s.owner.load(std::memory_order_acquire)) == ChannelOwnerState::active) {
      lowest = std::min(lowest, s.cursor.load(std::memory_order_acquire));
    }
  }
  return lowest;
}

std::uint32_t PublisherState::try_loan() noexcept {
  if (count_ <= protect_) {
    return kNoSlot;
  }
  const std::size_t candidates = count_ - protect_;
  // Under the blocking policy a sample some subscriber has not read yet
  // must not be reused; `order_` is oldest first, so the first such sample
  // ends the search. Cursors only grow, so the lowest one read before stays
  // a safe bound until a subscriber joins (it may start further back, and
  // bumps subscriber_epoch); it is read again only when it stops a loan.
  // Reading every cursor per loan pulled each subscriber's cursor line over
  // on every sample.
  std::uint64_t unread_from = UINT64_MAX;
  bool fresh = false;
  if (core_->blocking()) {
    const std::uint64_t epoch = core_->control().subscriber_epoch.load(std::memory_order_acquire);
    if (epoch != epoch_) {
      epoch_ = epoch;
      unread_from_ = min_cursor();
      fresh = true;
    }
    unread_from = unread_from_;
  }
  for (std::size_t i = 0; i < candidates; ++i) {
    const std::uint32_t k = order_[i];
    ChannelSlot& slot = core_->slot(k);
    const std::uint64_t sequence = slot.sequence.load(std::memory_order_relaxed);
    if (sequence != 0 && sequence >= unread_from) {
      if (fresh) {
        break;
      }
      unread_from = unread_from_ = min_cursor();
      fresh = true;
      if (sequence >= unread_from) {
        break;
      }
    }
    std::uint64_t expected = 0;
    if (slot.holders.load(std::memory_order_relaxed) == 0 &&
        slot.holders.compare_exchange_strong(expected, kSlotLoaned, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
      std::memmove(&order_[i], &order_[i + 1], (count_ - i - 1) * sizeof(std::uint32_t));
      --count_;
      return k;
    }
  }
  return kNoSlot;
}

std::uint32_t PublisherState::loan(std::chrono::nanoseconds timeout) noexcept {
  if (const std::uint32_t k = try_loan(); k != kNoSlot) {
    return k;
  }
  ChannelControl& control = core_->control();
  if (timeout.count() <= 0) {
    // Out of slots: perhaps because a dead subscriber still holds some.
    // Looking costs /proc reads, so a publisher that spins on loan() does
    // it at most once a millisecond (and reads the cheap clock to know).
    const std::uint64_t now = clock_.now();
    if (now - last_reclaim_ns_ >= 1000000 && (last_reclaim_ns_ = now, core_->reclaim_dead() > 0)) {
      if (const std::uint32_t k = try_loan(); k != kNoSlot) {
        return k;
      }
    }
    control.loans_failed.fetch_add(1, std::memory_order_relaxed);
    return kNoSlot;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::uint32_t seen = control.space_futex.load(std::memory_order_seq_cst);
    control.publisher_waiting.store(1, std::memory_order_seq_cst);
    if (const std::uint32_t k = try_loan(); k != kNoSlot) {
      control.publisher_waiting.store(0, std::memory_order_relaxed);
      return k;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      control.publisher_waiting.store(0, std::memory_order_relaxed);
      control.loans_failed.fetch_add(1, std::memory_order_relaxed);
      return kNoSlot;
    }
    // Sleep in slices: between them, look for dead subscribers that would
    // otherwise hold the publisher up until the deadline.
    const auto slice = std::min<std::chrono::nanoseconds>(deadline - now, std::chrono::milliseconds(10));
    futex_wait(control.space_futex, seen, slice);
    if (control.space_futex.load(std::memory_order_acquire) == seen) {
      core_->reclaim_dead();
    }
  }
}

std::uint64_t PublisherState::publish(std::uint32_t k, std::uint64_t bytes,
                                      std::span<const std::size_t> shape) noexcept {
  ChannelControl& control = core_->control();
  ChannelSlot& slot = core_->slot(k);
  const std::uint64_t sequence = ++sequence_;
  slot.publish_ns = clock_.now();
  slot.bytes = bytes;
  slot.ndim = static_cast<std::uint32_t>(shape.size());
  if (shape.data() != slot.shape && shape.data() != core_->fixed_shape()) {
    std::copy(shape.begin(), shape.end(), slot.shape);
  }
  slot.sequence.store(sequence, std::memory_order_relaxed);
  // A plain store, not an RMW (one locked instruction less per sample):
  // while the slot was on loan no subscriber could hold it (the loan took
  // it at 0, and a subscriber that sets its bit and sees kSlotLoaned backs
  // out), so any bit here besides kSlotLoaned is one its subscriber is
  // taking back out, and that subscriber's fetch_and is harmless after this
  // store. Release: the sample and its record are written before it.
  slot.holders.store(0, std::memory_order_release);
  core_->ring(sequence).store(k, std::memory_order_relaxed);
  control.newest_slot.store(k, std::memory_order_relaxed);
  // seq_cst: the store must be ordered before the read of `waiters` below,
  // or a subscriber that starts waiting right now could sleep through it.
  control.published.store(sequence, std::memory_order_seq_cst);
  order_[count_++] = k;
  // The next loan most likely takes the oldest slot: start taking its
  // record and first payload line back from the subscribers that read it
  // now, so loan() and the writes after it do not wait for them.
  if (count_ > protect_) {
    prefetch_for_write(&core_->slot(order_[0]));
    prefetch_for_write(core_->payload(order_[0]));
  }
  if (control.waiters.load(std::memory_order_seq_cst) != 0) {
    control.publish_unix_ns.store(
        static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()),
        std::memory_order_relaxed);
    control.publish_futex.fetch_add(1, std::memory_order_seq_cst);
    futex_wake_all(control.publish_futex);
  } else if ((sequence & 1023U) == 1) {
    // Tools show when the channel last published; keep it roughly current
    // without reading the wall clock on every sample.
    control.publish_unix_ns.store(
        static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()),
        std::memory_order_relaxed);
  }
  return sequence;
}

void PublisherState::drop(std::uint32_t k) noexcept {
  ChannelSlot& slot = core_->slot(k);
  slot.sequence.store(0, std::memory_order_relaxed);  // its bytes are no longer the old sample's
  slot.holders.fetch_and(~kSlotLoaned, std::memory_order_release);
  std::memmove(&order_[1], &order_[0], count_ * sizeof(std::uint32_t));
  order_[0] = k;
  ++count_;
}

}  // namespace detail

// ---- Loan -------------------------------------------------------------------

void detail::ReturnLoanSlot::operator()(PublisherState* owner) const noexcept {
  owner->drop(slot);
}

// ---- DynamicPublisher -------------------------------------------------------

DynamicPublisher::DynamicPublisher(Channel channel)
    : channel_(std::move(channel)), state_(std::make_unique<detail::PublisherState>(channel_.core_)) {}

DynamicPublisher::DynamicPublisher(DynamicPublisher&&) noexcept = default;
DynamicPublisher& DynamicPublisher::operator=(DynamicPublisher&&) noexcept = default;
DynamicPublisher::~DynamicPublisher() = default;

std::optional<Loan> DynamicPublisher::loan() noexcept {
  return loan(std::chrono::nanoseconds(0));
}

std::optional<Loan> DynamicPublisher::loan(std::chrono::nanoseconds timeout) noexcept {
  detail::ChannelCore& core = state_->core();
  const std::uint32_t k = state_->loan(timeout);
  if (k == detail::PublisherState::kNoSlot) {
    return std::nullopt;
  }
  Loan loan;
  loan.owner_ = {state_.get(), detail::ReturnLoanSlot{k}};
  loan.core_ = &core;
  loan.data_ = core.payload(k);
  const SampleSpec& spec = core.sample();
  loan.bytes_ = spec.bytes;
  if (spec.kind == ChannelSampleKind::array) {
    loan.shape_ = core.fixed_shape();
    loan.ndim_ = spec.shape.size();
  } else if (spec.kind == ChannelSampleKind::variable_array) {
    // The largest 1-D shape, kept in the slot record so it outlives the call.
    ChannelSlot& slot = core.slot(k);
    slot.shape[0] = spec.bytes / dtype_size(spec.dtype);
    loan.bytes_ = slot.shape[0] * dtype_size(spec.dtype);
    loan.shape_ = slot.shape;
    loan.ndim_ = 1;
  }
  return loan;
}

std::optional<Loan> DynamicPublisher::loan(std::span<const std::size_t> shape, std::chrono::nanoseconds timeout) {
  detail::ChannelCore& core = state_->core();
  const SampleSpec& spec = core.sample();
  if (spec.kind != ChannelSampleKind::variable_array) {
    throw LayoutError("cannot loan a sample of a chosen shape from channel '" + core.name() +
                      "': its samples have a fixed type (use loan() without a shape)");
  }
  if (shape.size() > kMaxChannelDims) {
    throw LayoutError("cannot loan a sample of " + std::to_string(shape.size()) + " dimensions from channel '" +
                      core.name() + "': at most " + std::to_string(kMaxChannelDims) + " are supported");
  }
  std::uint64_t bytes = dtype_size(spec.dtype);
  for (const std::size_t extent : shape) {
    bytes *= extent;
  }
  if (bytes > spec.bytes) {
    throw LayoutError("cannot loan a sample of " + std::to_string(bytes) + " bytes from channel '" + core.name() +
                      "': its samples hold at most " + std::to_string(spec.bytes) +
                      " bytes (create it with a larger maximum)");
  }
  auto loan = this->loan(timeout);
  if (loan) {
    ChannelSlot& slot = core.slot(loan->slot());
    std::copy(shape.begin(), shape.end(), slot.shape);
    loan->bytes_ = bytes;
    loan->ndim_ = shape.size();
  }
  return loan;
}

std::uint64_t DynamicPublisher::publish(Loan&& loan) noexcept {
  if (loan.owner_.get() != state_.get()) {
    return 0;  // not ours (or already published): left untouched
  }
  (void)loan.owner_.release();  // the slot is published, not given back
  return state_->publish(loan.slot(), loan.bytes_, {loan.shape_, loan.ndim_});
}

std::optional<std::uint64_t> DynamicPublisher::send(std::span<const std::byte> bytes,
                                                    std::chrono::nanoseconds timeout) {
  const SampleSpec& spec = state_->core().sample();
  if (spec.kind != ChannelSampleKind::variable_array && bytes.size() != spec.bytes) {
    throw LayoutError("cannot send " + std::to_string(bytes.size()) + " bytes on channel '" + state_->core().name() +
                      "': its samples are " + std::to_string(spec.bytes) + " bytes");
  }
  std::optional<Loan> slot;
  if (spec.kind == ChannelSampleKind::variable_array) {
    const std::size_t item = dtype_size(spec.dtype);
    if (bytes.size() % item != 0) {
      throw LayoutError("cannot send " + std::to_string(bytes.size()) + " bytes on channel '" + state_->core().name() +
                        "': not a whole number of " + std::to_string(item) + "-byte elements");
    }
    const std::size_t shape[1] = {bytes.size() / item};
    slot = loan(std::span<const std::size_t>(shape, 1), timeout);
  } else {
    slot = loan(timeout);
  }
  if (!slot) {
    return std::nullopt;
  }
  std::memcpy(slot->data_, bytes.data(), bytes.size());
  return publish(std::move(*slot));
}

std::uint64_t DynamicPublisher::published() const noexcept {
  return state_->core().control().published.load(std::memory_order_acquire);
}

}  // namespace shmkit
