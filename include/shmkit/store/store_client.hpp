#pragma once
/// @file
/// A connection to a store server: Plasma's operations with the same
/// meaning, with lookups, references, seal and blocking get done directly in
/// shared memory.
///
/// Thread safety: one StoreClient may be used from many threads. Buffers
/// keep the connection (socket and mappings) alive, so they stay readable
/// after the StoreClient itself is destroyed; the connection closes with the
/// last of them.
///
/// Fork: a child process must connect its own StoreClient; one inherited
/// from the parent shares the parent's lease table and socket.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <shmkit/store/object_id.hpp>
#include <shmkit/store/store_types.hpp>

namespace shmkit {

namespace detail {
class StoreConnection;
enum class Request : std::uint8_t;
}  // namespace detail

/// A read-only view of a sealed object holding one reference to it.
///
/// Move-only; the reference is dropped by `release()` or the destructor.
/// Data and metadata are mapped read-only: writing through them faults.
class ObjectBuffer {
 public:
  ObjectBuffer() noexcept = default;
  ObjectBuffer(ObjectBuffer&& other) noexcept;
  ObjectBuffer& operator=(ObjectBuffer&& other) noexcept;
  ObjectBuffer(const ObjectBuffer&) = delete;
  ObjectBuffer& operator=(const ObjectBuffer&) = delete;
  ~ObjectBuffer();

  /// False for a default-constructed or released buffer (and for the
  /// entries of `StoreClient::get` whose object did not arrive in time).
  [[nodiscard]] bool valid() const noexcept { return connection_ != nullptr; }
  explicit operator bool() const noexcept { return valid(); }

  [[nodiscard]] const ObjectId& id() const noexcept { return id_; }
  [[nodiscard]] std::span<const std::byte> data() const noexcept { return data_; }
  [[nodiscard]] std::span<const std::byte> metadata() const noexcept { return metadata_; }

  /// Drops the reference now. Idempotent.
  void release() noexcept;

 private:
  friend class detail::StoreConnection;
  std::shared_ptr<detail::StoreConnection> connection_;
  ObjectId id_;
  std::uint32_t lease_ = 0;
  std::span<const std::byte> data_;
  std::span<const std::byte> metadata_;
};

/// The writable data of an object between `create` and `seal`. Holds no
/// reference: it is valid until the object is sealed or aborted.
struct WritableBuffer {
  ObjectId id;
  std::span<std::byte> data;
  std::span<std::byte> metadata;
};

/// One object for the batch `create_and_seal`.
struct ObjectToPut {
  ObjectId id;
  std::span<const std::byte> data;
  std::span<const std::byte> metadata;
};

/// A stream of store events on its own connection. A new subscription first
/// receives a `sealed` event for every object sealed at the time it
/// subscribed, then events as they happen, in the order the server saw them.
class Subscription {
 public:
  Subscription(Subscription&&) noexcept;
  Subscription& operator=(Subscription&&) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription();

  /// The next event, waiting up to `timeout` (0 = poll, negative = forever);
  /// nullopt when none arrived in time.
  /// @throws Error if the server closed the connection
  [[nodiscard]] std::optional<StoreEvent> next(std::chrono::milliseconds timeout);

  /// The socket, readable when an event may be waiting (for poll/epoll).
  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  friend class StoreClient;
  explicit Subscription(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
  std::vector<std::byte> buffer_;
};

/// A client of a store server.
class StoreClient {
 public:
  /// Connects to the server at `socket_path`, retrying until `timeout` while
  /// the socket does not exist yet or refuses connections.
  /// @throws TimeoutError (no server in time), Error (refused: uid not
  ///         allowed, too many clients; layout version mismatch)
  [[nodiscard]] static StoreClient connect(const std::string& socket_path,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(5));

  StoreClient(StoreClient&&) noexcept;
  StoreClient& operator=(StoreClient&&) noexcept;
  StoreClient(const StoreClient&) = delete;
  StoreClient& operator=(const StoreClient&) = delete;
  ~StoreClient();

  /// Allocates an object of `data_size` bytes and copies `metadata` into it.
  /// Evicts sealed, unreferenced objects in LRU order to make room.
  /// @returns the writable data; call `seal` (or `abort`) when done
  /// @throws ExistsError (id in use), StoreFullError (pinned objects leave no
  ///         room), Error (index full, connection lost)
  [[nodiscard]] WritableBuffer create(const ObjectId& id, std::size_t data_size,
                                      std::span<const std::byte> metadata = {});

  /// Makes an object created by this client readable and wakes every get
  /// waiting for it. Done in shared memory, without a round trip.
  /// @throws NotFoundError (not created by this client), Error (already sealed)
  void seal(const ObjectId& id);

  /// Frees an object this client created and has not sealed.
  /// @throws NotFoundError (no such unsealed object of this client)
  void abort(const ObjectId& id);

  /// create + copy + seal of one object.
  void create_and_seal(const ObjectId& id, std::span<const std::byte> data, std::span<const std::byte> metadata = {});

  /// create + copy + seal of many objects with a single round trip; the
  /// creates are all-or-nothing.
  void create_and_seal(std::span<const ObjectToPut> objects);

  /// References sealed objects, waiting up to `timeout` for those not sealed
  /// yet (0 = poll, negative = forever). The result has one buffer per id, in
  /// order; an object that is not sealed in time gives an invalid buffer.
  /// On a store with a spill directory, objects that were evicted to disk
  /// are moved back first (one round trip each).
  /// @throws Error if this client holds `leases_per_client` objects already;
  ///         StoreFullError if a spilled object cannot be moved back because
  ///         nothing else can be evicted (or spilled) to make room
  [[nodiscard]] std::vector<ObjectBuffer> get(std::span<const ObjectId> ids, std::chrono::milliseconds timeout);

  /// `get` of one object; nullopt when it is not sealed in time.
  [[nodiscard]] std::optional<ObjectBuffer> get(const ObjectId& id, std::chrono::milliseconds timeout);

  /// Drops the reference `buffer` holds (same as `buffer.release()`).
  static void release(ObjectBuffer& buffer) noexcept { buffer.release(); }

  /// True when the object exists and is sealed (and not being removed).
  [[nodiscard]] bool contains(const ObjectId& id) const noexcept;

  /// Removes a sealed object; if some client still holds a reference the
  /// removal completes when the last one is released (new gets miss it at
  /// once). @returns false if there is no sealed object with this id
  /// @throws Error if the object is not sealed yet
  bool remove(const ObjectId& id);

  /// Evicts sealed, unreferenced objects in LRU order until at least `bytes`
  /// are freed or none is left. @returns the bytes freed
  std::uint64_t evict(std::uint64_t bytes);

  /// Marks objects as just used, so LRU eviction takes them last.
  void refresh(std::span<const ObjectId> ids) noexcept;

  /// Every object in the store (created and sealed).
  [[nodiscard]] std::vector<ObjectInfo> list();

  /// Opens a subscription on a new connection.
  [[nodiscard]] Subscription subscribe();

  /// Opens a subscription to name changes on a new connection: a
  /// `name_changed` event for every name bound, rebound or dropped (by any
  /// client, `remove_namespace` included) from now on, in the order the
  /// server applied them, and `overflow` when this subscriber fell behind
  /// (list the names again). No snapshot is sent: call `list_names` after
  /// subscribing. Unlike `subscribe`, it makes seals cost nothing extra.
  [[nodiscard]] Subscription subscribe_names();

  /// @name Names
  /// The server keeps a table (namespace, name) -> object id. Namespaces
  /// and names follow the shared-object naming rules (`[A-Za-z0-9._-]`,
  /// 1..200 characters, no leading dot); namespaces are independent ("exp"
  /// and "exp1" share nothing). A name holds a reference of its own on its
  /// object: a named object is never evicted and `remove` refuses it. When
  /// the last name of an object is dropped or rebound the object is removed
  /// (a reader holding it keeps its buffer valid until it releases it).
  /// @{

  /// Binds `name` in `ns` to the sealed object `id`, replacing any earlier
  /// binding atomically: every lookup sees the old or the new object.
  /// @throws NameError, NotFoundError (no sealed object `id`), Error (the
  ///         store holds its limit of 4 names per index slot already)
  void put_name(const std::string& ns, const std::string& name, const ObjectId& id);

  /// The object `name` is bound to, waiting up to `timeout` for a put_name
  /// to bind it (0 = poll, negative = forever). Waiting uses a connection
  /// of its own, so other threads of this client are not held up.
  /// @throws NameError, TimeoutError (not bound in time), Error (server gone)
  [[nodiscard]] ObjectId get_name(const std::string& ns, const std::string& name, std::chrono::milliseconds timeout);

  /// The object `name` is bound to now, or nullopt. Read from the shared
  /// name index without a round trip (names whose namespace + name exceed
  /// 88 bytes ask the server).
  /// @throws NameError
  [[nodiscard]] std::optional<ObjectId> find_name(const std::string& ns, const std::string& name);

  /// `get_name` then `get` of the object, retried when a concurrent rebind
  /// removed the object in between.
  /// @throws NameError, TimeoutError
  [[nodiscard]] ObjectBuffer get_named(const std::string& ns, const std::string& name,
                                       std::chrono::milliseconds timeout);

  /// Creates a sealed object holding `data` and `metadata` and binds `name`
  /// in `ns` to it, replacing any earlier binding atomically (the object of
  /// the old binding goes once its readers release it). When `name` is
  /// bound already and the value fits this client's slab (a quarter of it),
  /// the client writes it and rebinds the name in shared memory, with no
  /// round trip. Otherwise values up to 64 KiB (data + metadata) take one
  /// round trip, the server copying them, and larger ones are written
  /// straight into shared memory, sealed, then bound. If the bind fails the
  /// new object is removed and the old binding stays.
  /// @throws NameError, ExistsError (id in use), StoreFullError, Error
  ///         (name limit reached, persistence refused the write)
  void put_named(const std::string& ns, const std::string& name, const ObjectId& id, std::span<const std::byte> data,
                 std::span<const std::byte> metadata = {});

  /// `put_named` of many objects; the small ones travel in one round trip
  /// together. Each is bound or not on its own (no transaction across them).
  /// @throws the error of the first that failed, after trying them all
  void put_named(std::span<const NamedObject> objects);

  /// Unbinds `name`. @returns false if it was not bound
  /// @throws NameError
  bool drop_name(const std::string& ns, const std::string& name);

  /// The names of `ns` that start with `prefix`, in byte order.
  /// @throws NameError
  [[nodiscard]] std::vector<NameBinding> list_names(const std::string& ns, const std::string& prefix = {});

  /// Every namespace holding at least one name, in byte order.
  [[nodiscard]] std::vector<NamespaceInfo> namespaces();

  /// Drops every name of `ns`; objects no other name refers to go with
  /// them. @returns the number of names dropped
  /// @throws NameError
  std::uint64_t remove_namespace(const std::string& ns);
  /// @}

  /// Writes every named object into a new LMDB environment in `dir`, as
  /// one consistent instant of the store; a store started with
  /// `--persist dir` comes back with those names. The server writes it, with
  /// its own rights, and is busy while it does (about disk speed).
  /// @returns the number of names written
  /// @throws ExistsError (dir holds a database already), Error (denied:
  ///         only the store's own user may; disk errors)
  std::uint64_t snapshot(const std::string& dir);

  [[nodiscard]] StoreStats stats() const noexcept;
  [[nodiscard]] std::uint64_t capacity() const noexcept { return stats().capacity; }
  [[nodiscard]] std::uint64_t used() const noexcept { return stats().used; }
  [[nodiscard]] std::uint64_t free() const noexcept { return stats().free(); }

 private:
  explicit StoreClient(std::shared_ptr<detail::StoreConnection> connection) noexcept;
  // Asks the server to move back from disk every id whose buffer is invalid.
  void restore_spilled(std::span<const ObjectId> ids, std::span<const ObjectBuffer> buffers);
  [[nodiscard]] Subscription open_subscription(detail::Request kind);
  // A value too large for one request: created (in the slab or through the
  // server), then bound by the server; removed if the bind fails.
  void put_large_named(const std::string& ns, const std::string& name, const ObjectId& id,
                       std::span<const std::byte> data, std::span<const std::byte> metadata);
  std::shared_ptr<detail::StoreConnection> connection_;
};

}  // namespace shmkit
