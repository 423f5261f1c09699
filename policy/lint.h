// Lint: warnings about a valid policy — things keyward will enforce but that are almost certainly not
// what the author meant.
//
//   never-matches          a rule that no request can match (its fabrics list none of its providers,
//                          its actions are impossible on them, its patterns miss every reachable scope)
//   entry-matches-nothing  a fabric or provider entry of a live rule that contributes nothing
//   overridden             an allow rule that a deny rule matches wherever it matches (deny wins)
//   unused-provider        a provider instance that no fabric lists
//   allow-all              an allow rule for every principal and every secret
//   no-rules               a policy without rules: everything is denied
//
// The overridden check is conservative: it reports only what it can prove by comparing patterns.
#pragma once

#include <vector>

#include "core/json.h"
#include "policy/policy.h"

namespace keyward::policy {

// REQUIRES: `policy` was produced by ParsePolicy. Every Diagnostic has Severity::kWarning.
std::vector<Diagnostic> Lint(const Policy& policy);

}  // namespace keyward::policy
