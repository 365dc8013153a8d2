#pragma once
/// @file
/// One log entry (ataraxis `LogPackage`) and the names and bytes it becomes
/// in an archive.
///
/// An entry is `source_id` (uint8), `acquisition_time` (uint64, µs since the
/// source's onset by convention) and payload bytes. The onset entry of a
/// source has acquisition_time 0 and an 8-byte payload: the UTC epoch in µs
/// (little-endian uint64) at which the source's clock started.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace shmkit {

/// A log entry whose payload is borrowed from the caller.
struct LogPackage {
  std::uint8_t source_id = 0;
  std::uint64_t acquisition_time = 0;
  std::span<const std::byte> payload;
};

/// A log entry that owns its payload (what readers hand back).
struct LogEntry {
  std::uint8_t source_id = 0;
  std::uint64_t acquisition_time = 0;
  std::vector<std::byte> payload;
};

/// Acquisition time of a source's onset entry.
inline constexpr std::uint64_t kOnsetTime = 0;

/// Size of the onset entry's payload (UTC epoch µs, uint64 little-endian).
inline constexpr std::size_t kOnsetPayloadBytes = 8;

/// Bytes that precede the payload in an entry's serialised form:
/// `[source_id u8][acquisition_time u64 little-endian]`.
inline constexpr std::size_t kEntryPrefixBytes = 9;

/// The archive member name of an entry: `{source_id:03d}_{acquisition_time:020d}.npy`.
[[nodiscard]] std::string member_name(std::uint8_t source_id, std::uint64_t acquisition_time);

/// The archive of one source inside a log directory: `{source_id}_log.npz`
/// (no zero padding, as ataraxis names it).
[[nodiscard]] std::string archive_name(std::uint8_t source_id);

/// Writes the 9-byte entry prefix `[source u8][time u64 LE]` to `out`.
void encode_entry_prefix(std::uint8_t source_id, std::uint64_t acquisition_time,
                         std::span<std::byte, kEntryPrefixBytes> out) noexcept;

/// Current UTC time as µs since the Unix epoch (the onset payload's value).
[[nodiscard]] std::uint64_t utc_now_us() noexcept;

}  // namespace shmkit
