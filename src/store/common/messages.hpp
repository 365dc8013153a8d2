#pragma once
// Every request and reply of the store's control plane, encoded and decoded
// in one place (frames and field order are described in protocol.hpp).
// Clients encode requests and decode replies; the server decodes requests
// and encodes replies.
//
// Request decoders read the body after the type byte and return nullopt
// (or false) when it is malformed: the server answers those with an error.
// Reply decoders read the body after the status byte and throw Error
// naming the request when it is malformed: only a broken server sends one.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <shmkit/store/object_id.hpp>
#include <shmkit/store/store_types.hpp>

#include "store/common/protocol.hpp"

namespace shmkit::detail {

using Frame = std::vector<std::byte>;

// --- Requests --------------------------------------------------------------

// One object of a create request.
struct ObjectSizes {
  ObjectId id;
  std::uint64_t data_size;
  std::uint64_t metadata_size;
};
[[nodiscard]] Frame encode_create(std::span<const ObjectSizes> objects);
// Also nullopt for an empty batch or one larger than kMaxBatch.
[[nodiscard]] std::optional<std::vector<ObjectSizes>> decode_create(FrameReader& r);

// abort, remove and restore: the body is one id.
[[nodiscard]] Frame encode_id_request(Request type, const ObjectId& id);
[[nodiscard]] std::optional<ObjectId> decode_id_request(FrameReader& r);

// evict: the bytes to free.
[[nodiscard]] Frame encode_evict(std::uint64_t bytes);
[[nodiscard]] std::optional<std::uint64_t> decode_evict(FrameReader& r);

// list, subscribe and namespaces: no body.
[[nodiscard]] Frame encode_bare_request(Request type);
[[nodiscard]] bool decode_bare_request(const FrameReader& r) noexcept;

// sealed_notice and released_notice: the slot (no reply).
struct Notice {
  std::uint32_t index;
  std::uint32_t generation;
};
[[nodiscard]] Frame encode_notice(Request type, Notice notice);
[[nodiscard]] std::optional<Notice> decode_notice(FrameReader& r);

struct PutName {
  std::string ns;
  std::string name;
  ObjectId id;
};
[[nodiscard]] Frame encode_put_name(std::string_view ns, std::string_view name, const ObjectId& id);
[[nodiscard]] std::optional<PutName> decode_put_name(FrameReader& r);

// get_name; `wait`: no reply until the name is bound.
struct GetName {
  std::string ns;
  std::string name;
  bool wait;
};
[[nodiscard]] Frame encode_get_name(std::string_view ns, std::string_view name, bool wait);
[[nodiscard]] std::optional<GetName> decode_get_name(FrameReader& r);

// drop_name (namespace, name) and list_names (namespace, prefix).
struct TextPair {
  std::string first;
  std::string second;
};
[[nodiscard]] Frame encode_text_pair(Request type, std::string_view first, std::string_view second);
[[nodiscard]] std::optional<TextPair> decode_text_pair(FrameReader& r);

// remove_namespace (namespace) and snapshot (directory).
[[nodiscard]] Frame encode_text_request(Request type, std::string_view text);
[[nodiscard]] std::optional<std::string> decode_text_request(FrameReader& r);

// put_value: once decoded, `data` and `metadata` point into the frame.
[[nodiscard]] Frame encode_put_value(const NamedObject& value);
[[nodiscard]] std::optional<NamedObject> decode_put_value(FrameReader& r);

// --- Replies ---------------------------------------------------------------

// The first frame on a connection: the store's layout version, the
// client's slot and the arena size (the descriptors travel with it).
struct Welcome {
  std::uint32_t layout_version;
  std::uint32_t client_slot;
  std::uint64_t arena_bytes;
};
[[nodiscard]] Frame encode_welcome(const Welcome& welcome);
// nullopt when malformed (the caller names the server in its error).
[[nodiscard]] std::optional<Welcome> decode_welcome(std::span<const std::byte> body);

// Status ok and nothing else (abort, put_name, drop_name, put_value,
// restore, subscribe).
[[nodiscard]] Frame encode_ok_reply();
// A failure status and its message (also a refused connection's welcome).
[[nodiscard]] Frame encode_error_reply(Status status, std::string_view message);
[[nodiscard]] std::string decode_error_reply(std::span<const std::byte> body);

// create: where each object of the request went, in order.
struct CreatedObject {
  std::uint32_t index;
  std::uint32_t generation;
  std::uint64_t offset;
};
[[nodiscard]] Frame encode_create_reply(std::span<const CreatedObject> created);
[[nodiscard]] std::vector<CreatedObject> decode_create_reply(std::span<const std::byte> body, std::size_t count);

// remove: whether the removal waits for the last reference (clients do
// not need to know, so there is no decoder).
[[nodiscard]] Frame encode_remove_reply(bool deferred);

// evict (bytes freed), remove_namespace (names dropped), snapshot (names written).
[[nodiscard]] Frame encode_count_reply(std::uint64_t count);
[[nodiscard]] std::uint64_t decode_count_reply(std::span<const std::byte> body, const char* request);

// get_name: the object the name is bound to.
[[nodiscard]] Frame encode_id_reply(const ObjectId& id);
[[nodiscard]] ObjectId decode_id_reply(std::span<const std::byte> body, const char* request);

[[nodiscard]] Frame encode_list_reply(std::span<const ObjectInfo> objects);
[[nodiscard]] std::vector<ObjectInfo> decode_list_reply(std::span<const std::byte> body);

[[nodiscard]] Frame encode_list_names_reply(std::span<const NameBinding> names);
[[nodiscard]] std::vector<NameBinding> decode_list_names_reply(std::span<const std::byte> body);

[[nodiscard]] Frame encode_namespaces_reply(std::span<const NamespaceInfo> spaces);
[[nodiscard]] std::vector<NamespaceInfo> decode_namespaces_reply(std::span<const std::byte> body);

// --- Events ----------------------------------------------------------------

// An event frame has this size, its length prefix included; a name_changed
// event is followed by its namespace and name (texts).
inline constexpr std::size_t kEventFrameBytes = 4 + 2 + ObjectId::kSize + 16;
[[nodiscard]] Frame encode_event(const StoreEvent& event);
// `frame`: one whole frame, length prefix included. @throws Error if it is
// not an event
[[nodiscard]] StoreEvent decode_event(std::span<const std::byte> frame);

}  // namespace shmkit::detail
