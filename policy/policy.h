// The policy model: what a security team writes (docs/policy.md), after parsing and validation.
//
// A Policy holds provider instances, fabrics and rules in the order they were written. It is plain
// data; CompiledPolicy (compiled.h) turns it into the evaluator, Lint (lint.h) reviews it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/decision.h"
#include "core/json.h"
#include "core/result.h"
#include "core/vocabulary.h"

namespace keyward::policy {

inline constexpr std::string_view kPolicyFormat = "keyward-policy/1";

enum class FabricKind : std::uint8_t { kDatabricks, kEmr, kDataproc, kLivy, kOnprem, kSynapse, kKubernetes };
inline constexpr std::array<FabricKind, 7> kAllFabricKinds = {
    FabricKind::kDatabricks, FabricKind::kEmr,     FabricKind::kDataproc,  FabricKind::kLivy,
    FabricKind::kOnprem,     FabricKind::kSynapse, FabricKind::kKubernetes};
std::string_view FabricKindName(FabricKind kind);
std::optional<FabricKind> ParseFabricKind(std::string_view name);

// A bit per Action.
using ActionSet = std::uint8_t;
constexpr ActionSet ActionBit(Action a) { return static_cast<ActionSet>(1u << static_cast<unsigned>(a)); }
inline constexpr ActionSet kAllActionBits = 0x0F;

struct ProviderDef {
  std::string id;
  ProviderType type = ProviderType::kVault;
  std::string description;
};

struct FabricDef {
  std::string id;
  FabricKind kind = FabricKind::kDatabricks;
  bool managed = false;
  std::string scope;                   // managed fabrics only: the one Databricks scope they own
  std::vector<std::string> providers;  // provider instance ids this fabric may use
  std::string description;
};

// "*" (every secret of every provider), "SCOPE/KEY" (split at the last '/'), or "KEY" for providers
// without scopes (environment variables). SCOPE is a PathGlob, KEY a NameGlob.
struct SecretPattern {
  std::string text;
  bool any = false;
  std::string scope;
  std::string key;
};

struct RuleDef {
  std::string id;
  Effect effect = Effect::kDeny;
  std::vector<std::string> principals;  // NameGlobs
  std::vector<std::string> fabrics;     // NameGlobs over fabric ids
  std::vector<std::string> providers;   // NameGlobs over provider ids
  std::vector<SecretPattern> secrets;
  ActionSet actions = 0;
  std::string description;
};

struct Policy {
  std::string description;
  std::vector<ProviderDef> providers;
  std::vector<FabricDef> fabrics;
  std::vector<RuleDef> rules;
  // SHA-256 (hex) of CanonicalJson(): identical for documents that differ only in whitespace, comments,
  // member order, or in spelling defaults ("managed": false) and action sets (["*"]) differently.
  std::string version;

  const ProviderDef* FindProvider(std::string_view id) const;
  const FabricDef* FindFabric(std::string_view id) const;
};

// Canonical form: the model as JSON with every default written out, actions in canonical order,
// compact, members sorted bytewise. Comments and whitespace are gone.
std::string CanonicalJson(const Policy& policy);

// Pointers to the parts of a policy document, for diagnostics.
std::string RulePointer(std::size_t rule_index);

}  // namespace keyward::policy
