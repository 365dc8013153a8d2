#include <shmkit/bridge/log_collect.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/core/name.hpp>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <vector>

#include "bridge/backoff.hpp"
#include "bridge/collected_log.hpp"
#include "bridge/log_keys.hpp"
#include "bridge/redis_client.hpp"
#include "bridge/redis_url.hpp"
#include "bridge/sigpipe_guard.hpp"

namespace shmkit {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kOriginsRefresh{500};

}  // namespace

struct LogCollector::State {
  struct Origin {
    std::string stream;
    std::unique_ptr<detail::CollectedLog> log;
    bool own_pending = true;  // reading the entries delivered before a restart ("0") before new ones (">")
    std::vector<std::string> to_ack;
  };

  LogCollectorOptions options;
  detail::RedisEndpoint endpoint;
  std::atomic<bool> stop_requested{false};
  std::optional<detail::RedisClient> redis;
  std::map<std::string, Origin> origins;  // by "<host>:<instance>"
  std::set<std::string> refused;          // origins that could not be collected, said once each
  Clock::time_point next_refresh{};
  struct Counters {
    std::atomic<std::uint64_t> collected{0}, duplicates{0}, gaps{0}, acknowledged{0}, origins{0}, connects{0},
        redis_errors{0};
    std::atomic<bool> connected{false};
  } counters;

  explicit State(LogCollectorOptions opts)
      : options(std::move(opts)), endpoint(detail::parse_redis_url(options.redis_url)) {}

  void log(const std::string& line) const {
    if (options.log) {
      options.log("log collect: " + line);
    } else {
      std::cerr << "shmkit log collect: " << line << std::endl;
    }
  }

  void connect() {
    redis.emplace(detail::RedisClient::connect(endpoint, options.password, options.redis_timeout));
    for (auto it = origins.begin(); it != origins.end();) {
      Origin& origin = it->second;
      origin.own_pending = true;  // what was delivered but not acknowledged comes first
      origin.to_ack.clear();
      try {
        create_group(origin.stream);  // again: a Redis that lost its data lost the group
        ++it;
      } catch (const detail::RedisError&) {
        throw;
      } catch (const std::exception& e) {
        log("cannot collect " + origin.stream + " any more: " + e.what() + "; the other origins go on");
        it = origins.erase(it);
      }
    }
    counters.origins.store(origins.size());
    next_refresh = {};
    counters.connects.fetch_add(1);
    counters.connected.store(true);
    log("connected to Redis at '" + endpoint.url + "', writing to '" + options.out_dir.string() + "'");
  }

  void create_group(const std::string& stream) {
    const detail::OwnedReply created = redis->command({"XGROUP", "CREATE", stream, options.group, "0", "MKSTREAM"});
    if (created.get().is_error() && !created.get().text().starts_with("BUSYGROUP")) {
      // Redis answered, so the connection is fine: this origin's problem.
      throw Error("XGROUP CREATE " + stream + ": " + std::string(created.get().text()));
    }
  }

  void refresh_origins() {
    if (Clock::now() < next_refresh) {
      return;
    }
    next_refresh = Clock::now() + kOriginsRefresh;
    const detail::OwnedReply members = redis->command({"SMEMBERS", detail::log_origins_key(options.prefix)});
    for (std::size_t i = 0; i < members.get().size(); ++i) {
      const std::string name(members.get()[i].text());
      if (origins.count(name) != 0) {
        continue;
      }
      const auto colon = name.find(':');
      if (colon == std::string::npos || !is_valid_name(name.substr(0, colon)) ||
          !is_valid_name(name.substr(colon + 1))) {
        continue;  // not written by a forwarder
      }
      Origin origin;
      origin.stream = detail::log_stream_key(options.prefix, name);
      const std::string dir = name.substr(0, colon) + "-" + name.substr(colon + 1) + "_data_log";
      try {
        create_group(origin.stream);
        origin.log = std::make_unique<detail::CollectedLog>(options.out_dir / dir);
      } catch (const detail::RedisError&) {
        throw;  // the connection: retried as a whole
      } catch (const std::exception& e) {
        // One origin that cannot be collected (its directory taken by
        // another, its stream key of another type) must not stop the
        // others: said once, then looked at again at the next refresh.
        if (refused.insert(name).second) {
          log("cannot collect " + origin.stream + " into " + (options.out_dir / dir).string() + ": " + e.what() +
              "; the other origins go on");
        }
        continue;
      }
      refused.erase(name);
      log("collecting " + origin.stream + " into " + origin.log->dir().string());
      origins.emplace(name, std::move(origin));
      counters.origins.store(origins.size());
    }
  }

  // One XREADGROUP over every origin; returns the entries read.
  std::size_t read_once() {
    std::vector<std::string> args{"XREADGROUP",     "GROUP", options.group,
                                  options.consumer, "COUNT", std::to_string(options.batch_entries)};
    bool any_pending = false;
    for (const auto& [name, origin] : origins) {
      any_pending |= origin.own_pending;
    }
    if (!any_pending) {
      args.push_back("BLOCK");
      args.push_back(std::to_string(options.block.count()));
    }
    args.push_back("STREAMS");
    std::vector<Origin*> order;
    for (auto& [name, origin] : origins) {
      args.push_back(origin.stream);
      order.push_back(&origin);
    }
    for (Origin* origin : order) {
      args.push_back(origin->own_pending ? "0" : ">");
    }
    const std::vector<std::string_view> views(args.begin(), args.end());
    const detail::OwnedReply reply = redis->command(views);
    const detail::RedisReply streams = reply.get();
    if (streams.is_error()) {
      throw detail::RedisError("XREADGROUP: " + std::string(streams.text()));
    }
    std::map<std::string_view, Origin*> by_stream;
    for (Origin* origin : order) {
      by_stream[origin->stream] = origin;
    }
    std::size_t read = 0;
    std::vector<Origin*> seen;
    for (std::size_t s = 0; s < streams.size(); ++s) {
      const auto it = by_stream.find(streams[s][0].text());
      if (it == by_stream.end()) {
        continue;
      }
      Origin& origin = *it->second;
      seen.push_back(&origin);
      const detail::RedisReply entries = streams[s][1];
      if (origin.own_pending && entries.size() == 0) {
        origin.own_pending = false;
      }
      for (std::size_t e = 0; e < entries.size(); ++e) {
        take(origin, entries[e]);
        ++read;
      }
    }
    // An origin absent from the reply has no pending entries either.
    for (Origin* origin : order) {
      if (origin->own_pending && std::find(seen.begin(), seen.end(), origin) == seen.end()) {
        origin->own_pending = false;
      }
    }
    return read;
  }

  // One stream message: its entries go to the files unless they are duplicates.
  void take(Origin& origin, detail::RedisReply message) {
    const std::string id(message[0].text());
    origin.to_ack.push_back(id);
    const detail::RedisReply fields = message[1];
    std::string_view value;
    std::string_view epoch;
    bool found = false;
    for (std::size_t f = 0; f + 1 < fields.size(); f += 2) {
      if (fields[f].text() == "e") {
        value = fields[f + 1].text();
        found = true;
      } else if (fields[f].text() == "g") {
        epoch = fields[f + 1].text();
      }
    }
    // The epoch goes into the state file: only what a forwarder makes
    // (hex digits) is taken, so a stray message cannot write other lines.
    found = found && !epoch.empty() && epoch.size() <= 32 &&
            epoch.find_first_not_of("0123456789abcdef") == std::string_view::npos;
    if (found && origin.log->adopt_epoch(epoch)) {
      log(origin.stream + ": the forwarder's state in Redis was lost (new epoch " + std::string(epoch) +
          "); its sequence numbers start again");
    }
    detail::DecodedLogEntry entry;
    while (found && !value.empty()) {
      if (!detail::decode_log_entry(value, entry) || entry.sequence == 0) {
        found = false;
        break;
      }
      take_entry(origin, entry);
    }
    if (!found) {
      log("message " + id + " of " + origin.stream + " is not (all) forwarded log entries; the rest is skipped");
    }
  }

  void take_entry(Origin& origin, const detail::DecodedLogEntry& entry) {
    const auto outcome =
        origin.log->append(entry.source, entry.sequence, entry.time,
                           std::span(reinterpret_cast<const std::byte*>(entry.payload.data()), entry.payload.size()));
    if (outcome == detail::CollectedLog::Outcome::duplicate) {
      counters.duplicates.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (outcome == detail::CollectedLog::Outcome::gap) {
      counters.gaps.fetch_add(1, std::memory_order_relaxed);
      log("source " + std::to_string(entry.source) + " of " + origin.stream + " skipped sequence numbers before " +
          std::to_string(entry.sequence));
    }
    counters.collected.fetch_add(1, std::memory_order_relaxed);
  }

  // Durable first, acknowledged second.
  void commit_and_ack() {
    for (auto& [name, origin] : origins) {
      if (origin.to_ack.empty()) {
        continue;
      }
      origin.log->commit();
      std::vector<std::string_view> ack{"XACK", origin.stream, options.group};
      for (const std::string& id : origin.to_ack) {
        ack.push_back(id);
      }
      redis->append(ack);
      redis->append({"XTRIM", origin.stream, "MINID", origin.to_ack.back()});
      const detail::OwnedReply acked = redis->reply();
      const detail::OwnedReply trimmed = redis->reply();
      if (acked.get().is_error()) {
        throw detail::RedisError("XACK: " + std::string(acked.get().text()));
      }
      counters.acknowledged.fetch_add(static_cast<std::uint64_t>(acked.get().integer()), std::memory_order_relaxed);
      origin.to_ack.clear();
    }
  }
};

LogCollector::LogCollector(LogCollectorOptions options) {
  if (!is_valid_name(options.prefix)) {
    throw Error("log collect prefix '" + options.prefix +
                "' is not valid: use 1..200 characters of [A-Za-z0-9._-], not starting with a dot");
  }
  validate_name(options.group, "consumer group");
  validate_name(options.consumer, "consumer name");
  if (options.batch_entries == 0) {
    options.batch_entries = 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) {
    throw Error("cannot create the output directory '" + options.out_dir.string() + "': " + ec.message(), ec);
  }
  state_ = std::make_unique<State>(std::move(options));
}

LogCollector::~LogCollector() = default;

void LogCollector::run() {
  State& s = *state_;
  const detail::SigpipeBlockedOnThisThread sigpipe_blocked;
  detail::Backoff backoff(s.options.min_backoff, s.options.max_backoff);
  bool reported = false;
  while (!s.stop_requested.load()) {
    try {
      if (!s.redis) {
        s.connect();
        backoff.reset();
        reported = false;
      }
      s.refresh_origins();
      if (s.origins.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      if (s.read_once() > 0) {
        s.commit_and_ack();
      }
    } catch (const detail::RedisError& e) {
      s.redis.reset();
      s.counters.connected.store(false);
      s.counters.redis_errors.fetch_add(1);
      if (!reported) {
        s.log(std::string(e.what()) + "; retrying (unacknowledged entries are delivered again)");
        reported = true;
      }
      const auto until = Clock::now() + backoff.next();
      while (!s.stop_requested.load() && Clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
  }
}

void LogCollector::stop() noexcept {
  state_->stop_requested.store(true);
}

LogCollectorStats LogCollector::stats() const noexcept {
  const State::Counters& c = state_->counters;
  LogCollectorStats s;
  s.collected = c.collected.load();
  s.duplicates = c.duplicates.load();
  s.gaps = c.gaps.load();
  s.acknowledged = c.acknowledged.load();
  s.origins = c.origins.load();
  s.connects = c.connects.load();
  s.redis_errors = c.redis_errors.load();
  s.connected = c.connected.load();
  return s;
}

}  // namespace shmkit
