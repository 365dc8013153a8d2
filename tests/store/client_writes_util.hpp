#pragma once
// Helpers for the tests of client-side writes (fast_writes_test.cpp,
// published_bind_test.cpp): values that prove they are whole, the check
// that every byte lent or allocated came back, and the arena's control
// region mapped by hand to play a crashed or hostile client.

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "store/common/layout.hpp"
#include "store_test_util.hpp"

namespace shmkit::testing {

/// writer, sequence, then a pattern both determine: a torn or foreign value
/// cannot pass check_value.
inline std::vector<std::byte> value_of(std::uint32_t writer, std::uint32_t sequence, std::size_t size = 100) {
  std::vector<std::byte> bytes(std::max<std::size_t>(size, 8));
  std::memcpy(bytes.data(), &writer, 4);
  std::memcpy(bytes.data() + 4, &sequence, 4);
  for (std::size_t i = 8; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::byte>((writer * 31 + sequence * 7 + i) & 0xff);
  }
  return bytes;
}

struct Decoded {
  std::uint32_t writer;
  std::uint32_t sequence;
  bool operator==(const Decoded&) const = default;
};

/// The writer and sequence of a value_of value; throws if it is torn.
inline Decoded check_value(std::span<const std::byte> bytes) {
  require(bytes.size() >= 8, "value shorter than its header");
  Decoded d{};
  std::memcpy(&d.writer, bytes.data(), 4);
  std::memcpy(&d.sequence, bytes.data() + 4, 4);
  for (std::size_t i = 8; i < bytes.size(); ++i) {
    require(bytes[i] == static_cast<std::byte>((d.writer * 31 + d.sequence * 7 + i) & 0xff),
            "torn value of writer " + std::to_string(d.writer) + " seq " + std::to_string(d.sequence));
  }
  return d;
}

/// Every byte the store lent or allocated is back: the whole capacity can be
/// taken again by one object (which goes through the server: too large for a
/// slab). A slab tail or gap that was never given back would make it fail.
inline void expect_whole_capacity_free(StoreClient& client, std::uint64_t capacity) {
  ASSERT_TRUE(eventually([&] { return client.stats().objects == 0; })) << client.stats().objects << " objects left";
  EXPECT_EQ(client.used(), 0U);
  const ObjectId whole = oid("whole-capacity");
  ASSERT_NO_THROW(client.create_and_seal(whole, std::vector<std::byte>(capacity)));
  EXPECT_TRUE(client.remove(whole));
}

/// The arena's control region mapped by hand in this process (which must
/// hold a connection to the store), to read or corrupt shared words.
class HandMapping {
 public:
  HandMapping() {
    int fd = -1;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      if (std::filesystem::read_symlink(entry.path(), ec).string().find("memfd:shmkit-store (deleted)") !=
          std::string::npos) {
        fd = std::stoi(entry.path().filename().string());
      }
    }
    require(fd >= 0, "no store arena among this process's descriptors");
    detail::ArenaHeader probe{};
    require(::pread(fd, &probe, sizeof(probe), 0) == sizeof(probe), "cannot read the arena header");
    bytes_ = probe.data_offset;
    base_ = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    require(base_ != MAP_FAILED, "cannot map the arena");
  }
  HandMapping(const HandMapping&) = delete;
  HandMapping& operator=(const HandMapping&) = delete;
  ~HandMapping() { ::munmap(base_, bytes_); }
  [[nodiscard]] detail::ArenaView view() const {
    return detail::ArenaView(static_cast<std::byte*>(base_), nullptr, nullptr);
  }
  [[nodiscard]] std::atomic<std::uint64_t>& in_flight() const { return view().header().binds_in_flight; }
  /// This process's client slot.
  [[nodiscard]] std::uint64_t own_slot() const {
    const detail::ArenaView v = view();
    for (std::uint64_t slot = 0; slot < v.header().max_clients; ++slot) {
      if (v.client(slot).pid == ::getpid() && v.client(slot).in_use.load() != 0) {
        return slot;
      }
    }
    throw std::runtime_error("no client slot of this process");
  }

 private:
  void* base_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace shmkit::testing
