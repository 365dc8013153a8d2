#pragma once
/// @file
/// Where a DataLogger puts the entries it drains when they are not meant for
/// local record files (the Redis forwarder of the bridge is one). The logger
/// hands every complete entry to `write`, then calls `commit`, and releases
/// the entries' ring space only after `commit` returned: a sink that throws
/// keeps them in the rings, and they are handed to it again later.
///
/// Every entry names where it came from in the rings (`LogSinkEntry::ring`):
/// the same entry handed over again, by this logger after a failed commit or
/// by a successor after a crash, carries the same position, so a sink can
/// recognise what it already took.

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include <shmkit/core/error.hpp>

namespace shmkit {

/// Where an entry sat in the logger's rings; increases with every entry of
/// one writer generation in one segment.
struct RingPosition {
  std::int64_t segment_created_ns = 0;  ///< creation time of the logger segment (tells a recreated one apart)
  std::uint32_t slot = 0;               ///< writer slot
  std::uint64_t generation = 0;         ///< the slot's writer generation (bumped on every connect)
  std::uint64_t position = 0;           ///< ring byte position of the entry's first record
};

/// One complete entry; the payload is `first` followed by `second` (a ring
/// that wrapped hands it over in two pieces). Valid during `write` only.
struct LogSinkEntry {
  RingPosition ring;
  std::uint8_t source_id = 0;
  std::uint64_t acquisition_time = 0;
  std::span<const std::byte> first;
  std::span<const std::byte> second;
  [[nodiscard]] std::size_t size() const noexcept { return first.size() + second.size(); }
};

/// Thrown by a sink whose destination is unavailable for now (it has said
/// so itself): the logger keeps the entries in the rings and retries
/// without reporting an error each time.
class LogSinkUnavailable : public Error {
 public:
  using Error::Error;
};

/// The destination of a sink-driven DataLogger. Called from the logger's
/// thread only.
class LogSink {
 public:
  virtual ~LogSink() = default;
  /// Whether the destination can take entries now; while false the logger
  /// does not drain (the writers' ring policy applies). May reconnect.
  [[nodiscard]] virtual bool ready() = 0;
  /// Takes one entry (copying what it keeps).
  virtual void write(const LogSinkEntry& entry) = 0;
  /// Makes every entry written since the last commit durable at the
  /// destination. @throws anything to keep them in the rings
  ///         (LogSinkUnavailable: without an error report)
  virtual void commit() = 0;
  /// Forgets the entries written since the last commit (after a failure).
  virtual void abandon() noexcept = 0;
};

}  // namespace shmkit
