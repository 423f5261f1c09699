#include "policy/policy.h"

namespace keyward::policy {

std::string_view FabricKindName(FabricKind kind) {
  switch (kind) {
    case FabricKind::kDatabricks: return "databricks";
    case FabricKind::kEmr: return "emr";
    case FabricKind::kDataproc: return "dataproc";
    case FabricKind::kLivy: return "livy";
    case FabricKind::kOnprem: return "onprem";
    case FabricKind::kSynapse: return "synapse";
    case FabricKind::kKubernetes: return "kubernetes";
  }
  return "unknown";
}

std::optional<FabricKind> ParseFabricKind(std::string_view name) {
  for (const FabricKind k : kAllFabricKinds) {
    if (FabricKindName(k) == name) return k;
  }
  return std::nullopt;
}

const ProviderDef* Policy::FindProvider(std::string_view id) const {
  for (const ProviderDef& p : providers) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

const FabricDef* Policy::FindFabric(std::string_view id) const {
  for (const FabricDef& f : fabrics) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

std::string RulePointer(std::size_t rule_index) { return "/rules/" + std::to_string(rule_index); }

std::string CanonicalJson(const Policy& policy) {
  Json doc = Json::object();
  doc["format"] = kPolicyFormat;
  doc["description"] = policy.description;
  Json providers = Json::array();
  for (const ProviderDef& p : policy.providers) {
    providers.push_back({{"id", p.id}, {"type", ProviderTypeName(p.type)}, {"description", p.description}});
  }
  doc["providers"] = std::move(providers);
  Json fabrics = Json::array();
  for (const FabricDef& f : policy.fabrics) {
    fabrics.push_back({{"id", f.id},
                       {"kind", FabricKindName(f.kind)},
                       {"managed", f.managed},
                       {"scope", f.scope},
                       {"providers", f.providers},
                       {"description", f.description}});
  }
  doc["fabrics"] = std::move(fabrics);
  Json rules = Json::array();
  for (const RuleDef& r : policy.rules) {
    Json actions = Json::array();
    for (const Action a : kAllActions) {
      if (r.actions & ActionBit(a)) actions.push_back(ActionName(a));
    }
    Json secrets = Json::array();
    for (const SecretPattern& s : r.secrets) secrets.push_back(s.text);
    rules.push_back({{"id", r.id},
                     {"effect", EffectName(r.effect)},
                     {"principals", r.principals},
                     {"fabrics", r.fabrics},
                     {"providers", r.providers},
                     {"secrets", std::move(secrets)},
                     {"actions", std::move(actions)},
                     {"description", r.description}});
  }
  doc["rules"] = std::move(rules);
  // nlohmann::json keeps object members in a std::map: dump() writes them sorted bytewise.
  return doc.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::strict);
}

}  // namespace keyward::policy
