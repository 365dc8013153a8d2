#pragma once
// What the server does with a request: the store's state (the object
// table, the names and their shared index, spill and persistence) and one
// handler per kind of request, each decoding it with messages.hpp and
// replying through the event loop. Only the server thread calls it.
// Requests leave the store consistent when they fail midway (persistence
// and spill are written before memory changes), so a failure such as a
// full disk is an error reply, not a dropped client.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <shmkit/store/store_options.hpp>
#include <shmkit/store/store_types.hpp>

#include "store/common/arena.hpp"
#include "store/common/name_index_map.hpp"
#include "store/common/protocol.hpp"
#include "store/persist/name_persistence.hpp"
#include "store/persist/spill_store.hpp"
#include "store/server/connection.hpp"
#include "store/server/fast_writes.hpp"
#include "store/server/name_cells.hpp"
#include "store/server/name_index_writer.hpp"
#include "store/server/name_table.hpp"
#include "store/server/object_table.hpp"

namespace shmkit::detail {

class EventLoop;

class RequestHandler {
 public:
  // Creates the arena and the name index and loads persisted names.
  // @throws Error, StoreFullError, CorruptDataError
  RequestHandler(const StoreOptions& options, EventLoop& loop);

  // Answers one frame of `c` (or drops `c` if it may not send it).
  void handle(Connection& c, std::span<const std::byte> body);

  // A new client: its lease table is cleared and marked in use. nullopt
  // when every slot is taken.
  [[nodiscard]] std::optional<std::uint64_t> admit(pid_t pid);
  // Lends the client of connection `connection` in `slot` a slab if the
  // store has free room for one, before its welcome: its first set, a
  // name's first bind included, then needs no round trip.
  void lend_at_connect(std::uint64_t slot, std::uint64_t connection);
  // The welcome could not be sent: the slot is free again.
  void admit_failed(std::uint64_t slot) noexcept;
  // A connection closed: its references, unsealed objects and wait go.
  void disconnected(Connection& c) noexcept;
  // Wakes every blocked get (the server is stopping: they see the socket close).
  void wake_getters() noexcept;

  // Client-side writes: handles what clients published in their rings.
  // Called before every request and on every turn of the event loop.
  void drain_published() noexcept;
  // How long the event loop may sleep: 1 ms while clients publish, so
  // their writes are adopted and names announced within a millisecond;
  // kIdleDrainMs when nothing was published for a while but a client holds
  // a slab (see the definition); no limit when none does.
  [[nodiscard]] int poll_timeout_ms() const noexcept;
  // Tells clients until when the event loop polls without sleeping
  // (ArenaHeader::server_polling_until_ns).
  void polling_until(std::chrono::steady_clock::time_point until) noexcept;

  [[nodiscard]] std::size_t max_clients() const noexcept { return client_slot_used_.size(); }
  [[nodiscard]] int arena_fd() const noexcept { return arena_.fd(); }
  [[nodiscard]] int name_index_fd() const noexcept { return name_index_map_.fd(); }
  [[nodiscard]] std::uint64_t arena_bytes() const noexcept { return arena_.view().header().arena_bytes; }
  [[nodiscard]] StoreStats stats() const noexcept { return read_stats(arena_.view().header()); }

 private:
  // One handler per job; each returns false when the request is malformed.
  bool dispatch(Connection& c, Request type, FrameReader& r);
  bool handle_object(Connection& c, Request type, FrameReader& r);
  bool handle_create(Connection& c, FrameReader& r);
  bool handle_subscription(Connection& c, Request type, FrameReader& r);
  bool handle_name(Connection& c, Request type, FrameReader& r);
  bool handle_put_value(Connection& c, FrameReader& r);
  bool handle_snapshot(Connection& c, FrameReader& r);
  bool handle_slab(Connection& c, FrameReader& r);
  // Replies ok, or the error `s` with `error`.
  void reply_status(Connection& c, Status s, const std::string& error);

  // Creates an object, refusing an id that is spilled (ids are write-once).
  Status create(const ObjectId& id, std::uint64_t data_size, std::uint64_t metadata_size, const Connection& c,
                ObjectTable::Created& out, std::string& error);
  // Binds a name to a sealed object: persisted first (if enabled), then
  // pinned, published in the shared index, and waiters woken. `allowance`
  // names over the limit are accepted (see bind_published).
  Status bind_name(const std::string& ns, const std::string& name, const ObjectId& id, std::string& error,
                   std::uint64_t allowance = 0);
  // Applies a first bind a client published (FastWrites::Hooks::bind).
  bool bind_published(const std::string& ns, const std::string& name, std::uint32_t index, std::uint32_t generation);
  // Writes the number of names to the arena header (ArenaHeader::names).
  void count_names() noexcept;
  // Clears ArenaHeader::binds_in_flight when it names no connected client
  // or stays up for a second with nothing of its owner's to drain (a
  // client wrote it): name operations would otherwise go to the server
  // for good.
  void check_binds_in_flight() noexcept;
  // Unbinds a name (persistence first); false if it was not bound.
  // @throws Error when the persistence cannot record it
  bool unbind_name(const std::string& ns, const std::string& name);
  std::uint64_t remove_namespace(const std::string& ns);
  // Points the name's cell (and, for a new name, the shared index) at `id`.
  void publish_binding(const std::string& ns, const std::string& name, const ObjectId& id);
  // Drops the name's index entry and cell.
  void withdraw_binding(const std::string& ns, const std::string& name);
  void compact_name_index();
  // A client swapped `cell`: the name now refers to the object the cell
  // holds if a client wrote it for a name (held for its rebind record, or
  // written by the `departing` client); then it is pinned, announced and
  // waiters are woken. Anything else in the cell is replaced by the last
  // accepted value.
  void reconcile_cell(std::uint32_t cell, std::optional<std::uint64_t> departing = std::nullopt);
  // Every cell, after the client in slot `departing` is gone.
  void reconcile_all_cells(std::uint64_t departing);
  // The clients in the middle of a name operation (NameCells::Waiting),
  // and whether the one `w` waits for has ended.
  [[nodiscard]] std::vector<NameCells::Waiting> name_ops_in_flight() const;
  [[nodiscard]] bool name_op_done(const NameCells::Waiting& w) const;
  void wake_name_waiters(const NameKey& key, const ObjectId& id);
  // A name_changed event to the name subscribers; `id` unset for an erase.
  void announce_name(const std::string& ns, const std::string& name, const ObjectId& id, std::uint64_t data_size,
                     std::uint64_t metadata_size);
  void stop_waiting(Connection& c) noexcept;

  // Moves a spilled object back into the arena (ok if it is there already).
  Status restore(const ObjectId& id, std::string& error);
  // Keeps an object about to be evicted in the spill environment.
  bool spill_object(const ObjectRecord& record) noexcept;
  void update_spill_stats() noexcept;
  // Loads the persisted names at start. @throws StoreFullError, CorruptDataError
  void load_persisted();

  EventLoop& loop_;
  ArenaMapping arena_;
  std::uint64_t max_names_;
  NameIndexMapping name_index_map_;
  NameIndexWriter name_index_;
  std::unique_ptr<SpillStore> spill_;
  ObjectTable table_;
  NameCells cells_;
  FastWrites fast_;
  FastWrites::Hooks fast_hooks_;
  std::chrono::steady_clock::time_point last_published_{};
  // A binds_in_flight word seen up with nothing of its owner's to drain,
  // and since when (check_binds_in_flight).
  std::uint64_t stuck_binds_word_ = 0;
  std::chrono::steady_clock::time_point stuck_binds_since_{};
  NameTable names_;
  std::unique_ptr<NamePersistence> persistence_;
  std::map<NameKey, std::vector<std::uint64_t>> name_waiters_;  // connection ids
  std::vector<bool> client_slot_used_;
  // Bumped on every admit: a cell quarantined for a slot's client waits
  // for that client only, not for the next one in the slot.
  std::vector<std::uint64_t> client_incarnation_;
};

}  // namespace shmkit::detail
