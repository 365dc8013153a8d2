#include "store/common/messages.hpp"

#include <utility>

#include <shmkit/core/error.hpp>

namespace shmkit::detail {

namespace {

Frame done(FrameWriter& w) {
  return std::move(w.finish());
}

std::string_view as_chars(std::span<const std::byte> bytes) noexcept {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

[[noreturn]] void malformed(const char* request) {
  throw Error(std::string("the store server sent a malformed reply to ") + request);
}

// A reply of `count` items after a u32 count; `read` decodes one item.
template <class T, class Read>
std::vector<T> decode_counted(std::span<const std::byte> body, const char* request, Read read) {
  FrameReader r(body);
  const auto count = r.get<std::uint32_t>();
  std::vector<T> items;
  for (std::uint32_t i = 0; i < count && r.ok(false); ++i) {
    items.push_back(read(r));
  }
  if (!r.ok()) {
    malformed(request);
  }
  return items;
}

FrameWriter counted_reply(std::size_t count) {
  FrameWriter w;
  w.put(Status::ok).put(static_cast<std::uint32_t>(count));
  return w;
}

}  // namespace

// --- Requests --------------------------------------------------------------

Frame encode_create(std::span<const ObjectSizes> objects) {
  FrameWriter w;
  w.put(Request::create).put(static_cast<std::uint32_t>(objects.size()));
  for (const ObjectSizes& o : objects) {
    w.put_id(o.id).put(o.data_size).put(o.metadata_size);
  }
  return done(w);
}

std::optional<std::vector<ObjectSizes>> decode_create(FrameReader& r) {
  const auto count = r.get<std::uint32_t>();
  // Sized exactly before anything is allocated for it.
  if (count == 0 || count > kMaxBatch || r.remaining() != std::uint64_t{count} * (ObjectId::kSize + 16)) {
    return std::nullopt;
  }
  std::vector<ObjectSizes> objects(count);
  for (ObjectSizes& o : objects) {
    o.id = r.get_id();
    o.data_size = r.get<std::uint64_t>();
    o.metadata_size = r.get<std::uint64_t>();
  }
  return objects;
}

Frame encode_id_request(Request type, const ObjectId& id) {
  FrameWriter w;
  w.put(type).put_id(id);
  return done(w);
}

std::optional<ObjectId> decode_id_request(FrameReader& r) {
  const ObjectId id = r.get_id();
  return r.ok() ? std::optional(id) : std::nullopt;
}

Frame encode_evict(std::uint64_t bytes) {
  FrameWriter w;
  w.put(Request::evict).put(bytes);
  return done(w);
}

std::optional<std::uint64_t> decode_evict(FrameReader& r) {
  const auto bytes = r.get<std::uint64_t>();
  return r.ok() ? std::optional(bytes) : std::nullopt;
}

Frame encode_bare_request(Request type) {
  FrameWriter w;
  w.put(type);
  return done(w);
}

bool decode_bare_request(const FrameReader& r) noexcept {
  return r.ok();
}

Frame encode_notice(Request type, Notice notice) {
  FrameWriter w;
  w.put(type).put(notice.index).put(notice.generation);
  return done(w);
}

std::optional<Notice> decode_notice(FrameReader& r) {
  Notice notice{};
  notice.index = r.get<std::uint32_t>();
  notice.generation = r.get<std::uint32_t>();
  return r.ok() ? std::optional(notice) : std::nullopt;
}

Frame encode_put_name(std::string_view ns, std::string_view name, const ObjectId& id) {
  FrameWriter w;
  w.put(Request::put_name).put_text(ns).put_text(name).put_id(id);
  return done(w);
}

std::optional<PutName> decode_put_name(FrameReader& r) {
  PutName m;
  m.ns = r.get_text();
  m.name = r.get_text();
  m.id = r.get_id();
  return r.ok() ? std::optional(std::move(m)) : std::nullopt;
}

Frame encode_get_name(std::string_view ns, std::string_view name, bool wait) {
  FrameWriter w;
  w.put(Request::get_name).put_text(ns).put_text(name).put(static_cast<std::uint8_t>(wait));
  return done(w);
}

std::optional<GetName> decode_get_name(FrameReader& r) {
  GetName m;
  m.ns = r.get_text();
  m.name = r.get_text();
  m.wait = r.get<std::uint8_t>() != 0;
  return r.ok() ? std::optional(std::move(m)) : std::nullopt;
}

Frame encode_text_pair(Request type, std::string_view first, std::string_view second) {
  FrameWriter w;
  w.put(type).put_text(first).put_text(second);
  return done(w);
}

std::optional<TextPair> decode_text_pair(FrameReader& r) {
  TextPair m;
  m.first = r.get_text();
  m.second = r.get_text();
  return r.ok() ? std::optional(std::move(m)) : std::nullopt;
}

Frame encode_text_request(Request type, std::string_view text) {
  FrameWriter w;
  w.put(type).put_text(text);
  return done(w);
}

std::optional<std::string> decode_text_request(FrameReader& r) {
  std::string text = r.get_text();
  return r.ok() ? std::optional(std::move(text)) : std::nullopt;
}

Frame encode_put_value(const NamedObject& value) {
  FrameWriter w;
  w.put(Request::put_value)
      .put_text(value.ns)
      .put_text(value.name)
      .put_id(value.id)
      .put(std::uint64_t{value.data.size()})
      .put(std::uint64_t{value.metadata.size()});
  w.put_bytes(as_chars(value.data)).put_bytes(as_chars(value.metadata));
  return done(w);
}

std::optional<NamedObject> decode_put_value(FrameReader& r) {
  NamedObject m;
  m.ns = r.get_text();
  m.name = r.get_text();
  m.id = r.get_id();
  const auto data_size = r.get<std::uint64_t>();
  const auto metadata_size = r.get<std::uint64_t>();
  if (!r.ok(false) || data_size > r.remaining() || metadata_size != r.remaining() - data_size) {
    return std::nullopt;
  }
  m.data = r.get_bytes(data_size);
  m.metadata = r.get_bytes(metadata_size);
  return m;
}

// --- Replies ---------------------------------------------------------------

Frame encode_welcome(const Welcome& welcome) {
  FrameWriter w;
  w.put(Status::ok).put(welcome.layout_version).put(welcome.client_slot).put(welcome.arena_bytes);
  return done(w);
}

std::optional<Welcome> decode_welcome(std::span<const std::byte> body) {
  FrameReader r(body);
  Welcome welcome{};
  welcome.layout_version = r.get<std::uint32_t>();
  welcome.client_slot = r.get<std::uint32_t>();
  welcome.arena_bytes = r.get<std::uint64_t>();
  return r.ok() ? std::optional(welcome) : std::nullopt;
}

Frame encode_ok_reply() {
  FrameWriter w;
  w.put(Status::ok);
  return done(w);
}

Frame encode_error_reply(Status status, std::string_view message) {
  FrameWriter w;
  w.put(status).put_bytes(message);
  return done(w);
}

std::string decode_error_reply(std::span<const std::byte> body) {
  return std::string(as_chars(body));
}

Frame encode_create_reply(std::span<const CreatedObject> created) {
  FrameWriter w;
  w.put(Status::ok);
  for (const CreatedObject& object : created) {
    w.put(object.index).put(object.generation).put(object.offset);
  }
  return done(w);
}

std::vector<CreatedObject> decode_create_reply(std::span<const std::byte> body, std::size_t count) {
  FrameReader r(body);
  std::vector<CreatedObject> created(count);
  for (CreatedObject& object : created) {
    object.index = r.get<std::uint32_t>();
    object.generation = r.get<std::uint32_t>();
    object.offset = r.get<std::uint64_t>();
  }
  if (!r.ok()) {
    malformed("create");
  }
  return created;
}

Frame encode_remove_reply(bool deferred) {
  FrameWriter w;
  w.put(Status::ok).put(static_cast<std::uint8_t>(deferred));
  return done(w);
}

Frame encode_count_reply(std::uint64_t count) {
  FrameWriter w;
  w.put(Status::ok).put(count);
  return done(w);
}

std::uint64_t decode_count_reply(std::span<const std::byte> body, const char* request) {
  FrameReader r(body);
  const auto count = r.get<std::uint64_t>();
  if (!r.ok()) {
    malformed(request);
  }
  return count;
}

Frame encode_id_reply(const ObjectId& id) {
  FrameWriter w;
  w.put(Status::ok).put_id(id);
  return done(w);
}

ObjectId decode_id_reply(std::span<const std::byte> body, const char* request) {
  FrameReader r(body);
  const ObjectId id = r.get_id();
  if (!r.ok()) {
    malformed(request);
  }
  return id;
}

Frame encode_list_reply(std::span<const ObjectInfo> objects) {
  FrameWriter w = counted_reply(objects.size());
  for (const ObjectInfo& info : objects) {
    w.put_id(info.id).put(info.data_size).put(info.metadata_size).put(static_cast<std::uint8_t>(info.state));
    w.put(info.ref_count).put(info.created_unix_ns).put(static_cast<std::int32_t>(info.creator_pid));
  }
  return done(w);
}

std::vector<ObjectInfo> decode_list_reply(std::span<const std::byte> body) {
  return decode_counted<ObjectInfo>(body, "list", [](FrameReader& r) {
    ObjectInfo info;
    info.id = r.get_id();
    info.data_size = r.get<std::uint64_t>();
    info.metadata_size = r.get<std::uint64_t>();
    info.state = static_cast<ObjectState>(r.get<std::uint8_t>());
    info.ref_count = r.get<std::uint32_t>();
    info.created_unix_ns = r.get<std::int64_t>();
    info.creator_pid = r.get<std::int32_t>();
    return info;
  });
}

Frame encode_list_names_reply(std::span<const NameBinding> names) {
  FrameWriter w = counted_reply(names.size());
  for (const NameBinding& binding : names) {
    w.put_text(binding.name).put_id(binding.id);
  }
  return done(w);
}

std::vector<NameBinding> decode_list_names_reply(std::span<const std::byte> body) {
  return decode_counted<NameBinding>(body, "list_names", [](FrameReader& r) {
    NameBinding binding;
    binding.name = r.get_text();
    binding.id = r.get_id();
    return binding;
  });
}

Frame encode_namespaces_reply(std::span<const NamespaceInfo> spaces) {
  FrameWriter w = counted_reply(spaces.size());
  for (const NamespaceInfo& space : spaces) {
    w.put_text(space.name).put(space.names);
  }
  return done(w);
}

std::vector<NamespaceInfo> decode_namespaces_reply(std::span<const std::byte> body) {
  return decode_counted<NamespaceInfo>(body, "namespaces", [](FrameReader& r) {
    NamespaceInfo space;
    space.name = r.get_text();
    space.names = r.get<std::uint64_t>();
    return space;
  });
}

// --- Events ----------------------------------------------------------------

Frame encode_event(const StoreEvent& event) {
  FrameWriter w;
  w.put(kEventFrame)
      .put(static_cast<std::uint8_t>(event.kind))
      .put_id(event.id)
      .put(event.data_size)
      .put(event.metadata_size);
  if (event.kind == StoreEvent::Kind::name_changed) {
    w.put_text(event.ns).put_text(event.name);
  }
  return done(w);
}

StoreEvent decode_event(std::span<const std::byte> frame) {
  FrameReader r(frame);
  const auto length = r.get<std::uint32_t>();
  const auto type = r.get<std::uint8_t>();
  StoreEvent event;
  event.kind = static_cast<StoreEvent::Kind>(r.get<std::uint8_t>());
  event.id = r.get_id();
  event.data_size = r.get<std::uint64_t>();
  event.metadata_size = r.get<std::uint64_t>();
  if (event.kind == StoreEvent::Kind::name_changed) {
    event.ns = r.get_text();
    event.name = r.get_text();
  }
  if (!r.ok() || length != frame.size() - 4 || type != kEventFrame) {
    throw Error("the store server sent a malformed event");
  }
  return event;
}

}  // namespace shmkit::detail
