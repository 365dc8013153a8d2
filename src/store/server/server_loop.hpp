#pragma once
// The server thread: accepts clients, passes them the arena, answers their
// requests and streams events to subscribers. Everything a client sends is
// parsed with bounds checks; a malformed request gets an error reply, a
// malformed frame (length out of range) closes that one connection.

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <shmkit/store/store_client.hpp>
#include <shmkit/store/store_options.hpp>

#include "store/common/arena.hpp"
#include "store/common/name_index_map.hpp"
#include "store/persist/name_persistence.hpp"
#include "store/persist/spill_store.hpp"
#include "store/server/name_index_writer.hpp"
#include "store/server/name_table.hpp"
#include "store/server/object_table.hpp"

namespace shmkit::detail {

class StoreServerLoop {
 public:
  explicit StoreServerLoop(StoreOptions options);
  StoreServerLoop(const StoreServerLoop&) = delete;
  StoreServerLoop& operator=(const StoreServerLoop&) = delete;
  ~StoreServerLoop();

  void stop() noexcept;
  [[nodiscard]] const std::string& socket_path() const noexcept { return options_.socket_path; }
  [[nodiscard]] StoreStats stats() const noexcept;

 private:
  struct Connection {
    int fd = -1;
    std::uint64_t id = 0;
    std::int64_t client_slot = -1;
    pid_t pid = 0;
    uid_t uid = 0;
    std::vector<std::byte> in;
    std::vector<std::byte> out;
    std::size_t out_sent = 0;
    bool subscriber = false;
    std::deque<StoreEvent> events;
    bool closing = false;
    // The (namespace, name) a blocked get_name on this connection waits for.
    std::optional<std::pair<std::string, std::string>> waiting_for;
  };
  using NameKey = std::pair<std::string, std::string>;

  void run() noexcept;
  void accept_clients();
  void read_from(Connection& c);
  void handle(Connection& c, std::span<const std::byte> body);
  void dispatch(Connection& c, std::span<const std::byte> body);
  void handle_create(Connection& c, FrameReader& r);
  // Name requests; false when the request is malformed.
  bool handle_name(Connection& c, Request type, FrameReader& r);
  bool handle_put_value(Connection& c, FrameReader& r);
  bool handle_snapshot(Connection& c, FrameReader& r);
  // Binds a name to a sealed object: persisted first (if enabled), then
  // pinned, published in the shared index, and waiters woken.
  Status bind_name(const std::string& ns, const std::string& name, const ObjectId& id, std::string& error);
  // Unbinds a name (persistence first); false if it was not bound.
  // @throws Error when the persistence cannot record it
  bool unbind_name(const std::string& ns, const std::string& name);
  std::uint64_t remove_namespace(const std::string& ns);
  // Moves a spilled object back into the arena (ok if it is there already).
  Status restore(const ObjectId& id, std::string& error);
  // Keeps an object about to be evicted in the spill environment.
  bool spill_object(const ObjectRecord& record) noexcept;
  void update_spill_stats() noexcept;
  // Loads the persisted names at start. @throws StoreFullError, CorruptDataError
  void load_persisted();
  void wake_name_waiters(const NameKey& key, const ObjectId& id);
  void stop_waiting(Connection& c) noexcept;
  void reply(Connection& c, std::vector<std::byte>& frame);
  void reply_error(Connection& c, Status status, const std::string& message);
  void flush(Connection& c) noexcept;
  void queue_event(Connection& c, const StoreEvent& event);
  void broadcast(const StoreEvent& event);
  void close_connection(Connection& c) noexcept;
  void log(const std::string& line) const noexcept;

  StoreOptions options_;
  ArenaMapping arena_;
  std::uint64_t max_names_;
  NameIndexMapping name_index_map_;
  NameIndexWriter name_index_;
  std::unique_ptr<SpillStore> spill_;
  ObjectTable table_;
  NameTable names_;
  std::unique_ptr<NamePersistence> persistence_;
  std::map<NameKey, std::vector<std::uint64_t>> name_waiters_;  // connection ids
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<bool> client_slot_used_;
  std::uint64_t next_connection_id_ = 1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace shmkit::detail
