#pragma once
/// @file
/// Process identity that survives pid reuse: a pid plus its start time.

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace shmkit {

/// A process as recorded in a shared segment. The kernel reuses pids, so a
/// pid alone cannot tell a dead creator from a new, unrelated process; the
/// start time (clock ticks after boot, /proc/<pid>/stat field 22) can.
struct ProcessIdentity {
  pid_t pid = 0;
  std::uint64_t start_ticks = 0;
};

/// The calling process's identity.
[[nodiscard]] ProcessIdentity current_process() noexcept;

/// getpid() without a system call (glibc no longer caches it): read once,
/// and again in every child fork() creates. For hot paths that stamp
/// their pid, such as each store set.
[[nodiscard]] pid_t current_pid() noexcept;

/// Start time of `pid` in clock ticks after boot, or nullopt if there is no
/// such process (or /proc cannot be read).
[[nodiscard]] std::optional<std::uint64_t> process_start_ticks(pid_t pid) noexcept;

/// True while the process that `identity` describes is running. A recycled
/// pid (same number, other start time) counts as dead. A zombie counts as dead.
[[nodiscard]] bool is_alive(const ProcessIdentity& identity) noexcept;

}  // namespace shmkit
