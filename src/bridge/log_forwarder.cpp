#include <shmkit/bridge/log_forward.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/core/name.hpp>

#include <unistd.h>

#include <cctype>
#include <optional>

#include "bridge/log_forward_sink.hpp"
#include "bridge/log_keys.hpp"
#include "bridge/redis_url.hpp"

namespace shmkit {

namespace {

std::string default_host_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) {
    return "localhost";
  }
  std::string id(host);
  for (char& c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      c = '-';
    }
  }
  return id.empty() || id.front() == '.' ? "host" + id : id;
}

LogForwarderOptions checked(LogForwarderOptions options) {
  validate_name(options.instance, "logger instance");
  if (!is_valid_name(options.prefix)) {
    throw Error("log forward prefix '" + options.prefix +
                "' is not valid: use 1..200 characters of [A-Za-z0-9._-], not starting with a dot");
  }
  if (options.host_id.empty()) {
    options.host_id = default_host_id();
  }
  if (!is_valid_name(options.host_id)) {
    throw Error("log forward host id '" + options.host_id +
                "' is not valid: use 1..200 characters of [A-Za-z0-9._-], not starting with a dot (--host-id)");
  }
  if (options.state_dir.empty()) {
    options.state_dir =
        "/tmp/shmkit-log-forward-" + std::to_string(::getuid()) + "-" + options.host_id + "-" + options.instance;
  }
  return options;
}

}  // namespace

struct LogForwarder::State {
  LogForwarderOptions options;
  std::string origin;
  std::string stream;
  detail::LogForwardCounters counters;
  std::optional<DataLogger> logger;

  explicit State(LogForwarderOptions opts)
      : options(checked(std::move(opts))),
        origin(detail::log_origin(options.host_id, options.instance)),
        stream(detail::log_stream_key(options.prefix, origin)) {}

  [[nodiscard]] LogForwarderStats stats() const {
    LogForwarderStats s;
    s.logger = logger->stats();
    s.forwarded = counters.forwarded.load();
    s.forwarded_bytes = counters.forwarded_bytes.load();
    s.resent_skipped = counters.resent_skipped.load();
    s.transactions = counters.transactions.load();
    s.connects = counters.connects.load();
    s.redis_errors = counters.redis_errors.load();
    s.connected = counters.connected.load();
    return s;
  }
};

LogForwarder::LogForwarder(LogForwarderOptions options, DataLoggerOptions logger_options)
    : state_(std::make_unique<State>(std::move(options))) {
  detail::RedisEndpoint endpoint = detail::parse_redis_url(state_->options.redis_url);
  if (state_->options.log && !logger_options.on_error) {
    logger_options.on_error = [log = state_->options.log, origin = state_->origin](const std::string& line) {
      log("log forward " + origin + ": " + line);
    };
  }
  auto sink =
      std::make_shared<detail::RedisLogSink>(state_->options, std::move(endpoint), state_->origin, state_->counters);
  state_->logger.emplace(state_->options.instance, std::move(sink), state_->options.state_dir,
                         std::move(logger_options));
}

LogForwarder::~LogForwarder() = default;

void LogForwarder::start() {
  state_->logger->start();
}

LogForwarderStats LogForwarder::stop() {
  state_->logger->stop();
  return state_->stats();
}

LogForwarderStats LogForwarder::stats() const {
  return state_->stats();
}

const std::string& LogForwarder::host_id() const noexcept {
  return state_->options.host_id;
}

const std::string& LogForwarder::stream_key() const noexcept {
  return state_->stream;
}

}  // namespace shmkit
