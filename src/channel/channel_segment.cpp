// Creating, opening, validating, inspecting and cleaning up channel segments.

#include <shmkit/channel/channel.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/core/name.hpp>

#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <thread>

#include "channel_core.hpp"
#include "core/detail/futex.hpp"

namespace shmkit {

namespace detail {

namespace {

std::string object_of(std::string_view name) {
  return "channel '" + std::string(name) + "'";
}

[[noreturn]] void bad_option(std::string_view name, const std::string& reason) {
  throw Error("cannot create " + object_of(name) + ": " + reason);
}

std::string spec_string(const SampleSpec& spec) {
  switch (spec.kind) {
    case ChannelSampleKind::value:
      return "values of " + std::to_string(spec.bytes) + " bytes (alignment " + std::to_string(spec.align) + ")";
    case ChannelSampleKind::array: {
      std::string shape = "(";
      for (std::size_t i = 0; i < spec.shape.size(); ++i) {
        shape += (i ? ", " : "") + std::to_string(spec.shape[i]);
      }
      shape += spec.shape.size() == 1 ? ",)" : ")";
      return std::string(dtype_string(spec.dtype)) + " arrays of shape " + shape;
    }
    case ChannelSampleKind::variable_array:
      return std::string(dtype_string(spec.dtype)) + " arrays of any shape up to " + std::to_string(spec.bytes) +
             " bytes";
  }
  return "samples of an unknown kind";
}

struct Geometry {
  std::uint64_t subscribers_offset;
  std::uint64_t slots_offset;
  std::uint64_t ring_offset;
  std::uint64_t data_offset;
  std::uint64_t slot_stride;
  std::uint32_t ring_size;
  std::uint64_t total;
};

Geometry geometry_of(std::uint32_t slots, std::uint32_t max_subscribers, std::uint64_t sample_bytes,
                     std::uint64_t align) {
  Geometry g{};
  const std::uint64_t page = page_size();
  g.subscribers_offset = round_up(sizeof(ChannelControl), 64);
  g.slots_offset = g.subscribers_offset + std::uint64_t{max_subscribers} * sizeof(ChannelSubscriber);
  g.ring_offset = g.slots_offset + std::uint64_t{slots} * sizeof(ChannelSlot);
  // Twice the slots: a subscriber less than a ring behind finds every
  // sequence number it still may read.
  g.ring_size = std::bit_ceil(std::max<std::uint32_t>(2 * slots, 64));
  g.data_offset = round_up(g.ring_offset + std::uint64_t{g.ring_size} * sizeof(std::uint32_t), page);
  // Large samples start on pages (numpy and DMA like that); small ones on
  // cache lines, so two slots never share one.
  const std::uint64_t unit = sample_bytes >= page ? page : std::max<std::uint64_t>(64, align);
  g.slot_stride = round_up(std::max<std::uint64_t>(sample_bytes, 1), unit);
  g.total = g.data_offset + g.slot_stride * slots + round_up(kTrailerBytes, page);
  return g;
}

void validate(std::string_view name, const ChannelOptions& o) {
  const SampleSpec& s = o.sample;
  if (s.bytes == 0) {
    bad_option(name, "sample.bytes is 0; give the sample a size (SampleSpec::value<T>(), array(dtype, shape), ...)");
  }
  if (s.bytes > (std::uint64_t{1} << 40)) {
    bad_option(name, "sample.bytes is " + std::to_string(s.bytes) + "; samples above 1 TiB are not supported");
  }
  if (s.align == 0 || !std::has_single_bit(s.align) || s.align > 4096) {
    bad_option(name, "sample.align is " + std::to_string(s.align) + "; use a power of two up to 4096");
  }
  if (s.kind == ChannelSampleKind::array) {
    if (s.shape.size() > kMaxChannelDims) {
      bad_option(name, "the sample shape has " + std::to_string(s.shape.size()) + " dimensions; at most " +
                           std::to_string(kMaxChannelDims) + " are supported");
    }
    std::uint64_t bytes = dtype_size(s.dtype);
    for (const std::size_t extent : s.shape) {
      bytes *= extent;
    }
    if (bytes != s.bytes) {
      bad_option(name, "sample.bytes (" + std::to_string(s.bytes) + ") is not the shape's " + std::to_string(bytes) +
                           " bytes (build it with SampleSpec::array)");
    }
  } else if (s.kind == ChannelSampleKind::variable_array) {
    if (s.bytes < dtype_size(s.dtype)) {
      bad_option(name, "sample.bytes is smaller than one element");
    }
  } else if (s.kind != ChannelSampleKind::value) {
    bad_option(name, "sample.kind is not one of value, array, variable_array");
  }
  const std::uint32_t protect = std::max<std::uint32_t>(o.history, 1);
  if (o.history > 65534 || o.slots < protect + 2 || o.slots > 65536) {
    bad_option(name, "slots is " + std::to_string(o.slots) + " with history " + std::to_string(o.history) +
                         "; use at least history + 2 (and at least 3) slots, at most 65536");
  }
  if (o.max_subscribers == 0 || o.max_subscribers > kMaxChannelSubscribers) {
    bad_option(name, "max_subscribers is " + std::to_string(o.max_subscribers) + "; use 1.." +
                         std::to_string(kMaxChannelSubscribers));
  }
  if (o.overflow != ChannelOverflow::drop_oldest && o.overflow != ChannelOverflow::block) {
    bad_option(name, "overflow is neither drop_oldest nor block");
  }
}

ChannelTrailer* trailer_of(const SharedSegment& segment) {
  return std::launder(reinterpret_cast<ChannelTrailer*>(segment.data() + segment.size() - kTrailerBytes));
}

bool alive_owner(std::uint64_t word, std::uint64_t start_ticks) {
  if (word == 0) {
    return false;
  }
  // While claiming, the start time may not be written yet: the pid decides.
  const std::uint64_t ticks = owner_state(word) == ChannelOwnerState::active ? start_ticks : 0;
  return is_alive({owner_pid(word), ticks});
}

// True when nobody alive can still use the segment `segment` maps.
bool abandoned(const SharedSegment& segment) {
  if (segment.size() < kTrailerBytes) {
    return true;  // never sized by a creator that died right after shm_open
  }
  const ChannelTrailer& t = *trailer_of(segment);
  for (int i = 0; i < 1000 && t.tag.magic.load(std::memory_order_acquire) == 0; ++i) {
    if (t.tag.creator_pid != 0 && !is_alive(creator_of(t.tag))) {
      return true;  // its creator died while making it
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (t.tag.magic.load(std::memory_order_acquire) != kSegmentMagic) {
    return !is_alive(creator_of(t.tag));
  }
  if (t.tag.kind != static_cast<std::uint32_t>(SegmentKind::channel) || t.tag.layout_version != kChannelLayoutVersion) {
    return false;  // not one we can read: leave it to the user (shmkit gc)
  }
  if (is_alive(creator_of(t.tag))) {
    return false;
  }
  const Geometry g = geometry_of(t.slots, t.max_subscribers, t.sample_bytes, std::max<std::uint32_t>(t.value_align, 1));
  if (t.max_subscribers > kMaxChannelSubscribers || g.total != segment.size()) {
    return false;
  }
  const auto* control = std::launder(reinterpret_cast<const ChannelControl*>(segment.data()));
  if (alive_owner(control->publisher_owner.load(), control->publisher_start_ticks.load())) {
    return false;
  }
  const auto* subs = std::launder(reinterpret_cast<const ChannelSubscriber*>(segment.data() + g.subscribers_offset));
  for (std::uint32_t j = 0; j < t.max_subscribers; ++j) {
    if (alive_owner(subs[j].owner.load(), subs[j].start_ticks.load())) {
      return false;
    }
  }
  return true;
}

// Unlinks `name` if it still is the file `segment` maps (a live process may
// have re-created it meanwhile).
void unlink_if_same(const std::string& segment_name, const SharedSegment& segment) {
  struct stat mapped {};
  struct stat named {};
  const std::string path = "/dev/shm/" + segment_name;
  if (::fstat(segment.fd(), &mapped) == 0 && ::stat(path.c_str(), &named) == 0 && mapped.st_ino == named.st_ino &&
      mapped.st_dev == named.st_dev) {
    ::shm_unlink(("/" + segment_name).c_str());
  }
}

SampleSpec spec_of(const ChannelTrailer& t) {
  SampleSpec spec;
  spec.kind = static_cast<ChannelSampleKind>(t.sample_kind);
  spec.bytes = t.sample_bytes;
  spec.align = std::max<std::uint32_t>(t.value_align, 1);
  if (spec.kind != ChannelSampleKind::value) {
    char text[9] = {};
    std::memcpy(text, t.dtype, sizeof t.dtype);
    spec.dtype = parse_dtype(text);
  }
  if (spec.kind == ChannelSampleKind::array) {
    spec.shape.assign(t.shape, t.shape + t.ndim);
  }
  return spec;
}

}  // namespace

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

namespace {

// The TSC is CLOCK_MONOTONIC's own source (so constant-rate and in step on
// every core) exactly when the kernel's clocksource is "tsc".
bool kernel_clock_is_tsc() noexcept {
  static const bool tsc = [] {
    std::FILE* f = std::fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
    if (f == nullptr) {
      return false;
    }
    char name[16] = {};
    const bool ok = std::fgets(name, sizeof name, f) != nullptr && std::strcmp(name, "tsc\n") == 0;
    std::fclose(f);
    return ok;
  }();
  return tsc;
}

}  // namespace

PublishClock::PublishClock() noexcept {
#if defined(__x86_64__)
  if (kernel_clock_is_tsc()) {
    for (int attempt = 0; attempt < 8 && !tsc_; ++attempt) {
      tsc_ = read_pair(first_tsc_, first_ns_);
    }
    anchor_tsc_ = first_tsc_;
    anchor_ns_ = first_ns_;
  }
#endif
}

bool PublishClock::read_pair([[maybe_unused]] std::uint64_t& tsc, std::uint64_t& ns) noexcept {
#if defined(__x86_64__)
  const std::uint64_t before = __builtin_ia32_rdtsc();
  ns = monotonic_ns();
  const std::uint64_t after = __builtin_ia32_rdtsc();
  tsc = before + (after - before) / 2;
  // About 400 ns at 2.5 GHz; clock_gettime takes 30-90 ns.
  return after - before < (std::uint64_t{1} << 10);
#else
  ns = monotonic_ns();
  return false;
#endif
}

std::uint64_t PublishClock::anchor() noexcept {
  std::uint64_t tsc = 0;
  std::uint64_t ns = 0;
  if (read_pair(tsc, ns)) {
    // An interrupted pair would skew every reading up to the next anchor,
    // so it is used only as this one reading; the next publish tries again.
    anchor_tsc_ = tsc;
    anchor_ns_ = ns;
    // Over 10 ms, the pairs' few hundred ns of uncertainty make a rate
    // error below 40 ppm: under 40 ns over one anchor's span.
    if (ns - first_ns_ >= 10000000 && tsc > first_tsc_) {
      mult_ = static_cast<std::uint64_t>(static_cast<double>(ns - first_ns_) / static_cast<double>(tsc - first_tsc_) *
                                         4294967296.0);
    }
  }
  last_ = ns > last_ ? ns : last_;
  return last_;
}

void check_sample_dtype(const ChannelCore& core, Dtype expected) {
  const SampleSpec& spec = core.sample();
  if (spec.kind == ChannelSampleKind::value) {
    if (spec.bytes % dtype_size(expected) != 0) {
      throw LayoutError("cannot view the samples of " + object_of(core.name()) + " as " +
                        std::string(dtype_string(expected)) + ": they are " + spec_string(spec));
    }
    return;
  }
  if (spec.dtype != expected) {
    throw LayoutError("cannot view the samples of " + object_of(core.name()) + " as " +
                      std::string(dtype_string(expected)) + ": they are " + spec_string(spec));
  }
}

ChannelCore::ChannelCore(SharedSegment segment, std::string name)
    : segment_(std::move(segment)), name_(std::move(name)), trailer_(trailer_of(segment_)) {
  const ChannelTrailer& t = *trailer_;
  std::byte* base = segment_.data();
  control_ = std::launder(reinterpret_cast<ChannelControl*>(base));
  subscribers_ = std::launder(reinterpret_cast<ChannelSubscriber*>(base + t.subscribers_offset));
  slots_ = std::launder(reinterpret_cast<ChannelSlot*>(base + t.slots_offset));
  ring_ = std::launder(reinterpret_cast<std::atomic<std::uint32_t>*>(base + t.ring_offset));
  data_ = base + t.data_offset;
  stride_ = t.slot_stride;
  ring_mask_ = t.ring_size - 1;
  slot_count_ = t.slots;
  max_subscribers_ = t.max_subscribers;
  blocking_ = t.policy == static_cast<std::uint32_t>(ChannelOverflow::block);
  sample_ = spec_of(t);
}

std::shared_ptr<ChannelCore> ChannelCore::create(std::string_view name, const ChannelOptions& options) {
  const std::string segment_name = Channel::segment_name(name);
  validate(name, options);
  const SampleSpec& s = options.sample;
  const Geometry g = geometry_of(options.slots, options.max_subscribers, s.bytes, s.align);
  SharedSegment segment = [&] {
    try {
      return SharedSegment::create(segment_name, g.total, options.mode, kWhat);
    } catch (const ExistsError&) {
      // A channel left behind by processes that all died is re-created, so a
      // crashed rig restarts without manual cleanup.
      std::optional<SharedSegment> old;
      try {
        old.emplace(SharedSegment::open(segment_name, kWhat));
      } catch (const NotFoundError&) {
        // removed meanwhile; fall through to create
      } catch (const LayoutError&) {
        // empty for a whole second: its creator died before sizing it
        ::shm_unlink(("/" + segment_name).c_str());
      }
      if (old) {
        if (!abandoned(*old)) {
          throw ExistsError("cannot create " + object_of(name) +
                            ": it exists and a live process created or uses it (open it with Channel::open, "
                            "remove it with Channel::remove or 'shmkit gc', or pick another name)");
        }
        unlink_if_same(segment_name, *old);
      }
      return SharedSegment::create(segment_name, g.total, options.mode, kWhat);
    }
  }();
  // posix_fallocate hands back zeroed pages: every counter starts at 0,
  // every record free and every slot empty, so only the trailer is written.
  new (segment.data()) ChannelControl{};
  auto* t = new (segment.data() + segment.size() - kTrailerBytes) ChannelTrailer{};
  stamp(t->tag, SegmentKind::channel, kChannelLayoutVersion);
  t->sample_kind = static_cast<std::uint32_t>(s.kind);
  t->policy = static_cast<std::uint32_t>(options.overflow);
  t->slots = options.slots;
  t->history = options.history;
  t->max_subscribers = options.max_subscribers;
  t->ring_size = g.ring_size;
  t->sample_bytes = s.bytes;
  t->slot_stride = g.slot_stride;
  t->subscribers_offset = g.subscribers_offset;
  t->slots_offset = g.slots_offset;
  t->ring_offset = g.ring_offset;
  t->data_offset = g.data_offset;
  t->value_align = static_cast<std::uint32_t>(s.align);
  if (s.kind != ChannelSampleKind::value) {
    const std::string_view dtype = dtype_string(s.dtype);
    std::memcpy(t->dtype, dtype.data(), std::min(dtype.size(), sizeof t->dtype));
  }
  if (s.kind == ChannelSampleKind::array) {
    t->ndim = static_cast<std::uint32_t>(s.shape.size());
    std::copy(s.shape.begin(), s.shape.end(), t->shape);
  }
  for (std::uint32_t j = 0; j < options.max_subscribers; ++j) {
    new (segment.data() + g.subscribers_offset + j * sizeof(ChannelSubscriber)) ChannelSubscriber{};
  }
  for (std::uint32_t k = 0; k < options.slots; ++k) {
    new (segment.data() + g.slots_offset + k * sizeof(ChannelSlot)) ChannelSlot{};
  }
  publish(t->tag);
  return std::make_shared<ChannelCore>(std::move(segment), std::string(name));
}

std::shared_ptr<ChannelCore> ChannelCore::open(std::string_view name) {
  const std::string segment_name = Channel::segment_name(name);
  SharedSegment segment = [&] {
    try {
      return SharedSegment::open(segment_name, kWhat);
    } catch (const NotFoundError& e) {
      throw NotFoundError("cannot open " + object_of(name) + ": no segment /dev/shm/" + segment_name +
                              " (create the channel first, e.g. with Channel::create)",
                          e.code());
    }
  }();
  const std::string object = object_of(name) + " (/dev/shm/" + segment_name + ")";
  if (segment.size() < kTrailerBytes) {
    throw LayoutError("cannot open " + object + ": it is too short to hold a shmkit trailer");
  }
  const ChannelTrailer& t = *trailer_of(segment);
  for (int i = 0; i < 1000 && t.tag.magic.load(std::memory_order_acquire) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // its creator is still initialising it
  }
  if (t.tag.magic.load(std::memory_order_acquire) != kSegmentMagic) {
    throw LayoutError("cannot open " + object +
                      ": bad magic, so it is not a shmkit segment or its creator died making it (remove it with "
                      "'shmkit gc' or Channel::remove)");
  }
  if (t.tag.kind != static_cast<std::uint32_t>(SegmentKind::channel)) {
    throw LayoutError("cannot open " + object + ": it is a shmkit " +
                      std::string(to_string(static_cast<SegmentKind>(t.tag.kind))) + " segment, not a channel");
  }
  if (t.tag.layout_version != kChannelLayoutVersion) {
    throw LayoutError("cannot open " + object + ": layout version " + std::to_string(t.tag.layout_version) +
                      ", this shmkit reads version " + std::to_string(kChannelLayoutVersion));
  }
  const bool kind_ok = t.sample_kind <= static_cast<std::uint32_t>(ChannelSampleKind::variable_array);
  const std::uint32_t align = t.value_align == 0 ? 1 : t.value_align;
  const Geometry g = geometry_of(t.slots, t.max_subscribers, t.sample_bytes, align);
  if (!kind_ok || t.slots < 3 || t.slots > 65536 || t.max_subscribers == 0 ||
      t.max_subscribers > kMaxChannelSubscribers || t.ndim > kMaxChannelDims || g.total != segment.size() ||
      g.ring_size != t.ring_size || g.slot_stride != t.slot_stride || g.data_offset != t.data_offset ||
      g.subscribers_offset != t.subscribers_offset || g.slots_offset != t.slots_offset ||
      g.ring_offset != t.ring_offset) {
    throw LayoutError("cannot open " + object + ": its geometry does not fit its size (a damaged segment; remove it)");
  }
  if (t.sample_kind != static_cast<std::uint32_t>(ChannelSampleKind::value)) {
    char text[9] = {};
    std::memcpy(text, t.dtype, sizeof t.dtype);
    try {
      (void)parse_dtype(text);
    } catch (const Error&) {
      throw LayoutError("cannot open " + object + ": its dtype '" + std::string(text) + "' is not one shmkit knows");
    }
  }
  return std::make_shared<ChannelCore>(std::move(segment), std::string(name));
}

std::size_t ChannelCore::reclaim_dead() const noexcept {
  const ProcessIdentity self = current_process();
  const std::uint64_t mine = owner_word(self.pid, ChannelOwnerState::reclaiming);
  std::size_t reclaimed = 0;
  // A reclaim is idempotent (it only clears bits and frees the record), so
  // one whose reclaimer died half-way is simply redone.
  auto take = [&](std::atomic<std::uint64_t>& owner, std::uint64_t ticks) {
    std::uint64_t word = owner.load(std::memory_order_acquire);
    if (word == 0 || owner_pid(word) == self.pid) {
      return false;
    }
    if (owner_state(word) == ChannelOwnerState::reclaiming ? is_alive({owner_pid(word), 0})
                                                           : alive_owner(word, ticks)) {
      return false;
    }
    return owner.compare_exchange_strong(word, mine, std::memory_order_acq_rel);
  };
  for (std::uint32_t j = 0; j < max_subscribers_; ++j) {
    ChannelSubscriber& s = subscribers_[j];
    if (!take(s.owner, s.start_ticks.load(std::memory_order_relaxed))) {
      continue;
    }
    const std::uint64_t bit = std::uint64_t{1} << j;
    for (std::uint32_t k = 0; k < slot_count_; ++k) {
      slots_[k].holders.fetch_and(~bit, std::memory_order_acq_rel);
    }
    if (s.waiting.exchange(0, std::memory_order_acq_rel) != 0) {
      control_->waiters.fetch_sub(1, std::memory_order_acq_rel);
    }
    s.owner.store(0, std::memory_order_release);
    control_->reclaimed.fetch_add(1, std::memory_order_relaxed);
    ++reclaimed;
  }
  if (take(control_->publisher_owner, control_->publisher_start_ticks.load(std::memory_order_relaxed))) {
    // The dead publisher's loans were never published; their slots come
    // back empty (sequence 0), so nobody ever reads a half-written sample.
    for (std::uint32_t k = 0; k < slot_count_; ++k) {
      ChannelSlot& slot = slots_[k];
      if ((slot.holders.load(std::memory_order_acquire) & kSlotLoaned) != 0) {
        slot.sequence.store(0, std::memory_order_relaxed);
        slot.holders.fetch_and(~kSlotLoaned, std::memory_order_release);
      }
    }
    control_->publisher_waiting.store(0, std::memory_order_relaxed);
    control_->publisher_owner.store(0, std::memory_order_release);
    control_->reclaimed.fetch_add(1, std::memory_order_relaxed);
    ++reclaimed;
  }
  if (reclaimed > 0) {
    // A publisher blocked on the dead subscriber can go on.
    control_->space_futex.fetch_add(1, std::memory_order_release);
    futex_wake_all(control_->space_futex);
  }
  return reclaimed;
}

ChannelInfo ChannelCore::info() const {
  const ChannelTrailer& t = *trailer_;
  ChannelInfo info;
  info.name = name_;
  info.segment_name = Channel::segment_name(name_);
  info.sample = sample_;
  info.slots = t.slots;
  info.history = t.history;
  info.max_subscribers = t.max_subscribers;
  info.overflow = static_cast<ChannelOverflow>(t.policy);
  info.segment_bytes = segment_.size();
  info.creator = creator_of(t.tag);
  info.creator_alive = is_alive(info.creator);
  info.published = control_->published.load(std::memory_order_acquire);
  info.last_publish_unix_ns = static_cast<std::int64_t>(control_->publish_unix_ns.load(std::memory_order_relaxed));
  if (const std::uint64_t word = control_->publisher_owner.load(std::memory_order_acquire); word != 0) {
    const std::uint64_t ticks = control_->publisher_start_ticks.load(std::memory_order_relaxed);
    info.publisher = ProcessIdentity{owner_pid(word), ticks};
    info.publisher_alive = alive_owner(word, ticks);
  }
  info.loans_failed = control_->loans_failed.load(std::memory_order_relaxed);
  info.reclaimed = control_->reclaimed.load(std::memory_order_relaxed);
  std::vector<std::uint64_t> holders(slot_count_);
  for (std::uint32_t k = 0; k < slot_count_; ++k) {
    holders[k] = slots_[k].holders.load(std::memory_order_acquire);
    info.free_slots += holders[k] == 0 ? 1 : 0;
  }
  for (std::uint32_t j = 0; j < max_subscribers_; ++j) {
    const ChannelSubscriber& s = subscribers_[j];
    const std::uint64_t word = s.owner.load(std::memory_order_acquire);
    if (word == 0) {
      continue;
    }
    ChannelSubscriberInfo sub;
    sub.index = j;
    sub.process = {owner_pid(word), s.start_ticks.load(std::memory_order_relaxed)};
    sub.alive = alive_owner(word, sub.process.start_ticks);
    sub.cursor = s.cursor.load(std::memory_order_relaxed);
    sub.received = s.received.load(std::memory_order_relaxed);
    sub.missed = s.missed.load(std::memory_order_relaxed);
    sub.skipped = s.skipped.load(std::memory_order_relaxed);
    for (const std::uint64_t h : holders) {
      sub.holding += (h >> j) & 1U;
    }
    info.subscribers.push_back(sub);
  }
  return info;
}

void ChannelCore::expect(const SampleSpec& e) const {
  const SampleSpec& s = sample_;
  const bool same = s.kind == e.kind && s.bytes == e.bytes &&
                    (s.kind == ChannelSampleKind::value ? s.align == e.align : s.dtype == e.dtype) &&
                    (s.kind != ChannelSampleKind::array || s.shape == e.shape);
  if (!same) {
    throw LayoutError("channel '" + name_ + "' carries " + spec_string(s) + ", not the expected " + spec_string(e) +
                      " (open it with the sample type it was created with, or re-create it)");
  }
}

}  // namespace detail

// ---- Channel ----------------------------------------------------------------

std::string Channel::segment_name(std::string_view name) {
  validate_name(name, "channel");
  const std::string segment = std::string(kChannelSegmentPrefix) + std::string(name);
  if (segment.size() > kMaxNameLength) {
    throw NameError("invalid channel name '" + std::string(name) + "': it is " + std::to_string(name.size()) +
                    " characters long; the limit is " +
                    std::to_string(kMaxNameLength - std::string_view(kChannelSegmentPrefix).size()) +
                    " (the segment name adds the prefix '" + kChannelSegmentPrefix + "')");
  }
  return segment;
}

Channel Channel::create(std::string_view name, const ChannelOptions& options) {
  return Channel(detail::ChannelCore::create(name, options));
}

Channel Channel::open(std::string_view name) {
  return Channel(detail::ChannelCore::open(name));
}

Channel Channel::open_or_create(std::string_view name, const ChannelOptions& options) {
  for (int attempt = 0;; ++attempt) {
    try {
      Channel channel = open(name);
      channel.expect(options.sample);
      return channel;
    } catch (const NotFoundError&) {
    }
    try {
      return create(name, options);
    } catch (const ExistsError&) {
      if (attempt == 2) {
        throw;
      }
      // another process created it between our open and create: open that one
    }
  }
}

bool Channel::remove(std::string_view name) {
  return detail::SharedSegment::unlink(segment_name(name), detail::ChannelCore::kWhat);
}

std::size_t Channel::reclaim_dead() const {
  return core_->reclaim_dead();
}

ChannelInfo Channel::info() const {
  return core_->info();
}

void Channel::expect(const SampleSpec& expected) const {
  core_->expect(expected);
}

const std::string& Channel::name() const noexcept {
  return core_->name();
}

const SampleSpec& Channel::sample() const noexcept {
  return core_->sample();
}

DynamicPublisher Channel::publisher() const {
  return DynamicPublisher(*this);
}

DynamicSubscriber Channel::subscriber(const SubscriberOptions& options) const {
  return DynamicSubscriber(*this, options);
}

}  // namespace shmkit
