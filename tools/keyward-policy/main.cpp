// keyward-policy: check, explain and test keyward policies. See `keyward-policy --help`.
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "core/json.h"
#include "tools/cli.h"
#include "core/secret_ref.h"
#include "core/utf8.h"
#include "policy/cases.h"
#include "policy/compiled.h"
#include "policy/lint.h"
#include "policy/loader.h"

namespace po = boost::program_options;
using keyward::Diagnostic;
using keyward::Json;

namespace {

using keyward::cli::kExitFailed;
using keyward::cli::kExitOk;
using keyward::cli::kExitUsage;

constexpr const char* kOverview = R"(keyward-policy — check, explain and test keyward policies

Usage:
  keyward-policy check FILE [--strict] [--json]
  keyward-policy explain FILE --principal P --fabric F --secret PROVIDER:SCOPE/KEY [--action A] [--json]
  keyward-policy test FILE CASES [--verbose] [--json]
  keyward-policy COMMAND --help
  keyward-policy --version

Commands:
  check     Validate FILE: report every error with the JSON pointer of the offending value, then
            lint it and print warnings (rules that can never match, allows that a deny always
            overrides, unused providers, allow-everything rules).
  explain   Decide one request against FILE and show the decision, the rule or built-in constraint
            that decided it, and every rule that matched.
  test      Decide every request in the CASES file and compare with the expected decisions: this is
            how a policy goes under CI. Format: docs/policy.md, "Testing a policy".

Secrets are written PROVIDER:SCOPE/KEY (scope and key split at the last '/'), or PROVIDER:KEY for
environment variables, e.g.  vault:secret/data-eng/snowflake/password  or  env:SPARK_HOME.

Exit codes:
  0  the policy is valid (warnings allowed) / the decision was explained / every case passed
  1  the policy is invalid, a case failed, or --strict and check found warnings
  2  usage error, a file that cannot be read, or a malformed cases file
  3  internal error (a bug: please report it)
)";

Json DiagnosticsJson(const std::vector<Diagnostic>& diags) {
  Json arr = Json::array();
  for (const Diagnostic& d : diags) {
    arr.push_back({{"pointer", d.pointer}, {"kind", d.kind}, {"message", d.message}});
  }
  return arr;
}

void PrintJson(const Json& j) {
  std::cout << j.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
}

// The policy FILE is every command's first positional argument.
struct PolicyCommandLine : keyward::cli::CommandLine {
  PolicyCommandLine() : CommandLine("keyward-policy", /*json=*/true) {
    hidden.add_options()("file", po::value<std::string>()->required(), "policy file");
    positional.add("file", 1);
  }
  std::string file() const { return Get<std::string>("file"); }
};

// Loads and compiles a policy, printing errors. Returns nullptr with *exit_code set on failure.
std::shared_ptr<const keyward::policy::CompiledPolicy> LoadOrReport(const std::string& path, bool json,
                                                                    int* exit_code) {
  std::vector<Diagnostic> errors;
  auto policy = keyward::policy::LoadPolicyFile(path, &errors);
  if (policy.has_value()) return keyward::policy::CompiledPolicy::Compile(std::move(*policy));
  if (errors.empty()) {  // the file itself could not be read
    std::cerr << "keyward-policy: " << policy.error().message() << "\n";
    *exit_code = kExitUsage;
    return nullptr;
  }
  if (json) {
    PrintJson({{"file", path}, {"valid", false}, {"errors", DiagnosticsJson(errors)}});
  } else {
    std::cout << path << ": " << errors.size() << (errors.size() == 1 ? " error" : " errors") << "\n";
    for (const Diagnostic& d : errors) std::cout << d.ToString() << "\n";
  }
  *exit_code = kExitFailed;
  return nullptr;
}

int Check(const std::vector<std::string>& args) {
  PolicyCommandLine cl;
  cl.visible.add_options()("strict", "exit 1 when there are warnings too (for CI)");
  int code = kExitOk;
  if (!cl.Parse(args, "Usage: keyward-policy check FILE [--strict] [--json]", &code)) return code;
  const po::variables_map& vm = cl.vm;
  const std::string path = cl.file();
  const bool json = cl.json();
  auto compiled = LoadOrReport(path, json, &code);
  if (compiled == nullptr) return code;
  const auto& p = compiled->policy();
  const std::vector<Diagnostic> warnings = keyward::policy::Lint(p);
  if (json) {
    PrintJson({{"file", path},
               {"valid", true},
               {"version", p.version},
               {"providers", p.providers.size()},
               {"fabrics", p.fabrics.size()},
               {"rules", p.rules.size()},
               {"errors", Json::array()},
               {"warnings", DiagnosticsJson(warnings)}});
  } else {
    std::cout << path << ": valid — " << keyward::cli::Counted(p.providers.size(), "provider") << ", "
              << keyward::cli::Counted(p.fabrics.size(), "fabric") << ", " << keyward::cli::Counted(p.rules.size(), "rule")
              << "; version " << p.version << "\n";
    for (const Diagnostic& d : warnings) std::cout << d.ToString() << "\n";
    if (!warnings.empty()) {
      std::cout << warnings.size() << (warnings.size() == 1 ? " warning" : " warnings") << "\n";
    }
  }
  return vm.count("strict") && !warnings.empty() ? kExitFailed : kExitOk;
}

int Explain(const std::vector<std::string>& args) {
  PolicyCommandLine cl;
  cl.visible.add_options()("principal", po::value<std::string>()->required(), "who asks (a principal id)")(
      "fabric", po::value<std::string>()->required(), "where the pipeline runs (a fabric id)")(
      "secret", po::value<std::string>()->required(), "PROVIDER:SCOPE/KEY, or PROVIDER:KEY for env variables")(
      "action", po::value<std::string>()->default_value("resolve"), "resolve, list, write or delete");
  int code = kExitOk;
  if (!cl.Parse(args,
                "Usage: keyward-policy explain FILE --principal P --fabric F --secret PROVIDER:SCOPE/KEY [--action A] "
                "[--json]",
                &code)) {
    return code;
  }
  const po::variables_map& vm = cl.vm;
  const auto action = keyward::ParseAction(vm["action"].as<std::string>());
  if (!action) {
    std::cerr << "keyward-policy: --action must be resolve, list, write or delete, got '"
              << keyward::Printable(vm["action"].as<std::string>()) << "'\n";
    return kExitUsage;
  }
  auto ref = keyward::ParseSecretRef(vm["secret"].as<std::string>());
  if (!ref.has_value()) {
    std::cerr << "keyward-policy: --secret: " << ref.error().message() << "\n";
    return kExitUsage;
  }
  const std::string path = cl.file();
  const bool json = cl.json();
  auto compiled = LoadOrReport(path, json, &code);
  if (compiled == nullptr) return code;

  const std::string principal = vm["principal"].as<std::string>();
  const std::string fabric = vm["fabric"].as<std::string>();
  const auto ex = compiled->Explain(
      keyward::AccessRequest{principal, fabric, ref->provider, ref->scope, ref->key, *action});
  const auto& rules = compiled->policy().rules;
  const std::string label = keyward::policy::DecidedByLabel(ex.decision);

  if (json) {
    Json matched = Json::array();
    for (const std::size_t i : ex.matched_rules) {
      matched.push_back({{"id", rules[i].id},
                         {"effect", keyward::EffectName(rules[i].effect)},
                         {"pointer", keyward::policy::RulePointer(i)}});
    }
    Json out = {{"decision", keyward::EffectName(ex.decision.effect)},
                {"decided_by", label},
                {"reason", ex.decision.reason},
                {"policy_version", compiled->version()},
                {"request",
                 {{"principal", principal},
                  {"fabric", fabric},
                  {"secret", keyward::FormatSecretRef(*ref)},
                  {"action", keyward::ActionName(*action)}}},
                {"matched_rules", std::move(matched)}};
    out["ref_error"] = ex.ref_status.ok() ? Json(nullptr) : Json(ex.ref_status.message());
    PrintJson(out);
    return kExitOk;
  }
  std::cout << "decision     " << keyward::EffectName(ex.decision.effect) << "\n";
  switch (ex.decision.basis) {
    case keyward::Decision::Basis::kRule:
      std::cout << "decided by   rule " << ex.decision.decided_by;
      if (!ex.decision.reason.empty()) std::cout << " — " << ex.decision.reason;
      std::cout << "\n";
      break;
    case keyward::Decision::Basis::kConstraint:
      std::cout << "decided by   built-in constraint " << ex.decision.decided_by << ": " << ex.decision.reason << "\n";
      if (!ex.ref_status.ok()) std::cout << "             " << ex.ref_status.message() << "\n";
      break;
    case keyward::Decision::Basis::kNoMatch:
      std::cout << "decided by   default deny: no rule matched\n";
      break;
  }
  std::cout << "request      principal=" << keyward::Printable(principal) << " fabric=" << keyward::Printable(fabric)
            << " secret=" << keyward::Printable(keyward::FormatSecretRef(*ref)) << " action=" << keyward::ActionName(*action)
            << "\n";
  std::cout << "policy       " << path << " (version " << compiled->version() << ")\n";
  if (ex.matched_rules.empty()) {
    std::cout << "matching rules: none\n";
  } else {
    std::cout << "matching rules, in policy order:\n";
    for (const std::size_t i : ex.matched_rules) {
      const bool decides = ex.decision.basis == keyward::Decision::Basis::kRule && rules[i].id == ex.decision.decided_by;
      std::printf("  %-10s %-6s %s%s\n", keyward::policy::RulePointer(i).c_str(),
                  std::string(keyward::EffectName(rules[i].effect)).c_str(), rules[i].id.c_str(),
                  decides ? "   <- decides" : "");
    }
    std::fflush(stdout);
  }
  return kExitOk;
}

int Test(const std::vector<std::string>& args) {
  PolicyCommandLine cl;
  cl.visible.add_options()("verbose,v", "list passing cases too");
  cl.hidden.add_options()("cases", po::value<std::string>()->required(), "cases file");
  cl.positional.add("cases", 1);
  int code = kExitOk;
  if (!cl.Parse(args, "Usage: keyward-policy test FILE CASES [--verbose] [--json]", &code)) return code;
  const po::variables_map& vm = cl.vm;
  const bool json = cl.json();
  const std::string cases_path = vm["cases"].as<std::string>();
  std::vector<Diagnostic> case_errors;
  auto cases = keyward::policy::LoadCasesFile(cases_path, &case_errors);
  if (!cases.has_value()) {
    std::cerr << "keyward-policy: " << cases.error().message() << "\n";
    for (const Diagnostic& d : case_errors) std::cerr << cases_path << ": " << d.ToString() << "\n";
    return kExitUsage;
  }
  auto compiled = LoadOrReport(cl.file(), json, &code);
  if (compiled == nullptr) return code;

  const auto outcomes = keyward::policy::RunCases(*compiled, *cases);
  std::size_t failed = 0;
  Json results = Json::array();
  for (const auto& o : outcomes) {
    const auto& c = *o.test_case;
    failed += o.passed ? 0 : 1;
    const std::string expected = std::string(keyward::EffectName(c.expect)) + (c.decided_by ? " (" + *c.decided_by + ")" : "");
    const std::string actual =
        std::string(keyward::EffectName(o.actual.effect)) + " (" + keyward::policy::DecidedByLabel(o.actual) + ")";
    if (json) {
      results.push_back({{"name", c.name},
                         {"pointer", c.pointer},
                         {"passed", o.passed},
                         {"expected", keyward::EffectName(c.expect)},
                         {"expected_decided_by", c.decided_by ? Json(*c.decided_by) : Json(nullptr)},
                         {"actual", keyward::EffectName(o.actual.effect)},
                         {"actual_decided_by", keyward::policy::DecidedByLabel(o.actual)}});
    } else if (!o.passed) {
      std::cout << "FAIL " << c.pointer << " \"" << c.name << "\": " << c.principal << " on " << c.fabric << ", "
                << keyward::ActionName(c.action) << " " << c.secret_text << ": expected " << expected << ", got "
                << actual << "\n";
    } else if (vm.count("verbose")) {
      std::cout << "ok   " << c.pointer << " \"" << c.name << "\": " << actual << "\n";
    }
  }
  if (json) {
    PrintJson({{"policy_version", compiled->version()},
               {"cases", outcomes.size()},
               {"passed", outcomes.size() - failed},
               {"failed", failed},
               {"results", std::move(results)}});
  } else {
    std::cout << outcomes.size() << " cases: " << outcomes.size() - failed << " passed, " << failed << " failed"
              << " (policy version " << compiled->version() << ")\n";
  }
  return failed == 0 ? kExitOk : kExitFailed;
}

}  // namespace

int main(int argc, char** argv) {
  return keyward::cli::RunSubcommands(argc, argv, "keyward-policy", KEYWARD_VERSION, kOverview,
                                      {{"check", Check}, {"explain", Explain}, {"test", Test}});
}
