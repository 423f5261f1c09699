#include "policy/cases.h"

#include <set>

#include "core/file.h"
#include "policy/loader.h"

namespace keyward::policy {

Result<std::vector<PolicyCase>> ParseCases(std::string_view text, std::vector<Diagnostic>* errors) {
  auto json = ParseJson(text, JsonLimits{.max_depth = 16, .allow_comments = true});
  if (!json.has_value()) {
    errors->push_back(Diagnostic{Diagnostic::Severity::kError, "", "syntax", json.error().message()});
    return Status::InvalidArgument("the cases file is not valid JSON: " + json.error().message());
  }
  SchemaReader r(errors);
  std::vector<PolicyCase> cases;
  if (r.Object(*json, "", {"description", "cases"})) {
    (void)r.String(*json, "", "description", false);
    if (const Json* arr = r.Array(*json, "", "cases", true, false)) {
      std::set<std::string> names;
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const std::string ptr = JsonPointerJoin("/cases", i);
        const Json& e = (*arr)[i];
        if (!r.Object(e, ptr, {"name", "principal", "fabric", "secret", "action", "expect", "decided_by"})) continue;
        PolicyCase c;
        c.pointer = ptr;
        c.name = r.String(e, ptr, "name", true).value_or("");
        if (!c.name.empty() && !names.insert(c.name).second) {
          r.Error(ptr + "/name", "duplicate-id", "duplicate case name '" + c.name + "'");
        }
        c.principal = r.String(e, ptr, "principal", true).value_or("");
        c.fabric = r.String(e, ptr, "fabric", true).value_or("");
        if (auto secret = r.String(e, ptr, "secret", true)) {
          c.secret_text = *secret;
          if (auto ref = ParseSecretRef(*secret)) {
            c.secret = std::move(*ref);
          } else {
            r.Error(ptr + "/secret", "secret", ref.error().message());
          }
        }
        if (auto action = r.String(e, ptr, "action", true)) {
          if (auto a = ParseAction(*action)) {
            c.action = *a;
          } else {
            r.Error(ptr + "/action", "enum", "expected \"resolve\", \"list\", \"write\" or \"delete\", got '" + *action + "'");
          }
        }
        if (auto expect = r.String(e, ptr, "expect", true)) {
          if (*expect == "allow" || *expect == "deny") {
            c.expect = *expect == "allow" ? Effect::kAllow : Effect::kDeny;
          } else {
            r.Error(ptr + "/expect", "enum", "expected \"allow\" or \"deny\", got '" + *expect + "'");
          }
        }
        if (auto by = r.String(e, ptr, "decided_by", false)) {
          if (*by != "default" && by->rfind("rule:", 0) != 0 && by->rfind("constraint:", 0) != 0) {
            r.Error(ptr + "/decided_by", "enum",
                    "expected \"rule:<id>\", \"constraint:<name>\" or \"default\", got '" + *by + "'");
          }
          c.decided_by = *by;
        }
        cases.push_back(std::move(c));
      }
    }
  }
  if (r.error_count() > 0) {
    return Status::InvalidArgument(std::to_string(r.error_count()) + " error(s) in the cases file");
  }
  return cases;
}

Result<std::vector<PolicyCase>> LoadCasesFile(const std::string& path, std::vector<Diagnostic>* errors) {
  KEYWARD_ASSIGN_OR_RETURN(const std::string text, ReadFile(path, kMaxPolicyBytes));
  auto cases = ParseCases(text, errors);
  if (!cases.has_value()) return cases.error().WithContext(path);
  return cases;
}

std::string DecidedByLabel(const Decision& d) {
  switch (d.basis) {
    case Decision::Basis::kRule: return "rule:" + std::string(d.decided_by);
    case Decision::Basis::kConstraint: return "constraint:" + std::string(d.decided_by);
    case Decision::Basis::kNoMatch: break;
  }
  return "default";
}

std::vector<CaseOutcome> RunCases(const CompiledPolicy& policy, const std::vector<PolicyCase>& cases) {
  std::vector<CaseOutcome> out;
  out.reserve(cases.size());
  for (const PolicyCase& c : cases) {
    CaseOutcome o;
    o.test_case = &c;
    o.actual = policy.Decide(
        AccessRequest{c.principal, c.fabric, c.secret.provider, c.secret.scope, c.secret.key, c.action});
    o.passed = o.actual.effect == c.expect && (!c.decided_by || *c.decided_by == DecidedByLabel(o.actual));
    out.push_back(o);
  }
  return out;
}

}  // namespace keyward::policy
