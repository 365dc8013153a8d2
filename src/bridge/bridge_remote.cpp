// Redis changes into the local store: an announcement names a key, the
// bridge reads it and applies it when it is newer than what the store
// holds; and the full sync that runs on every (re)connection.

#include <cstring>
#include <string>
#include <vector>

#include "bridge/bridge_state.hpp"

namespace shmkit {

namespace {

std::span<const std::byte> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

std::vector<std::string_view> split_tabs(std::string_view text) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto tab = text.find('\t');
    parts.push_back(text.substr(0, tab));
    if (tab == std::string_view::npos) {
      return parts;
    }
    text = text.substr(tab + 1);
  }
}

// The stamp of a reply to HMGET key ts origin seq deleted ...; nullopt for
// a key that does not exist.
std::optional<detail::Stamp> stamp_of(detail::RedisReply fields) {
  if (fields.size() < 4 || fields[0].is_nil()) {
    return std::nullopt;
  }
  detail::Stamp stamp;
  stamp.ts = std::string(fields[0].text());
  stamp.origin = std::string(fields[1].text());
  stamp.seq = std::strtoull(std::string(fields[2].text()).c_str(), nullptr, 10);
  stamp.deleted = fields[3].text() == "1";
  return stamp;
}

}  // namespace

void Bridge::State::on_message(detail::RedisReply message) {
  // ["message", channel, "<origin>\t<seq>\t<ns>\t<name>"]
  if (message.size() != 3 || message[0].text() != "message") {
    return;
  }
  const std::vector<std::string_view> parts = split_tabs(message[2].text());
  if (parts.size() != 4 || parts[0] == options.host_id || !bridged(std::string(parts[2]))) {
    return;  // our own write coming back, or a namespace not bridged here
  }
  const BridgeKey key{std::string(parts[2]), std::string(parts[3])};
  const std::uint64_t seq = std::strtoull(std::string(parts[1]).c_str(), nullptr, 10);
  if (const auto known = local.find(key);
      known != local.end() && known->second.stamp.origin == parts[0] && known->second.stamp.seq >= seq) {
    return;  // applied already
  }
  pull(key);
}

void Bridge::State::pull(const BridgeKey& key) {
  const detail::OwnedReply reply =
      redis->command({"HMGET", value_key(key), "ts", "origin", "seq", "deleted", "meta", "data"});
  const std::optional<detail::Stamp> stamp = stamp_of(reply.get());
  if (!stamp) {
    return;
  }
  if (const auto known = local.find(key); known != local.end() && !newer(*stamp, known->second.stamp)) {
    return;
  }
  apply(key, *stamp, as_bytes(reply.get()[4].text()), as_bytes(reply.get()[5].text()));
}

void Bridge::State::apply(const BridgeKey& key, const detail::Stamp& stamp, std::span<const std::byte> metadata,
                          std::span<const std::byte> data) {
  if (stamp.deleted) {
    own_drops.insert(key);
    if (!store.drop_name(key.first, key.second)) {
      own_drops.erase(own_drops.find(key));
    }
    local[key] = Local{stamp, ObjectId{}};
    ++imported;
    return;
  }
  if (data.size() + metadata.size() > options.max_value_bytes) {
    ++refused;
    local[key] = Local{stamp, local[key].id};  // not again for this write
    log("bridge: not importing " + key.first + "/" + key.second + " from " + stamp.origin + ": its " +
        std::to_string(data.size() + metadata.size()) + " bytes exceed the limit of " +
        std::to_string(options.max_value_bytes) + " bytes (--max-value-bytes)");
    return;
  }
  const ObjectId id = next_id();
  const std::vector<std::byte> marked = detail::with_trailer(metadata, stamp);
  store.put_named(key.first, key.second, id, data, marked);
  local[key] = Local{stamp, id};
  ++imported;
}

ObjectId Bridge::State::next_id() {
  // "brg" + a random prefix per bridge + a counter: unique in the store
  // without asking it.
  ObjectId id;
  const std::uint64_t counter = ++id_counter;
  std::memcpy(id.bytes.data(), "brg", 3);
  std::memcpy(id.bytes.data() + 4, &id_prefix, 8);
  std::memcpy(id.bytes.data() + 12, &counter, 8);
  return id;
}

void Bridge::State::full_sync() {
  drain_local_events();
  // Out: every value set here (the script keeps whichever is newer), and
  // erases the bridge could not write while Redis was away.
  for (const std::string& ns : namespaces) {
    std::set<std::string> bound;
    for (const NameBinding& binding : store.list_names(ns)) {
      const BridgeKey key{ns, binding.name};
      bound.insert(binding.name);
      const auto known = local.find(key);
      const bool set_here =
          known == local.end() || known->second.id != binding.id || known->second.stamp.origin == options.host_id;
      if (set_here) {
        export_local(key, binding.id);
      }
    }
    // Names the bridge knew as bound that are not: erased while the
    // bridge missed the event (an overflow).
    for (auto& [key, entry] : local) {
      if (key.first == ns && entry.id != ObjectId{} && bound.count(key.second) == 0 && pending_erases.count(key) == 0) {
        pending_erases[key] = detail::Stamp{detail::now_ts(), options.host_id, 0, true};
        entry = Local{pending_erases[key], ObjectId{}};
      }
    }
  }
  for (const auto pending = pending_erases; const auto& [key, stamp] : pending) {
    export_erase(key, stamp);
  }
  // In: every Redis value newer than the local one.
  for (const std::string& ns : namespaces) {
    const std::string pattern = options.prefix + ":v:" + ns + ":*";
    const std::size_t skip = pattern.size() - 1;
    std::string cursor = "0";
    do {
      const detail::OwnedReply page = redis->command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
      if (page.get().size() != 2) {
        throw detail::RedisError("Redis sent a malformed SCAN reply");
      }
      cursor = std::string(page.get()[0].text());
      const detail::RedisReply keys = page.get()[1];
      for (std::size_t i = 0; i < keys.size(); ++i) {
        redis->append({"HMGET", keys[i].text(), "ts", "origin", "seq", "deleted"});
      }
      for (std::size_t i = 0; i < keys.size(); ++i) {
        const detail::OwnedReply fields = redis->reply();
        const std::optional<detail::Stamp> stamp = stamp_of(fields.get());
        const BridgeKey key{ns, std::string(keys[i].text().substr(skip))};
        const auto known = local.find(key);
        if (stamp && (known == local.end() || newer(*stamp, known->second.stamp))) {
          pending_pulls.push_back(key);
        }
      }
    } while (cursor != "0");
  }
  // Pulled after the pipeline is drained: a pull is a command of its own.
  for (const auto pulls = std::move(pending_pulls); const BridgeKey& key : pulls) {
    pull(key);
  }
  pending_pulls.clear();
}

}  // namespace shmkit
