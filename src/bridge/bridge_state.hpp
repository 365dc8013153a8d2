#pragma once
// The bridge's state and its work, split by job: bridge.cpp connects,
// reconnects and runs the loop; bridge_local.cpp turns local name changes
// into Redis writes; bridge_remote.cpp applies Redis changes locally and
// runs the full sync. One thread (the one in run) touches all of it but
// the atomics.

#include <shmkit/bridge/bridge.hpp>
#include <shmkit/store/store_client.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bridge/backoff.hpp"
#include "bridge/redis_client.hpp"
#include "bridge/redis_url.hpp"
#include "bridge/stamp.hpp"
#include "core/detail/unique_fd.hpp"

namespace shmkit {

using BridgeKey = std::pair<std::string, std::string>;  // (namespace, name)

struct Bridge::State {
  using Clock = std::chrono::steady_clock;

  // What the local store holds for a name, as far as the bridge knows.
  struct Local {
    detail::Stamp stamp;  // origin == host_id: set here; else imported
    ObjectId id;          // unset for an erased name
  };

  State(BridgeOptions opts, detail::RedisEndpoint where, StoreClient client, Subscription subscription,
        detail::UniqueFd wake_fd);

  // bridge.cpp
  void run();
  void try_connect();
  void disconnect(const std::string& why);
  void log(const std::string& line) const;
  [[nodiscard]] bool bridged(const std::string& ns) const { return namespaces.count(ns) != 0; }
  [[nodiscard]] std::string value_key(const BridgeKey& key) const {
    return options.prefix + ":v:" + key.first + ":" + key.second;
  }

  // bridge_local.cpp
  void drain_local_events();
  void on_local_event(const StoreEvent& event);
  void on_local_set(const BridgeKey& key, const ObjectId& id);
  void on_local_erase(const BridgeKey& key);
  // Writes one value (or tombstone) through the last-writer-wins script.
  // @returns true when Redis took it. @throws RedisError
  bool export_value(const BridgeKey& key, const detail::Stamp& stamp, std::span<const std::byte> metadata,
                    std::span<const std::byte> data);
  void export_erase(const BridgeKey& key, const detail::Stamp& stamp);
  // Exports the local value `id` of `key` if it was set here (not imported).
  void export_local(const BridgeKey& key, const ObjectId& id);
  // After Redis took the local value `id`: if an import of an older value
  // replaced it in the store meanwhile (the import was decided before this
  // value's event arrived), the store gets `id`'s bytes back.
  void restore_if_overwritten(const BridgeKey& key, const ObjectId& id, const detail::Stamp& stamp,
                              std::span<const std::byte> metadata, std::span<const std::byte> data);

  // bridge_remote.cpp
  void on_message(detail::RedisReply message);
  // Reads `key` from Redis and applies it locally if it is newer.
  void pull(const BridgeKey& key);
  void apply(const BridgeKey& key, const detail::Stamp& stamp, std::span<const std::byte> metadata,
             std::span<const std::byte> data);
  void full_sync();
  [[nodiscard]] ObjectId next_id();

  BridgeOptions options;
  detail::RedisEndpoint endpoint;
  std::set<std::string> namespaces;
  std::string channel;
  StoreClient store;
  Subscription names;
  detail::UniqueFd wake;
  std::atomic<bool> stopping{false};

  std::optional<detail::RedisClient> redis;       // commands
  std::optional<detail::RedisClient> subscriber;  // SUBSCRIBE channel
  detail::Backoff backoff;
  Clock::time_point next_attempt{};
  bool reported_down = false;

  std::map<BridgeKey, Local> local;
  std::multiset<BridgeKey> own_drops;                 // erase events the bridge caused itself
  std::map<BridgeKey, detail::Stamp> pending_erases;  // local erases Redis has not taken yet
  std::vector<BridgeKey> pending_pulls;               // found newer in Redis by a full sync
  std::uint64_t id_prefix = 0;
  std::uint64_t id_counter = 0;

  std::atomic<std::uint64_t> exported{0}, stale{0}, imported{0}, refused{0}, connects{0}, syncs{0}, redis_errors{0};
  std::atomic<bool> connected{false};
};

}  // namespace shmkit
