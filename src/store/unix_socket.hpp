#pragma once
// Unix stream sockets for the store's control plane: listening with a
// chosen mode, connecting with retries, and passing one descriptor.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <span>
#include <string>

namespace shmkit::detail {

using Clock = std::chrono::steady_clock;

// Binds and listens (non-blocking) on `path` with permission `mode`. A socket file nobody
// listens on is replaced. @throws ExistsError (a server listens), Error
int listen_unix(const std::string& path, mode_t mode);

// Connects to `path`, retrying until `deadline` while it is missing or
// refuses. @throws TimeoutError, Error
int connect_unix(const std::string& path, Clock::time_point deadline);

// Writes all of `bytes` (blocking, MSG_NOSIGNAL), attaching `pass_fd` to
// the first byte when >= 0. Returns false if the peer is gone.
bool send_all(int fd, std::span<const std::byte> bytes, int pass_fd = -1) noexcept;

// Reads exactly `out.size()` bytes before `deadline` (time_point::max() =
// forever). A descriptor arriving with them is stored in `*received_fd`.
// Returns false on EOF or timeout (`*timed_out` says which).
bool recv_exact(int fd, std::span<std::byte> out, Clock::time_point deadline, int* received_fd, bool* timed_out);

// The uid of the process at the other end (SO_PEERCRED), or -1.
[[nodiscard]] long peer_uid(int fd) noexcept;
// The pid of the process at the other end (SO_PEERCRED), or 0.
[[nodiscard]] pid_t peer_pid(int fd) noexcept;

}  // namespace shmkit::detail
