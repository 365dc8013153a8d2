#include "store/common/arena.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <string>
#include <utility>

#include <shmkit/core/error.hpp>
#include <shmkit/core/segment.hpp>

namespace shmkit::detail {

namespace {

std::string human(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(units)) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f %s", value, units[unit]);
  return text;
}

// A field of /proc/meminfo ("HugePages_Free:"), times `unit`; 0 if absent.
std::uint64_t meminfo_field(const std::string& name, std::uint64_t unit) noexcept {
  try {
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    while (std::getline(meminfo, line)) {
      if (line.rfind(name, 0) == 0) {
        return std::stoull(line.substr(name.size())) * unit;
      }
    }
  } catch (...) {
  }
  return 0;
}

// Persistence acknowledges a set only after its commit and spill checks
// every new id against the disk, so both keep every write a round trip.
std::uint64_t slab_bytes_for(const StoreOptions& options, std::uint64_t capacity) {
  if (!options.fast_writes || !options.persist_dir.empty() || !options.spill_dir.empty()) {
    return 0;
  }
  constexpr std::uint64_t kMaxSlab = std::uint64_t{1} << 30;  // granule counts must fit in 32 bits
  const std::uint64_t automatic = std::min<std::uint64_t>(std::uint64_t{1} << 20, capacity / (4 * options.max_clients));
  const std::uint64_t bytes = std::min(options.slab_bytes != 0 ? options.slab_bytes : automatic, kMaxSlab);
  const std::uint64_t rounded = bytes & ~std::uint64_t{kStoreAlignment - 1};
  return rounded < kMinSlabBytes ? 0 : rounded;
}

ArenaGeometry geometry_for(const StoreOptions& options, std::uint64_t page) {
  if (options.capacity < kStoreAlignment) {
    throw Error("store capacity " + std::to_string(options.capacity) + " B is too small; give at least 64 B");
  }
  if (options.max_clients == 0 || options.max_clients > 4096 || options.leases_per_client == 0 ||
      options.leases_per_client > (1U << 20)) {
    throw Error("store max_clients must be 1..4096 and leases_per_client 1..1048576");
  }
  ArenaGeometry g{};
  // The automatic size stops at 1 Mi slots (a 128 MiB index); more needs
  // an explicit max_objects.
  std::uint64_t slots = options.max_objects != 0
                            ? options.max_objects
                            : std::clamp<std::uint64_t>(options.capacity / 16384, 4096, std::uint64_t{1} << 20);
  if (slots > (1ULL << 24)) {
    throw Error("store max_objects " + std::to_string(slots) + " exceeds the limit of 16777216");
  }
  slots = std::bit_ceil(std::max<std::uint64_t>(slots, 8));
  g.index_slots = slots;
  g.max_clients = options.max_clients;
  g.leases_per_client = options.leases_per_client;
  g.index_offset = round_up(sizeof(ArenaHeader), 64);
  g.clients_offset = round_up(g.index_offset + slots * sizeof(ObjectEntry), 64);
  g.ring_records = kPublishRingRecords;
  g.client_stride = sizeof(ClientSlot) + g.ring_records * sizeof(PublishRecord) +
                    options.leases_per_client * sizeof(LeaseRecord) + kBindKeySlots * sizeof(BindKey);
  // The automatic bound is one name per index slot; the explicit one stops
  // where the name index would pass 4 GiB.
  constexpr std::uint64_t kNameLimit = std::uint64_t{1} << 24;
  g.cells = options.max_names != 0 ? options.max_names : slots;
  if (g.cells > kNameLimit) {
    throw Error("store max_names " + std::to_string(g.cells) + " exceeds the limit of " + std::to_string(kNameLimit));
  }
  g.cells_offset = round_up(g.clients_offset + g.max_clients * g.client_stride, 64);
  g.data_offset = round_up(g.cells_offset + g.cells * sizeof(std::uint64_t), page);
  g.capacity = round_up(options.capacity, kStoreAlignment);
  g.slab_bytes = slab_bytes_for(options, g.capacity);
  g.arena_bytes = g.data_offset + round_up(g.capacity, page);
  return g;
}

std::byte* map_or_throw(std::size_t bytes, int prot, int flags, int fd, off_t offset, const char* what) {
  void* p = ::mmap(nullptr, bytes, prot, flags, fd, offset);
  if (p == MAP_FAILED) {
    throw_system_error(std::string("cannot map the store arena (") + what + ")", errno);
  }
  return static_cast<std::byte*>(p);
}

}  // namespace

std::uint64_t available_memory() noexcept {
  return meminfo_field("MemAvailable:", 1024);
}

ArenaMapping ArenaMapping::create(const StoreOptions& options) {
  // Every offset a client maps at must be a multiple of the page size,
  // which for huge pages is the huge page size.
  const std::uint64_t huge = meminfo_field("Hugepagesize:", 1024);
  const ArenaGeometry g = geometry_for(options, options.huge_pages && huge != 0 ? huge : page_size());
  if (options.huge_pages) {
    const std::uint64_t free_pages = meminfo_field("HugePages_Free:", 1);
    const std::uint64_t needed = huge == 0 ? 0 : g.arena_bytes / huge;
    if (huge == 0 || free_pages < needed) {
      throw StoreFullError("store arena of " + human(g.arena_bytes) + " on huge pages needs " + std::to_string(needed) +
                           " free huge pages of " + human(huge) + ", the kernel has " + std::to_string(free_pages) +
                           "; reserve more with 'sysctl vm.nr_hugepages=" + std::to_string(needed) +
                           "' or start without --hugepages");
    }
  }
  const std::uint64_t available = available_memory();
  if (available != 0 && g.arena_bytes > available) {
    throw StoreFullError("store capacity " + human(g.capacity) + " (arena " + human(g.arena_bytes) +
                         ") does not fit in the " + human(available) +
                         " of memory available; choose a smaller size with -m");
  }
  ArenaMapping m;
  m.fd_ = ::memfd_create("shmkit-store", MFD_CLOEXEC | MFD_ALLOW_SEALING | (options.huge_pages ? MFD_HUGETLB : 0U));
  if (m.fd_ < 0) {
    throw_system_error("cannot create the store arena (memfd_create)", errno);
  }
  if (::ftruncate(m.fd_, static_cast<off_t>(g.arena_bytes)) != 0) {
    throw_system_error("cannot size the store arena to " + human(g.arena_bytes), errno);
  }
  // Reserving every page now turns "out of memory" into this error instead
  // of a SIGBUS in whichever process first touches a missing page.
  if (const int err = ::posix_fallocate(m.fd_, 0, static_cast<off_t>(g.arena_bytes)); err != 0) {
    throw StoreFullError("cannot reserve " + human(g.arena_bytes) + " for the store arena: " + std::strerror(err) +
                         "; choose a smaller size with -m");
  }
  // No client may shrink (SIGBUS for everyone else) or grow the arena.
  if (::fcntl(m.fd_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    throw_system_error("cannot seal the store arena", errno);
  }
  m.control_bytes_ = g.data_offset;
  // Populated here and in every client (see attach): lookups land on
  // random index slots, and each first touch of a page would be a fault.
  m.control_ = map_or_throw(m.control_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, m.fd_, 0, "control");
  // The server writes objects itself only for small inline puts, restores
  // from spill and persistence, and reads them to persist or spill them.
  m.data_bytes_ = g.arena_bytes - g.data_offset;
  m.data_rw_ =
      map_or_throw(m.data_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd_, static_cast<off_t>(g.data_offset), "data");
  m.view_ = ArenaView(m.control_, m.data_rw_, nullptr);

  auto& h = m.view_.header();
  h.layout_version = kStoreLayoutVersion;
  h.server_pid = static_cast<std::uint32_t>(::getpid());
  h.arena_bytes = g.arena_bytes;
  h.index_offset = g.index_offset;
  h.index_slots = g.index_slots;
  h.clients_offset = g.clients_offset;
  h.max_clients = g.max_clients;
  h.leases_per_client = g.leases_per_client;
  h.client_stride = g.client_stride;
  h.data_offset = g.data_offset;
  h.capacity = g.capacity;
  h.prefault = options.prefault ? 1 : 0;
  h.spill = options.spill_dir.empty() ? 0 : 1;
  h.spin_us = options.spin_us;
  h.slab_bytes = g.slab_bytes;
  h.ring_records = g.ring_records;
  h.cells_offset = g.cells_offset;
  h.cells = g.cells;
  h.magic.store(kStoreMagic, std::memory_order_release);
  return m;
}

ArenaMapping ArenaMapping::attach(int fd) {
  ArenaMapping m;
  m.fd_ = fd;
  ArenaHeader probe{};
  if (::pread(fd, &probe, sizeof(probe), 0) != static_cast<ssize_t>(sizeof(probe)) ||
      probe.magic.load(std::memory_order_relaxed) != kStoreMagic) {
    throw LayoutError("the descriptor the store server sent is not a shmkit store arena");
  }
  if (probe.layout_version != kStoreLayoutVersion) {
    throw LayoutError("store arena layout version " + std::to_string(probe.layout_version) + ", this client reads " +
                      std::to_string(kStoreLayoutVersion) + "; use a matching shmkit");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != probe.arena_bytes ||
      probe.data_offset >= probe.arena_bytes || probe.data_offset + probe.capacity > probe.arena_bytes) {
    throw LayoutError("store arena size does not match its header");
  }
  m.control_bytes_ = probe.data_offset;
  m.data_bytes_ = probe.arena_bytes - probe.data_offset;
  // A pre-faulted store also spares each client the page-table faults.
  const int populate = probe.prefault != 0 ? MAP_POPULATE : 0;
  // The control region (header, object index, lease tables; 128 bytes per
  // index slot) is always mapped populated: ids hash to random slots, so
  // without it a client's gets page-fault on one new index page after
  // another until it has touched them all (in the demo, one fault of ~10 µs
  // in most of its gets).
  m.control_ = map_or_throw(m.control_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0, "control");
  m.data_rw_ = map_or_throw(m.data_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | populate, fd,
                            static_cast<off_t>(probe.data_offset), "data");
  m.data_ro_ = map_or_throw(m.data_bytes_, PROT_READ, MAP_SHARED | populate, fd, static_cast<off_t>(probe.data_offset),
                            "read-only data");
  m.view_ = ArenaView(m.control_, m.data_rw_, m.data_ro_);
  return m;
}

ArenaMapping::ArenaMapping(ArenaMapping&& other) noexcept {
  *this = std::move(other);
}

ArenaMapping& ArenaMapping::operator=(ArenaMapping&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    control_ = std::exchange(other.control_, nullptr);
    control_bytes_ = std::exchange(other.control_bytes_, 0);
    data_rw_ = std::exchange(other.data_rw_, nullptr);
    data_ro_ = std::exchange(other.data_ro_, nullptr);
    data_bytes_ = std::exchange(other.data_bytes_, 0);
    view_ = std::exchange(other.view_, ArenaView{});
  }
  return *this;
}

ArenaMapping::~ArenaMapping() {
  release();
}

void ArenaMapping::release() noexcept {
  if (control_ != nullptr) {
    ::munmap(control_, control_bytes_);
  }
  if (data_rw_ != nullptr) {
    ::munmap(data_rw_, data_bytes_);
  }
  if (data_ro_ != nullptr) {
    ::munmap(const_cast<std::byte*>(data_ro_), data_bytes_);
  }
  if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = -1;
  control_ = data_rw_ = data_ro_ = nullptr;
}

StoreStats read_stats(const ArenaHeader& h) noexcept {
  return {h.capacity,
          h.used.load(std::memory_order_relaxed),
          h.objects.load(std::memory_order_relaxed),
          h.clients.load(std::memory_order_relaxed),
          h.waiters.load(std::memory_order_relaxed),
          h.spilled_objects.load(std::memory_order_relaxed),
          h.spilled_bytes.load(std::memory_order_relaxed)};
}

}  // namespace shmkit::detail
