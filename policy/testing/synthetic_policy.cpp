#include "policy/testing/synthetic_policy.h"

#include <algorithm>
#include <random>

#include "core/json.h"

namespace keyward::policy::testing {
namespace {

const char* const kKinds[] = {"emr", "dataproc", "livy", "kubernetes", "databricks"};

std::string FabricId(std::size_t i) { return "fabric-" + std::to_string(i); }
bool IsDatabricks(std::size_t i) { return i % 5 == 4; }
bool IsManaged(std::size_t i) { return IsDatabricks(i) && i % 10 == 9; }

std::size_t Teams(const SyntheticShape& s) { return s.rules / 20 + 1; }
std::size_t Pipelines(const SyntheticShape& s) { return s.rules / 4 + 1; }

// The nth rule's randomness, reproducible from the seed alone so that requests can aim at rules.
struct RuleDraw {
  bool deny, glob_principal, all_fabrics;
  std::size_t pipeline, team, app, provider;  // provider: 0 vault, 1 vault-b, 2 env, 3 dbx
  std::vector<std::size_t> fabrics;
  bool deep;
};

RuleDraw Draw(const SyntheticShape& s, std::size_t n) {
  std::mt19937 rng(s.seed * 7919u + static_cast<std::uint32_t>(n));
  auto u = [&](std::size_t lo, std::size_t hi) { return std::uniform_int_distribution<std::size_t>(lo, hi)(rng); };
  RuleDraw d;
  d.deny = u(0, 99) < 6;
  d.glob_principal = u(0, 99) < 15;
  d.all_fabrics = u(0, 99) < 5;
  d.pipeline = u(0, Pipelines(s) - 1);
  d.team = u(0, Teams(s) - 1);
  d.app = u(0, 9);
  d.provider = u(0, 9) < 6 ? 0 : u(1, 3);
  d.deep = u(0, 3) == 0;
  const std::size_t nf = u(1, 3);
  for (std::size_t k = 0; k < nf; ++k) {
    std::size_t f = u(0, s.fabrics - 1);
    if (d.provider == 3) f = (f / 5) * 5 + 4;  // Databricks secrets only on databricks fabrics
    if (f >= s.fabrics || IsManaged(f)) f = 4;
    d.fabrics.push_back(f);
  }
  return d;
}

const char* ProviderId(std::size_t p) {
  static const char* const kIds[] = {"vault", "vault-b", "env", "dbx"};
  return kIds[p];
}

}  // namespace

std::string SyntheticPolicyJson(const SyntheticShape& s) {
  Json doc;
  doc["format"] = "keyward-policy/1";
  doc["providers"] = Json::array({{{"id", "vault"}, {"type", "vault"}},
                                  {{"id", "vault-b"}, {"type", "vault"}},
                                  {{"id", "env"}, {"type", "environment"}},
                                  {{"id", "dbx"}, {"type", "databricks"}},
                                  {{"id", "dbx-trial"}, {"type", "databricks"}}});
  Json fabrics = Json::array();
  for (std::size_t i = 0; i < s.fabrics; ++i) {
    Json f = {{"id", FabricId(i)}, {"kind", kKinds[i % 5]}};
    if (IsManaged(i)) {
      f["managed"] = true;
      f["scope"] = "trial-" + std::to_string(i);
      f["providers"] = {"dbx-trial"};
    } else if (IsDatabricks(i)) {
      f["providers"] = {"vault", "vault-b", "env", "dbx"};
    } else {
      f["providers"] = {"vault", "vault-b", "env"};
    }
    fabrics.push_back(std::move(f));
  }
  doc["fabrics"] = std::move(fabrics);
  Json rules = Json::array();
  for (std::size_t n = 0; n < s.rules; ++n) {
    const RuleDraw d = Draw(s, n);
    Json r;
    r["id"] = "rule-" + std::to_string(n);
    r["effect"] = d.deny ? "deny" : "allow";
    r["principals"] = {d.glob_principal ? "team-" + std::to_string(d.team) + "-*" : "pipeline-" + std::to_string(d.pipeline)};
    Json fabric_ids = Json::array();
    if (d.all_fabrics) {
      fabric_ids.push_back("*");
    } else {
      for (const std::size_t f : d.fabrics) {
        if (std::find(fabric_ids.begin(), fabric_ids.end(), FabricId(f)) == fabric_ids.end()) fabric_ids.push_back(FabricId(f));
      }
    }
    r["fabrics"] = std::move(fabric_ids);
    r["providers"] = {ProviderId(d.provider)};
    const std::string team = "team-" + std::to_string(d.team);
    if (d.provider == 2) {
      r["secrets"] = {"TEAM_" + std::to_string(d.team) + "_*"};
    } else if (d.provider == 3) {
      r["secrets"] = {team + "/app-" + std::to_string(d.app) + "-*"};
    } else if (d.deep) {
      r["secrets"] = {"secret/" + team + "/**/*"};
    } else {
      r["secrets"] = {"secret/" + team + "/app-" + std::to_string(d.app) + "/*", "secret/" + team + "/shared/db-*"};
    }
    r["actions"] = d.deny ? Json({"write", "delete", "resolve"}) : Json({"resolve", "list"});
    rules.push_back(std::move(r));
  }
  doc["rules"] = std::move(rules);
  return doc.dump();
}

std::vector<SyntheticRequest> SyntheticRequests(const SyntheticShape& s, std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  auto u = [&](std::size_t lo, std::size_t hi) { return std::uniform_int_distribution<std::size_t>(lo, hi)(rng); };
  std::vector<SyntheticRequest> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const RuleDraw d = Draw(s, u(0, s.rules - 1));
    SyntheticRequest r;
    r.principal = d.glob_principal ? "team-" + std::to_string(d.team) + "-job" + std::to_string(u(0, 9))
                                   : "pipeline-" + std::to_string(d.pipeline);
    r.fabric = FabricId(d.all_fabrics ? u(0, s.fabrics - 1) : d.fabrics[u(0, d.fabrics.size() - 1)]);
    r.provider = ProviderId(d.provider);
    const std::string team = "team-" + std::to_string(d.team);
    if (d.provider == 2) {
      r.key = "TEAM_" + std::to_string(d.team) + "_PASSWORD";
    } else if (d.provider == 3) {
      r.scope = team;
      r.key = "app-" + std::to_string(d.app) + "-token";
    } else {
      r.scope = "secret/" + team + (d.deep ? "/app-x/nested" : "/app-" + std::to_string(d.app));
      r.key = "password";
    }
    r.action = u(0, 3) == 0 ? Action::kList : Action::kResolve;
    switch (u(0, 7)) {  // near misses
      case 0: r.fabric = FabricId(u(0, s.fabrics - 1)); break;
      case 1: r.key = "other"; break;
      case 2: r.principal = "pipeline-" + std::to_string(u(0, Pipelines(s) - 1)); break;
      case 3: r.action = Action::kWrite; break;
      default: break;
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace keyward::policy::testing
