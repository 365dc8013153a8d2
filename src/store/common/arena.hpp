#pragma once
// The store's memfd: created, sized, sealed and initialised by the server;
// mapped by clients from the descriptor the server passes them.

#include <cstddef>
#include <cstdint>

#include <shmkit/store/store_options.hpp>
#include <shmkit/store/store_types.hpp>

#include "store/common/layout.hpp"

namespace shmkit::detail {

// One process's mappings of an arena. Move-only; unmaps and closes.
class ArenaMapping {
 public:
  // Server side: a new sealed memfd laid out for `options`, capacity
  // checked against available memory and reserved with fallocate (so a
  // lack of memory fails here, never as a SIGBUS later).
  // @throws Error (does not fit, memfd refused)
  [[nodiscard]] static ArenaMapping create(const StoreOptions& options);

  // Client side: maps the arena behind `fd` (taking ownership of it);
  // the data region is mapped twice, read-write and read-only.
  // @throws LayoutError (not a store arena of this version), Error
  [[nodiscard]] static ArenaMapping attach(int fd);

  ArenaMapping(ArenaMapping&& other) noexcept;
  ArenaMapping& operator=(ArenaMapping&& other) noexcept;
  ArenaMapping(const ArenaMapping&) = delete;
  ArenaMapping& operator=(const ArenaMapping&) = delete;
  ~ArenaMapping();

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] const ArenaView& view() const noexcept { return view_; }

 private:
  ArenaMapping() = default;
  void release() noexcept;

  int fd_ = -1;
  std::byte* control_ = nullptr;
  std::size_t control_bytes_ = 0;
  std::byte* data_rw_ = nullptr;
  std::byte* data_ro_ = nullptr;
  std::size_t data_bytes_ = 0;
  ArenaView view_;
};

// The occupancy counters of a mapped arena (relaxed reads, no locking).
[[nodiscard]] StoreStats read_stats(const ArenaHeader& h) noexcept;

// Bytes the kernel reports available (MemAvailable), or 0 if unknown.
[[nodiscard]] std::uint64_t available_memory() noexcept;

}  // namespace shmkit::detail
