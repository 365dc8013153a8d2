#pragma once
// Redis key names the log forwarder and collector share (P is the prefix):
//   P:log:origins               set of "<host>:<instance>"
//   P:log:<host>:<instance>     the stream of one origin
//   P:logfwd:<host>:<instance>  hash: r<slot> = "<segment ns>:<generation>:<position>"
//                               of the last entry forwarded, n<source> = its last sequence,
//                               epoch = a random id made when the hash is created
// Host ids and instance names are shmkit names, so ':' separates them.
//
// A stream message has two fields: "g", the epoch of the forward state
// that numbered its entries, and "e": one or more log entries, each
// [payload length u32][source u8][sequence u64][time u64] (little-endian)
// then the payload. Small entries travel many to a message (up to
// kLogPackBytes): Redis appends messages, not entries, at a few hundred
// thousand per second, and the entries' own (origin, source, sequence)
// is what the collector goes by.

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

inline constexpr std::size_t kLogEntryHeaderBytes = 21;
/// A message takes more entries while it is smaller than this.
inline constexpr std::size_t kLogPackBytes = std::size_t{64} << 10;

inline void encode_log_entry_header(char* out, std::uint32_t length, std::uint8_t source, std::uint64_t sequence,
                                    std::uint64_t time) {
  store_le<std::uint32_t>(out, length);
  out[4] = static_cast<char>(source);
  store_le<std::uint64_t>(out + 5, sequence);
  store_le<std::uint64_t>(out + 13, time);
}

struct DecodedLogEntry {
  std::uint8_t source = 0;
  std::uint64_t sequence = 0;
  std::uint64_t time = 0;
  std::string_view payload;
};

/// Takes the next entry off the front of `value`; false when `value` does
/// not start with a complete entry.
inline bool decode_log_entry(std::string_view& value, DecodedLogEntry& out) {
  if (value.size() < kLogEntryHeaderBytes) {
    return false;
  }
  const auto length = load_le<std::uint32_t>(value.data());
  if (value.size() - kLogEntryHeaderBytes < length) {
    return false;
  }
  out.source = static_cast<std::uint8_t>(value[4]);
  out.sequence = load_le<std::uint64_t>(value.data() + 5);
  out.time = load_le<std::uint64_t>(value.data() + 13);
  out.payload = value.substr(kLogEntryHeaderBytes, length);
  value.remove_prefix(kLogEntryHeaderBytes + length);
  return true;
}

}  // namespace shmkit::detail
