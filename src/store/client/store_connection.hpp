#pragma once
// One client connection: the socket, the arena mappings and this client's
// lease table bookkeeping. Shared by the StoreClient and every buffer it
// handed out, so buffers outlive the client safely.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <shmkit/core/error.hpp>
#include <shmkit/store/store_client.hpp>

#include "store/common/arena.hpp"
#include "store/common/messages.hpp"
#include "store/common/name_index_map.hpp"
#include "store/common/protocol.hpp"

namespace shmkit::detail {

// Opens a second connection to the server at `path` that needs no arena
// mapping (subscriptions, blocking name lookups); returns its socket.
// @throws TimeoutError, Error (refused)
int open_side_connection(const std::string& path, std::chrono::steady_clock::time_point deadline);

class StoreConnection {
 public:
  StoreConnection(std::string path, int fd, ArenaMapping arena, NameIndexMapping names,
                  std::uint32_t client_slot) noexcept;
  StoreConnection(const StoreConnection&) = delete;
  StoreConnection& operator=(const StoreConnection&) = delete;
  ~StoreConnection();

  // Sends one request and returns the reply body after its status byte.
  // @throws the Error subclass matching a failure status
  std::vector<std::byte> request(const Frame& frame);

  // Sends every frame, then reads every reply (one round trip for all).
  // @throws the Error matching the first failed reply, after reading all
  void request_batch(std::span<const Frame> frames);

  // Looks up and references a sealed object; false if it is not sealed.
  // `self` is this connection's owner, stored in the buffer.
  bool try_get(const std::shared_ptr<StoreConnection>& self, const ObjectId& id, ObjectBuffer& out);
  // What one read of a name through the shared index and its cell found.
  enum class NameRead : std::uint8_t {
    got,         // the object is referenced in `out` (or its id is in `id`)
    absent,      // the name is not bound
    ask_server,  // the name has no cell (too long for the index, or none was free), or first binds are in flight
    moved        // the object the cell read is gone (a rebind freed it): read again
  };
  // One read of a name, counted as a name operation (ClientSlot::
  // name_ops_begun/ended) and done under the connection mutex, so a cell
  // the server frees is not given to another name while this client may
  // still read it. With `out` it references the object, else it reads
  // its id into `id`.
  NameRead read_name(const std::shared_ptr<StoreConnection>& self, std::string_view ns, std::string_view name,
                     ObjectBuffer* out, ObjectId* id);

  // Waits (up to a second) until the server has handled what this client
  // published, so the store's counters include its own writes.
  void await_published() noexcept;

  // Client-side writes (docs/STORE_FAST_WRITES.md): creates the object in
  // this client's slab, seals it and swaps the name's cell, with no round
  // trip; a name's first bind is published for the server to apply
  // (publish_bind_locked). False when this value must go through the
  // server: fast writes off, a name too long for the index, another
  // client's first binds in flight, no room in the slab, a full publish
  // ring or a crowded index.
  // @throws ExistsError (id taken), Error (while binding a name dropped meanwhile)
  bool put_named_fast(std::string_view ns, std::string_view name, const ObjectId& id, std::span<const std::byte> data,
                      std::span<const std::byte> metadata);
  void release(std::uint32_t lease) noexcept;

  WritableBuffer create(const ObjectId& id, std::size_t data_size, std::span<const std::byte> metadata);
  void create_batch(std::span<const ObjectToPut> objects);
  void seal(const ObjectId& id);
  void forget_created(const ObjectId& id);

  [[nodiscard]] const ArenaView& view() const noexcept { return arena_.view(); }
  [[nodiscard]] const NameIndexView& names() const noexcept { return names_.view(); }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::uint32_t client_slot() const noexcept { return client_slot_; }
  // True once the server has closed this connection (stopped or died).
  [[nodiscard]] bool server_gone() noexcept;

 private:
  struct Pending {
    std::uint32_t index;
    std::uint32_t generation;
    std::uint64_t created_ctl;  // the control word while created (seal's CAS expects it)
  };
  struct FastCreated {
    Pending pending;
    std::uint64_t offset;  // in the data region
  };
  // Creates an object in this client's slab and publishes it with `kind`
  // (kPublishAdopt or kPublishAdoptNamed); nullopt: ask the server.
  std::optional<FastCreated> fast_create_locked(const ObjectId& id, std::size_t data_size, std::size_t metadata_size,
                                                std::uint32_t kind);
  // `bytes` (a multiple of 64) from the slab, asking for a new slab once
  // when it is used up; nullopt when there is none.
  std::optional<std::uint64_t> allocate_locked(std::uint64_t bytes);
  bool refill_locked();
  // Maps the pages of the slab at `slab_offset` up to granule `end`, a
  // chunk at a time (see allocate_locked).
  void map_slab_locked(std::uint64_t slab_offset, std::uint64_t end) noexcept;
  // Publishes the first bind of a name (not in the index) to the value
  // `id`, written in this client's slab; false when it must go through
  // the server (another client's binds in flight, this client's key area
  // full, the store's names at their limit, no room, or the name bound
  // meanwhile). See ArenaHeader::binds_in_flight.
  bool publish_bind_locked(std::string_view ns, std::string_view name, const ObjectId& id,
                           std::span<const std::byte> data, std::span<const std::byte> metadata);
  // Gives back a share of binds_in_flight taken for a bind not published.
  void release_bind_share_locked() noexcept;
  [[nodiscard]] std::uint64_t ring_space_locked() const noexcept;
  void publish_locked(std::uint32_t kind, std::uint32_t index, std::uint32_t generation, std::uint32_t cell) noexcept;
  // References entry `index` of `generation` if it is sealed; `id` is read
  // from the entry when null.
  bool lease_sealed_locked(const std::shared_ptr<StoreConnection>& self, std::uint32_t index, std::uint32_t generation,
                           const ObjectId* id, ObjectBuffer& out);
  std::vector<std::byte> request_locked(const Frame& frame);
  // Reads one reply frame: its status and the body after it.
  std::pair<Status, std::vector<std::byte>> receive_locked();
  // Decides whether the replies to the request(s) about to be sent are
  // polled for: only when the previous reply came less than spin_us
  // before, i.e. within a burst. A lone request, or the second reply of a
  // batch sent after a pause, sleeps at once: on a machine with more busy
  // processes than cores a polling client takes the CPU the server needs.
  void begin_request_locked() noexcept;
  // One recv of up to `size` bytes, polling briefly before it blocks.
  ssize_t receive_some(std::byte* out, std::size_t size) noexcept;
  [[nodiscard]] Error lost_locked();
  // Sends a create and checks that every object of the reply fits the arena.
  std::vector<CreatedObject> receive_created_locked(const Frame& frame, std::span<const ObjectSizes> objects);
  void notify_locked(Request type, std::uint32_t index, std::uint32_t generation) noexcept;
  void seal_locked(const ObjectId& id);
  // Seals the object created as `pending` (seal_locked without the lookup
  // in created_, for the fast path that creates and seals in one call).
  void seal_pending_locked(const ObjectId& id, const Pending& pending);
  void drop_lease_locked(std::uint32_t lease) noexcept;

  std::string path_;
  int fd_;
  ArenaMapping arena_;
  NameIndexMapping names_;
  std::uint32_t client_slot_;
  std::atomic<std::uint64_t>* cells_;  // the name cells (cell_array)
  std::uint64_t cell_count_;
  std::mutex mutex_;  // socket, lease bookkeeping and `created_`
  bool broken_ = false;
  std::chrono::microseconds reply_poll_{0};  // how long to poll for replies; set by begin_request_locked
  std::vector<std::byte> inbox_;             // reply bytes read ahead of the current frame
  std::unordered_map<std::uint64_t, std::uint32_t> lease_of_;  // lease key -> record
  std::vector<std::uint32_t> free_leases_;
  std::unordered_map<ObjectId, Pending, ObjectIdHash> created_;
  // After the server had no slab to lend, this many creates go straight
  // to it before asking again.
  std::uint32_t refill_skip_ = 0;
  // The offset of the slab whose pages this client mapped last, and the
  // granule its mapped pages end at.
  std::uint64_t mapped_slab_ = ~std::uint64_t{0};
  std::uint64_t mapped_end_ = 0;
  // First binds this client published: the next one's key goes in key
  // slot binds_published_ % kBindKeySlots.
  std::uint64_t binds_published_ = 0;
};

}  // namespace shmkit::detail
