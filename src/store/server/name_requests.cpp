// The name requests of the store server: the table lives in the server's
// memory and is mirrored into the shared, read-only name index; each name
// pins its object in the ObjectTable, and a get_name that asks to wait is
// answered when a bind publishes the name.

#include <algorithm>
#include <cstring>

#include <shmkit/core/name.hpp>

#include "store/common/messages.hpp"
#include "store/server/event_loop.hpp"
#include "store/server/request_handler.hpp"

namespace shmkit::detail {

namespace {

bool valid_pair(const std::string& ns, const std::string& name) noexcept {
  return is_valid_name(ns) && is_valid_name(name);
}

}  // namespace

Status RequestHandler::bind_name(const std::string& ns, const std::string& name, const ObjectId& id, std::string& error,
                                 std::uint64_t allowance) {
  // The table lives in the server's memory and the index has a fixed size:
  // a bound keeps a client binding names in a loop from exhausting either.
  if (names_.size() >= max_names_ + allowance && !names_.lookup(ns, name)) {
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
  count_names();
  publish_binding(ns, name, id);
  if (old) {
    table_.unpin(*old);
  }
  wake_name_waiters({ns, name}, id);
  announce_name(ns, name, id, record->data.size(), record->metadata.size());
  return Status::ok;
}

bool RequestHandler::unbind_name(const std::string& ns, const std::string& name) {
  if (!names_.lookup(ns, name)) {
    return false;
  }
  if (persistence_) {
    persistence_->erase(ns, name);
  }
  const std::optional<ObjectId> old = names_.unbind(ns, name);
  count_names();
  withdraw_binding(ns, name);
  compact_name_index();
  table_.unpin(*old);
  announce_name(ns, name, ObjectId{}, 0, 0);
  return true;
}

std::uint64_t RequestHandler::remove_namespace(const std::string& ns) {
  if (persistence_) {
    persistence_->erase_namespace(ns);
  }
  const auto removed = names_.remove_namespace(ns);
  count_names();
  // An object also named in another namespace keeps that pin.
  for (const auto& [name, id] : removed) {
    withdraw_binding(ns, name);
    table_.unpin(id);
    announce_name(ns, name, ObjectId{}, 0, 0);
  }
  compact_name_index();
  return removed.size();
}

bool RequestHandler::handle_name(Connection& c, Request type, FrameReader& r) {
  std::string error;
  switch (type) {
    case Request::put_name: {
      const std::optional<PutName> m = decode_put_name(r);
      if (!m || !valid_pair(m->ns, m->name)) {
        return false;
      }
      reply_status(c, bind_name(m->ns, m->name, m->id, error), error);
      return true;
    }
    case Request::get_name: {
      std::optional<GetName> m = decode_get_name(r);
      if (!m || !valid_pair(m->ns, m->name) || c.waiting_for) {
        return false;
      }
      std::optional<ObjectId> id = names_.lookup(m->ns, m->name);
      if (!id && m->wait) {
        // Counted, then the rings drained again: a client that published
        // this name's first bind after the drain before this request either
        // is drained now or saw the count and rings the server.
        arena_.view().header().name_getters.fetch_add(1, std::memory_order_seq_cst);
        drain_published();
        id = names_.lookup(m->ns, m->name);
        if (id) {
          arena_.view().header().name_getters.fetch_sub(1, std::memory_order_seq_cst);
        }
      }
      if (id) {
        loop_.reply(c, encode_id_reply(*id));
      } else if (!m->wait) {
        loop_.reply_error(c, Status::not_found, "no name '" + m->name + "' in namespace '" + m->ns + "'");
      } else {
        // No reply until a bind: the client gives up by closing. A side
        // connection that waits never writes: its slab goes back.
        NameKey key{std::move(m->ns), std::move(m->name)};
        name_waiters_[key].push_back(c.id);
        c.waiting_for = std::move(key);
        if (c.client_slot >= 0) {
          fast_.recall(static_cast<std::uint64_t>(c.client_slot));
        }
      }
      return true;
    }
    case Request::drop_name: {
      const std::optional<TextPair> m = decode_text_pair(r);
      if (!m || !valid_pair(m->first, m->second)) {
        return false;
      }
      if (!unbind_name(m->first, m->second)) {
        loop_.reply_error(c, Status::not_found, "no name '" + m->second + "' in namespace '" + m->first + "'");
        return true;
      }
      loop_.reply(c, encode_ok_reply());
      return true;
    }
    case Request::list_names: {
      const std::optional<TextPair> m = decode_text_pair(r);  // namespace, prefix
      if (!m || !is_valid_name(m->first) || m->second.size() > kMaxNameLength) {
        return false;
      }
      loop_.reply(c, encode_list_names_reply(names_.list(m->first, m->second)));
      return true;
    }
    case Request::namespaces:
      if (!decode_bare_request(r)) {
        return false;
      }
      loop_.reply(c, encode_namespaces_reply(names_.namespaces()));
      return true;
    case Request::remove_namespace: {
      const std::optional<std::string> ns = decode_text_request(r);
      if (!ns || !is_valid_name(*ns)) {
        return false;
      }
      loop_.reply(c, encode_count_reply(remove_namespace(*ns)));
      return true;
    }
    default:
      return false;
  }
}

bool RequestHandler::handle_put_value(Connection& c, FrameReader& r) {
  const std::optional<NamedObject> m = decode_put_value(r);
  if (!m || !valid_pair(m->ns, m->name)) {
    return false;
  }
  std::string error;
  ObjectTable::Created created{};
  Status s = create(m->id, m->data.size(), m->metadata.size(), c, created, error);
  if (s != Status::ok) {
    loop_.reply_error(c, s, error);
    return true;
  }
  copy_object(table_.data_of(created.index), m->data, m->metadata);
  table_.seal_created(created.index);
  try {
    s = bind_name(m->ns, m->name, m->id, error);
  } catch (const std::exception& e) {
    s = Status::failed;
    error = e.what();
  }
  if (s != Status::ok) {
    // Nobody has seen the new object: it goes, the old binding stays.
    bool deferred = false;
    std::string ignored;
    table_.remove(m->id, deferred, ignored);
  } else if (c.client_slot >= 0) {
    // This client writes: its next set of this name is a rebind, which it
    // does itself in a slab; lending one now spares it a round trip.
    fast_.lend_to_writer(static_cast<std::uint64_t>(c.client_slot), c.id);
  }
  reply_status(c, s, error);
  return true;
}

void RequestHandler::publish_binding(const std::string& ns, const std::string& name, const ObjectId& id) {
  const auto where = table_.where(id);
  if (!where) {
    return;  // cannot happen: the caller pinned it
  }
  const std::uint64_t target = cell_target(where->first, where->second);
  NameKey key{ns, name};
  if (const std::optional<std::uint32_t> cell = cells_.cell_of(key)) {
    cells_.publish(*cell, target);
    return;
  }
  // The cell reads the object before the index shows the name. With no
  // cell free (all quarantined), readers ask the server for this name.
  if (indexable(ns, name)) {
    const std::optional<std::uint32_t> cell = cells_.assign(key, target);
    name_index_.bind(ns, name, cell ? *cell : kNoCell);
  }
}

void RequestHandler::withdraw_binding(const std::string& ns, const std::string& name) {
  name_index_.unbind(ns, name);
  cells_.release(NameKey{ns, name}, name_ops_in_flight());
}

std::vector<NameCells::Waiting> RequestHandler::name_ops_in_flight() const {
  std::vector<NameCells::Waiting> waiting;
  const ArenaView& view = arena_.view();
  for (std::uint64_t slot = 0; slot < client_slot_used_.size(); ++slot) {
    if (!client_slot_used_[slot]) {
      continue;
    }
    const ClientSlot& client = view.client(slot);
    const std::uint64_t begun = client.name_ops_begun.load(std::memory_order_seq_cst);
    if (client.name_ops_ended.load(std::memory_order_seq_cst) != begun) {
      waiting.push_back({slot, client_incarnation_[slot], begun});
    }
  }
  return waiting;
}

bool RequestHandler::name_op_done(const NameCells::Waiting& w) const {
  // A client's name operations are serialised by its connection mutex,
  // so once `begun` operations have ended, the one in flight has.
  return !client_slot_used_[w.slot] || client_incarnation_[w.slot] != w.incarnation ||
         arena_.view().client(w.slot).name_ops_ended.load(std::memory_order_seq_cst) >= w.begun;
}

void RequestHandler::compact_name_index() {
  name_index_.compact_if_needed(names_, [this](const std::string& ns, const std::string& name) -> std::uint64_t {
    return cells_.cell_of(NameKey{ns, name}).value_or(kNoCell);
  });
}

void RequestHandler::reconcile_cell(std::uint32_t cell, std::optional<std::uint64_t> departing) {
  if (!cells_.in_use(cell)) {
    return;  // dropped since: the value's hold goes with the record
  }
  std::atomic<std::uint64_t>& word = cells_.word(cell);
  std::uint64_t current = word.load(std::memory_order_seq_cst);
  const std::uint64_t accepted = cells_.accepted(cell);
  if (current == accepted) {
    return;
  }
  // A client may only bind a name to a value it wrote for a name: one
  // held for its rebind record, or, for a client that died between its
  // swap and its record, one of its own.
  const std::uint32_t index = target_index(current);
  const std::uint32_t generation = target_generation(current);
  const std::optional<ObjectId> id = current == 0 ? std::nullopt : table_.id_at(index, generation, true);
  const bool vouched =
      id && table_.intact(index) &&
      (fast_.held(index, generation) || (departing && arena_.view().entry(index).owner.load() == *departing + 1));
  if (!vouched) {
    if (current != 0 && fast_.awaited(current)) {
      return;  // a live client's value not adopted yet: its own record settles it
    }
    // Anything else: the name keeps the value the server knows.
    word.compare_exchange_strong(current, accepted, std::memory_order_seq_cst);
    loop_.log("store: the cell of name '" + cells_.key(cell).second +
              "' held a value no client wrote for it; restored its value");
    return;
  }
  const NameKey key = cells_.key(cell);
  std::string error;
  if (table_.pin(*id, error) != Status::ok) {
    return;
  }
  const std::optional<ObjectId> old = names_.bind(key.first, key.second, *id);
  cells_.accept(cell, current);
  if (old) {
    table_.unpin(*old);
  }
  wake_name_waiters(key, *id);
  if (const std::optional<ObjectRecord> record = table_.sealed_record(*id)) {
    announce_name(key.first, key.second, *id, record->data.size(), record->metadata.size());
  }
}

void RequestHandler::reconcile_all_cells(std::uint64_t departing) {
  std::vector<std::uint32_t> in_use;
  cells_.for_each([&](std::uint32_t cell) { in_use.push_back(cell); });
  for (const std::uint32_t cell : in_use) {
    reconcile_cell(cell, departing);
  }
}

void RequestHandler::count_names() noexcept {
  // Written only when it changed: readers load the word beside it on
  // every name operation, and a store would take the line from their caches.
  std::atomic<std::uint64_t>& names = arena_.view().header().names;
  if (names.load(std::memory_order_relaxed) != names_.size()) {
    names.store(names_.size(), std::memory_order_relaxed);
  }
}

bool RequestHandler::bind_published(const std::string& ns, const std::string& name, std::uint32_t index,
                                    std::uint32_t generation) {
  if (!valid_pair(ns, name)) {
    return false;
  }
  const std::optional<ObjectId> id = table_.id_at(index, generation, true);
  std::string error = "the value is no longer in the store";
  // The client counted the names before it published; a bind through the
  // server since then may have taken the last place, so the limit gives
  // way by what can be in flight rather than lose a set that returned.
  if (!id || bind_name(ns, name, *id, error, kBindKeySlots) != Status::ok) {
    loop_.log("store: a set of name '" + name + "' in namespace '" + ns + "' published by a client was lost: " + error);
  }
  return true;
}

void RequestHandler::announce_name(const std::string& ns, const std::string& name, const ObjectId& id,
                                   std::uint64_t data_size, std::uint64_t metadata_size) {
  StoreEvent event{StoreEvent::Kind::name_changed, id, data_size, metadata_size, ns, name};
  loop_.broadcast_names(event);
}

void RequestHandler::wake_name_waiters(const NameKey& key, const ObjectId& id) {
  const auto it = name_waiters_.find(key);
  if (it == name_waiters_.end()) {
    return;
  }
  const std::vector<std::uint64_t> waiting = std::move(it->second);
  name_waiters_.erase(it);
  arena_.view().header().name_getters.fetch_sub(static_cast<std::uint32_t>(waiting.size()), std::memory_order_seq_cst);
  for (const std::uint64_t connection_id : waiting) {
    Connection* c = loop_.connection(connection_id);
    if (c != nullptr && !c->closing) {
      c->waiting_for.reset();
      loop_.reply(*c, encode_id_reply(id));
    }
  }
}

void RequestHandler::stop_waiting(Connection& c) noexcept {
  if (!c.waiting_for) {
    return;
  }
  const auto it = name_waiters_.find(*c.waiting_for);
  if (it != name_waiters_.end()) {
    arena_.view().header().name_getters.fetch_sub(static_cast<std::uint32_t>(std::erase(it->second, c.id)),
                                                  std::memory_order_seq_cst);
    if (it->second.empty()) {
      name_waiters_.erase(it);
    }
  }
  c.waiting_for.reset();
}

}  // namespace shmkit::detail
