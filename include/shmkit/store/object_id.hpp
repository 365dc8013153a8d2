#pragma once
/// @file
/// The 20-byte identifier of a stored object (Plasma's ObjectID).

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace shmkit {

/// A 20-byte object id. Ids are chosen by the caller (a hash of the content,
/// a counter, random bytes) and are write-once within a store.
struct ObjectId {
  static constexpr std::size_t kSize = 20;
  std::array<std::uint8_t, kSize> bytes{};

  /// Parses 40 hexadecimal characters (either case).
  /// @throws NameError naming the offending character, or the wrong length
  [[nodiscard]] static ObjectId from_hex(std::string_view hex);

  /// The first 20 bytes of `raw`, zero-padded when shorter (convenient for
  /// ids made from short strings in tests and examples).
  [[nodiscard]] static ObjectId from_bytes(std::string_view raw) noexcept;

  /// 40 lowercase hexadecimal characters.
  [[nodiscard]] std::string hex() const;

  friend bool operator==(const ObjectId&, const ObjectId&) = default;
};

/// Hash for unordered containers; the id bytes are already well mixed when
/// they are content hashes, but test ids are not, so this mixes them (FNV-1a).
struct ObjectIdHash {
  [[nodiscard]] std::size_t operator()(const ObjectId& id) const noexcept {
    std::uint64_t h = 1469598103934665603ULL;
    for (const std::uint8_t b : id.bytes) {
      h = (h ^ b) * 1099511628211ULL;
    }
    return static_cast<std::size_t>(h);
  }
};

}  // namespace shmkit
