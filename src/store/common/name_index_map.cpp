#include "store/common/name_index_map.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <shmkit/core/error.hpp>
#include <shmkit/core/segment.hpp>

namespace shmkit::detail {

NameIndexMapping NameIndexMapping::create(std::uint64_t max_names, bool with_cells) {
  const std::uint64_t entries = std::bit_ceil(std::max<std::uint64_t>(2 * max_names, 16));
  NameIndexMapping m;
  const std::uint64_t cells_offset = round_up(kNameIndexEntriesOffset + entries * sizeof(NameIndexEntry), 64);
  m.bytes_ = round_up(cells_offset + (with_cells ? max_names * sizeof(std::uint64_t) : 0), page_size());
  m.fd_ = ::memfd_create("shmkit-store-names", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (m.fd_ < 0) {
    throw_system_error("cannot create the store's name index (memfd_create)", errno);
  }
  if (::ftruncate(m.fd_, static_cast<off_t>(m.bytes_)) != 0) {
    throw_system_error("cannot size the store's name index to " + std::to_string(m.bytes_) + " B", errno);
  }
  // As for the arena: run out of memory here, not as a SIGBUS later.
  if (const int err = ::posix_fallocate(m.fd_, 0, static_cast<off_t>(m.bytes_)); err != 0) {
    throw StoreFullError("cannot reserve " + std::to_string(m.bytes_) + " B for the store's name index (" +
                         std::to_string(max_names) + " names): " + std::strerror(err) +
                         "; start it with fewer --max-names");
  }
  void* p = ::mmap(nullptr, m.bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, m.fd_, 0);
  if (p == MAP_FAILED) {
    throw_system_error("cannot map the store's name index", errno);
  }
  m.base_ = static_cast<std::byte*>(p);
  // The server's mapping stays writable; every later mapping (a client's)
  // can only be read-only, and nobody can resize the file or lift the seals.
  if (::fcntl(m.fd_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) != 0) {
    throw_system_error("cannot seal the store's name index", errno);
  }
  m.view_ = NameIndexView(m.base_);
  NameIndexHeader& h = m.view_.header();
  h.entries = entries;
  h.cells_offset = with_cells ? cells_offset : 0;
  h.cells = with_cells ? max_names : 0;
  h.magic = kNameIndexMagic;
  return m;
}

NameIndexMapping NameIndexMapping::attach(int fd) {
  NameIndexMapping m;
  m.fd_ = fd;
  NameIndexHeader probe{};
  struct stat st {};
  if (::pread(fd, &probe, sizeof(probe), 0) != static_cast<ssize_t>(sizeof(probe)) || probe.magic != kNameIndexMagic ||
      ::fstat(fd, &st) != 0 || !std::has_single_bit(probe.entries) ||
      kNameIndexEntriesOffset + probe.entries * sizeof(NameIndexEntry) > static_cast<std::uint64_t>(st.st_size) ||
      (probe.cells_offset != 0 &&
       (probe.cells_offset % 64 != 0 || probe.cells_offset > static_cast<std::uint64_t>(st.st_size) ||
        probe.cells > (static_cast<std::uint64_t>(st.st_size) - probe.cells_offset) / sizeof(std::uint64_t)))) {
    throw LayoutError("the name index the store server sent is not a shmkit name index of this version");
  }
  m.bytes_ = static_cast<std::size_t>(st.st_size);
  // Populated for the reason the arena's control region is (arena.cpp):
  // names hash to random entries.
  void* p = ::mmap(nullptr, m.bytes_, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED) {
    throw_system_error("cannot map the store's name index", errno);
  }
  m.base_ = static_cast<std::byte*>(p);
  m.view_ = NameIndexView(m.base_);
  return m;
}

NameIndexMapping::NameIndexMapping(NameIndexMapping&& other) noexcept {
  *this = std::move(other);
}

NameIndexMapping& NameIndexMapping::operator=(NameIndexMapping&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    base_ = std::exchange(other.base_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    view_ = std::exchange(other.view_, NameIndexView{});
  }
  return *this;
}

NameIndexMapping::~NameIndexMapping() {
  release();
}

void NameIndexMapping::release() noexcept {
  if (base_ != nullptr) {
    ::munmap(base_, bytes_);
  }
  if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = -1;
  base_ = nullptr;
}

}  // namespace shmkit::detail
