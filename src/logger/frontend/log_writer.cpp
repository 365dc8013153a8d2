#include <shmkit/core/error.hpp>
#include <shmkit/core/process.hpp>
#include <shmkit/logger/log_writer.hpp>

#include <atomic>
#include <chrono>

#include "core/detail/little_endian.hpp"
#include "logger/ring/byte_ring.hpp"
#include "logger/ring/logger_segment.hpp"
#include "logger/ring/saver_wake.hpp"

namespace shmkit {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

struct LogWriter::Impl {
  detail::LoggerSegment segment;
  detail::RingProducer ring;
  std::uint32_t slot = 0;
  LogWriterOptions options;
  std::uint64_t next_wake_check = 0;  // head position of the next check_saver_awake()
  std::uint64_t max_chunk = 0;
  std::uint64_t logged = 0;
  std::uint64_t dropped = 0;
  Clock::time_point onset = Clock::now();

  explicit Impl(detail::LoggerSegment s) : segment(std::move(s)) {}

  bool reserve(std::uint64_t need, FullPolicy policy) noexcept {
    if (ring.try_reserve(need)) {
      return true;
    }
    return policy == FullPolicy::block && ring.wait_for_space<Clock>(need, Clock::now() + options.block_timeout,
                                                                     [this] { detail::wake_saver(segment.trailer()); });
  }

  void put(RingRecordKind kind, std::uint8_t source, std::uint64_t time, std::uint32_t total, const std::byte* bytes,
           std::uint32_t chunk) noexcept {
    ring.put(kind, source, time, total, bytes, chunk);
    if (ring.head() >= next_wake_check) {
      check_saver_awake();
    }
  }

  // Wakes the saver if the ring is more than half full. Reading the real
  // tail (a cache line the saver writes) and fencing on every put would
  // double log()'s p50 once the saver lags, so this runs once per half ring
  // of writes at most: when the ring was found half full, the saver is
  // awake and sleeps again only after emptying every ring, so the ring can
  // next pass half full only after another half ring of writes.
  void check_saver_awake() noexcept {
    const std::uint64_t half = ring.capacity() / 2;
    if (ring.used() > half) {
      detail::wake_saver(segment.trailer());
      next_wake_check = ring.head() + half;
    } else {
      next_wake_check = ring.cached_tail() + half + 1;
    }
  }

  bool drop() noexcept {
    ring.header().dropped.store(++dropped, std::memory_order_relaxed);
    return false;
  }

  bool log(std::uint8_t source, std::uint64_t time, std::span<const std::byte> payload) noexcept {
    if (payload.size() > 0xffffffffU) {
      return drop();
    }
    const auto total = static_cast<std::uint32_t>(payload.size());
    if (total <= max_chunk) {
      if (!reserve(detail::ring_record_bytes(total), options.policy)) {
        return drop();
      }
      put(RingRecordKind::whole, source, time, total, payload.data(), total);
    } else {
      // Chunks after the first always wait (the saver is draining them as
      // they come); if one times out, the saver discards the partial entry
      // when this writer's next entry starts.
      for (std::uint64_t offset = 0; offset < total;) {
        const auto chunk = static_cast<std::uint32_t>(std::min<std::uint64_t>(max_chunk, total - offset));
        const bool first = offset == 0;
        const RingRecordKind kind =
            first ? RingRecordKind::first : (offset + chunk == total ? RingRecordKind::last : RingRecordKind::middle);
        if (!reserve(detail::ring_record_bytes(chunk), first ? options.policy : FullPolicy::block)) {
          return drop();
        }
        put(kind, source, time, total, payload.data() + offset, chunk);
        offset += chunk;
      }
    }
    ring.header().logged.store(++logged, std::memory_order_relaxed);
    return true;
  }
};

LogWriter LogWriter::connect(std::string_view instance_name, const LogWriterOptions& options) {
  auto impl = std::make_unique<Impl>(detail::LoggerSegment::open(instance_name));
  const std::uint32_t slots = impl->segment.max_writers();
  const ProcessIdentity self = current_process();
  for (std::uint32_t slot = 0; slot < slots; ++slot) {
    detail::RingView ring = impl->segment.ring(slot);
    RingHeader& h = *ring.header;
    auto expected = static_cast<std::uint32_t>(WriterSlotState::free);
    if (!h.state.compare_exchange_strong(expected, static_cast<std::uint32_t>(WriterSlotState::claiming),
                                         std::memory_order_acq_rel)) {
      continue;
    }
    h.owner_pid = self.pid;
    h.owner_start_ticks = self.start_ticks;
    h.generation.fetch_add(1, std::memory_order_relaxed);
    h.logged.store(0, std::memory_order_relaxed);
    h.dropped.store(0, std::memory_order_relaxed);
    h.producer_waiting.store(0, std::memory_order_relaxed);
    impl->ring = detail::RingProducer(ring);
    impl->slot = slot;
    impl->options = options;
    impl->next_wake_check = impl->ring.cached_tail() + ring.capacity / 2 + 1;
    impl->max_chunk = impl->ring.max_chunk();
    h.state.store(static_cast<std::uint32_t>(WriterSlotState::active), std::memory_order_release);
    return LogWriter(std::move(impl));
  }
  throw Error("cannot connect to logger instance '" + std::string(instance_name) + "': all " + std::to_string(slots) +
              " writer slots are in use (raise DataLoggerOptions::max_writers; slots of dead writers are freed by "
              "a running logger)");
}

LogWriter::LogWriter(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
LogWriter::LogWriter(LogWriter&&) noexcept = default;

LogWriter& LogWriter::operator=(LogWriter&& other) noexcept {
  if (this != &other) {
    if (impl_) {
      impl_->ring.header().state.store(static_cast<std::uint32_t>(WriterSlotState::closed), std::memory_order_release);
    }
    impl_ = std::move(other.impl_);
  }
  return *this;
}

LogWriter::~LogWriter() {
  if (impl_) {
    impl_->ring.header().state.store(static_cast<std::uint32_t>(WriterSlotState::closed), std::memory_order_release);
  }
}

bool LogWriter::log(std::uint8_t source_id, std::uint64_t acquisition_time,
                    std::span<const std::byte> payload) noexcept {
  return impl_ && impl_->log(source_id, acquisition_time, payload);
}

bool LogWriter::write_onset(std::uint8_t source_id) noexcept {
  if (!impl_) {
    return false;
  }
  std::byte payload[kOnsetPayloadBytes];
  detail::store_le<std::uint64_t>(payload, utc_now_us());
  impl_->onset = Clock::now();
  return impl_->log(source_id, kOnsetTime, payload);
}

std::uint64_t LogWriter::elapsed_us() const noexcept {
  if (!impl_) {
    return 0;
  }
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - impl_->onset).count());
}

LogWriterStats LogWriter::stats() const noexcept {
  if (!impl_) {
    return {};
  }
  return {impl_->logged, impl_->dropped};
}

std::uint32_t LogWriter::slot() const noexcept {
  return impl_ ? impl_->slot : 0;
}

std::size_t LogWriter::max_chunk_bytes() const noexcept {
  return impl_ ? impl_->max_chunk : 0;
}

}  // namespace shmkit
