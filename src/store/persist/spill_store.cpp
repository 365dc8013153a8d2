#include "store/persist/spill_store.hpp"

#include <cstring>
#include <string_view>

#include <shmkit/core/error.hpp>

namespace shmkit::detail {

namespace {

std::string_view key_of(const ObjectId& id) noexcept {
  return {reinterpret_cast<const char*>(id.bytes.data()), ObjectId::kSize};
}

}  // namespace

SpillStore::SpillStore(const std::string& dir) : env_(dir, false, "store spill") {
  env_.clear();
}

void SpillStore::put(const ObjectRecord& record) {
  env_.put(key_of(record.id), record.encoded_size(), [&](std::byte* out) { record.encode(out); });
  ++objects_;
  bytes_ += record.data.size() + record.metadata.size();
}

std::optional<SpillStore::Spilled> SpillStore::find(const ObjectId& id) const {
  std::optional<Spilled> found;
  env_.read(key_of(id), [&](std::span<const std::byte> value) {
    const auto record = ObjectRecord::decode(value);
    if (!record) {
      throw CorruptDataError("store spill '" + env_.dir() + "' holds a damaged record for object " + id.hex());
    }
    found = Spilled{record->data.size(), record->metadata.size(), record->creator_pid, record->created_unix_ns};
  });
  return found;
}

void SpillStore::copy_out(const ObjectId& id, std::byte* data, std::byte* metadata) const {
  const bool found = env_.read(key_of(id), [&](std::span<const std::byte> value) {
    const auto record = ObjectRecord::decode(value);
    if (!record) {
      throw CorruptDataError("store spill '" + env_.dir() + "' holds a damaged record for object " + id.hex());
    }
    if (!record->data.empty()) {
      std::memcpy(data, record->data.data(), record->data.size());
    }
    if (!record->metadata.empty()) {
      std::memcpy(metadata, record->metadata.data(), record->metadata.size());
    }
  });
  if (!found) {
    throw NotFoundError("object " + id.hex() + " vanished from the store spill '" + env_.dir() + "'");
  }
}

bool SpillStore::erase(const ObjectId& id) {
  std::uint64_t size = 0;
  const bool found = env_.read(key_of(id), [&](std::span<const std::byte> value) {
    if (const auto record = ObjectRecord::decode(value)) {
      size = record->data.size() + record->metadata.size();
    }
  });
  if (!found) {
    return false;
  }
  env_.erase(key_of(id));
  --objects_;
  bytes_ -= size;
  return true;
}

}  // namespace shmkit::detail
