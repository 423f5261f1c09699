#include "policy/loader.h"

#include <algorithm>
#include <map>

#include "core/file.h"
#include "core/secret_ref.h"
#include "core/sha256.h"
#include "core/utf8.h"
#include "policy/constraints.h"
#include "policy/glob.h"

namespace keyward::policy {
namespace {

constexpr std::size_t kMaxIdLength = 128;
constexpr std::size_t kMaxPrincipalLength = 256;
constexpr std::size_t kMaxPatternLength = kMaxVaultPath + 1 + kMaxVaultKey;

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// Ids of providers, fabrics and rules: a letter or digit, then letters, digits, '.', '_', '-'.
std::string IdProblem(std::string_view id, bool allow_glob) {
  const std::string rule = allow_glob ? "letters, digits, '.', '_', '-' and '*' wildcards"
                                      : "a letter or digit, then letters, digits, '.', '_', '-'";
  if (id.empty()) return "must not be empty";
  if (id.size() > kMaxIdLength) return "is longer than " + std::to_string(kMaxIdLength) + " characters";
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool ok = IsAlnum(c) || (allow_glob && c == '*') || (i > 0 && (c == '.' || c == '_' || c == '-')) ||
                    (allow_glob && (c == '.' || c == '_' || c == '-'));
    if (!ok) return "'" + Printable(id) + "' is not valid: expected " + rule;
  }
  return {};
}

// Checks a secret pattern and splits it; returns the problem, or "" when it is well-formed.
std::string ParseSecretPattern(std::string_view text, SecretPattern* out) {
  out->text = std::string(text);
  if (text == "*") {
    out->any = true;
    return {};
  }
  if (text.empty()) return "must not be empty";
  if (text.size() > kMaxPatternLength) return "is longer than " + std::to_string(kMaxPatternLength) + " bytes";
  if (!IsValidUtf8(text)) return "is not valid UTF-8";
  if (HasControlCharacter(text)) return "contains a control character";
  const std::size_t slash = text.rfind('/');
  const std::string_view scope = slash == std::string_view::npos ? std::string_view() : text.substr(0, slash);
  const std::string_view key = slash == std::string_view::npos ? text : text.substr(slash + 1);
  if (key.empty()) return "'" + Printable(text) + "' has no key after the last '/' (use '*' for every key)";
  if (key.find("**") != std::string_view::npos) {
    return "'" + Printable(text) + "' has '**' in the key; keys contain no '/', so '*' already matches any key";
  }
  if (slash != std::string_view::npos) {
    if (scope.empty()) return "'" + Printable(text) + "' starts with '/': write SCOPE/KEY, or KEY for environment variables";
    std::size_t start = 0;
    while (start <= scope.size()) {
      std::size_t end = scope.find('/', start);
      if (end == std::string_view::npos) end = scope.size();
      const std::string_view seg = scope.substr(start, end - start);
      if (seg.empty()) return "'" + Printable(text) + "' has an empty scope segment";
      if (seg == "." || seg == "..") return "'" + Printable(text) + "' has a '" + std::string(seg) + "' segment";
      if (seg != "**" && seg.find("**") != std::string_view::npos) {
        return "'" + Printable(text) + "' uses '**' inside a segment; '**' must be a whole segment, as in "
               "secret/**/db/*";
      }
      start = end + 1;
    }
  }
  out->scope = std::string(scope);
  out->key = std::string(key);
  return {};
}

std::string Quote(std::string_view s) { return "'" + Printable(s) + "'"; }

using SeenIds = std::map<std::string, std::string, std::less<>>;  // id -> pointer where first defined

class PolicyReader {
 public:
  explicit PolicyReader(std::vector<Diagnostic>* diags) : r_(diags) { r_.set_empty_array_hint("use [\"*\"] to mean every one"); }

  Policy Read(const Json& root) {
    Policy p;
    if (!r_.Object(root, "", {"format", "description", "providers", "fabrics", "rules"})) return p;
    if (auto format = r_.String(root, "", "format", true); format && *format != kPolicyFormat) {
      r_.Error("/format", "format",
               "unsupported format " + Quote(*format) + "; this keyward reads \"" + std::string(kPolicyFormat) + "\"");
    }
    p.description = r_.String(root, "", "description", false).value_or("");
    ReadProviders(root, &p);
    ReadFabrics(root, &p);
    ReadRules(root, &p);
    return p;
  }

  std::size_t error_count() const { return r_.error_count(); }

 private:
  // The required "id" member of a provider, fabric or rule: well-formed and not seen before.
  std::string ReadId(const Json& e, const std::string& ptr, std::string_view what, SeenIds* seen) {
    auto id = r_.String(e, ptr, "id", true);
    if (!id) return {};
    if (auto problem = IdProblem(*id, false); !problem.empty()) {
      r_.Error(ptr + "/id", "id", std::string(what) + " id " + problem);
    } else if (auto [it, fresh] = seen->emplace(*id, ptr); !fresh) {
      r_.Error(ptr + "/id", "duplicate-id",
               "duplicate " + std::string(what) + " id " + Quote(*id) + " (first defined at " + it->second + ")");
    }
    return *id;
  }

  void ReadProviders(const Json& root, Policy* p) {
    const Json* arr = r_.Array(root, "", "providers", true, true);
    if (arr == nullptr) return;
    SeenIds seen;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const std::string ptr = JsonPointerJoin("/providers", i);
      const Json& e = (*arr)[i];
      if (!r_.Object(e, ptr, {"id", "type", "description"})) continue;
      ProviderDef def;
      def.id = ReadId(e, ptr, "provider", &seen);
      if (auto type = r_.String(e, ptr, "type", true)) {
        if (auto t = ParseProviderType(*type)) {
          def.type = *t;
        } else {
          r_.Error(ptr + "/type", "enum", "expected \"databricks\", \"vault\" or \"environment\", got " + Quote(*type));
        }
      }
      def.description = r_.String(e, ptr, "description", false).value_or("");
      p->providers.push_back(std::move(def));
    }
  }

  void ReadFabrics(const Json& root, Policy* p) {
    const Json* arr = r_.Array(root, "", "fabrics", true, true);
    if (arr == nullptr) return;
    SeenIds seen;
    // (provider id, folded scope) -> pointer of the managed fabric that owns it
    std::map<std::pair<std::string, std::string>, std::string> owners;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const std::string ptr = JsonPointerJoin("/fabrics", i);
      const Json& e = (*arr)[i];
      if (!r_.Object(e, ptr, {"id", "kind", "managed", "scope", "providers", "description"})) continue;
      FabricDef def;
      bool kind_ok = false;
      def.id = ReadId(e, ptr, "fabric", &seen);
      if (auto kind = r_.String(e, ptr, "kind", true)) {
        if (auto k = ParseFabricKind(*kind)) {
          def.kind = *k;
          kind_ok = true;
        } else {
          std::string kinds;
          for (const FabricKind fk : kAllFabricKinds) kinds += (kinds.empty() ? "" : ", ") + std::string(FabricKindName(fk));
          r_.Error(ptr + "/kind", "enum", "unknown fabric kind " + Quote(*kind) + " (expected one of: " + kinds + ")");
        }
      }
      def.managed = r_.Bool(e, ptr, "managed", false).value_or(false);
      const auto scope = r_.String(e, ptr, "scope", false);
      if (def.managed) {
        if (kind_ok && def.kind != FabricKind::kDatabricks) {
          r_.Error(ptr + "/kind", "constraint",
                   "managed fabrics are databricks fabrics (they may use Databricks Secrets only, which run only on "
                   "databricks fabrics); got " + Quote(FabricKindName(def.kind)));
        }
        if (!scope && e.find("scope") == e.end()) {
          r_.Error(ptr, "missing-field", "missing required field 'scope': a managed fabric names the one Databricks "
                                         "scope it owns");
        } else if (scope) {
          if (Status s = ValidateScope(ProviderType::kDatabricks, *scope); !s.ok()) {
            r_.Error(ptr + "/scope", "scope", s.message());
          }
          def.scope = *scope;
        }
      } else if (scope) {
        r_.Error(ptr + "/scope", "constraint",
                 "only managed fabrics own a scope; set \"managed\": true or remove \"scope\"");
      }
      if (auto providers = r_.StringArray(e, ptr, "providers", true, true)) {
        for (std::size_t j = 0; j < providers->size(); ++j) {
          const std::string pptr = JsonPointerJoin(ptr + "/providers", j);
          const std::string& pid = (*providers)[j];
          const ProviderDef* prov = p->FindProvider(pid);
          if (prov == nullptr) {
            r_.Error(pptr, "unknown-reference", "unknown provider " + Quote(pid) + DefinedList(p->providers));
            continue;
          }
          for (std::size_t k = 0; k < j; ++k) {
            if ((*providers)[k] == pid) r_.Error(pptr, "duplicate-id", "provider " + Quote(pid) + " is listed twice");
          }
          if (!kind_ok) continue;
          if (const Constraint* c = ProviderTypeConstraint(prov->type, def.kind, def.managed)) {
            r_.Error(pptr, "constraint",
                     std::string(c->reason) + ": provider " + Quote(pid) + " is " + std::string(ProviderTypeName(prov->type)) +
                         ", fabric " + Quote(def.id) + (def.managed ? " is managed" : " is of kind " + std::string(FabricKindName(def.kind))));
            continue;
          }
          if (def.managed && !def.scope.empty()) {
            auto [it, fresh] = owners.emplace(std::make_pair(pid, FoldCase(def.scope)), ptr);
            if (!fresh) {
              r_.Error(ptr + "/scope", "constraint",
                       "scope " + Quote(def.scope) + " on provider " + Quote(pid) +
                           " is already owned by the managed fabric at " + it->second +
                           " (scope names compare case-insensitively)");
            }
          }
        }
        def.providers = std::move(*providers);
      }
      def.description = r_.String(e, ptr, "description", false).value_or("");
      p->fabrics.push_back(std::move(def));
    }
  }

  template <typename Def>
  static std::string DefinedList(const std::vector<Def>& defs) {
    if (defs.empty()) return " (none are defined)";
    std::string out = " (defined: ";
    for (std::size_t i = 0; i < defs.size() && i < 20; ++i) out += (i ? ", " : "") + defs[i].id;
    if (defs.size() > 20) out += ", ...";
    return out + ")";
  }

  void ReadRules(const Json& root, Policy* p) {
    const Json* arr = r_.Array(root, "", "rules", true, true);
    if (arr == nullptr) return;
    SeenIds seen;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const std::string ptr = RulePointer(i);
      const Json& e = (*arr)[i];
      if (!r_.Object(e, ptr,
                     {"id", "effect", "principals", "fabrics", "providers", "secrets", "actions", "description"})) {
        continue;
      }
      const std::size_t errors_before = r_.error_count();
      RuleDef rule;
      rule.id = ReadId(e, ptr, "rule", &seen);
      if (auto effect = r_.String(e, ptr, "effect", true)) {
        if (*effect == "allow") {
          rule.effect = Effect::kAllow;
        } else if (*effect == "deny") {
          rule.effect = Effect::kDeny;
        } else {
          r_.Error(ptr + "/effect", "enum", "expected \"allow\" or \"deny\", got " + Quote(*effect));
        }
      }
      if (auto principals = r_.StringArray(e, ptr, "principals", true, false)) {
        for (std::size_t j = 0; j < principals->size(); ++j) {
          if (auto problem = PrincipalProblem((*principals)[j]); !problem.empty()) {
            r_.Error(JsonPointerJoin(ptr + "/principals", j), "principal", "principal " + problem);
          }
        }
        rule.principals = std::move(*principals);
      }
      if (auto fabrics = r_.StringArray(e, ptr, "fabrics", true, false)) {
        CheckReferences(*fabrics, ptr + "/fabrics", "fabric", p->fabrics);
        rule.fabrics = std::move(*fabrics);
      }
      if (auto providers = r_.StringArray(e, ptr, "providers", true, false)) {
        CheckReferences(*providers, ptr + "/providers", "provider", p->providers);
        rule.providers = std::move(*providers);
      }
      if (auto secrets = r_.StringArray(e, ptr, "secrets", true, false)) {
        for (std::size_t j = 0; j < secrets->size(); ++j) {
          SecretPattern sp;
          if (auto problem = ParseSecretPattern((*secrets)[j], &sp); !problem.empty()) {
            r_.Error(JsonPointerJoin(ptr + "/secrets", j), "secret-pattern", "secret pattern " + problem);
          }
          rule.secrets.push_back(std::move(sp));
        }
      }
      std::vector<std::string> action_names;
      if (auto actions = r_.StringArray(e, ptr, "actions", true, false)) {
        for (std::size_t j = 0; j < actions->size(); ++j) {
          const std::string& a = (*actions)[j];
          if (a == "*") {
            rule.actions |= kAllActionBits;
          } else if (auto act = ParseAction(a)) {
            rule.actions |= ActionBit(*act);
          } else {
            r_.Error(JsonPointerJoin(ptr + "/actions", j), "enum",
                     "expected \"resolve\", \"list\", \"write\", \"delete\" or \"*\", got " + Quote(a));
          }
        }
        action_names = std::move(*actions);
      }
      rule.description = r_.String(e, ptr, "description", false).value_or("");
      if (r_.error_count() == errors_before && rule.effect == Effect::kAllow) {
        CheckAllowAgainstConstraints(*p, rule, action_names, ptr);
      }
      p->rules.push_back(std::move(rule));
    }
  }

  template <typename Def>
  void CheckReferences(const std::vector<std::string>& entries, const std::string& ptr, std::string_view what,
                       const std::vector<Def>& defs) {
    for (std::size_t j = 0; j < entries.size(); ++j) {
      const std::string& entry = entries[j];
      const std::string eptr = JsonPointerJoin(ptr, j);
      if (auto problem = IdProblem(entry, true); !problem.empty()) {
        r_.Error(eptr, "id", std::string(what) + " " + problem);
        continue;
      }
      if (entry.find('*') != std::string::npos) continue;  // a glob; the linter reports one matching nothing
      bool found = false;
      for (const Def& d : defs) found = found || d.id == entry;
      if (!found) r_.Error(eptr, "unknown-reference", "unknown " + std::string(what) + " " + Quote(entry) + DefinedList(defs));
    }
  }

  // An allow rule whose explicitly named fabrics and providers contradict the built-in constraints is
  // rejected: its author believes it grants something that can never be granted. (Globs that merely
  // include forbidden combinations are fine: the evaluator enforces the constraints per decision.)
  void CheckAllowAgainstConstraints(const Policy& p, const RuleDef& rule, const std::vector<std::string>& action_names,
                                    const std::string& ptr) {
    std::vector<const FabricDef*> fabrics;
    for (const std::string& f : rule.fabrics) {
      if (f.find('*') != std::string::npos) return;  // globbed fabrics: nothing is explicit enough
      fabrics.push_back(p.FindFabric(f));
    }
    const bool all_managed = std::all_of(fabrics.begin(), fabrics.end(), [](const FabricDef* f) { return f->managed; });
    const bool none_databricks_kind = std::none_of(fabrics.begin(), fabrics.end(),
                                                   [](const FabricDef* f) { return f->kind == FabricKind::kDatabricks; });
    bool all_providers_literal = true, all_environment = true, any_databricks = false;
    for (std::size_t j = 0; j < rule.providers.size(); ++j) {
      const std::string& pid = rule.providers[j];
      const ProviderDef* prov = pid.find('*') == std::string::npos ? p.FindProvider(pid) : nullptr;
      if (prov == nullptr) {
        all_providers_literal = false;
        continue;
      }
      all_environment = all_environment && prov->type == ProviderType::kEnvironment;
      any_databricks = any_databricks || prov->type == ProviderType::kDatabricks;
      const std::string pptr = JsonPointerJoin(ptr + "/providers", j);
      if (prov->type == ProviderType::kDatabricks && none_databricks_kind) {
        r_.Error(pptr, "constraint",
                 std::string(constraint::kDatabricksOnlyOnDatabricks.reason) + ": provider " + Quote(pid) +
                     " is databricks and this allow rule names only " + FabricList(fabrics));
      } else if (prov->type != ProviderType::kDatabricks && all_managed) {
        r_.Error(pptr, "constraint",
                 std::string(constraint::kManagedDatabricksOnly.reason) + ": provider " + Quote(pid) + " is " +
                     std::string(ProviderTypeName(prov->type)) + " and this allow rule names only managed fabrics " +
                     FabricList(fabrics));
      }
    }
    // Only Databricks providers are usable on managed fabrics: a wildcard provider entry means them too.
    if (all_managed && (any_databricks || !all_providers_literal)) {
      for (std::size_t j = 0; j < rule.secrets.size(); ++j) {
        const SecretPattern& sp = rule.secrets[j];
        if (sp.any) continue;
        const PathGlob scope(FoldCase(sp.scope));
        const bool reachable = std::any_of(fabrics.begin(), fabrics.end(),
                                           [&](const FabricDef* f) { return scope.Matches(FoldCase(f->scope)); });
        if (!reachable) {
          r_.Error(JsonPointerJoin(ptr + "/secrets", j), "constraint",
                   std::string(constraint::kManagedOwnScope.reason) + ": " + Quote(sp.text) +
                       " matches none of the own scopes of " + FabricList(fabrics));
        }
      }
    }
    if (all_providers_literal && all_environment && (rule.actions & (ActionBit(Action::kWrite) | ActionBit(Action::kDelete)))) {
      for (std::size_t j = 0; j < action_names.size(); ++j) {
        const std::string& a = action_names[j];
        if (a == "write" || a == "delete" || a == "*") {
          r_.Error(JsonPointerJoin(ptr + "/actions", j), "constraint",
                   std::string(constraint::kReadOnlyProvider.reason) + ": this allow rule names only environment "
                   "providers, so " + Quote(a) + " can never be allowed");
        }
      }
    }
  }

  static std::string FabricList(const std::vector<const FabricDef*>& fabrics) {
    std::string out;
    for (const FabricDef* f : fabrics) {
      out += (out.empty() ? "" : ", ") + f->id + " (" + std::string(FabricKindName(f->kind));
      if (f->managed) out += ", own scope '" + f->scope + "'";
      out += ")";
    }
    return out;
  }

  SchemaReader r_;
};

}  // namespace

std::string PrincipalProblem(std::string_view p) {
  if (p.empty()) return "must not be empty";
  if (p.size() > kMaxPrincipalLength) return "is longer than " + std::to_string(kMaxPrincipalLength) + " characters";
  for (const char c : p) {
    if (IsAlnum(c) || c == '.' || c == '_' || c == '-' || c == '@' || c == ':' || c == '+' || c == '*') continue;
    return "'" + Printable(p) + "' is not valid: principals contain letters, digits, '.', '_', '-', '@', ':', '+' "
           "and '*' wildcards";
  }
  return {};
}


Result<Policy> ParsePolicy(std::string_view text, std::vector<Diagnostic>* errors) {
  auto json = ParseJson(text, JsonLimits{.max_depth = 32, .allow_comments = true});
  if (!json.has_value()) {
    errors->push_back(Diagnostic{Diagnostic::Severity::kError, "", "syntax", json.error().message()});
    return Status::InvalidArgument("the policy is not valid JSON: " + json.error().message());
  }
  const std::size_t first = errors->size();
  PolicyReader reader(errors);
  Policy policy = reader.Read(*json);
  if (reader.error_count() > 0) {
    const std::size_t n = errors->size() - first;
    return Status::InvalidArgument(std::to_string(n) + (n == 1 ? " error" : " errors") + " in the policy; the first: " +
                                   (*errors)[first].pointer + ": " + (*errors)[first].message);
  }
  policy.version = ToHex(Sha256(CanonicalJson(policy)));
  return policy;
}

Result<Policy> LoadPolicyFile(const std::string& path, std::vector<Diagnostic>* errors) {
  KEYWARD_ASSIGN_OR_RETURN(const std::string text, ReadFile(path, kMaxPolicyBytes));
  auto policy = ParsePolicy(text, errors);
  if (!policy.has_value()) return policy.error().WithContext(path);
  return policy;
}

}  // namespace keyward::policy
