#include "bridge/redis_url.hpp"

#include <shmkit/core/error.hpp>

#include <charconv>
#include <string_view>

namespace shmkit::detail {

namespace {

[[noreturn]] void bad_url(const std::string& url, const std::string& why) {
  throw Error("malformed Redis URL '" + url + "': " + why +
              "; use redis://host:port/db or unix:///path/to/redis.sock (password from --config or "
              "SHMKIT_REDIS_PASSWORD, never in the URL)");
}

int parse_number(const std::string& url, std::string_view text, const char* what, int max) {
  int value = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0 || value > max) {
    bad_url(url, std::string("bad ") + what + " '" + std::string(text) + "'");
  }
  return value;
}

}  // namespace

RedisEndpoint parse_redis_url(const std::string& url) {
  RedisEndpoint endpoint;
  endpoint.url = url;
  const std::string_view text = url;
  constexpr std::string_view kUnix = "unix://";
  constexpr std::string_view kTcp = "redis://";
  if (text.starts_with(kUnix)) {
    std::string_view path = text.substr(kUnix.size());
    if (const auto query = path.find('?'); query != std::string_view::npos) {
      const std::string_view option = path.substr(query + 1);
      if (!option.starts_with("db=")) {
        bad_url(url, "the only option is db=N");
      }
      endpoint.db = parse_number(url, option.substr(3), "database number", 1 << 20);
      path = path.substr(0, query);
    }
    if (!path.starts_with('/')) {
      bad_url(url, "the socket path must be absolute (unix:///path)");
    }
    endpoint.unix_path = std::string(path);
    return endpoint;
  }
  if (!text.starts_with(kTcp)) {
    bad_url(url, "unknown scheme");
  }
  std::string_view rest = text.substr(kTcp.size());
  if (rest.find('@') != std::string_view::npos) {
    bad_url(url, "credentials do not belong in the URL");
  }
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      endpoint.db = parse_number(url, db, "database number", 1 << 20);
    }
    rest = rest.substr(0, slash);
  }
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    endpoint.port = parse_number(url, rest.substr(colon + 1), "port", 65535);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) {
    bad_url(url, "no host");
  }
  endpoint.host = std::string(rest);
  return endpoint;
}

}  // namespace shmkit::detail
