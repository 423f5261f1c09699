#include "core/vocabulary.h"

namespace keyward {

std::string_view ProviderTypeName(ProviderType type) {
  switch (type) {
    case ProviderType::kDatabricks: return "databricks";
    case ProviderType::kVault: return "vault";
    case ProviderType::kEnvironment: return "environment";
  }
  return "unknown";
}

std::optional<ProviderType> ParseProviderType(std::string_view name) {
  for (const ProviderType t : kAllProviderTypes) {
    if (ProviderTypeName(t) == name) return t;
  }
  return std::nullopt;
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kResolve: return "resolve";
    case Action::kList: return "list";
    case Action::kWrite: return "write";
    case Action::kDelete: return "delete";
  }
  return "unknown";
}

std::optional<Action> ParseAction(std::string_view name) {
  for (const Action a : kAllActions) {
    if (ActionName(a) == name) return a;
  }
  return std::nullopt;
}

}  // namespace keyward
