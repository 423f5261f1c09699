// PolicyStore: the current policy, swapped atomically on reload.
//
// Readers take a snapshot (a shared_ptr) and decide a whole request against it, so every ref of a batch
// is decided under one policy version even when a reload lands in the middle. Thread-safe.
#pragma once

#include <atomic>
#include <memory>

#include "policy/compiled.h"

namespace keyward::policy {

class PolicyStore {
 public:
  explicit PolicyStore(std::shared_ptr<const CompiledPolicy> initial) : current_(std::move(initial)) {}
  PolicyStore(const PolicyStore&) = delete;
  PolicyStore& operator=(const PolicyStore&) = delete;

  std::shared_ptr<const CompiledPolicy> Current() const { return current_.load(std::memory_order_acquire); }
  // REQUIRES: next != nullptr. Requests holding the previous snapshot finish under it.
  void Replace(std::shared_ptr<const CompiledPolicy> next) { current_.store(std::move(next), std::memory_order_release); }

 private:
  std::atomic<std::shared_ptr<const CompiledPolicy>> current_;
};

}  // namespace keyward::policy
