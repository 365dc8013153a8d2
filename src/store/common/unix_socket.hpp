#pragma once
// Unix stream sockets for the store's control plane: listening with a
// chosen mode, connecting with retries, and passing descriptors.

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

inline constexpr std::size_t kMaxPassedFds = 4;

// Writes all of `bytes` (blocking, MSG_NOSIGNAL), attaching `pass_fds` (at
// most kMaxPassedFds) to the first byte. Returns false if the peer is gone.
bool send_all(int fd, std::span<const std::byte> bytes, std::span<const int> pass_fds = {}) noexcept;

// Reads exactly `out.size()` bytes before `deadline` (time_point::max() =
// forever). Descriptors arriving with them fill the entries of
// `received_fds` that are still -1, in order; any beyond those are closed.
// Returns false on EOF or timeout (`*timed_out` says which).
bool recv_exact(int fd, std::span<std::byte> out, Clock::time_point deadline, std::span<int> received_fds,
                bool* timed_out);

// The uid of the process at the other end (SO_PEERCRED), or -1.
[[nodiscard]] long peer_uid(int fd) noexcept;
// The pid of the process at the other end (SO_PEERCRED), or 0.
[[nodiscard]] pid_t peer_pid(int fd) noexcept;

}  // namespace shmkit::detail
