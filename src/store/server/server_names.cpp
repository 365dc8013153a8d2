// The name requests of the store server: the table lives in the server's
// memory and is mirrored into the shared, read-only name index; each name
// pins its object in the ObjectTable, and a get_name that asks to wait is
// answered when a bind publishes the name.

#include <algorithm>
#include <cstring>

#include <shmkit/core/name.hpp>

#include "store/server/server_loop.hpp"

namespace shmkit::detail {

namespace {

bool valid_pair(const std::string& ns, const std::string& name) noexcept {
  return is_valid_name(ns) && is_valid_name(name);
}

}  // namespace

Status StoreServerLoop::bind_name(const std::string& ns, const std::string& name, const ObjectId& id,
                                  std::string& error) {
  // The table lives in the server's memory and the index has a fixed size:
  // a bound keeps a client binding names in a loop from exhausting either.
  if (names_.size() >= max_names_ && !names_.lookup(ns, name)) {
    error = "the store holds " + std::to_string(max_names_) +
            " names, its limit; drop some or start it with a larger --max-names";
    return Status::failed;
  }
  const std::optional<ObjectRecord> record = table_.sealed_record(id);
  if (!record) {
    error = "no sealed object " + id.hex() + " in the store; only sealed objects can be named (binding " + ns + "/" +
            name + ")";
    return Status::not_found;
  }
  // Persisted before anything changes in memory: if the disk refuses, the
  // old binding stays in effect everywhere.
  if (persistence_) {
    persistence_->save(ns, name, *record);
  }
  if (const Status s = table_.pin(id, error); s != Status::ok) {
    return s;
  }
  // Pin first, unpin the old object after: rebinding a name to the object
  // it already has never drops that object.
  const std::optional<ObjectId> old = names_.bind(ns, name, id);
  name_index_.bind(ns, name, id);
  if (old) {
    table_.unpin(*old);
  }
  wake_name_waiters({ns, name}, id);
  return Status::ok;
}

bool StoreServerLoop::unbind_name(const std::string& ns, const std::string& name) {
  if (!names_.lookup(ns, name)) {
    return false;
  }
  if (persistence_) {
    persistence_->erase(ns, name);
  }
  const std::optional<ObjectId> old = names_.unbind(ns, name);
  name_index_.unbind(ns, name);
  name_index_.compact_if_needed(names_);
  table_.unpin(*old);
  return true;
}

std::uint64_t StoreServerLoop::remove_namespace(const std::string& ns) {
  if (persistence_) {
    persistence_->erase_namespace(ns);
  }
  const auto removed = names_.remove_namespace(ns);
  // An object also named in another namespace keeps that pin.
  for (const auto& [name, id] : removed) {
    name_index_.unbind(ns, name);
    table_.unpin(id);
  }
  name_index_.compact_if_needed(names_);
  return removed.size();
}

bool StoreServerLoop::handle_name(Connection& c, Request type, FrameReader& r) {
  FrameWriter w;
  switch (type) {
    case Request::put_name: {
      const std::string ns = r.get_text();
      const std::string name = r.get_text();
      const ObjectId id = r.get_id();
      if (!r.ok() || !valid_pair(ns, name)) {
        return false;
      }
      std::string error;
      if (const Status s = bind_name(ns, name, id, error); s != Status::ok) {
        reply_error(c, s, error);
        return true;
      }
      reply(c, w.put(Status::ok).finish());
      return true;
    }
    case Request::get_name: {
      std::string ns = r.get_text();
      std::string name = r.get_text();
      const auto wait = r.get<std::uint8_t>();
      if (!r.ok() || !valid_pair(ns, name) || c.waiting_for) {
        return false;
      }
      if (const auto id = names_.lookup(ns, name)) {
        reply(c, w.put(Status::ok).put_id(*id).finish());
      } else if (wait == 0) {
        reply_error(c, Status::not_found, "no name '" + name + "' in namespace '" + ns + "'");
      } else {
        // No reply until a bind: the client gives up by closing.
        NameKey key{std::move(ns), std::move(name)};
        name_waiters_[key].push_back(c.id);
        c.waiting_for = std::move(key);
      }
      return true;
    }
    case Request::drop_name: {
      const std::string ns = r.get_text();
      const std::string name = r.get_text();
      if (!r.ok() || !valid_pair(ns, name)) {
        return false;
      }
      if (!unbind_name(ns, name)) {
        reply_error(c, Status::not_found, "no name '" + name + "' in namespace '" + ns + "'");
        return true;
      }
      reply(c, w.put(Status::ok).finish());
      return true;
    }
    case Request::list_names: {
      const std::string ns = r.get_text();
      const std::string prefix = r.get_text();
      if (!r.ok() || !is_valid_name(ns) || prefix.size() > kMaxNameLength) {
        return false;
      }
      const auto names = names_.list(ns, prefix);
      w.put(Status::ok).put(static_cast<std::uint32_t>(names.size()));
      for (const auto& [name, id] : names) {
        w.put_text(name).put_id(id);
      }
      reply(c, w.finish());
      return true;
    }
    case Request::namespaces: {
      if (!r.ok()) {
        return false;
      }
      const auto spaces = names_.namespaces();
      w.put(Status::ok).put(static_cast<std::uint32_t>(spaces.size()));
      for (const auto& [ns, count] : spaces) {
        w.put_text(ns).put(count);
      }
      reply(c, w.finish());
      return true;
    }
    case Request::remove_namespace: {
      const std::string ns = r.get_text();
      if (!r.ok() || !is_valid_name(ns)) {
        return false;
      }
      const std::uint64_t dropped = remove_namespace(ns);
      reply(c, w.put(Status::ok).put(dropped).finish());
      return true;
    }
    default:
      return false;
  }
}

bool StoreServerLoop::handle_put_value(Connection& c, FrameReader& r) {
  const std::string ns = r.get_text();
  const std::string name = r.get_text();
  const ObjectId id = r.get_id();
  const auto data_size = r.get<std::uint64_t>();
  const auto metadata_size = r.get<std::uint64_t>();
  if (!r.ok(false) || !valid_pair(ns, name) || data_size > r.remaining() ||
      metadata_size != r.remaining() - data_size) {
    return false;
  }
  const auto data = r.get_bytes(data_size);
  const auto metadata = r.get_bytes(metadata_size);
  std::string error;
  ObjectTable::Created created{};
  Status s = Status::ok;
  if (spill_ && spill_->find(id)) {
    error = "object " + id.hex() + " already exists (spilled to disk); use another id";
    s = Status::exists;
  } else {
    s = table_.create(id, data_size, metadata_size, c.pid, c.id, created, error);
  }
  if (s != Status::ok) {
    reply_error(c, s, error);
    return true;
  }
  std::byte* base = table_.data_of(created.index);
  if (!data.empty()) {
    std::memcpy(base, data.data(), data.size());
  }
  if (!metadata.empty()) {
    std::memcpy(base + data_size, metadata.data(), metadata.size());
  }
  table_.seal_created(created.index);
  try {
    s = bind_name(ns, name, id, error);
  } catch (const std::exception& e) {
    s = Status::failed;
    error = e.what();
  }
  if (s != Status::ok) {
    // Nobody has seen the new object: it goes, the old binding stays.
    bool deferred = false;
    std::string ignored;
    table_.remove(id, deferred, ignored);
    reply_error(c, s, error);
    return true;
  }
  FrameWriter w;
  reply(c, w.put(Status::ok).finish());
  return true;
}

void StoreServerLoop::wake_name_waiters(const NameKey& key, const ObjectId& id) {
  const auto it = name_waiters_.find(key);
  if (it == name_waiters_.end()) {
    return;
  }
  const std::vector<std::uint64_t> waiting = std::move(it->second);
  name_waiters_.erase(it);
  for (auto& c : connections_) {
    if (std::find(waiting.begin(), waiting.end(), c->id) != waiting.end() && !c->closing) {
      c->waiting_for.reset();
      FrameWriter w;
      reply(*c, w.put(Status::ok).put_id(id).finish());
    }
  }
}

void StoreServerLoop::stop_waiting(Connection& c) noexcept {
  if (!c.waiting_for) {
    return;
  }
  const auto it = name_waiters_.find(*c.waiting_for);
  if (it != name_waiters_.end()) {
    std::erase(it->second, c.id);
    if (it->second.empty()) {
      name_waiters_.erase(it);
    }
  }
  c.waiting_for.reset();
}

}  // namespace shmkit::detail
