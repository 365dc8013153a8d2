#pragma once
// Redis key names the log forwarder and collector share (P is the prefix):
//   P:log:origins               set of "<host>:<instance>"
//   P:log:<host>:<instance>     the stream of one origin
//   P:logfwd:<host>:<instance>  hash: r<slot> = "<segment ns>:<generation>:<position>"
//                               of the last entry forwarded, n<source> = its last sequence
// Host ids and instance names are shmkit names, so ':' separates them.
//
// A stream entry has one field, "e": [source u8][sequence u64][time u64]
// (little-endian) then the payload. One field rather than four: Redis
// appends a single-field entry about 1.5x faster.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/detail/little_endian.hpp"

namespace shmkit::detail {

inline std::string log_origins_key(std::string_view prefix) {
  return std::string(prefix) + ":log:origins";
}
inline std::string log_origin(std::string_view host, std::string_view instance) {
  return std::string(host) + ":" + std::string(instance);
}
inline std::string log_stream_key(std::string_view prefix, std::string_view origin) {
  return std::string(prefix) + ":log:" + std::string(origin);
}
inline std::string log_forward_state_key(std::string_view prefix, std::string_view origin) {
  return std::string(prefix) + ":logfwd:" + std::string(origin);
}

inline constexpr std::size_t kLogEntryHeaderBytes = 17;

inline void encode_log_entry_header(char* out, std::uint8_t source, std::uint64_t sequence, std::uint64_t time) {
  out[0] = static_cast<char>(source);
  store_le<std::uint64_t>(out + 1, sequence);
  store_le<std::uint64_t>(out + 9, time);
}

struct DecodedLogEntry {
  std::uint8_t source = 0;
  std::uint64_t sequence = 0;
  std::uint64_t time = 0;
  std::string_view payload;
};

/// False when `value` is too short to be an entry.
inline bool decode_log_entry(std::string_view value, DecodedLogEntry& out) {
  if (value.size() < kLogEntryHeaderBytes) {
    return false;
  }
  out.source = static_cast<std::uint8_t>(value[0]);
  out.sequence = load_le<std::uint64_t>(value.data() + 1);
  out.time = load_le<std::uint64_t>(value.data() + 9);
  out.payload = value.substr(kLogEntryHeaderBytes);
  return true;
}

}  // namespace shmkit::detail
