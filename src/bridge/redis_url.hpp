#pragma once
// Where a Redis server listens, from the URL forms the bridge accepts:
// redis://host[:port][/db] and unix:///path[?db=N].

#include <string>

namespace shmkit::detail {

struct RedisEndpoint {
  std::string unix_path;  // set for unix:// URLs
  std::string host;       // set for redis:// URLs
  int port = 6379;
  int db = 0;
  std::string url;  // as given, for messages
};

// @throws Error naming the URL and the accepted forms
[[nodiscard]] RedisEndpoint parse_redis_url(const std::string& url);

}  // namespace shmkit::detail
