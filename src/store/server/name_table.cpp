#include "store/server/name_table.hpp"

namespace shmkit::detail {

std::optional<ObjectId> NameTable::bind(const std::string& ns, const std::string& name, const ObjectId& id) {
  auto& names = spaces_[ns];
  const auto [it, inserted] = names.try_emplace(name, id);
  if (inserted) {
    ++size_;
    return std::nullopt;
  }
  return std::exchange(it->second, id);
}

std::optional<ObjectId> NameTable::unbind(const std::string& ns, const std::string& name) {
  const auto space = spaces_.find(ns);
  if (space == spaces_.end()) {
    return std::nullopt;
  }
  const auto it = space->second.find(name);
  if (it == space->second.end()) {
    return std::nullopt;
  }
  const ObjectId id = it->second;
  space->second.erase(it);
  --size_;
  if (space->second.empty()) {
    spaces_.erase(space);  // an empty namespace is no namespace
  }
  return id;
}

std::optional<ObjectId> NameTable::lookup(const std::string& ns, const std::string& name) const {
  const auto space = spaces_.find(ns);
  if (space == spaces_.end()) {
    return std::nullopt;
  }
  const auto it = space->second.find(name);
  if (it == space->second.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::vector<NameBinding> NameTable::list(const std::string& ns, const std::string& prefix) const {
  std::vector<NameBinding> out;
  const auto space = spaces_.find(ns);
  if (space == spaces_.end()) {
    return out;
  }
  for (auto it = space->second.lower_bound(prefix); it != space->second.end() && it->first.starts_with(prefix); ++it) {
    out.push_back(NameBinding{it->first, it->second});
  }
  return out;
}

std::vector<NamespaceInfo> NameTable::namespaces() const {
  std::vector<NamespaceInfo> out;
  for (const auto& [ns, names] : spaces_) {
    out.push_back(NamespaceInfo{ns, names.size()});
  }
  return out;
}

std::vector<std::pair<std::string, ObjectId>> NameTable::remove_namespace(const std::string& ns) {
  std::vector<std::pair<std::string, ObjectId>> removed;
  const auto space = spaces_.find(ns);
  if (space == spaces_.end()) {
    return removed;
  }
  removed.assign(space->second.begin(), space->second.end());
  size_ -= removed.size();
  spaces_.erase(space);
  return removed;
}

}  // namespace shmkit::detail
