#include "policy/lint.h"

#include "policy/constraints.h"
#include "policy/glob.h"

namespace keyward::policy {
namespace {

void Warn(std::vector<Diagnostic>* out, std::string pointer, std::string kind, std::string message) {
  out->push_back(Diagnostic{Diagnostic::Severity::kWarning, std::move(pointer), std::move(kind), std::move(message)});
}

std::vector<bool> MatchIds(const std::vector<std::string>& globs, const auto& defs) {
  std::vector<bool> out(defs.size(), false);
  for (const std::string& g : globs) {
    const NameGlob glob(g);
    for (std::size_t i = 0; i < defs.size(); ++i) out[i] = out[i] || glob.Matches(defs[i].id);
  }
  return out;
}

bool AnyTrue(const std::vector<bool>& v) {
  for (const bool b : v) {
    if (b) return true;
  }
  return false;
}

// Whether a scope pattern can match a scope of the provider type's shape: a Vault path has at least two
// segments (the mount, then a path) — one when listing, which may name a bare mount —, a Databricks
// scope exactly one, of letters, digits, '-', '_', '.' and '@'. ("**" stands for any number of
// segments, none included.)
bool ScopeShapeFits(std::string_view scope, ProviderType type, bool lists) {
  std::size_t fixed = 0;
  bool any_depth = false, databricks_chars = true;
  for (std::size_t start = 0; start <= scope.size();) {
    std::size_t end = scope.find('/', start);
    if (end == std::string_view::npos) end = scope.size();
    const std::string_view segment = scope.substr(start, end - start);
    if (segment == "**") {
      any_depth = true;
    } else {
      ++fixed;
      for (const char c : segment) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.' || c == '@' || c == '*';
        databricks_chars = databricks_chars && ok;
      }
    }
    start = end + 1;
  }
  if (type == ProviderType::kVault) return fixed >= 2 || any_depth || (lists && fixed == 1);
  if (type == ProviderType::kDatabricks) return databricks_chars && (fixed == 1 || (fixed == 0 && any_depth));
  return true;
}

// Can `pattern` match some valid secret of a provider of `type` reachable from `fabric`?
// `lists`: an allow rule for list (a bare Vault mount is a scope for listing).
bool PatternReaches(const SecretPattern& pattern, ProviderType type, const FabricDef& fabric, bool lists) {
  if (pattern.any) return true;
  const PathGlob scope(type == ProviderType::kDatabricks ? FoldCase(pattern.scope) : pattern.scope);
  if (type == ProviderType::kEnvironment) return scope.Matches("");
  if (pattern.scope.empty()) return false;  // scope-less patterns name environment variables only
  if (!ScopeShapeFits(pattern.scope, type, lists)) return false;
  if (fabric.managed) return scope.Matches(FoldCase(fabric.scope));
  return true;
}

// Why a rule can never match, or "" when some request can match it.
std::string DeadReason(const Policy& p, const RuleDef& r, const std::vector<bool>& fabrics,
                       const std::vector<bool>& providers) {
  if (!AnyTrue(fabrics)) return "its fabrics match no defined fabric";
  if (!AnyTrue(providers)) return "its providers match no defined provider";
  bool pair = false, action = false;
  for (std::size_t fi = 0; fi < p.fabrics.size(); ++fi) {
    if (!fabrics[fi]) continue;
    const FabricDef& f = p.fabrics[fi];
    for (const std::string& pid : f.providers) {
      std::size_t pi = 0;
      while (pi < p.providers.size() && p.providers[pi].id != pid) ++pi;
      if (pi == p.providers.size() || !providers[pi]) continue;
      const ProviderType type = p.providers[pi].type;
      if (ProviderTypeConstraint(type, f.kind, f.managed) != nullptr) continue;
      pair = true;
      bool some_action = false;
      for (const Action a : kAllActions) {
        some_action = some_action || ((r.actions & ActionBit(a)) && ActionConstraint(type, a) == nullptr);
      }
      if (!some_action) continue;
      action = true;
      for (const SecretPattern& s : r.secrets) {
        // An allow rule for list decides listing a bare Vault mount ("secret/*" for scope "secret"); a
        // deny rule never covers one (it would have to cover everything below it too).
        const bool lists_mounts = r.effect == Effect::kAllow && (r.actions & ActionBit(Action::kList)) != 0;
        if (PatternReaches(s, type, f, lists_mounts)) return {};
      }
    }
  }
  if (!pair) return "none of its fabrics lists any of its providers";
  if (!action) return "its actions write or delete, and its providers are read-only";
  return "none of its secret patterns can match a secret its providers hold on its fabrics "
         "(a managed fabric reaches only its own scope; a pattern without '/' names environment variables; a "
         "Vault scope is a mount and a path, two segments at least; a Databricks scope is one segment)";
}

bool Subset(const std::vector<bool>& a, const std::vector<bool>& b) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] && !b[i]) return false;
  }
  return true;
}

bool PrincipalsCovered(const RuleDef& narrow, const RuleDef& broad) {
  for (const std::string& n : narrow.principals) {
    bool covered = false;
    for (const std::string& b : broad.principals) covered = covered || NameGlob(b).Covers(NameGlob(n));
    if (!covered) return false;
  }
  return true;
}

bool SecretsCovered(const RuleDef& narrow, const RuleDef& broad) {
  for (const SecretPattern& n : narrow.secrets) {
    bool covered = false;
    for (const SecretPattern& b : broad.secrets) {
      if (b.any) {
        covered = true;
      } else if (!n.any) {
        covered = covered || (PathGlob(b.scope).Covers(PathGlob(n.scope)) && NameGlob(b.key).Covers(NameGlob(n.key)));
      }
    }
    if (!covered) return false;
  }
  return true;
}

}  // namespace

std::vector<Diagnostic> Lint(const Policy& p) {
  std::vector<Diagnostic> out;

  for (std::size_t i = 0; i < p.providers.size(); ++i) {
    bool used = false;
    for (const FabricDef& f : p.fabrics) {
      for (const std::string& pid : f.providers) used = used || pid == p.providers[i].id;
    }
    if (!used) {
      Warn(&out, JsonPointerJoin("/providers", i), "unused-provider",
           "provider '" + p.providers[i].id + "' is listed by no fabric, so no rule can reach it");
    }
  }
  if (p.rules.empty()) Warn(&out, "/rules", "no-rules", "the policy has no rules: every request will be denied");

  std::vector<std::vector<bool>> fabric_sets, provider_sets;
  std::vector<bool> live(p.rules.size(), false);
  for (std::size_t i = 0; i < p.rules.size(); ++i) {
    const RuleDef& r = p.rules[i];
    fabric_sets.push_back(MatchIds(r.fabrics, p.fabrics));
    provider_sets.push_back(MatchIds(r.providers, p.providers));
    const std::string reason = DeadReason(p, r, fabric_sets.back(), provider_sets.back());
    live[i] = reason.empty();
    if (!live[i]) {
      Warn(&out, RulePointer(i), "never-matches", std::string(EffectName(r.effect)) + " rule '" + r.id +
                                                      "' can never match: " + reason);
      continue;
    }
    // Entries of a live rule that contribute nothing.
    for (std::size_t j = 0; j < r.fabrics.size(); ++j) {
      const std::vector<bool> one = MatchIds({r.fabrics[j]}, p.fabrics);
      RuleDef only = r;
      only.fabrics = {r.fabrics[j]};
      if (!AnyTrue(one) || !DeadReason(p, only, one, provider_sets.back()).empty()) {
        Warn(&out, JsonPointerJoin(RulePointer(i) + "/fabrics", j), "entry-matches-nothing",
             "fabric entry '" + r.fabrics[j] + "' of rule '" + r.id + "' " +
                 (AnyTrue(one) ? "cannot use any provider of this rule for its actions and secrets"
                               : "matches no defined fabric"));
      }
    }
    for (std::size_t j = 0; j < r.providers.size(); ++j) {
      const std::vector<bool> one = MatchIds({r.providers[j]}, p.providers);
      RuleDef only = r;
      only.providers = {r.providers[j]};
      if (!AnyTrue(one) || !DeadReason(p, only, fabric_sets.back(), one).empty()) {
        Warn(&out, JsonPointerJoin(RulePointer(i) + "/providers", j), "entry-matches-nothing",
             "provider entry '" + r.providers[j] + "' of rule '" + r.id + "' " +
                 (AnyTrue(one) ? "is usable on none of this rule's fabrics for its actions and secrets"
                               : "matches no defined provider"));
      }
    }
    if (r.effect == Effect::kAllow) {
      bool all_principals = false, all_secrets = false;
      for (const std::string& pr : r.principals) all_principals = all_principals || pr == "*";
      for (const SecretPattern& s : r.secrets) all_secrets = all_secrets || s.any;
      if (all_principals && all_secrets) {
        Warn(&out, RulePointer(i), "allow-all",
             "allow rule '" + r.id + "' gives every principal every secret on its fabrics and providers");
      }
    }
  }

  for (std::size_t i = 0; i < p.rules.size(); ++i) {
    const RuleDef& a = p.rules[i];
    if (a.effect != Effect::kAllow || !live[i]) continue;
    for (std::size_t j = 0; j < p.rules.size(); ++j) {
      const RuleDef& d = p.rules[j];
      if (d.effect != Effect::kDeny) continue;
      if ((a.actions & ~d.actions) != 0) continue;
      if (!Subset(fabric_sets[i], fabric_sets[j]) || !Subset(provider_sets[i], provider_sets[j])) continue;
      if (!PrincipalsCovered(a, d) || !SecretsCovered(a, d)) continue;
      Warn(&out, RulePointer(i), "overridden",
           "allow rule '" + a.id + "' never takes effect: deny rule '" + d.id + "' (" + RulePointer(j) +
               ") matches every request it matches, and deny wins");
      break;
    }
  }
  return out;
}

}  // namespace keyward::policy
