// monitor/read_mostly_map.h defines ReadMostlyMap<T>: a name -> T* map whose lookups take no lock.
//
//   ReadMostlyMap<Stage> stages;
//   Stage* s = stages.find("embed");           // lock-free: one acquire load + a hash lookup
//   if (!s) s = &stages.get_or_create("embed");  // rare: under a mutex, publishes a new version
//
// Writers copy the current table, add the entry and publish the copy with a release store.
// Old tables and every T stay alive until the map is destroyed (names are few: pipeline stages
// and counters), so a reader holding an old table never dangles. Entries are never removed.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ragperf::monitor {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <typename T>
class ReadMostlyMap {
 public:
  using Table = std::unordered_map<std::string, T*, StringHash, std::equal_to<>>;

  ReadMostlyMap() {
    tables_.push_back(std::make_unique<Table>());
    current_.store(tables_.back().get(), std::memory_order_release);
  }

  T* find(std::string_view name) const {
    const Table* table = current_.load(std::memory_order_acquire);
    auto it = table->find(name);
    return it == table->end() ? nullptr : it->second;
  }

  T& get_or_create(std::string_view name) {
    std::lock_guard lock(write_mu_);
    const Table* table = current_.load(std::memory_order_acquire);
    if (auto it = table->find(name); it != table->end()) return *it->second;
    values_.emplace_back(std::string(name), std::make_unique<T>());
    T* value = values_.back().second.get();
    auto next = std::make_unique<Table>(*table);
    next->emplace(std::string(name), value);
    tables_.push_back(std::move(next));
    current_.store(tables_.back().get(), std::memory_order_release);
    return *value;
  }

  /// Calls fn(name, T&) for every entry in creation order; fn must not call get_or_create().
  template <typename Fn>
  void for_each(Fn&& fn) const {
    std::lock_guard lock(write_mu_);
    for (const auto& [name, value] : values_) fn(name, *value);
  }

 private:
  mutable std::mutex write_mu_;
  std::vector<std::unique_ptr<Table>> tables_;
  std::vector<std::pair<std::string, std::unique_ptr<T>>> values_;
  std::atomic<const Table*> current_{nullptr};
};

}  // namespace ragperf::monitor
