// SecretRef: which secret — provider instance, scope, key — never the value.
//
// Scope and key mean different things per provider type:
//   databricks   scope = secret scope name, key = secret key. Both: letters, digits, '-', '_', '.',
//                at most 128 characters; the scope may also contain '@'. Databricks compares scope
//                names case-insensitively.
//   vault        scope = secret path, first segment = the KV mount ("secret/team-a/snowflake");
//                non-empty segments, no "." or ".." segment, no leading or trailing '/', at most 1024
//                bytes. key = one entry of the map stored at that path: no '/', at most 512 bytes.
//   environment  scope = "" (variables have no scope), key = variable name [A-Za-z_][A-Za-z0-9_]*,
//                at most 256 characters.
// Everything must be valid UTF-8 without control characters.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/vocabulary.h"

namespace keyward {

struct SecretRef {
  std::string provider;  // provider instance id, as named in the policy
  std::string scope;
  std::string key;

  friend bool operator==(const SecretRef&, const SecretRef&) = default;
};

inline constexpr std::size_t kMaxDatabricksName = 128;
inline constexpr std::size_t kMaxVaultPath = 1024;
inline constexpr std::size_t kMaxVaultKey = 512;
inline constexpr std::size_t kMaxEnvName = 256;

// OK when `scope` and `key` are well-formed for a provider of `type`; otherwise InvalidArgument whose
// message names the rule that was broken. Allocation-free when OK.
Status ValidateSecretRef(ProviderType type, std::string_view scope, std::string_view key);

// Like ValidateSecretRef, for operations on a whole scope (listing). A Vault scope may then be a bare
// mount ("secret").
Status ValidateScope(ProviderType type, std::string_view scope);

// "PROVIDER:SCOPE/KEY" (scope and key split at the last '/'), or "PROVIDER:KEY" for scope-less
// providers. ParseSecretRef checks only the shape; validate against the provider type separately.
std::string FormatSecretRef(std::string_view provider, std::string_view scope, std::string_view key);
inline std::string FormatSecretRef(const SecretRef& ref) { return FormatSecretRef(ref.provider, ref.scope, ref.key); }
Result<SecretRef> ParseSecretRef(std::string_view text);

}  // namespace keyward
