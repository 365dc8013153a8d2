#pragma once
// Redis key names the log forwarder and collector share (P is the prefix):
//   P:log:origins               set of "<host>:<instance>"
//   P:log:<host>:<instance>     the stream of one origin
//   P:logfwd:<host>:<instance>  hash: r<slot> = "<segment ns>:<generation>:<position>"
//                               of the last entry forwarded, n<source> = its last sequence
// Host ids and instance names are shmkit names, so ':' separates them.

#include <string>
#include <string_view>

namespace shmkit::detail {

inline std::string log_origins_key(std::string_view prefix) {
  return std::string(prefix) + ":log:origins";
}
inline std::string log_origin(std::string_view host, std::string_view instance) {
  return std::string(host) + ":" + std::string(instance);
}
inline std::string log_stream_key(std::string_view prefix, std::string_view origin) {
  return std::string(prefix) + ":log:" + std::string(origin);
}
inline std::string log_forward_state_key(std::string_view prefix, std::string_view origin) {
  return std::string(prefix) + ":logfwd:" + std::string(origin);
}

}  // namespace shmkit::detail
