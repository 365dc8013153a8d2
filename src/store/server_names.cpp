// The name requests of the store server (issue 6): the table lives in the
// server's memory, each name pins its object in the ObjectTable, and a
// get_name that asks to wait is answered when a put_name binds the name.

#include <algorithm>

#include <shmkit/core/name.hpp>

#include "server_loop.hpp"

namespace shmkit::detail {

namespace {

constexpr std::uint64_t kNamesPerSlot = 4;

bool valid_pair(const std::string& ns, const std::string& name) noexcept {
  return is_valid_name(ns) && is_valid_name(name);
}

}  // namespace

bool StoreServerLoop::handle_name(Connection& c, Request type, FrameReader& r) {
  FrameWriter w;
  switch (type) {
    case Request::put_name: {
      std::string ns = r.get_text();
      std::string name = r.get_text();
      const ObjectId id = r.get_id();
      if (!r.ok() || !valid_pair(ns, name)) {
        return false;
      }
      // The table lives in the server's memory: a bound keeps a client
      // binding names in a loop from growing the server without limit.
      const std::uint64_t max_names = kNamesPerSlot * arena_.view().slots();
      if (names_.size() >= max_names && !names_.lookup(ns, name)) {
        reply_error(c, Status::failed,
                    "the store holds " + std::to_string(max_names) + " names, its limit (" +
                        std::to_string(kNamesPerSlot) +
                        " per index slot); drop some or start it with a larger "
                        "--max-objects");
        return true;
      }
      std::string error;
      if (const Status s = table_.pin(id, error); s != Status::ok) {
        reply_error(c, s, error + " (binding " + ns + "/" + name + ")");
        return true;
      }
      // Pin first, unpin the old object after: rebinding a name to the
      // object it already has never drops that object.
      if (const auto old = names_.bind(ns, name, id)) {
        table_.unpin(*old);
      }
      reply(c, w.put(Status::ok).finish());
      wake_name_waiters({std::move(ns), std::move(name)}, id);
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
        // No reply until a put_name: the client gives up by closing.
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
      const auto old = names_.unbind(ns, name);
      if (!old) {
        reply_error(c, Status::not_found, "no name '" + name + "' in namespace '" + ns + "'");
        return true;
      }
      table_.unpin(*old);
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
      const std::vector<ObjectId> ids = names_.remove_namespace(ns);
      // An object also named in another namespace keeps that pin.
      for (const ObjectId& id : ids) {
        table_.unpin(id);
      }
      reply(c, w.put(Status::ok).put(static_cast<std::uint64_t>(ids.size())).finish());
      return true;
    }
    default:
      return false;
  }
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
