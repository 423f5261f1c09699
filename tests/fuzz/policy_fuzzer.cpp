// Fuzzes the policy loader (policy/loader.h) with the input as the policy document, then compiles,
// lints and decides with whatever loads.
//
// Invariants:
//   - ParsePolicy fails exactly when it reports an error, and every diagnostic it reports is an error;
//     a policy that loads has a 64-hex-digit version.
//   - Loading is deterministic, and a loaded policy written back as a document (every field spelled
//     out) loads again to the same canonical form and version (the version identifies the policy).
//   - A loaded policy compiles; Decide never throws, agrees with the full scan (DecideByScan) and with
//     Explain, and a decision always names what decided it; DecideScope and FabricsFor do not throw;
//     Lint returns warnings only.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "policy/compiled.h"
#include "policy/lint.h"
#include "policy/loader.h"
#include "policy/policy.h"
#include "tests/fuzz/fuzz_check.h"

namespace keyward::policy {
namespace {

// The policy as a loadable document: the canonical form is a hash input (it spells "scope": "" for every
// fabric, which the loader refuses on unmanaged ones), so this writes what an author would.
std::string AsDocument(const Policy& p) {
  Json doc = Json::object();
  doc["format"] = kPolicyFormat;
  doc["description"] = p.description;
  Json providers = Json::array();
  for (const ProviderDef& d : p.providers) {
    providers.push_back({{"id", d.id}, {"type", ProviderTypeName(d.type)}, {"description", d.description}});
  }
  doc["providers"] = std::move(providers);
  Json fabrics = Json::array();
  for (const FabricDef& f : p.fabrics) {
    Json fabric = {{"id", f.id}, {"kind", FabricKindName(f.kind)}, {"managed", f.managed},
                   {"providers", f.providers}, {"description", f.description}};
    if (f.managed) fabric["scope"] = f.scope;
    fabrics.push_back(std::move(fabric));
  }
  doc["fabrics"] = std::move(fabrics);
  Json rules = Json::array();
  for (const RuleDef& r : p.rules) {
    Json actions = Json::array();
    for (const Action a : kAllActions) {
      if (r.actions & ActionBit(a)) actions.push_back(ActionName(a));
    }
    Json secrets = Json::array();
    for (const SecretPattern& s : r.secrets) secrets.push_back(s.text);
    rules.push_back({{"id", r.id}, {"effect", EffectName(r.effect)}, {"principals", r.principals},
                     {"fabrics", r.fabrics}, {"providers", r.providers}, {"secrets", std::move(secrets)},
                     {"actions", std::move(actions)}, {"description", r.description}});
  }
  doc["rules"] = std::move(rules);
  return doc.dump(2);
}

// A glob turned into a name it matches, more or less: wildcards become a letter.
std::string Concrete(std::string_view glob) {
  std::string out;
  for (const char c : glob) out.push_back(c == '*' ? 'x' : c);
  return out;
}

bool SameDecision(const Decision& a, const Decision& b) {
  return a.effect == b.effect && a.basis == b.basis && a.decided_by == b.decided_by;
}

void CheckDecision(const CompiledPolicy& compiled, const AccessRequest& req) {
  const Decision d = compiled.Decide(req);
  const Decision scan = compiled.DecideByScan(req);
  FUZZ_CHECK(SameDecision(d, scan), "Decide and DecideByScan disagree: %s vs %s", DescribeDecision(d).c_str(),
             DescribeDecision(scan).c_str());
  const CompiledPolicy::Explanation e = compiled.Explain(req);
  FUZZ_CHECK(SameDecision(d, e.decision), "Decide and Explain disagree: %s vs %s", DescribeDecision(d).c_str(),
             DescribeDecision(e.decision).c_str());
  FUZZ_CHECK(d.basis == Decision::Basis::kNoMatch || !d.decided_by.empty(), "a decision names no rule or constraint");
  FUZZ_CHECK(d.basis != Decision::Basis::kNoMatch || d.effect == Effect::kDeny, "a default decision that allows");
  FUZZ_CHECK(d.basis != Decision::Basis::kConstraint || d.effect == Effect::kDeny, "a constraint that allows");
  if (d.allowed()) {
    FUZZ_CHECK(compiled.policy().FindFabric(req.fabric) != nullptr, "allowed on an unknown fabric");
    FUZZ_CHECK(compiled.policy().FindProvider(req.provider) != nullptr, "allowed on an unknown provider");
  }
  (void)compiled.DecideScope(req);
}

void Decide(const CompiledPolicy& compiled) {
  const Policy& p = compiled.policy();
  std::size_t budget = 64;  // decisions per input: enough to reach every rule of a small policy
  auto decide = [&](const AccessRequest& req) {
    if (budget == 0) return;
    --budget;
    CheckDecision(compiled, req);
  };
  decide(AccessRequest{});
  decide(AccessRequest{"", "no-such-fabric", "no-such-provider", "a/b", "c", Action::kResolve});
  for (const RuleDef& rule : p.rules) {
    for (const std::string& principal_glob : rule.principals) {
      const std::string principal = Concrete(principal_glob);
      (void)compiled.FabricsFor(principal);
      for (const FabricDef& fabric : p.fabrics) {
        for (const std::string& provider : fabric.providers) {
          for (const SecretPattern& s : rule.secrets) {
            const std::string scope = s.any ? (fabric.managed ? fabric.scope : "secret/x") : Concrete(s.scope);
            const std::string key = s.any ? "KEY" : Concrete(s.key);
            for (const Action a : kAllActions) {
              if (rule.actions & ActionBit(a)) decide(AccessRequest{principal, fabric.id, provider, scope, key, a});
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace keyward::policy

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keyward;
  using namespace keyward::policy;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<Diagnostic> errors;
  Result<Policy> p = ParsePolicy(text, &errors);
  if (!p.has_value()) {
    FUZZ_CHECK(!errors.empty() || p.error().code() != StatusCode::kInvalidArgument,
               "ParsePolicy failed without a diagnostic: %s", p.error().ToString().c_str());
    for (const Diagnostic& d : errors) FUZZ_CHECK(d.severity == Diagnostic::Severity::kError, "a warning among errors");
    return 0;
  }
  FUZZ_CHECK(errors.empty(), "ParsePolicy succeeded but reported %zu errors", errors.size());
  FUZZ_CHECK(p->version.size() == 64, "version '%s' is not SHA-256 hex", p->version.c_str());

  std::vector<Diagnostic> again_errors;
  Result<Policy> again = ParsePolicy(text, &again_errors);
  FUZZ_CHECK(again.has_value() && again->version == p->version, "loading the same text twice differs");

  // Round trip through a document written from the model.
  const std::string doc = AsDocument(*p);
  std::vector<Diagnostic> doc_errors;
  Result<Policy> reloaded = ParsePolicy(doc, &doc_errors);
  FUZZ_CHECK(reloaded.has_value(), "the loaded policy, written back, does not load: %s\n%s",
             doc_errors.empty() ? reloaded.error().ToString().c_str() : doc_errors[0].ToString().c_str(), doc.c_str());
  FUZZ_CHECK(CanonicalJson(*reloaded) == CanonicalJson(*p) && reloaded->version == p->version,
             "the loaded policy, written back, loads as another policy:\n%s\n%s", CanonicalJson(*p).c_str(),
             CanonicalJson(*reloaded).c_str());

  for (const Diagnostic& w : Lint(*p)) FUZZ_CHECK(w.severity == Diagnostic::Severity::kWarning, "Lint reported an error");

  const auto compiled = CompiledPolicy::Compile(std::move(*p));
  FUZZ_CHECK(compiled != nullptr, "Compile returned null");
  FUZZ_CHECK(compiled->version() == reloaded->version, "the compiled policy has another version");
  Decide(*compiled);
  return 0;
}
