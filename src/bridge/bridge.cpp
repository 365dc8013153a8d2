#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <shmkit/core/error.hpp>
#include <shmkit/core/name.hpp>

#include <algorithm>
#include <cerrno>
#include <iostream>
#include <random>

#include "bridge/bridge_state.hpp"
#include "bridge/sigpipe_guard.hpp"

namespace shmkit {

namespace {

std::string default_host_id(const std::string& store_socket) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) {
    std::snprintf(host, sizeof(host), "localhost");
  }
  return std::string(host) + ":" + store_socket;
}

void check_options(BridgeOptions& options) {
  if (options.namespaces.empty()) {
    throw Error("a bridge needs at least one namespace to bridge (--ns NS)");
  }
  for (const std::string& ns : options.namespaces) {
    validate_name(ns, "namespace");
  }
  if (!is_valid_name(options.prefix)) {
    throw Error("bridge prefix '" + options.prefix +
                "' is not valid: use 1..200 characters of [A-Za-z0-9._-], not starting with a dot");
  }
  if (options.host_id.empty()) {
    options.host_id = default_host_id(options.store_socket);
  }
  const bool printable = std::all_of(options.host_id.begin(), options.host_id.end(),
                                     [](char c) { return static_cast<unsigned char>(c) > ' ' && c != 0x7f; });
  if (!printable || options.host_id.size() > 200) {
    throw Error("bridge host id '" + options.host_id +
                "' is not valid: use 1..200 printable characters without spaces (--host-id)");
  }
  if (options.max_value_bytes == 0) {
    throw Error("the bridge's value limit must be at least 1 byte (--max-value-bytes)");
  }
}

}  // namespace

Bridge::State::State(BridgeOptions opts, detail::RedisEndpoint where, StoreClient client, Subscription subscription,
                     detail::UniqueFd wake_fd)
    : options(std::move(opts)),
      endpoint(std::move(where)),
      namespaces(options.namespaces.begin(), options.namespaces.end()),
      channel(options.prefix + ":changes"),
      store(std::move(client)),
      names(std::move(subscription)),
      wake(std::move(wake_fd)),
      backoff(options.min_backoff, options.max_backoff) {
  std::random_device random;
  id_prefix = (static_cast<std::uint64_t>(random()) << 32) | random();
}

Bridge Bridge::create(BridgeOptions options) {
  check_options(options);
  detail::RedisEndpoint endpoint = detail::parse_redis_url(options.redis_url);
  StoreClient client = StoreClient::connect(options.store_socket);
  // Subscribed before anything is read, so no change falls between the
  // first listing and the events.
  Subscription subscription = client.subscribe_names();
  detail::UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) {
    detail::throw_errno("cannot create the bridge's wake-up eventfd", errno);
  }
  return Bridge(std::make_unique<State>(std::move(options), std::move(endpoint), std::move(client),
                                        std::move(subscription), std::move(wake)));
}

Bridge::Bridge(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
Bridge::Bridge(Bridge&&) noexcept = default;
Bridge& Bridge::operator=(Bridge&&) noexcept = default;
Bridge::~Bridge() = default;

void Bridge::run() {
  state_->run();
}

void Bridge::stop() noexcept {
  state_->stopping.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(state_->wake.get(), &one, sizeof(one));
}

BridgeStats Bridge::stats() const noexcept {
  const State& s = *state_;
  BridgeStats out;
  out.exported = s.exported.load();
  out.stale = s.stale.load();
  out.imported = s.imported.load();
  out.refused = s.refused.load();
  out.connects = s.connects.load();
  out.syncs = s.syncs.load();
  out.redis_errors = s.redis_errors.load();
  out.connected = s.connected.load();
  return out;
}

const std::string& Bridge::host_id() const noexcept {
  return state_->options.host_id;
}

void Bridge::State::log(const std::string& line) const {
  if (options.log) {
    options.log(line);
  } else {
    std::cerr << line << std::endl;
  }
}

void Bridge::State::try_connect() {
  try {
    redis.emplace(detail::RedisClient::connect(endpoint, options.password, options.redis_timeout));
    subscriber.emplace(detail::RedisClient::connect(endpoint, options.password, options.redis_timeout));
    const detail::OwnedReply subscribed = subscriber->command({"SUBSCRIBE", channel});
    if (subscribed.get().is_error()) {
      throw detail::RedisError("Redis at '" + endpoint.url + "' refused SUBSCRIBE " + channel + ": " +
                               std::string(subscribed.get().text()));
    }
    // Subscribed first, then synced: a change made during the sync is
    // either in Redis when it is read or announced afterwards.
    full_sync();
    subscriber->take_buffered([this](detail::RedisReply message) { on_message(message); });
  } catch (const detail::RedisError& e) {
    redis.reset();
    subscriber.reset();
    ++redis_errors;
    const std::chrono::milliseconds delay = backoff.next();
    next_attempt = Clock::now() + delay;
    log("bridge: " + std::string(e.what()) + "; retrying in " + std::to_string(delay.count()) + " ms");
    reported_down = true;
    return;
  }
  backoff.reset();
  ++connects;
  ++syncs;
  connected.store(true);
  log("bridge " + options.host_id + ": connected to Redis at '" + endpoint.url + "', " +
      std::to_string(namespaces.size()) + " namespace(s) synced");
  reported_down = false;
}

void Bridge::State::disconnect(const std::string& why) {
  redis.reset();
  subscriber.reset();
  connected.store(false);
  ++redis_errors;
  const std::chrono::milliseconds delay = backoff.next();
  next_attempt = Clock::now() + delay;
  log("bridge: lost Redis (" + why + "); the local store keeps working, reconnecting in " +
      std::to_string(delay.count()) + " ms");
}

void Bridge::State::run() {
  const detail::SigpipeBlockedOnThisThread sigpipe_blocked;
  while (!stopping.load()) {
    if (!redis && Clock::now() >= next_attempt) {
      try_connect();
    }
    pollfd fds[3] = {{wake.get(), POLLIN, 0}, {names.fd(), POLLIN, 0}, {-1, POLLIN, 0}};
    int wait_ms = -1;
    if (subscriber) {
      fds[2].fd = subscriber->fd();
    } else {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(next_attempt - Clock::now()).count();
      wait_ms = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
    }
    if (::poll(fds, 3, wait_ms) < 0 && errno != EINTR) {
      detail::throw_errno("the bridge cannot poll its sockets", errno);
    }
    if ((fds[0].revents & POLLIN) != 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] const auto n = ::read(wake.get(), &count, sizeof(count));
    }
    try {
      // Local changes first: an import compares against what the store
      // holds, so the bridge must have seen the store's latest changes.
      drain_local_events();
      if (subscriber && (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        subscriber->read_available([this](detail::RedisReply message) { on_message(message); });
      }
    } catch (const detail::RedisError& e) {
      disconnect(e.what());
    }
  }
  connected.store(false);
}

}  // namespace shmkit
