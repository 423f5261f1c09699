// CompiledPolicy: the policy as an Authorizer, built for fast concurrent decisions.
//
// Semantics (docs/policy.md): the built-in constraints are checked first and deny on their own; then
// any matching deny rule wins; else any matching allow rule; else deny ("no rule matched"). The deciding
// rule is the first of its effect in policy order.
//
// A CompiledPolicy is immutable: share it through std::shared_ptr<const CompiledPolicy> and swap the
// pointer on reload. Decide() is thread-safe and does not allocate when the request is well-formed.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/authorizer.h"
#include "core/status.h"
#include "policy/constraints.h"
#include "policy/glob.h"
#include "policy/policy.h"

namespace keyward::policy {

class CompiledPolicy final : public Authorizer {
 public:
  // REQUIRES: `policy` was produced by ParsePolicy (validated, version set).
  static std::shared_ptr<const CompiledPolicy> Compile(Policy policy);

  CompiledPolicy(const CompiledPolicy&) = delete;
  CompiledPolicy& operator=(const CompiledPolicy&) = delete;

  Decision Decide(const AccessRequest& request) const override;
  std::string_view version() const override { return policy_.version; }
  const Policy& policy() const { return policy_; }

  struct Explanation {
    Decision decision;
    const Constraint* constraint = nullptr;  // the constraint that denied, if one did
    Status ref_status;                       // why the ref is malformed, when constraint is invalid-secret-ref
    std::vector<std::size_t> matched_rules;  // every matching rule (indices into policy().rules), in order
  };
  // The decision and everything that contributed to it. Slow path: scans every rule.
  Explanation Explain(const AccessRequest& request) const;

  // Decide() without the index: scans every rule. Same answer by construction; tests check that, and
  // the benchmark uses it as its baseline.
  Decision DecideByScan(const AccessRequest& request) const;

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  template <typename V>
  using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;
  using Bits = std::vector<std::uint64_t>;

  struct CompiledSecret {
    bool any = false;
    PathGlob scope;
    PathGlob scope_folded;  // for case-insensitive Databricks scopes
    NameGlob key;
  };
  struct CompiledRule {
    Effect effect = Effect::kDeny;
    ActionSet actions = 0;
    std::vector<NameGlob> principals;
    Bits fabrics;    // bit per fabric index
    Bits providers;  // bit per provider index
    std::vector<CompiledSecret> secrets;
  };
  struct CompiledFabric {
    Bits providers;
    std::string scope_folded;  // managed fabrics
  };
  // Rule indices in ascending (policy) order, split by effect.
  struct Bucket {
    std::vector<std::uint32_t> deny;
    std::vector<std::uint32_t> allow;
  };
  // A request after the constraint checks: indices resolved, scope folded when case-insensitive.
  struct Context {
    std::uint32_t fabric = 0;
    std::uint32_t provider = 0;
    ProviderType type = ProviderType::kVault;
    std::string_view principal;
    std::string_view scope;
    std::string_view key;
    Action action = Action::kResolve;
  };

  explicit CompiledPolicy(Policy policy);

  static bool Test(const Bits& bits, std::uint32_t i) { return (bits[i / 64] >> (i % 64)) & 1u; }

  // Looks up fabric and provider, validates the ref and fills `ctx` (folding a Databricks scope into
  // `fold`, which must hold kMaxDatabricksName bytes). Returns the constraint broken, or nullptr.
  // `ref_status` (optional) receives the reason of an invalid ref.
  const Constraint* Resolve(const AccessRequest& request, Context* ctx, char* fold, Status* ref_status) const;
  // The built-in constraints on a resolved request, or nullptr when none is broken.
  const Constraint* Constrain(const Context& ctx) const;
  const Constraint* Check(const AccessRequest& request, Context* ctx, char* fold) const;
  bool Matches(const CompiledRule& rule, const Context& ctx) const;
  Decision RuleDecision(std::uint32_t rule_index) const;
  // First matching rule of `a` merged with `b` (both ascending), or UINT32_MAX.
  std::uint32_t FirstMatch(const std::vector<std::uint32_t>* a, const std::vector<std::uint32_t>* b,
                           const Context& ctx) const;

  Policy policy_;
  StringMap<std::uint32_t> fabric_index_;
  StringMap<std::uint32_t> provider_index_;
  std::vector<CompiledFabric> fabrics_;
  std::vector<StringMap<std::uint32_t>> owned_scopes_;  // per provider: folded scope -> owning fabric
  std::vector<CompiledRule> rules_;
  std::array<StringMap<Bucket>, 4> by_principal_;       // per action: literal principal -> rules
  std::array<std::vector<Bucket>, 4> by_fabric_;        // per action, per fabric: rules with principal globs
};

}  // namespace keyward::policy
