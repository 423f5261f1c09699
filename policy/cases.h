// Policy test cases: requests with their expected decisions, so a security team can put its policy
// under CI with `keyward-policy test POLICY CASES`. Format: docs/policy.md, "Testing a policy".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "core/secret_ref.h"
#include "policy/compiled.h"

namespace keyward::policy {

struct PolicyCase {
  std::string pointer;  // where the case is in its file: "/cases/3"
  std::string name;
  std::string principal;
  std::string fabric;
  SecretRef secret;
  std::string secret_text;
  Action action = Action::kResolve;
  Effect expect = Effect::kDeny;
  std::optional<std::string> decided_by;  // "rule:<id>", "constraint:<name>" or "default"
};

// Parses a cases document, reporting every problem to `*errors` like ParsePolicy.
Result<std::vector<PolicyCase>> ParseCases(std::string_view text, std::vector<Diagnostic>* errors);
Result<std::vector<PolicyCase>> LoadCasesFile(const std::string& path, std::vector<Diagnostic>* errors);

// "rule:<id>", "constraint:<name>" or "default".
std::string DecidedByLabel(const Decision& decision);

struct CaseOutcome {
  const PolicyCase* test_case = nullptr;
  Decision actual;
  bool passed = false;
};
// Decides every case. REQUIRES: `cases` outlives the outcomes; `policy` outlives their decisions.
std::vector<CaseOutcome> RunCases(const CompiledPolicy& policy, const std::vector<PolicyCase>& cases);

}  // namespace keyward::policy
