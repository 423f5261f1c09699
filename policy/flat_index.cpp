#include "policy/flat_index.h"

namespace keyward::policy {

std::uint32_t FlatIndex::Find(std::string_view key) const noexcept {
  if (slots_.empty()) return kMissing;
  const std::uint64_t h = Hash(key);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.key == kMissing) return kMissing;
    if (s.hash == h && keys_[s.key] == key) return s.value;
  }
}

std::uint32_t FlatIndex::Insert(std::string_view key, std::uint32_t value) {
  if (const std::uint32_t v = Find(key); v != kMissing) return v;
  if ((keys_.size() + 1) * 2 > slots_.size()) Grow();
  keys_.emplace_back(key);
  const std::uint64_t h = Hash(key);
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = h & mask;
  while (slots_[i].key != kMissing) i = (i + 1) & mask;
  slots_[i] = Slot{h, static_cast<std::uint32_t>(keys_.size() - 1), value};
  return value;
}

void FlatIndex::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
  const std::size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.key == kMissing) continue;
    std::size_t i = s.hash & mask;
    while (slots_[i].key != kMissing) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

}  // namespace keyward::policy
