#pragma once
// The control-plane protocol on the store's Unix socket: frames of
// [u32 body length][body], little-endian, the body starting with a type
// (requests) or a status (replies). A client sends one request and reads
// one reply, except for notices, which have no reply. The server's first
// frame on a new connection is a Welcome carrying the arena memfd.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <shmkit/store/object_id.hpp>

namespace shmkit::detail {

static_assert(std::endian::native == std::endian::little, "the store protocol is little-endian");

inline constexpr std::uint32_t kMaxFrameBytes = 1U << 24;  // larger requests are hostile: disconnect
inline constexpr std::uint32_t kMaxReplyBytes = 1U << 30;  // a list of millions of objects is one reply
inline constexpr std::uint32_t kMaxBatch = 65536;

enum class Request : std::uint8_t {
  create = 1,           // u32 n, n x {id, u64 data_size, u64 metadata_size} -> n x {u32 index, u32 gen, u64 offset}
  abort = 2,            // id -> -
  remove = 3,           // id -> u8 deferred
  evict = 4,            // u64 bytes -> u64 freed
  list = 5,             // - -> u32 n, n x info
  subscribe = 6,        // - -> -, then event frames only
  sealed_notice = 7,    // u32 index, u32 gen (no reply)
  released_notice = 8,  // u32 index, u32 gen (no reply)
  // Names; texts are u32 length + bytes.
  put_name = 9,           // text ns, text name, id -> -
  get_name = 10,          // text ns, text name, u8 wait -> id (wait: no reply until bound)
  drop_name = 11,         // text ns, text name -> -
  list_names = 12,        // text ns, text prefix -> u32 n, n x {text name, id}
  namespaces = 13,        // - -> u32 n, n x {text ns, u64 names}
  remove_namespace = 14,  // text ns -> u64 names dropped
  // Create, fill, seal and bind in one round trip (small values).
  put_value = 15,  // text ns, text name, id, u64 data_size, u64 metadata_size, data, metadata -> -
  restore = 16,    // id -> - (moves a spilled object back into the arena)
  snapshot = 17,   // text dir -> u64 names written
  // Like subscribe, but for name_changed events only and without a
  // snapshot; seals cost no notice for it.
  subscribe_names = 18,  // - -> -, then event frames only
  // Client-side writes (fast_writes.hpp): a new slab for this client, and
  // a ring of the socket when the server sleeps with records waiting.
  slab = 19,          // - -> u64 bytes lent (0: none; create through the server)
  drain_notice = 20,  // u32 0, u32 0 (no reply)
};

// Largest value (data + metadata) sent inline with put_value; larger ones
// are created in shared memory and bound with put_name.
inline constexpr std::size_t kInlineValueBytes = 64 * 1024;

enum class Status : std::uint8_t {
  ok = 0,
  exists = 1,
  not_found = 2,
  full = 3,
  invalid = 4,  // malformed request
  denied = 5,   // not this client's object, or not allowed
  failed = 6,   // any other refusal (index full, too many clients)
};

inline constexpr std::uint8_t kEventFrame = 100;  // first body byte of subscription events

// Appends little-endian fields to a frame; `finish` fills in the length.
class FrameWriter {
 public:
  FrameWriter() { bytes_.resize(4); }
  template <class T>
  FrameWriter& put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const std::byte*>(&value);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
    return *this;
  }
  FrameWriter& put_id(const ObjectId& id) {
    const auto* p = reinterpret_cast<const std::byte*>(id.bytes.data());
    bytes_.insert(bytes_.end(), p, p + ObjectId::kSize);
    return *this;
  }
  FrameWriter& put_bytes(std::string_view text) {
    const auto* p = reinterpret_cast<const std::byte*>(text.data());
    bytes_.insert(bytes_.end(), p, p + text.size());
    return *this;
  }
  FrameWriter& put_text(std::string_view text) {
    put(static_cast<std::uint32_t>(text.size()));
    return put_bytes(text);
  }
  std::vector<std::byte>& finish() {
    const auto length = static_cast<std::uint32_t>(bytes_.size() - 4);
    std::memcpy(bytes_.data(), &length, 4);
    return bytes_;
  }

 private:
  std::vector<std::byte> bytes_;
};

// Bounds-checked reads from a frame body: a short body makes `ok()` false
// and every later read return zero, so parsers check once at the end.
class FrameReader {
 public:
  explicit FrameReader(std::span<const std::byte> body) noexcept : body_(body) {}
  template <class T>
  T get() noexcept {
    T value{};
    if (body_.size() - pos_ < sizeof(T) || !ok_) {
      ok_ = false;
      return value;
    }
    std::memcpy(&value, body_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  ObjectId get_id() noexcept {
    ObjectId id;
    if (body_.size() - pos_ < ObjectId::kSize || !ok_) {
      ok_ = false;
      return id;
    }
    std::memcpy(id.bytes.data(), body_.data() + pos_, ObjectId::kSize);
    pos_ += ObjectId::kSize;
    return id;
  }
  // A u32 length and that many bytes; empty (and not ok) if short.
  std::string get_text() {
    const auto length = get<std::uint32_t>();
    if (!ok_ || body_.size() - pos_ < length) {
      ok_ = false;
      return {};
    }
    std::string text(reinterpret_cast<const char*>(body_.data() + pos_), length);
    pos_ += length;
    return text;
  }
  // The next `n` bytes (empty, and not ok, if fewer are left).
  std::span<const std::byte> get_bytes(std::size_t n) noexcept {
    if (!ok_ || body_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    const auto bytes = body_.subspan(pos_, n);
    pos_ += n;
    return bytes;
  }
  std::string rest() {
    std::string text(reinterpret_cast<const char*>(body_.data() + pos_), body_.size() - pos_);
    pos_ = body_.size();
    return text;
  }
  [[nodiscard]] std::size_t remaining() const noexcept { return body_.size() - pos_; }
  // True when every read fitted and, if `exact`, nothing is left over.
  [[nodiscard]] bool ok(bool exact = true) const noexcept { return ok_ && (!exact || pos_ == body_.size()); }

 private:
  std::span<const std::byte> body_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace shmkit::detail
