#include "store/server/request_handler.hpp"

#include <unistd.h>

#include <algorithm>

#include <shmkit/core/error.hpp>

#include "core/detail/futex.hpp"
#include "store/common/messages.hpp"
#include "store/server/event_loop.hpp"

namespace shmkit::detail {

RequestHandler::RequestHandler(const StoreOptions& options, EventLoop& loop)
    : loop_(loop),
      arena_(ArenaMapping::create(options)),
      max_names_(arena_.view().header().cells),
      name_index_map_(NameIndexMapping::create(max_names_, arena_.view().header().slab_bytes == 0)),
      name_index_(name_index_map_.view()),
      spill_(options.spill_dir.empty() ? nullptr : std::make_unique<SpillStore>(options.spill_dir)),
      table_(
          arena_.view(), [this](const StoreEvent& event) { loop_.broadcast(event); },
          spill_ ? std::function<bool(const ObjectRecord&)>(
                       [this](const ObjectRecord& record) { return spill_object(record); })
                 : nullptr),
      cells_(cell_array(arena_.view(), name_index_map_.view()), max_names_,
             [this](const NameCells::Waiting& w) { return name_op_done(w); }),
      fast_(arena_.view(), table_),
      fast_hooks_{[this](std::uint32_t cell) { reconcile_cell(cell); },
                  [this](const std::string& ns, const std::string& name, std::uint32_t index,
                         std::uint32_t generation) { return bind_published(ns, name, index, generation); },
                  [this](std::uint64_t connection) {
                    if (Connection* c = loop_.connection(connection); c != nullptr && !c->closing) {
                      loop_.log("store: client pid " + std::to_string(c->pid) +
                                " published an object outside its slab or a bad record; disconnecting it");
                      c->closing = true;
                    }
                  }},
      persistence_(options.persist_dir.empty()
                       ? nullptr
                       : std::make_unique<NamePersistence>(options.persist_dir, options.persist_sync)),
      client_slot_used_(arena_.view().header().max_clients, false),
      client_incarnation_(arena_.view().header().max_clients, 0) {
  table_.set_reclaim([this] { return fast_.recall_all(); });
  table_.set_reclaim_unwritten([this] { return fast_.recall_unwritten(); });
  if (persistence_) {
    load_persisted();
  }
  count_names();
}

void RequestHandler::handle(Connection& c, std::span<const std::byte> body) {
  FrameReader r(body);
  const auto type = static_cast<Request>(r.get<std::uint8_t>());
  if (c.subscriber || c.name_subscriber) {
    loop_.log("store: subscriber pid " + std::to_string(c.pid) + " sent a request; disconnecting it");
    c.closing = true;
    return;
  }
  bool understood = false;
  try {
    // Whatever a client wrote without asking is known before any request
    // is answered: a remove, list or bind sees it.
    drain_published();
    understood = dispatch(c, type, r);
  } catch (const std::exception& e) {
    loop_.reply_error(c, Status::failed, e.what());
    return;
  }
  if (!understood) {
    loop_.reply_error(c, Status::invalid,
                      "malformed store request (type " + std::to_string(static_cast<int>(type)) + ", " +
                          std::to_string(body.size()) + " bytes)");
  }
}

bool RequestHandler::dispatch(Connection& c, Request type, FrameReader& r) {
  switch (type) {
    case Request::create:
      return handle_create(c, r);
    case Request::abort:
    case Request::remove:
    case Request::evict:
    case Request::list:
    case Request::restore:
      return handle_object(c, type, r);
    case Request::subscribe:
    case Request::subscribe_names:
    case Request::sealed_notice:
    case Request::released_notice:
      return handle_subscription(c, type, r);
    case Request::put_name:
    case Request::get_name:
    case Request::drop_name:
    case Request::list_names:
    case Request::namespaces:
    case Request::remove_namespace:
      return handle_name(c, type, r);
    case Request::put_value:
      return handle_put_value(c, r);
    case Request::snapshot:
      return handle_snapshot(c, r);
    case Request::slab:
      return handle_slab(c, r);
    case Request::drain_notice:
      // The ring was drained above; a notice has no reply.
      return decode_notice(r).has_value();
  }
  return false;
}

void RequestHandler::reply_status(Connection& c, Status s, const std::string& error) {
  if (s != Status::ok) {
    loop_.reply_error(c, s, error);
    return;
  }
  loop_.reply(c, encode_ok_reply());
}

Status RequestHandler::create(const ObjectId& id, std::uint64_t data_size, std::uint64_t metadata_size,
                              const Connection& c, ObjectTable::Created& out, std::string& error) {
  if (spill_ && spill_->find(id)) {
    // Ids are write-once: an evicted object keeps its id while spilled.
    error = "object " + id.hex() + " already exists (spilled to disk); remove it first or use another id";
    return Status::exists;
  }
  return table_.create(id, data_size, metadata_size, c.pid, c.id, out, error);
}

bool RequestHandler::handle_create(Connection& c, FrameReader& r) {
  const std::optional<std::vector<ObjectSizes>> objects = decode_create(r);
  if (!objects) {
    loop_.reply_error(c, Status::invalid, "malformed create request");
    return true;
  }
  std::vector<ObjectTable::Created> created(objects->size());
  std::string error;
  for (std::size_t i = 0; i < objects->size(); ++i) {
    const ObjectSizes& o = (*objects)[i];
    if (const Status s = create(o.id, o.data_size, o.metadata_size, c, created[i], error); s != Status::ok) {
      // All or nothing.
      for (std::size_t j = 0; j < i; ++j) {
        table_.abort_index(created[j].index);
      }
      loop_.reply_error(c, s, error);
      return true;
    }
  }
  loop_.reply(c, encode_create_reply(created));
  return true;
}

bool RequestHandler::handle_object(Connection& c, Request type, FrameReader& r) {
  std::string error;
  if (type == Request::evict) {
    const std::optional<std::uint64_t> bytes = decode_evict(r);
    if (bytes) {
      loop_.reply(c, encode_count_reply(table_.evict(*bytes)));
    }
    return bytes.has_value();
  }
  if (type == Request::list) {
    if (decode_bare_request(r)) {
      loop_.reply(c, encode_list_reply(table_.list()));
      return true;
    }
    return false;
  }
  const std::optional<ObjectId> id = decode_id_request(r);
  if (!id) {
    return false;
  }
  if (type == Request::abort) {
    reply_status(c, table_.abort(*id, c.id, error), error);
  } else if (type == Request::restore) {
    reply_status(c, restore(*id, error), error);
  } else {
    bool deferred = false;
    Status s = table_.remove(*id, deferred, error);
    if (s == Status::not_found && spill_ && spill_->erase(*id)) {
      update_spill_stats();
      s = Status::ok;
    }
    if (s != Status::ok) {
      loop_.reply_error(c, s, error);
    } else {
      loop_.reply(c, encode_remove_reply(deferred));
    }
  }
  return true;
}

bool RequestHandler::handle_subscription(Connection& c, Request type, FrameReader& r) {
  if (type == Request::subscribe) {
    if (!decode_bare_request(r)) {
      return false;
    }
    // Counted before the snapshot: a client sealing concurrently either
    // sees the count and notifies, or its seal is in the snapshot.
    arena_.view().header().subscribers.fetch_add(1, std::memory_order_seq_cst);
    const std::vector<StoreEvent> snapshot = table_.snapshot();
    c.subscriber = true;
    if (c.client_slot >= 0) {
      fast_.recall(static_cast<std::uint64_t>(c.client_slot));  // a subscriber only reads
    }
    loop_.reply(c, encode_ok_reply());
    for (const StoreEvent& event : snapshot) {
      loop_.queue_event(c, event);
    }
    loop_.flush(c);
    loop_.log("store: client pid " + std::to_string(c.pid) + " subscribed");
    return true;
  }
  if (type == Request::subscribe_names) {
    if (!decode_bare_request(r)) {
      return false;
    }
    c.name_subscriber = true;
    arena_.view().header().name_subscribers.fetch_add(1, std::memory_order_seq_cst);
    if (c.client_slot >= 0) {
      fast_.recall(static_cast<std::uint64_t>(c.client_slot));
    }
    loop_.reply(c, encode_ok_reply());
    loop_.log("store: client pid " + std::to_string(c.pid) + " subscribed to name changes");
    return true;
  }
  const std::optional<Notice> notice = decode_notice(r);
  if (!notice) {
    // Notices have no reply to carry an error: the sender is broken.
    loop_.log("store: client pid " + std::to_string(c.pid) + " sent a malformed notice; disconnecting it");
    c.closing = true;
    return true;
  }
  if (type == Request::sealed_notice) {
    table_.sealed_notice(notice->index, notice->generation);
  } else {
    table_.recheck_doomed();
  }
  return true;
}

std::optional<std::uint64_t> RequestHandler::admit(pid_t pid) {
  const auto free_slot = std::find(client_slot_used_.begin(), client_slot_used_.end(), false);
  if (free_slot == client_slot_used_.end()) {
    return std::nullopt;
  }
  const auto slot = static_cast<std::uint64_t>(free_slot - client_slot_used_.begin());
  const ArenaView& view = arena_.view();
  ClientSlot& cs = view.client(slot);
  LeaseRecord* leases = view.leases(slot);
  for (std::uint64_t l = 0; l < view.header().leases_per_client; ++l) {
    leases[l].count.store(0, std::memory_order_relaxed);
    leases[l].key.store(0, std::memory_order_relaxed);
  }
  cs.lease_high.store(0, std::memory_order_relaxed);
  cs.waiting.store(0, std::memory_order_relaxed);
  cs.slab_offset.store(0, std::memory_order_relaxed);
  cs.slab_alloc.store(0, std::memory_order_relaxed);
  cs.ring_head.store(0, std::memory_order_relaxed);
  cs.ring_tail.store(0, std::memory_order_relaxed);
  cs.name_ops_begun.store(0, std::memory_order_relaxed);
  cs.name_ops_ended.store(0, std::memory_order_relaxed);
  view.bind_keys(slot).handled.store(0, std::memory_order_relaxed);
  ++client_incarnation_[slot];
  cs.pid = pid;
  cs.in_use.store(1, std::memory_order_seq_cst);
  *free_slot = true;
  view.header().clients.fetch_add(1, std::memory_order_relaxed);
  return slot;
}

void RequestHandler::lend_at_connect(std::uint64_t slot, std::uint64_t connection) {
  fast_.lend_to_writer(slot, connection);
}

void RequestHandler::admit_failed(std::uint64_t slot) noexcept {
  try {
    fast_.client_gone(slot, fast_hooks_);  // gives back the slab lent at connect
  } catch (...) {
    // Only allocation can fail here.
  }
  const ArenaView& view = arena_.view();
  view.client(slot).in_use.store(0, std::memory_order_seq_cst);
  client_slot_used_[slot] = false;
  view.header().clients.fetch_sub(1, std::memory_order_relaxed);
}

void RequestHandler::disconnected(Connection& c) noexcept {
  stop_waiting(c);
  const ArenaView& view = arena_.view();
  if (c.subscriber) {
    view.header().subscribers.fetch_sub(1, std::memory_order_seq_cst);
  }
  if (c.name_subscriber) {
    view.header().name_subscribers.fetch_sub(1, std::memory_order_seq_cst);
  }
  if (c.client_slot >= 0) {
    const auto slot = static_cast<std::uint64_t>(c.client_slot);
    // Its records are drained below; a share it took and never published
    // must not pass to the next client in its slot.
    fast_.forget_binds(slot);
    try {
      // What it published, and what it wrote and died before publishing,
      // is adopted; its slab's rest is freed; its cells are settled before
      // the values it held for a name are let go.
      if (fast_.client_gone(slot, fast_hooks_)) {
        table_.repair_entries();
        reconcile_all_cells(slot);
        fast_.release_held(slot);
      }
    } catch (...) {
      // Only allocation can fail here.
    }
    // The client is gone, so nobody writes its lease table any more:
    // dropping it releases every reference it held.
    ClientSlot& cs = view.client(slot);
    cs.in_use.store(0, std::memory_order_seq_cst);
    view.header().waiters.fetch_sub(cs.waiting.exchange(0, std::memory_order_seq_cst), std::memory_order_seq_cst);
    LeaseRecord* leases = view.leases(slot);
    for (std::uint64_t l = 0; l < view.header().leases_per_client; ++l) {
      leases[l].count.store(0, std::memory_order_relaxed);
    }
    client_slot_used_[slot] = false;
  }
  view.header().clients.fetch_sub(1, std::memory_order_relaxed);
  try {
    table_.drop_owner(c.id);
    table_.recheck_doomed();
  } catch (...) {
    // Only allocation can fail here; the objects stay until the next check.
  }
}

bool RequestHandler::handle_slab(Connection& c, FrameReader& r) {
  if (!decode_bare_request(r) || c.client_slot < 0) {
    return false;
  }
  const bool lent = fast_.refill(static_cast<std::uint64_t>(c.client_slot), c.id);
  loop_.reply(c, encode_count_reply(lent ? arena_.view().header().slab_bytes : 0));
  return true;
}

void RequestHandler::drain_published() noexcept {
  if (fast_.any_lent()) {
    try {
      if (fast_.drain_all(fast_hooks_) != 0) {
        last_published_ = std::chrono::steady_clock::now();
      }
    } catch (const std::exception& e) {
      loop_.log(std::string("store: handling published writes failed: ") + e.what());
    }
  }
  check_binds_in_flight();
  count_names();  // rewritten each time: clients can write the header
}

void RequestHandler::check_binds_in_flight() noexcept {
  std::atomic<std::uint64_t>& in_flight = arena_.view().header().binds_in_flight;
  std::uint64_t word = in_flight.load(std::memory_order_seq_cst);
  if (word == 0) {
    stuck_binds_word_ = 0;
    return;
  }
  const std::uint64_t owner = bind_owner(word);
  const auto now = std::chrono::steady_clock::now();
  // A word no client could have left (no owner, a count of 0, an owner not
  // connected), or one that stays up for a second while its owner has
  // nothing to drain (a process still writing after it was dropped, in
  // the slot of another), would send every name operation to the server.
  bool clear = owner == 0 || bind_count(word) == 0 || owner > client_slot_used_.size() || !client_slot_used_[owner - 1];
  if (!clear && fast_.records_pending(owner - 1)) {
    stuck_binds_word_ = 0;
    return;
  }
  if (!clear && word != stuck_binds_word_) {
    stuck_binds_word_ = word;
    stuck_binds_since_ = now;
    return;
  }
  if (clear || now - stuck_binds_since_ >= std::chrono::seconds(1)) {
    if (in_flight.compare_exchange_strong(word, 0, std::memory_order_seq_cst)) {
      loop_.log("store: the count of first binds in flight named no client with binds to apply; cleared it");
    }
    stuck_binds_word_ = 0;
  }
}

int RequestHandler::poll_timeout_ms() const noexcept {
  if (!fast_.any_lent()) {
    return -1;
  }
  // Busy publishers are drained every millisecond, an idle store's rings
  // every kIdleDrainMs. A server that slept until rung would make the
  // first set after a quiet spell pay for the ring: a send that wakes a
  // thread on another core, 22-32 us on a VM (measured), most of what a
  // round trip costs. Waking 100 times a second costs ~0.05% of a core.
  if (std::chrono::steady_clock::now() - last_published_ < std::chrono::milliseconds(100)) {
    return 1;
  }
  return kIdleDrainMs;
}

void RequestHandler::polling_until(std::chrono::steady_clock::time_point until) noexcept {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(until.time_since_epoch()).count();
  arena_.view().header().server_polling_until_ns.store(ns, std::memory_order_relaxed);
}

void RequestHandler::wake_getters() noexcept {
  auto& h = arena_.view().header();
  h.seal_seq.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(h.seal_seq);
}

}  // namespace shmkit::detail
