#include "engine/op_table.hpp"

#include <algorithm>
#include <tuple>

namespace durable::detail {

std::vector<OpTable::Entry>::iterator OpTable::slot(int op) {
  if (!slots_.empty() && slots_.back().first == op) return slots_.end() - 1;
  return std::lower_bound(slots_.begin(), slots_.end(), op,
                          [](const Entry& e, int key) { return e.first < key; });
}

OpState* OpTable::find_earlier(int op) {
  auto it = slot(op);
  return it != slots_.end() && it->first == op && !it->second.released ? &it->second : nullptr;
}

OpState& OpTable::make(int op) {
  if (slots_.empty() || slots_.back().first < op) {
    return slots_.emplace_back(std::piecewise_construct, std::forward_as_tuple(op), std::tuple<>())
        .second;
  }
  auto it = slot(op);
  if (it != slots_.end() && it->first == op) {
    if (it->second.released) {
      it->second.released = false;
      --released_;
    }
    return it->second;
  }
  return slots_.emplace(it, std::piecewise_construct, std::forward_as_tuple(op), std::tuple<>())
      ->second;
}

void OpTable::erase(int op) noexcept {
  auto it = slot(op);
  if (it == slots_.end() || it->first != op || it->second.released) return;
  if (it + 1 != slots_.end()) {
    it->second = OpState{};  // what it holds goes now, as when a map node is erased
    it->second.released = true;
    ++released_;
    if (released_ * 2 > slots_.size()) compact();
    return;
  }
  slots_.pop_back();
  while (!slots_.empty() && slots_.back().second.released) {
    slots_.pop_back();
    --released_;
  }
  // Capacity left by a fan-out goes with its last op; a short table keeps its buffer.
  if (slots_.empty() && slots_.capacity() > 16) std::vector<Entry>().swap(slots_);
}

void OpTable::shrink() {
  compact();
  slots_.shrink_to_fit();
}

void OpTable::compact() noexcept {
  std::erase_if(slots_, [](const Entry& e) { return e.second.released; });
  released_ = 0;
}

}  // namespace durable::detail
