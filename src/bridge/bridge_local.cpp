// Local name changes out to Redis: each bind or erase in a bridged
// namespace that the bridge did not make itself is written through the
// last-writer-wins script; while Redis is away, erases wait in
// pending_erases and values are pushed by the next full sync.

#include <shmkit/store/value.hpp>

#include <string>
#include <vector>

#include "bridge/bridge_state.hpp"
#include "bridge/lww_script.hpp"

namespace shmkit {

namespace {

std::string shape_text(const ValueInfo& info) {
  std::string text;
  for (std::size_t i = 0; i < info.shape.size(); ++i) {
    text += (i == 0 ? "" : ",") + std::to_string(info.shape[i]);
  }
  return text;
}

std::string_view as_view(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

void Bridge::State::drain_local_events() {
  while (const std::optional<StoreEvent> event = names.next(std::chrono::milliseconds(0))) {
    on_local_event(*event);
  }
}

void Bridge::State::on_local_event(const StoreEvent& event) {
  if (event.kind == StoreEvent::Kind::overflow) {
    // Events were lost: what the store holds now is compared afresh.
    log("bridge: fell behind the local store's name changes; resyncing");
    if (redis) {
      full_sync();
      ++syncs;
    }
    return;
  }
  if (event.kind != StoreEvent::Kind::name_changed || !bridged(event.ns)) {
    return;
  }
  const BridgeKey key{event.ns, event.name};
  if (event.id == ObjectId{}) {
    on_local_erase(key);
  } else {
    on_local_set(key, event.id);
  }
}

void Bridge::State::on_local_erase(const BridgeKey& key) {
  if (const auto own = own_drops.find(key); own != own_drops.end()) {
    own_drops.erase(own);
    return;
  }
  detail::Stamp stamp{detail::now_ts(), options.host_id, 0, true};
  local[key] = Local{stamp, ObjectId{}};
  pending_erases[key] = stamp;
  if (redis) {
    export_erase(key, stamp);
  }
}

void Bridge::State::export_erase(const BridgeKey& key, const detail::Stamp& stamp) {
  const bool taken = export_value(key, stamp, {}, {});
  pending_erases.erase(key);
  if (!taken) {
    pull(key);  // a newer value was set elsewhere: it comes back
  }
}

void Bridge::State::on_local_set(const BridgeKey& key, const ObjectId& id) {
  if (const auto known = local.find(key); known != local.end() && known->second.id == id) {
    return;  // the bridge's own import, or a rebind to the same object
  }
  export_local(key, id);
}

void Bridge::State::export_local(const BridgeKey& key, const ObjectId& id) {
  std::optional<ObjectBuffer> buffer = store.get(id, std::chrono::milliseconds(0));
  if (!buffer || !buffer->valid()) {
    return;  // rebound again already: its own event follows
  }
  if (const std::optional<detail::Stamp> imported = detail::read_trailer(buffer->metadata())) {
    local[key] = Local{*imported, id};  // imported by this bridge (perhaps before a restart)
    return;
  }
  const ValueInfo info = detail::decode_value_metadata(buffer->metadata(), buffer->data().size());
  detail::Stamp stamp;
  const auto known = local.find(key);
  if (info.created_unix_ns > 0) {
    stamp.ts = detail::format_ts(info.created_unix_ns);
  } else if (known != local.end() && known->second.id == id) {
    stamp.ts = known->second.stamp.ts;  // an untyped value keeps the time first seen
  } else {
    stamp.ts = detail::now_ts();
  }
  stamp.origin = options.host_id;
  local[key] = Local{stamp, id};
  pending_erases.erase(key);
  if (buffer->data().size() + buffer->metadata().size() > options.max_value_bytes) {
    ++refused;
    log("bridge: not bridging " + key.first + "/" + key.second + ": its " +
        std::to_string(buffer->data().size() + buffer->metadata().size()) + " bytes exceed the limit of " +
        std::to_string(options.max_value_bytes) + " bytes (--max-value-bytes)");
    return;
  }
  if (!redis) {
    return;
  }
  if (!export_value(key, stamp, buffer->metadata(), buffer->data())) {
    pull(key);  // Redis holds a newer value: it wins here too
    return;
  }
  restore_if_overwritten(key, id, stamp, buffer->metadata(), buffer->data());
}

void Bridge::State::restore_if_overwritten(const BridgeKey& key, const ObjectId& id, const detail::Stamp& stamp,
                                           std::span<const std::byte> metadata, std::span<const std::byte> data) {
  // A local set reaches the bridge as an event, up to a millisecond after
  // it returned (the store announces client-side writes when it drains
  // them), so an import can be decided against the value before it and
  // land after it. Only an import of this bridge, older than this value,
  // is undone; a newer local value has its own event on the way.
  const std::optional<ObjectId> now = store.find_name(key.first, key.second);
  if (!now || *now == id) {
    return;
  }
  const std::optional<ObjectBuffer> current = store.get(*now, std::chrono::milliseconds(0));
  if (!current || !current->valid()) {
    return;
  }
  const std::optional<detail::Stamp> imported = detail::read_trailer(current->metadata());
  if (!imported || !detail::newer(stamp, *imported)) {
    return;
  }
  apply(key, stamp, metadata, data);
}

bool Bridge::State::export_value(const BridgeKey& key, const detail::Stamp& stamp, std::span<const std::byte> metadata,
                                 std::span<const std::byte> data) {
  const std::string value = value_key(key);
  const std::string seq_key = options.prefix + ":seq:" + options.host_id;
  const std::string message = key.first + "\t" + key.second;
  std::string type, dtype, shape, description;
  if (!stamp.deleted) {
    const ValueInfo info = detail::decode_value_metadata(metadata, data.size());
    type = info.type_text();
    dtype = info.dtype ? std::string(dtype_name(*info.dtype)) : std::string();
    shape = shape_text(info);
    description = info.description;
  }
  const detail::OwnedReply reply = redis->command({"EVAL",
                                                   detail::kLastWriterWinsScript,
                                                   "2",
                                                   value,
                                                   seq_key,
                                                   stamp.ts,
                                                   stamp.origin,
                                                   channel,
                                                   message,
                                                   "deleted",
                                                   stamp.deleted ? "1" : "0",
                                                   "type",
                                                   type,
                                                   "dtype",
                                                   dtype,
                                                   "shape",
                                                   shape,
                                                   "description",
                                                   description,
                                                   "meta",
                                                   as_view(metadata),
                                                   "data",
                                                   as_view(data)});
  if (reply.get().is_error()) {
    // A refusal by Redis itself (out of memory, a read-only replica): the
    // connection works, the write did not; the next sync tries again.
    throw detail::RedisError("Redis refused the write of " + key.first + "/" + key.second + ": " +
                             std::string(reply.get().text()));
  }
  const long long seq = reply.get().integer();
  if (seq == 0) {
    ++stale;
    return false;
  }
  local[key].stamp.seq = static_cast<std::uint64_t>(seq);
  ++exported;
  return true;
}

}  // namespace shmkit
