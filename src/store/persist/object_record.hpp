#pragma once
// How the store writes one object into LMDB (persistence, spill and
// snapshots alike): [RecordHeader][data][metadata], native little-endian.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>

#include <shmkit/store/object_id.hpp>

namespace shmkit::detail {

inline constexpr std::uint32_t kRecordMagic = 0x31'52'4b'53;  // "SKR1"

struct RecordHeader {
  std::uint32_t magic;
  std::int32_t creator_pid;
  std::uint8_t id[ObjectId::kSize];
  std::uint32_t unused;
  std::uint64_t data_size;
  std::uint64_t metadata_size;
  std::int64_t created_unix_ns;
};
static_assert(std::is_trivially_copyable_v<RecordHeader> && sizeof(RecordHeader) == 56,
              "records are read back by other builds of the same layout");

// One object's bytes and provenance, pointing into the arena or into LMDB.
struct ObjectRecord {
  ObjectId id;
  std::span<const std::byte> data;
  std::span<const std::byte> metadata;
  pid_t creator_pid = 0;
  std::int64_t created_unix_ns = 0;

  [[nodiscard]] std::size_t encoded_size() const noexcept {
    return sizeof(RecordHeader) + data.size() + metadata.size();
  }

  // Writes the record to `out` (encoded_size() bytes).
  void encode(std::byte* out) const noexcept {
    RecordHeader h{};
    h.magic = kRecordMagic;
    h.creator_pid = creator_pid;
    std::memcpy(h.id, id.bytes.data(), ObjectId::kSize);
    h.data_size = data.size();
    h.metadata_size = metadata.size();
    h.created_unix_ns = created_unix_ns;
    std::memcpy(out, &h, sizeof(h));
    if (!data.empty()) {
      std::memcpy(out + sizeof(h), data.data(), data.size());
    }
    if (!metadata.empty()) {
      std::memcpy(out + sizeof(h) + data.size(), metadata.data(), metadata.size());
    }
  }

  // The record stored in `bytes`, or nullopt if they are not one.
  [[nodiscard]] static std::optional<ObjectRecord> decode(std::span<const std::byte> bytes) noexcept {
    RecordHeader h{};
    if (bytes.size() < sizeof(h)) {
      return std::nullopt;
    }
    std::memcpy(&h, bytes.data(), sizeof(h));
    const std::uint64_t body = bytes.size() - sizeof(h);
    if (h.magic != kRecordMagic || h.data_size > body || h.metadata_size != body - h.data_size) {
      return std::nullopt;
    }
    ObjectRecord r;
    std::memcpy(r.id.bytes.data(), h.id, ObjectId::kSize);
    r.data = bytes.subspan(sizeof(h), h.data_size);
    r.metadata = bytes.subspan(sizeof(h) + h.data_size);
    r.creator_pid = h.creator_pid;
    r.created_unix_ns = h.created_unix_ns;
    return r;
  }
};

}  // namespace shmkit::detail
