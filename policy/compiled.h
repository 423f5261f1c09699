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
#include <vector>

#include "core/authorizer.h"
#include "core/status.h"
#include "policy/constraints.h"
#include "policy/flat_index.h"
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
  Decision DecideScope(const AccessRequest& request) const override;
  std::string_view version() const override { return policy_.version; }
  std::vector<FabricInfo> FabricsFor(std::string_view principal) const override;
  std::optional<ProviderType> ProviderTypeOf(std::string_view id) const override;
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
  // A rule with a principal glob, with cheap pre-filters that keep most non-matching candidates from
  // touching the rule itself: the glob's literal prefix (truncated), and the providers the rule covers
  // (bit i % 64 for provider index i; with more than 64 providers, some pass the filter needlessly).
  struct GlobEntry {
    std::uint32_t rule = 0;
    std::uint8_t prefix_len = 0;
    char prefix[11] = {};
    std::uint64_t providers = 0;
  };
  struct GlobBucket {
    std::vector<GlobEntry> deny;
    std::vector<GlobEntry> allow;
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
  // First matching rule of `literal` merged with `glob` (both ascending), or UINT32_MAX.
  std::uint32_t FirstMatch(const std::vector<std::uint32_t>* literal, const std::vector<GlobEntry>& glob,
                           const Context& ctx) const;

  Policy policy_;
  FlatIndex fabric_index_;
  FlatIndex provider_index_;
  std::vector<CompiledFabric> fabrics_;
  std::vector<FlatIndex> owned_scopes_;  // per provider: folded scope -> owning fabric
  std::vector<CompiledRule> rules_;
  FlatIndex principal_index_;                           // literal principal -> index into by_principal_
  std::vector<std::array<Bucket, 4>> by_principal_;     // per literal principal, per action: its rules
  std::array<std::vector<GlobBucket>, 4> by_fabric_;    // per action, per fabric: rules with principal globs
};

}  // namespace keyward::policy
