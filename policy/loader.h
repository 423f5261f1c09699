// Loading a policy document: parse, validate everything, report every problem at once.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "policy/policy.h"

namespace keyward::policy {

inline constexpr std::size_t kMaxPolicyBytes = 16u << 20;

// Parses and validates a policy document (JSON; `//` and `/* */` comments allowed).
// On success returns the Policy with its version set. On failure returns InvalidArgument whose message
// summarises ("3 errors in the policy; the first: /rules/3/effect: ..."), and appends every error to
// `*errors` with its JSON pointer. REQUIRES: errors != nullptr.
Result<Policy> ParsePolicy(std::string_view text, std::vector<Diagnostic>* errors);

// The problem with `principal` as a principal id or a glob over principal ids ("" when there is none):
// at most 256 letters, digits, '.', '_', '-', '@', ':', '+', and '*' wildcards. Used by the server's
// configuration for its principal ids, so that every id it can authenticate is one a rule can name.
std::string PrincipalProblem(std::string_view principal);

// ReadFile + ParsePolicy. File errors keep their code (NotFound, PermissionDenied, ...) and add no
// diagnostics.
Result<Policy> LoadPolicyFile(const std::string& path, std::vector<Diagnostic>* errors);

}  // namespace keyward::policy
