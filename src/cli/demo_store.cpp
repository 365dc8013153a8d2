#include "demo_store.hpp"

#include <unistd.h>

#include <shmkit/core/error.hpp>

#include <cstring>
#include <utility>

namespace shmkit::cli::demo {

RigStore RigStore::connect(const std::string& socket_path, std::string ns) {
  return {StoreClient::connect(socket_path), std::move(ns)};
}

RigStore::RigStore(StoreClient client, std::string ns) noexcept
    : client_(std::move(client)),
      ns_(std::move(ns)),
      id_base_(static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count())) {}

// Ids are (pid, time of connecting, count): unique across the rig's
// processes and across a pid reused later, without a random source.
ObjectId RigStore::next_id() noexcept {
  ObjectId id;
  const auto pid = static_cast<std::uint32_t>(::getpid());
  const std::uint64_t count = ++id_count_;
  std::memcpy(id.bytes.data(), &pid, sizeof pid);
  std::memcpy(id.bytes.data() + 4, &id_base_, sizeof id_base_);
  std::memcpy(id.bytes.data() + 12, &count, sizeof count);
  return id;
}

void RigStore::put(const std::string& name, std::span<const std::byte> data) {
  const ObjectId id = next_id();
  set_latency_.time([&] {
    client_.create_and_seal(id, data);
    try {
      client_.put_name(ns_, name, id);
    } catch (...) {
      client_.remove(id);  // a refused name must not leave an unnamed value behind
      throw;
    }
  });
}

ObjectBuffer RigStore::fetch(const std::string& name, std::chrono::milliseconds timeout) {
  return get_latency_.time([&] { return client_.get_named(ns_, name, timeout); });
}

void RigStore::check_size(const std::string& name, std::size_t size, std::size_t expected) const {
  if (size != expected) {
    throw LayoutError("store value '" + ns_ + "/" + name + "' holds " + std::to_string(size) + " bytes, not the " +
                      std::to_string(expected) + " of the type it was read as; read it as the type it was set with");
  }
}

}  // namespace shmkit::cli::demo
