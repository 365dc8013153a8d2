#pragma once
// One client's socket as the server's event loop sees it: the bytes read
// and not yet handled, the replies not yet sent, and for a subscriber the
// events not yet sent.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <shmkit/store/store_types.hpp>

namespace shmkit::detail {

using NameKey = std::pair<std::string, std::string>;  // (namespace, name)

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
  bool name_subscriber = false;  // receives name_changed events only
  std::deque<StoreEvent> events;
  bool closing = false;
  // The (namespace, name) a blocked get_name on this connection waits for.
  std::optional<NameKey> waiting_for;
};

}  // namespace shmkit::detail
