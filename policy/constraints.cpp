#include "policy/constraints.h"

namespace keyward::policy {

const Constraint* ProviderTypeConstraint(ProviderType type, FabricKind kind, bool managed) {
  if (managed && type != ProviderType::kDatabricks) return &constraint::kManagedDatabricksOnly;
  if (type == ProviderType::kDatabricks && kind != FabricKind::kDatabricks) {
    return &constraint::kDatabricksOnlyOnDatabricks;
  }
  return nullptr;
}

const Constraint* ActionConstraint(ProviderType type, Action action) {
  if (IsReadOnly(type) && IsMutation(action)) return &constraint::kReadOnlyProvider;
  return nullptr;
}

std::string FoldCase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace keyward::policy
