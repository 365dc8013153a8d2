#pragma once
// The server's side of client-side writes (docs/STORE_FAST_WRITES.md): the
// slabs it lends, and the publish rings it drains to learn what clients
// wrote without asking. The server stays the authority: it checks every
// client-written entry against the slab it lent before adopting it into
// the ObjectTable, and it takes back what a dead client left.
//
// A slab is tracked in 64-byte granules from its start:
//   [0, adopted_end)          objects the server adopted (or gaps it freed)
//   [adopted_end, cursor)     allocated by the client, not adopted yet
//   [cursor, limit)           free for the client
//   [freed_from, granules)    already given back (a recall)
// The client moves `cursor` in the shared allocation word; the server
// lowers `limit` to recall the rest. Everything the server frees is below
// `freed_from` and at or above `adopted_end`, so nothing is freed twice.

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/common/layout.hpp"
#include "store/server/object_table.hpp"

namespace shmkit::detail {

class FastWrites {
 public:
  FastWrites(const ArenaView& view, ObjectTable& table);

  [[nodiscard]] bool enabled() const noexcept { return slab_granules_ != 0; }
  // Some client holds a slab (so its ring may fill at any time).
  [[nodiscard]] bool any_lent() const noexcept { return lent_ != 0; }

  // What draining asks of the caller: reconcile a name cell a client
  // swapped, bind a name a client published the first bind of (false when
  // the key is not a valid name), and drop a client that wrote something
  // it may not.
  struct Hooks {
    std::function<void(std::uint32_t cell)> rebind;
    std::function<bool(const std::string& ns, const std::string& name, std::uint32_t index, std::uint32_t generation)>
        bind;
    std::function<void(std::uint64_t connection)> misbehaved;
  };

  // Retires the slab of client `slot` (connection `connection`) and lends
  // it a new one; false when no free extent is large enough (the client
  // then creates through the server, which may evict). The client's ring
  // must have been drained.
  bool refill(std::uint64_t slot, std::uint64_t connection);
  // Lends client `slot` a slab if it has none and the store has a free
  // extent for it: called when the client writes through the server (a
  // first bind), so its next set, a rebind, needs no slab request.
  void lend_to_writer(std::uint64_t slot, std::uint64_t connection);
  // Handles every record in every ring; returns how many there were.
  std::size_t drain_all(const Hooks& hooks);
  // Client `slot` is gone: handles its ring, adopts the entries it wrote
  // and did not report (after checking them like any other), and gives
  // back the rest of its slab. Its held values stay held until
  // release_held (after the caller reconciled every cell). False when the
  // client never had a slab (it wrote nothing itself).
  bool client_gone(std::uint64_t slot, const Hooks& hooks);
  // The object in `index` of `generation` is a value a client wrote for a
  // name and has not sent the rebind record of yet.
  [[nodiscard]] bool held(std::uint32_t index, std::uint32_t generation) const noexcept {
    return held_.contains(cell_target(index, generation));
  }
  // Drops the holds of client `slot` on values it meant to bind.
  void release_held(std::uint64_t slot);
  // Client `slot` is gone: its share of ArenaHeader::binds_in_flight (binds
  // it counted and died before publishing) is taken back.
  void forget_binds(std::uint64_t slot) noexcept;
  // Memory is short: stops every slab at its cursor and frees the rest;
  // returns the bytes freed.
  std::uint64_t recall_all();
  // Client `slot` will not write (it subscribed, or waits for a name): its
  // slab is taken back, all of it when it never wrote.
  void recall(std::uint64_t slot);
  // Takes back every slab its client has not written in (memory is short);
  // returns the bytes freed.
  std::uint64_t recall_unwritten();
  // Client `slot` published records the server has not handled yet.
  [[nodiscard]] bool records_pending(std::uint64_t slot) const noexcept;
  // `target` is a sealed object written by a client that still holds its
  // slab and has not been adopted yet: its own records will follow.
  [[nodiscard]] bool awaited(std::uint64_t target) const noexcept;

 private:
  struct Slab {
    bool lent = false;
    std::uint64_t connection = 0;
    std::uint64_t offset = 0;  // in the data region
    std::uint64_t granules = 0;
    std::uint64_t adopted_end = 0;
    std::uint64_t freed_from = 0;
  };

  void drain(std::uint64_t slot, const Hooks& hooks);
  // Handles one record; false when it is not acceptable.
  bool handle(std::uint64_t slot, std::uint32_t kind, std::uint32_t index, std::uint32_t generation, std::uint32_t cell,
              const Hooks& hooks);
  bool adopt(std::uint64_t slot, std::uint32_t index, std::uint32_t generation, bool hold);
  // Applies a first bind client `slot` published (key slot `key`), then
  // lowers its count in flight.
  bool bind(std::uint64_t slot, std::uint32_t index, std::uint32_t generation, std::uint32_t key, const Hooks& hooks);
  // Lets go of the value `target` if client `slot` holds it.
  void drop_held(std::uint64_t slot, std::uint64_t target);
  // Where the client in `slot` may have allocated up to: the cursor of its
  // allocation word `word`, within what the server's record allows.
  [[nodiscard]] std::uint64_t clamped_cursor(std::uint64_t slot, std::uint64_t word) const noexcept;
  // Stops the client allocating from its slab; returns the cursor.
  std::uint64_t freeze(std::uint64_t slot) noexcept;
  // Records `offset` as client `slot`'s slab and tells the client.
  void lend(std::uint64_t slot, std::uint64_t connection, std::uint64_t offset);
  // Gives back [adopted_end, freed_from) of a slab and forgets it.
  void retire(std::uint64_t slot);
  // Adopts, in offset order, the entries a dead client claimed and did not report.
  void adopt_orphans(std::uint64_t slot, std::uint64_t cursor);
  void give_back(Slab& slab, std::uint64_t from, std::uint64_t to);

  ArenaView view_;
  ObjectTable& table_;
  std::uint64_t slab_granules_;
  std::vector<Slab> slabs_;
  // Values adopted for a name and held until their rebind record:
  // cell_target -> the client slot that holds it.
  std::unordered_map<std::uint64_t, std::uint64_t> held_;
  std::uint64_t lent_ = 0;
};

}  // namespace shmkit::detail
