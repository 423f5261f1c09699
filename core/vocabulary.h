// The small words keyward speaks in: provider types, actions, principals.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keyward {

// The kinds of secret store keyward can sit in front of.
enum class ProviderType : std::uint8_t {
  kDatabricks,   // Databricks Secrets: only on Databricks fabrics
  kVault,        // HashiCorp Vault KV v1/v2: any fabric
  kEnvironment,  // the server's own environment variables: any fabric, read and list only
};
inline constexpr std::array<ProviderType, 3> kAllProviderTypes = {ProviderType::kDatabricks, ProviderType::kVault,
                                                                 ProviderType::kEnvironment};
std::string_view ProviderTypeName(ProviderType type);  // "databricks", "vault", "environment"
std::optional<ProviderType> ParseProviderType(std::string_view name);
// True for providers that can only be read and listed.
constexpr bool IsReadOnly(ProviderType type) { return type == ProviderType::kEnvironment; }

// What a principal wants to do with a secret.
enum class Action : std::uint8_t { kResolve, kList, kWrite, kDelete };
inline constexpr std::array<Action, 4> kAllActions = {Action::kResolve, Action::kList, Action::kWrite,
                                                      Action::kDelete};
std::string_view ActionName(Action action);  // "resolve", "list", "write", "delete"
std::optional<Action> ParseAction(std::string_view name);
constexpr bool IsMutation(Action action) { return action == Action::kWrite || action == Action::kDelete; }

// An authenticated caller. `id` is the name policies refer to; `method` says how it was proven.
struct Principal {
  enum class Method : std::uint8_t { kToken, kClientCertificate };
  std::string id;
  Method method = Method::kToken;
};

}  // namespace keyward
