// FlatIndex: an immutable-after-build map from strings to small integers for the decision hot path.
// Open addressing with linear probing, power-of-two capacity at most half full, FNV-1a hashes.
// Lookups take a string_view and never allocate. Not thread-safe while building; safe for concurrent
// lookups afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keyward::policy {

class FlatIndex {
 public:
  static constexpr std::uint32_t kMissing = 0xFFFFFFFFu;

  // Returns the value stored for `key`, inserting `value` first when the key is new.
  std::uint32_t Insert(std::string_view key, std::uint32_t value);
  // The value for `key`, or kMissing.
  std::uint32_t Find(std::string_view key) const noexcept;
  std::size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t key = kMissing;  // index into keys_, kMissing = empty slot
    std::uint32_t value = 0;
  };
  static std::uint64_t Hash(std::string_view s) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    return h ^ (h >> 29);
  }
  void Grow();

  std::vector<Slot> slots_;
  std::vector<std::string> keys_;
};

}  // namespace keyward::policy
