#pragma once
/// @file
/// Options of a store server.

#include <sys/types.h>

#include <boost/describe/class.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace shmkit {

/// How a `StoreServer` is set up. Only `capacity` and `socket_path` are
/// required; the rest have defaults that suit a single-user rig.
///
/// Described with Boost.Describe (all but `log`), so they load from YAML with
/// `shmkit::from_yaml<StoreOptions>(path)`, as `shmkit store --config FILE`
/// does; sizes are bytes and the socket mode is octal:
///
///     capacity: 1073741824
///     socket_path: /tmp/rig.sock
///     socket_mode: 0600
///     allowed_uids: []
///     max_clients: 64
///
/// (any subset of the fields; the others keep their defaults).
struct StoreOptions {
  /// Bytes available for object data and metadata. Refused at start when it
  /// exceeds the memory the kernel reports available.
  std::size_t capacity = 0;
  /// Path of the Unix socket clients connect to. A stale socket file (no
  /// server listening) is replaced; a live one is an ExistsError.
  std::string socket_path;
  /// Permission bits of the socket file (owner-only by default; 0660 lets a
  /// group connect, which `allowed_uids` must then also admit).
  mode_t socket_mode = 0600;
  /// User ids allowed to connect (checked with SO_PEERCRED). Empty means
  /// only the server's own effective uid.
  std::vector<uid_t> allowed_uids{};
  /// Touch every page of the arena at start (and map it populated in
  /// clients), so the first write to an object does not page-fault.
  bool prefault = false;
  /// Back the arena with huge pages (memfd MFD_HUGETLB): fewer TLB misses
  /// on large objects. Needs free huge pages (vm.nr_hugepages); refused at
  /// start with a StoreFullError saying how many are missing otherwise.
  bool huge_pages = false;
  /// Slots of the shared object index (128 bytes each); 0 picks
  /// capacity / 16 KiB clamped to 4096..1Mi. Rounded up to a power of two;
  /// at most 3/4 of them hold live objects.
  std::size_t max_objects = 0;
  /// Names bound at once, over all namespaces; 0 picks the number of index
  /// slots. Each costs 256 bytes of the shared, read-only name index.
  std::size_t max_names = 0;
  /// Directory of an LMDB environment that keeps every named object, so a
  /// store restarted with the same directory has every name and value back.
  /// A bind is committed there before it is acknowledged: it survives the
  /// store being killed. Empty: names live in memory only.
  std::string persist_dir{};
  /// Also fsync each persisted change before acknowledging it, so it
  /// survives a power loss or OS crash (costs a disk flush per set).
  bool persist_sync = false;
  /// Directory of an LMDB environment that evicted objects move to instead
  /// of being dropped; a get of a spilled object restores it. Emptied at
  /// start (spill extends capacity, it does not persist). Empty: evicted
  /// objects are gone.
  std::string spill_dir{};
  /// Microseconds the server thread keeps polling without sleeping after a
  /// request that came within spin_us of the one before it (a burst), and a
  /// client polls for a reply while the server polls, so the requests of a
  /// burst skip the cost of waking a sleeping thread. A lone request polls
  /// for nothing, so clients that call now and then cost no CPU time. 0:
  /// always sleep (for a machine with more busy processes than cores, where
  /// a polling thread takes a core another process needs).
  std::uint32_t spin_us = 100;
  /// Let clients write without a round trip to the server: each writing
  /// client allocates from a slab the server lends it, publishes its
  /// objects and rebinds names with atomics in shared memory, and the
  /// server catches up within a millisecond (docs/STORE_FAST_WRITES.md).
  /// Off when persist_dir or spill_dir is set: those keep every write a
  /// round trip. false: every create and set asks the server.
  bool fast_writes = true;
  /// Bytes of one client's slab; 0 picks min(1 MiB, capacity / (4 *
  /// max_clients)). A slab smaller than 4 KiB turns fast_writes off.
  std::size_t slab_bytes = 0;
  /// Clients connected at once (each has a lease table in shared memory).
  std::size_t max_clients = 64;
  /// Distinct objects one client can hold references to at once.
  std::size_t leases_per_client = 1024;
  /// Events queued for a subscriber that does not read; past this the queue
  /// is dropped and replaced by one overflow event.
  std::size_t subscriber_queue = 1024;
  /// Receives one line per connect, disconnect and client error. Called on
  /// the server thread; must not throw. Empty: silent.
  std::function<void(std::string_view)> log{};

  /// Written and read in octal in a config file.
  static constexpr std::array kYamlOctal{std::string_view{"socket_mode"}};
};
BOOST_DESCRIBE_STRUCT(StoreOptions, (),
                      (capacity, socket_path, socket_mode, allowed_uids, prefault, huge_pages, max_objects, max_names,
                       persist_dir, persist_sync, spill_dir, spin_us, fast_writes, slab_bytes, max_clients,
                       leases_per_client, subscriber_queue))

}  // namespace shmkit
