// The store server's disk side: loading persisted names at start,
// snapshots on request, and moving objects to and from the spill.

#include <unistd.h>

#include <cstring>

#include <shmkit/core/error.hpp>
#include <shmkit/core/name.hpp>

#include "store/common/messages.hpp"
#include "store/server/event_loop.hpp"
#include "store/server/request_handler.hpp"

namespace shmkit::detail {

void RequestHandler::load_persisted() {
  const std::string& dir = persistence_->dir();
  persistence_->load([&](const std::string& ns, const std::string& name, const ObjectRecord& record) {
    if (!is_valid_name(ns) || !is_valid_name(name)) {
      throw CorruptDataError("store persistence '" + dir + "' holds an invalid name; restore it from a snapshot");
    }
    std::string error;
    if (!table_.sealed_record(record.id)) {
      ObjectTable::Created created{};
      if (table_.create(record.id, record.data.size(), record.metadata.size(), record.creator_pid, 0, created, error) !=
          Status::ok) {
        throw StoreFullError("cannot load the named objects of store persistence '" + dir + "': " + error +
                             "; start the store with a larger -m (or --max-objects)");
      }
      copy_object(table_.data_of(created.index), record.data, record.metadata);
      table_.seal_created(created.index, record.creator_pid, record.created_unix_ns);
    }
    if (names_.size() >= max_names_) {
      throw StoreFullError("store persistence '" + dir + "' holds more than " + std::to_string(max_names_) +
                           " names; start the store with a larger --max-names");
    }
    table_.pin(record.id, error);
    names_.bind(ns, name, record.id);
    publish_binding(ns, name, record.id);
  });
}

bool RequestHandler::handle_snapshot(Connection& c, FrameReader& r) {
  const std::optional<std::string> request = decode_text_request(r);
  if (!request || request->empty()) {
    return false;
  }
  const std::string& dir = *request;
  // The server writes the files with its own rights, so only its own user
  // may choose where (a group member admitted with --allow-uid may not).
  if (c.uid != ::geteuid()) {
    loop_.reply_error(c, Status::denied, "only the store's own user may take a snapshot");
    return true;
  }
  std::uint64_t written = 0;
  write_snapshot(dir, [&](const auto& emit) {
    names_.for_each([&](const std::string& ns, const std::string& name, const ObjectId& id) {
      if (const auto record = table_.sealed_record(id)) {
        emit(ns, name, *record);
        ++written;
      }
    });
  });
  loop_.log("store: snapshot of " + std::to_string(written) + " names written to '" + dir + "'");
  loop_.reply(c, encode_count_reply(written));
  return true;
}

bool RequestHandler::spill_object(const ObjectRecord& record) noexcept {
  try {
    spill_->put(record);
  } catch (const std::exception& e) {
    loop_.log("store: cannot spill object " + record.id.hex() + ", so it stays in memory: " + e.what());
    return false;
  }
  update_spill_stats();
  return true;
}

void RequestHandler::update_spill_stats() noexcept {
  auto& h = arena_.view().header();
  h.spilled_objects.store(spill_->objects(), std::memory_order_relaxed);
  h.spilled_bytes.store(spill_->bytes(), std::memory_order_relaxed);
}

Status RequestHandler::restore(const ObjectId& id, std::string& error) {
  if (table_.sealed_record(id)) {
    return Status::ok;  // another client's get restored it first
  }
  const std::optional<SpillStore::Spilled> spilled = spill_ ? spill_->find(id) : std::nullopt;
  if (!spilled) {
    error = "no object " + id.hex() + " in the store" + (spill_ ? " or its spill" : "");
    return Status::not_found;
  }
  ObjectTable::Created created{};
  // Making room may spill other objects; none of it touches this record.
  if (const Status s =
          table_.create(id, spilled->data_size, spilled->metadata_size, spilled->creator_pid, 0, created, error);
      s != Status::ok) {
    return s;
  }
  std::byte* base = table_.data_of(created.index);
  try {
    spill_->copy_out(id, base, base + spilled->data_size);
  } catch (...) {
    table_.abort_index(created.index);
    throw;
  }
  table_.seal_created(created.index, spilled->creator_pid, spilled->created_unix_ns);
  spill_->erase(id);
  update_spill_stats();
  return Status::ok;
}

}  // namespace shmkit::detail
