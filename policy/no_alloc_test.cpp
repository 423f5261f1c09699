// Decide() must not allocate for well-formed requests: this binary replaces the global operator new
// with a counting one, so the claim in compiled.h is checked, not assumed.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "core/testing/status_matchers.h"
#include "policy/compiled.h"
#include "policy/loader.h"
#include "policy/testing/synthetic_policy.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// These replace the global operators, so malloc/free pair correctly; GCC cannot see that once it
// inlines them into callers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace keyward::policy {
namespace {

TEST(NoAllocationTest, DecideDoesNotAllocate) {
  const testing::SyntheticShape shape{.rules = 1000, .fabrics = 100, .seed = 9};
  std::vector<Diagnostic> errors;
  auto p = ParsePolicy(testing::SyntheticPolicyJson(shape), &errors);
  ASSERT_THAT(p, ::keyward::testing::IsOk());
  const auto compiled = CompiledPolicy::Compile(std::move(*p));
  const auto requests = testing::SyntheticRequests(shape, 5000, 3);
  // Plus a managed-fabric request and one for an unknown fabric: constraint denials must not allocate either.
  const AccessRequest extra[] = {{"pipeline-1", "fabric-9", "dbx-trial", "trial-9", "k", Action::kResolve},
                                 {"pipeline-1", "fabric-9", "dbx-trial", "trial-19", "k", Action::kResolve},
                                 {"pipeline-1", "nowhere", "vault", "secret/a", "k", Action::kResolve}};
  long allowed = 0;
  const long before = g_allocations.load();
  for (const auto& r : requests) allowed += compiled->Decide(r.view()).allowed() ? 1 : 0;
  for (const auto& r : extra) allowed += compiled->Decide(r).allowed() ? 1 : 0;
  const long after = g_allocations.load();
  EXPECT_EQ(after - before, 0) << "allocations during " << requests.size() << " decisions";
  EXPECT_GT(allowed, 0);
}

TEST(NoAllocationTest, TheCounterSeesAllocations) {
  const long before = g_allocations.load();
  auto* v = new std::vector<int>(100);
  delete v;
  EXPECT_GE(g_allocations.load() - before, 2);
}

}  // namespace
}  // namespace keyward::policy
