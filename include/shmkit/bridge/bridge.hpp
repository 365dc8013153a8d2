#pragma once
/// @file
/// Bridges namespaces of a local store to Redis, so that stores on several
/// machines share their names:
///
/// ```cpp
/// shmkit::BridgeOptions options;
/// options.store_socket = "/tmp/rig.sock";
/// options.namespaces = {"exp1"};
/// options.redis_url = "redis://analysis-host:6379/0";
/// options.host_id = "rig-2";
/// shmkit::Bridge bridge = shmkit::Bridge::create(options);
/// bridge.run();  // until stop()
/// ```
///
/// Both directions: a local bind, rebind or erase of a name in a bridged
/// namespace is written to Redis (value, shmkit metadata, origin host,
/// per-origin sequence number, origin timestamp) and published; every
/// remote change is applied to the local store (an array arrives as an
/// array). Values a bridge imported carry their origin in the object's
/// metadata, so it never exports them again: no loops, whatever the number
/// of hosts.
///
/// Conflicts: last writer wins by (origin timestamp, origin host id),
/// decided inside Redis by one Lua script per write, so concurrent writers
/// on several hosts converge to the same value everywhere. The origin
/// timestamp of a value set through `Brain` is its creation time (the
/// writer's clock); of an erase, or of a value without typed metadata, the
/// time the bridge saw it. Hosts' clocks should therefore agree (NTP).
///
/// Redis layout, with prefix P: a hash `P:v:<ns>:<name>` per name (fields
/// ts, origin, seq, deleted, type, dtype, shape, description, meta, data;
/// an erased name stays as a tombstone with deleted=1), a counter
/// `P:seq:<origin>` per host, and the channel `P:changes` carrying
/// "<origin>\t<seq>\t<ns>\t<name>" for every accepted write.
///
/// Faults: when Redis is unreachable the bridge keeps running, retries with
/// exponential backoff and logs each attempt; the local store is not
/// affected. On every (re)connection it runs a full sync: local values out
/// (through the same last-writer-wins script), erases made meanwhile out,
/// then every Redis value newer than the local one in. A restarted bridge
/// converges the same way.
///
/// Caveats: an erase made while no bridge runs is not seen (the name comes
/// back from Redis at the next sync); tombstones are never removed from
/// Redis; a local set that lands within microseconds of an import of an
/// older remote value of the same name can be overwritten by it (the store
/// has no conditional bind); imported objects carry a trailer after their
/// metadata (invisible to `Brain`, visible to raw `get_buffer` readers).
///
/// Thread safety: `run` on one thread; `stop` and `stats` from any thread
/// (`stop` also from a signal handler).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace shmkit {

/// What `Bridge::create` needs.
struct BridgeOptions {
  std::string store_socket;             ///< the local store server's socket
  std::vector<std::string> namespaces;  ///< bridged namespaces (at least one)
  /// `redis://host:port/db` (port defaults to 6379, db to 0) or
  /// `unix:///path/to/redis.sock` (optionally `?db=N`).
  std::string redis_url;
  std::string password;                           ///< Redis AUTH password; empty: none
  std::string prefix = "shmkit";                  ///< prefix of every Redis key and channel
  std::string host_id;                            ///< this store's origin id; empty: "<hostname>:<store_socket>"
  std::uint64_t max_value_bytes = 64ULL << 20;    ///< larger values are refused (both ways)
  std::chrono::milliseconds min_backoff{50};      ///< first retry delay after a Redis failure
  std::chrono::milliseconds max_backoff{2000};    ///< the delay doubles up to this
  std::chrono::milliseconds redis_timeout{2000};  ///< connect and command timeout
  /// Receives every line the bridge logs (connects, failures, refusals);
  /// empty: standard error. Called on the thread that runs `run`.
  std::function<void(const std::string&)> log;
};

/// Counters of a running bridge (monotonic; read with `Bridge::stats`).
struct BridgeStats {
  std::uint64_t exported = 0;      ///< local changes Redis accepted
  std::uint64_t stale = 0;         ///< local changes Redis refused: it held a newer value
  std::uint64_t imported = 0;      ///< remote changes applied to the local store
  std::uint64_t refused = 0;       ///< values over max_value_bytes, not bridged
  std::uint64_t connects = 0;      ///< successful (re)connections to Redis
  std::uint64_t syncs = 0;         ///< full syncs completed
  std::uint64_t redis_errors = 0;  ///< connection attempts or commands that failed
  bool connected = false;          ///< connected to Redis and synced right now
};

/// A running bridge between one local store and Redis.
class Bridge {
 public:
  /// Connects to the local store and subscribes to its name changes. Redis
  /// need not be reachable yet: `run` connects (and keeps reconnecting).
  /// @throws Error naming the option (no namespace, malformed URL, bad
  ///         prefix or host id), NameError (bad namespace), TimeoutError or
  ///         Error (as StoreClient::connect)
  [[nodiscard]] static Bridge create(BridgeOptions options);

  Bridge(Bridge&&) noexcept;
  Bridge& operator=(Bridge&&) noexcept;
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;
  ~Bridge();

  /// Bridges until `stop` is called. Redis failures are logged and retried,
  /// never thrown. SIGPIPE is blocked on the calling thread meanwhile (a
  /// write to a vanished Redis is then an error, not a dead process).
  /// @throws Error when the local store server goes away
  void run();

  /// Makes `run` return soon. Async-signal-safe.
  void stop() noexcept;

  [[nodiscard]] BridgeStats stats() const noexcept;

  /// The origin id this bridge writes (host_id or its default).
  [[nodiscard]] const std::string& host_id() const noexcept;

  struct State;

 private:
  explicit Bridge(std::unique_ptr<State> state) noexcept;
  std::unique_ptr<State> state_;
};

}  // namespace shmkit
