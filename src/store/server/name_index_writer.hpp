#pragma once
// The server's side of the shared name index: it mirrors every bind and
// unbind of the NameTable into the mapped index, entry by entry under the
// entry's seqlock, so a reader in another process sees the old binding or
// the new one and never a mix.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <shmkit/store/object_id.hpp>

#include "store/common/name_index.hpp"

namespace shmkit::detail {

class NameTable;

class NameIndexWriter {
 public:
  explicit NameIndexWriter(const NameIndexView& view) noexcept : view_(view) {}

  // Publishes `ns`/`name` -> `cell`. Keys too long for the index are left
  // out (readers ask the server). The caller keeps the number of names
  // below the index's capacity.
  void bind(std::string_view ns, std::string_view name, std::uint64_t cell) noexcept;
  // Withdraws the binding, if indexed.
  void unbind(std::string_view ns, std::string_view name) noexcept;
  // Rewrites the whole index from `names` (`cell_of(ns, name)` gives each
  // name's cell) when unbinds have left too many tombstones for lookups of
  // missing names to stay short.
  void compact_if_needed(const NameTable& names,
                         const std::function<std::uint64_t(const std::string&, const std::string&)>& cell_of) noexcept;

 private:
  // The entry holding the key, or `entries` if it is not indexed.
  [[nodiscard]] std::uint64_t find(std::string_view ns, std::string_view name, std::uint64_t hash) const noexcept;
  void write(std::uint64_t index, std::uint32_t shape, std::uint64_t hash, std::string_view ns, std::string_view name,
             std::uint64_t cell) noexcept;
  void insert(std::string_view ns, std::string_view name, std::uint64_t hash, std::uint64_t cell) noexcept;

  NameIndexView view_;
  std::uint64_t tombstones_ = 0;
};

}  // namespace shmkit::detail
