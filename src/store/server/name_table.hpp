#pragma once
// The server's name table: (namespace, name) -> object id. It lives in the
// server's private memory and only the server thread touches it, so a
// client cannot corrupt it; clients read it over the socket. Pinning the
// named objects is the ObjectTable's job: this class only keeps the map.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <shmkit/store/object_id.hpp>
#include <shmkit/store/store_types.hpp>

namespace shmkit::detail {

class NameTable {
 public:
  // Binds `name` in `ns` to `id`; returns the id it was bound to before.
  std::optional<ObjectId> bind(const std::string& ns, const std::string& name, const ObjectId& id);
  // Removes the binding; returns the id it was bound to, if any.
  std::optional<ObjectId> unbind(const std::string& ns, const std::string& name);
  [[nodiscard]] std::optional<ObjectId> lookup(const std::string& ns, const std::string& name) const;
  // Names in `ns` starting with `prefix`, in byte order.
  [[nodiscard]] std::vector<NameBinding> list(const std::string& ns, const std::string& prefix) const;
  // Every namespace holding at least one name, with its count of names.
  [[nodiscard]] std::vector<NamespaceInfo> namespaces() const;
  // Removes every name of `ns`; returns the names with the ids they were
  // bound to (so an id bound twice appears twice).
  std::vector<std::pair<std::string, ObjectId>> remove_namespace(const std::string& ns);
  // Calls `f(ns, name, id)` for every binding, namespaces and names in byte order.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [ns, names] : spaces_) {
      for (const auto& [name, id] : names) {
        f(ns, name, id);
      }
    }
  }
  // Names in all namespaces.
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

 private:
  // Namespaces are keys of their own map: "exp" and "exp1" never mix,
  // whatever their names look like.
  std::map<std::string, std::map<std::string, ObjectId>, std::less<>> spaces_;
  std::uint64_t size_ = 0;
};

}  // namespace shmkit::detail
