#pragma once
// The provenance of a bridged value, the order last-writer-wins decides by,
// and the trailer that marks a value the bridge imported, so it is never
// exported again (the mark lives in the object, so it survives a restart
// of the bridge).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace shmkit::detail {

struct Stamp {
  // Origin time as 20 decimal digits (nanoseconds since the epoch): compared
  // as text, inside Redis's Lua too, where numbers are doubles and would
  // round nanoseconds away.
  std::string ts;
  std::string origin;
  std::uint64_t seq = 0;  // per-origin sequence number Redis assigned; 0 before
  bool deleted = false;
};

// True when `a` wins over `b`: a later (ts, origin).
[[nodiscard]] bool newer(const Stamp& a, const Stamp& b) noexcept;

[[nodiscard]] std::string format_ts(std::int64_t unix_ns);
[[nodiscard]] std::string now_ts();

// `metadata` followed by the trailer for `stamp`.
[[nodiscard]] std::vector<std::byte> with_trailer(std::span<const std::byte> metadata, const Stamp& stamp);

// The stamp of an imported object's metadata, or nullopt for a value set
// locally. `original` (if given) receives the metadata without the trailer.
[[nodiscard]] std::optional<Stamp> read_trailer(std::span<const std::byte> metadata,
                                                std::span<const std::byte>* original = nullptr);

}  // namespace shmkit::detail
