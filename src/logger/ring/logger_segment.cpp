#include "logger/ring/logger_segment.hpp"

#include <shmkit/core/error.hpp>
#include <shmkit/core/name.hpp>

#include <bit>
#include <chrono>
#include <new>
#include <thread>

namespace shmkit::detail {

namespace {

constexpr std::string_view kWhat = "logger segment";

LoggerTrailer* trailer_of(const SharedSegment& segment) {
  return std::launder(reinterpret_cast<LoggerTrailer*>(segment.data() + segment.size() - kTrailerBytes));
}

}  // namespace

std::string LoggerSegment::segment_name(std::string_view instance) {
  validate_name(instance, "logger instance");
  const std::string name = std::string(kLoggerSegmentPrefix) + std::string(instance);
  if (name.size() > kMaxNameLength) {
    throw NameError("invalid logger instance name '" + std::string(instance) + "': it is " +
                    std::to_string(instance.size()) + " characters long; the limit is " +
                    std::to_string(kMaxNameLength - std::string_view(kLoggerSegmentPrefix).size()) +
                    " (the segment name adds the prefix '" + kLoggerSegmentPrefix + "')");
  }
  return name;
}

LoggerSegment::LoggerSegment(SharedSegment segment, std::string instance)
    : segment_(std::move(segment)), instance_(std::move(instance)), trailer_(trailer_of(segment_)) {}

LoggerSegment LoggerSegment::create(std::string_view instance, std::uint32_t max_writers, std::size_t ring_bytes,
                                    mode_t mode) {
  const std::string name = segment_name(instance);
  if (max_writers == 0 || max_writers > 4096) {
    throw Error("cannot create the logger segment for instance '" + std::string(instance) + "': max_writers is " +
                std::to_string(max_writers) + ", use 1..4096");
  }
  const std::uint64_t ring = std::bit_ceil(std::max<std::uint64_t>(ring_bytes, 64 * 1024));
  if (ring > (std::uint64_t{1} << 32)) {
    throw Error("cannot create the logger segment for instance '" + std::string(instance) +
                "': ring_bytes above 4 GiB is not supported");
  }
  const std::uint64_t stride = kRingHeaderBytes + ring;
  const std::uint64_t size = stride * max_writers + round_up(kTrailerBytes, page_size());
  SharedSegment segment = SharedSegment::create(name, size, mode, kWhat);
  // posix_fallocate hands back zeroed pages: every ring starts empty and
  // every slot free, so only the trailer needs initialising.
  for (std::uint32_t slot = 0; slot < max_writers; ++slot) {
    new (segment.data() + slot * stride) RingHeader{};
  }
  auto* t = new (segment.data() + segment.size() - kTrailerBytes) LoggerTrailer{};
  stamp(t->tag, SegmentKind::logger, kLoggerLayoutVersion);
  t->max_writers = max_writers;
  t->ring_bytes = ring;
  t->ring_stride = stride;
  t->logger_pid.store(0, std::memory_order_relaxed);
  publish(t->tag);
  return LoggerSegment(std::move(segment), std::string(instance));
}

LoggerSegment LoggerSegment::open(std::string_view instance) {
  const std::string name = segment_name(instance);
  SharedSegment segment = [&] {
    try {
      return SharedSegment::open(name, kWhat);
    } catch (const NotFoundError& e) {
      throw NotFoundError("cannot connect to logger instance '" + std::string(instance) + "': no segment /dev/shm/" +
                              name + " (start a DataLogger with that instance name first)",
                          e.code());
    }
  }();
  const std::string object = "logger segment '" + name + "'";
  if (segment.size() < kTrailerBytes) {
    throw LayoutError("cannot open " + object + ": it is too short to hold a shmkit trailer");
  }
  const LoggerTrailer& t = *trailer_of(segment);
  for (int i = 0; i < 1000 && t.tag.magic.load(std::memory_order_acquire) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // its creator is still initialising it
  }
  if (t.tag.magic.load(std::memory_order_acquire) != kSegmentMagic) {
    throw LayoutError("cannot open " + object +
                      ": bad magic, so it is not a shmkit segment (remove it with 'shmkit gc')");
  }
  if (t.tag.kind != static_cast<std::uint32_t>(SegmentKind::logger)) {
    throw LayoutError("cannot open " + object + ": it is a shmkit " +
                      std::string(to_string(static_cast<SegmentKind>(t.tag.kind))) + " segment, not a logger");
  }
  if (t.tag.layout_version != kLoggerLayoutVersion) {
    throw LayoutError("cannot open " + object + ": layout version " + std::to_string(t.tag.layout_version) +
                      ", this shmkit reads version " + std::to_string(kLoggerLayoutVersion));
  }
  if (t.max_writers == 0 || !std::has_single_bit(t.ring_bytes) || t.ring_stride != kRingHeaderBytes + t.ring_bytes ||
      t.ring_stride * t.max_writers + kTrailerBytes > segment.size()) {
    throw LayoutError("cannot open " + object + ": its geometry does not fit its size");
  }
  return LoggerSegment(std::move(segment), std::string(instance));
}

RingView LoggerSegment::ring(std::uint32_t slot) const noexcept {
  std::byte* base = segment_.data() + static_cast<std::size_t>(slot) * trailer_->ring_stride;
  RingView view;
  view.header = std::launder(reinterpret_cast<RingHeader*>(base));
  view.data = base + kRingHeaderBytes;
  view.capacity = trailer_->ring_bytes;
  view.mask = trailer_->ring_bytes - 1;
  return view;
}

}  // namespace shmkit::detail
