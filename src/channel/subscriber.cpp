// The subscriber: reading samples in order, holding and releasing them,
// waiting for the next one.

#include <shmkit/channel/channel.hpp>
#include <shmkit/core/error.hpp>

#include <algorithm>
#include <chrono>

#include "channel_core.hpp"
#include "core/detail/futex.hpp"

namespace shmkit {

namespace detail {

SubscriberState::SubscriberState(std::shared_ptr<ChannelCore> core, const SubscriberOptions& options)
    : core_(std::move(core)) {
  const ProcessIdentity self = current_process();
  const std::uint64_t claiming = owner_word(self.pid, ChannelOwnerState::claiming);
  const std::uint32_t n = core_->max_subscribers();
  bool claimed = false;
  for (int pass = 0; pass < 2 && !claimed; ++pass) {
    for (std::uint32_t j = 0; j < n; ++j) {
      std::uint64_t expected = 0;
      if (core_->subscriber(j).owner.compare_exchange_strong(expected, claiming, std::memory_order_acq_rel)) {
        index_ = j;
        claimed = true;
        break;
      }
    }
    if (!claimed && (pass > 0 || core_->reclaim_dead() == 0)) {
      break;
    }
  }
  if (!claimed) {
    throw Error("cannot subscribe to channel '" + core_->name() + "': all " + std::to_string(n) +
                " subscriber records are taken by live processes (create the channel with a larger "
                "max_subscribers)");
  }
  bit_ = std::uint64_t{1} << index_;
  record_ = &core_->subscriber(index_);
  held_.assign(core_->slots(), 0);
  // A record is freed only after its bits are cleared, but clear them again:
  // a stale bit would pin a slot for good.
  for (std::uint32_t k = 0; k < core_->slots(); ++k) {
    if ((core_->slot(k).holders.load(std::memory_order_relaxed) & bit_) != 0) {
      core_->slot(k).holders.fetch_and(~bit_, std::memory_order_acq_rel);
    }
  }
  const std::uint64_t published = core_->control().published.load(std::memory_order_acquire);
  const std::uint64_t history = core_->trailer().history;
  if (options.start == SubscriberStart::now) {
    cursor_ = published + 1;
  } else {
    cursor_ = published >= history ? published + 1 - history : 1;
  }
  record_->start_ticks.store(self.start_ticks, std::memory_order_relaxed);
  record_->generation.fetch_add(1, std::memory_order_relaxed);
  record_->waiting.store(0, std::memory_order_relaxed);
  record_->received.store(0, std::memory_order_relaxed);
  record_->missed.store(0, std::memory_order_relaxed);
  record_->skipped.store(0, std::memory_order_relaxed);
  record_->cursor.store(cursor_, std::memory_order_relaxed);
  record_->owner.store(owner_word(self.pid, ChannelOwnerState::active), std::memory_order_release);
  // A blocking publisher reads the cursors again (ours may be below the
  // lowest it knew).
  core_->control().subscriber_epoch.fetch_add(1, std::memory_order_acq_rel);
}

SubscriberState::~SubscriberState() {
  for (std::uint32_t k = 0; k < held_.size(); ++k) {
    if (held_[k] != 0) {
      core_->slot(k).holders.fetch_and(~bit_, std::memory_order_acq_rel);
    }
  }
  if (record_->waiting.exchange(0, std::memory_order_acq_rel) != 0) {
    core_->control().waiters.fetch_sub(1, std::memory_order_acq_rel);
  }
  record_->owner.store(0, std::memory_order_release);
  ChannelControl& control = core_->control();
  if (control.publisher_waiting.load(std::memory_order_seq_cst) != 0) {
    control.space_futex.fetch_add(1, std::memory_order_release);
    futex_wake_all(control.space_futex);
  }
}

bool SubscriberState::hold(std::uint32_t k, std::uint64_t sequence) noexcept {
  if (k >= held_.size()) {
    return false;  // a damaged ring entry; never index past the slots
  }
  ChannelSlot& slot = core_->slot(k);
  if (held_[k] != 0) {
    // Our bit is already set, so the slot cannot change under us.
    if (slot.sequence.load(std::memory_order_relaxed) != sequence) {
      return false;
    }
    ++held_[k];
    return true;
  }
  const std::uint64_t before = slot.holders.fetch_or(bit_, std::memory_order_acq_rel);
  if ((before & kSlotLoaned) != 0 || slot.sequence.load(std::memory_order_acquire) != sequence) {
    slot.holders.fetch_and(~bit_, std::memory_order_release);
    return false;
  }
  held_[k] = 1;
  return true;
}

void SubscriberState::advance(std::uint64_t cursor, bool released_later) noexcept {
  cursor_ = cursor;
  if (core_->blocking() && released_later) {
    // The cursor passed only over the sample now held: its slot can be
    // reused only once release() clears our bit, and release() orders this
    // store before its look at the publisher's flag (a locked RMW, then a
    // seq_cst load). So a plain store here, and no xchg per sample.
    record_->cursor.store(cursor, std::memory_order_release);
  } else if (core_->blocking()) {
    // The publisher may be waiting for us to read: the store must be seen
    // before we look at its flag (seq_cst pairs with its store and re-check).
    record_->cursor.store(cursor, std::memory_order_seq_cst);
    ChannelControl& control = core_->control();
    if (control.publisher_waiting.load(std::memory_order_seq_cst) != 0) {
      control.space_futex.fetch_add(1, std::memory_order_release);
      futex_wake_all(control.space_futex);
    }
  } else {
    record_->cursor.store(cursor, std::memory_order_relaxed);
  }
}

SubscriberState::Held SubscriberState::receive() noexcept {
  std::uint64_t cursor = cursor_;
  // Behind the newest sample seen last time, read on without looking at the
  // control line: the publisher writes it on every sample, and each read of
  // it from here makes the publisher's next store wait for the line.
  std::uint64_t published = known_published_;
  const bool fresh = cursor > published;
  if (fresh) {
    published = known_published_ = core_->control().published.load(std::memory_order_acquire);
    if (cursor > published) {
      return {};
    }
  }
  const std::uint64_t missed_before = missed_;
  Held got;
  const std::uint64_t ring = core_->ring_size();
  while (cursor <= published) {
    if (published - cursor >= ring) {
      // The ring no longer names these sequences: all of them are gone.
      missed_ += published - ring + 1 - cursor;
      cursor = published - ring + 1;
    }
    // Keeping up, the sample wanted is the newest: its slot is on the line
    // just read. A stale value fails the sequence check and the ring decides.
    const std::uint32_t newest =
        fresh && cursor == published ? core_->control().newest_slot.load(std::memory_order_relaxed) : UINT32_MAX;
    if (newest < core_->slots()) {
      // The payload's first line is fetched while hold() waits for the
      // slot record's: two transfers from the publisher's core at once.
      prefetch_for_read(core_->payload(newest));
      if (hold(newest, cursor)) {
        got = Held{newest, cursor};
        ++cursor;
        break;
      }
    }
    const std::uint32_t k = core_->ring(cursor).load(std::memory_order_acquire);
    if (k < core_->slots()) {
      prefetch_for_read(core_->payload(k));
    }
    if (hold(k, cursor)) {
      got = Held{k, cursor};
      ++cursor;
      break;
    }
    ++missed_;
    ++cursor;
  }
  if (missed_ != missed_before) {
    record_->missed.store(missed_, std::memory_order_relaxed);
  }
  if (got) {
    record_->received.store(++received_, std::memory_order_relaxed);
    if (cursor <= published) {
      // Behind: the next sample is already published. Start fetching its
      // record and first payload line now, so the next receive() finds them.
      const std::uint32_t next = core_->ring(cursor).load(std::memory_order_relaxed);
      if (next < core_->slots()) {
        prefetch_for_write(&core_->slot(next));
        prefetch_for_read(core_->payload(next));
      }
    }
  }
  advance(cursor, got && missed_ == missed_before);
  return got;
}

SubscriberState::Held SubscriberState::latest() noexcept {
  // The newest sample is never reused while it is among the `history`
  // newest (at least one), so a few tries suffice even as publishes go on.
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::uint64_t published = core_->control().published.load(std::memory_order_acquire);
    if (published == 0) {
      return {};
    }
    const std::uint32_t k = core_->ring(published).load(std::memory_order_acquire);
    if (!hold(k, published)) {
      continue;
    }
    if (published >= cursor_) {
      skipped_ += published - cursor_;
      record_->skipped.store(skipped_, std::memory_order_relaxed);
      advance(published + 1, false);
    }
    record_->received.store(++received_, std::memory_order_relaxed);
    return Held{k, published};
  }
  return {};
}

void SubscriberState::release(std::uint32_t k) noexcept {
  if (--held_[k] != 0) {
    return;
  }
  core_->slot(k).holders.fetch_and(~bit_, std::memory_order_seq_cst);
  ChannelControl& control = core_->control();
  if (control.publisher_waiting.load(std::memory_order_seq_cst) != 0) {
    control.space_futex.fetch_add(1, std::memory_order_release);
    futex_wake_all(control.space_futex);
  }
}

bool SubscriberState::wait(std::chrono::nanoseconds timeout) noexcept {
  ChannelControl& control = core_->control();
  if (control.published.load(std::memory_order_acquire) >= cursor_) {
    return true;
  }
  if (timeout.count() <= 0) {
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  record_->waiting.store(1, std::memory_order_relaxed);
  control.waiters.fetch_add(1, std::memory_order_seq_cst);
  bool ready = false;
  for (;;) {
    const std::uint32_t seen = control.publish_futex.load(std::memory_order_seq_cst);
    if (control.published.load(std::memory_order_seq_cst) >= cursor_) {
      ready = true;
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      break;
    }
    futex_wait(control.publish_futex, seen, deadline - now);
  }
  if (record_->waiting.exchange(0, std::memory_order_acq_rel) != 0) {
    control.waiters.fetch_sub(1, std::memory_order_acq_rel);
  }
  return ready;
}

std::uint64_t SubscriberState::pending() const noexcept {
  const std::uint64_t published = core_->control().published.load(std::memory_order_acquire);
  return published >= cursor_ ? published + 1 - cursor_ : 0;
}

}  // namespace detail

// ---- Sample -----------------------------------------------------------------

void detail::ReleaseSampleSlot::operator()(SubscriberState* owner) const noexcept {
  owner->release(slot);
}

// ---- DynamicSubscriber ------------------------------------------------------

DynamicSubscriber::DynamicSubscriber(Channel channel, const SubscriberOptions& options)
    : channel_(std::move(channel)), state_(std::make_unique<detail::SubscriberState>(channel_.core_, options)) {}

DynamicSubscriber::DynamicSubscriber(DynamicSubscriber&&) noexcept = default;
DynamicSubscriber& DynamicSubscriber::operator=(DynamicSubscriber&&) noexcept = default;
DynamicSubscriber::~DynamicSubscriber() = default;

std::optional<Sample> DynamicSubscriber::receive() noexcept {
  const auto held = state_->receive();
  if (!held) {
    return std::nullopt;
  }
  return make(held.slot, held.sequence);
}

std::optional<Sample> DynamicSubscriber::receive(std::chrono::nanoseconds timeout) noexcept {
  // A sample announced by wait() may be overwritten before receive() gets
  // to it (it is then counted as missed): wait again for the next one.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto sample = receive()) {
      return sample;
    }
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds(0) || !state_->wait(left)) {
      return std::nullopt;
    }
  }
}

std::optional<Sample> DynamicSubscriber::latest() noexcept {
  const auto held = state_->latest();
  if (!held) {
    return std::nullopt;
  }
  return make(held.slot, held.sequence);
}

bool DynamicSubscriber::wait(std::chrono::nanoseconds timeout) noexcept {
  return state_->wait(timeout);
}

std::uint64_t DynamicSubscriber::pending() const noexcept {
  return state_->pending();
}

std::uint64_t DynamicSubscriber::missed() const noexcept {
  return state_->record().missed.load(std::memory_order_relaxed);
}

std::uint64_t DynamicSubscriber::received() const noexcept {
  return state_->record().received.load(std::memory_order_relaxed);
}

std::uint64_t DynamicSubscriber::skipped() const noexcept {
  return state_->record().skipped.load(std::memory_order_relaxed);
}

std::uint32_t DynamicSubscriber::index() const noexcept {
  return state_->index();
}

Sample DynamicSubscriber::make(std::uint32_t k, std::uint64_t sequence) noexcept {
  Sample sample;
  detail::ChannelCore& core = state_->core();
  const ChannelSlot& slot = core.slot(k);
  const SampleSpec& spec = core.sample();
  sample.owner_ = {state_.get(), detail::ReleaseSampleSlot{k}};
  sample.core_ = &core;
  sample.sequence_ = sequence;
  sample.publish_ns_ = slot.publish_ns;
  sample.data_ = core.payload(k);
  if (spec.kind == ChannelSampleKind::variable_array) {
    sample.bytes_ = std::min<std::uint64_t>(slot.bytes, spec.bytes);
    sample.shape_ = slot.shape;
    sample.ndim_ = std::min<std::size_t>(slot.ndim, kMaxChannelDims);
  } else {
    sample.bytes_ = spec.bytes;
    sample.shape_ = core.fixed_shape();
    sample.ndim_ = spec.kind == ChannelSampleKind::array ? spec.shape.size() : 0;
  }
  return sample;
}

}  // namespace shmkit
