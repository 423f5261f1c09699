// Authorizer: the port through which the Resolver asks "may this principal do this to this secret?".
//
// Implemented by policy::CompiledPolicy. An Authorizer is immutable once built: a policy reload builds
// a new one and swaps a shared_ptr, so a request that holds one decides every ref of its batch under
// one policy version.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/decision.h"
#include "core/vocabulary.h"

namespace keyward {

class Authorizer {
 public:
  virtual ~Authorizer() = default;

  // Thread-safe. Never fails: anything unknown or malformed is a deny with its reason. The views in the
  // returned Decision stay valid as long as this Authorizer lives.
  virtual Decision Decide(const AccessRequest& request) const = 0;

  // For an operation on a whole scope (listing): may `request.principal` perform `request.action` on
  // anything in `request.scope` or below it? `request.key` is ignored. Constraints are checked as by
  // Decide (the scope validated as a scope: a bare Vault mount, and "" for Databricks meaning every
  // scope, are valid). Then it is denied by the first deny rule that covers every key in and below the
  // scope; else allowed, by the first such rule, when some allow rule could match a secret there. A deny
  // rule that covers only some keys does not deny the scope: each listed key is still decided on its
  // own. Thread-safe; may allocate.
  virtual Decision DecideScope(const AccessRequest& request) const = 0;

  // Identifies the policy this Authorizer enforces (SHA-256 hex of its canonical form).
  virtual std::string_view version() const = 0;

  // A fabric as a principal may see it: never credentials.
  struct FabricInfo {
    std::string id;
    std::string kind;
    bool managed = false;
    struct ProviderInfo {
      std::string id;
      ProviderType type = ProviderType::kVault;
    };
    std::vector<ProviderInfo> providers;  // the ones some allow rule lets this principal use there
  };
  // The fabrics on which some allow rule grants `principal` something, with those providers.
  virtual std::vector<FabricInfo> FabricsFor(std::string_view principal) const = 0;

  // The type of provider instance `id`, when the policy defines it.
  virtual std::optional<ProviderType> ProviderTypeOf(std::string_view id) const = 0;
};

}  // namespace keyward
