// The built-in constraints: facts about providers and fabrics that no policy can loosen.
//
//   - Databricks Secrets only on databricks fabrics; Vault and environment variables on every kind.
//   - A managed (trial) fabric is a databricks fabric that may use Databricks Secrets only, and only its
//     own scope, for every action; no other fabric may use a scope a managed fabric owns.
//   - Environment variables are read-only: resolve and list, never write or delete.
//
// The loader rejects definitions that contradict them; the evaluator checks them again on every
// decision (defence in depth). Their names appear in decisions and in the audit log.
#pragma once

#include <string_view>

#include "core/vocabulary.h"
#include "policy/policy.h"

namespace keyward::policy {

struct Constraint {
  std::string_view name;    // stable identifier: "read-only-provider"
  std::string_view reason;  // one sentence for people
};

namespace constraint {
inline constexpr Constraint kUnknownFabric{"unknown-fabric", "the fabric is not defined in the policy"};
inline constexpr Constraint kUnknownProvider{"unknown-provider", "the provider is not defined in the policy"};
inline constexpr Constraint kProviderNotOnFabric{"provider-not-on-fabric",
                                                 "the fabric does not list this provider"};
inline constexpr Constraint kDatabricksOnlyOnDatabricks{
    "databricks-secrets-only-on-databricks", "Databricks Secrets can be used only on databricks fabrics"};
inline constexpr Constraint kManagedDatabricksOnly{"managed-fabric-databricks-only",
                                                   "managed fabrics may use Databricks Secrets only"};
inline constexpr Constraint kManagedOwnScope{"managed-fabric-own-scope",
                                             "managed fabrics may access only their own scope"};
inline constexpr Constraint kScopeOwnedByManagedFabric{
    "scope-owned-by-managed-fabric", "the scope belongs to a managed fabric, and only that fabric may use it"};
inline constexpr Constraint kReadOnlyProvider{"read-only-provider",
                                              "environment variables are read-only: no write or delete"};
inline constexpr Constraint kInvalidSecretRef{"invalid-secret-ref",
                                              "the secret reference is malformed for its provider type"};
}  // namespace constraint

// The constraint a provider of `type` breaks on a fabric of `kind` (managed or not), or nullptr.
const Constraint* ProviderTypeConstraint(ProviderType type, FabricKind kind, bool managed);

// The constraint `action` breaks on a provider of `type`, or nullptr.
const Constraint* ActionConstraint(ProviderType type, Action action);

// ASCII lower-case, for Databricks scope names (which Databricks compares case-insensitively, and
// which are ASCII by their naming rules).
std::string FoldCase(std::string_view text);

}  // namespace keyward::policy
