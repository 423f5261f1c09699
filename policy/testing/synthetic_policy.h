// Synthetic policies and requests of a realistic shape, for benchmarks and large-scale tests.
//
// Shape: `fabrics` fabrics (kinds rotate over emr, dataproc, livy, kubernetes, databricks; one in ten
// databricks fabrics is managed), providers vault, vault-b, env and one Databricks workspace; `rules`
// rules, about 6% deny. Principals are pipelines ("pipeline-<n>", literal) for 85% of rules and team
// globs ("team-<t>-*") for the rest; each rule names one to three fabrics (5% use "*"), one provider,
// and team-scoped secret patterns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/decision.h"

namespace keyward::policy::testing {

struct SyntheticShape {
  std::size_t rules = 1000;
  std::size_t fabrics = 100;
  std::uint32_t seed = 1;
};

// A policy document (JSON text) of the given shape. It loads without errors.
std::string SyntheticPolicyJson(const SyntheticShape& shape);

struct SyntheticRequest {
  std::string principal, fabric, provider, scope, key;
  Action action = Action::kResolve;
  AccessRequest view() const { return AccessRequest{principal, fabric, provider, scope, key, action}; }
};

// `count` requests against a policy of `shape`: about half aimed at what some rule allows, the rest
// near misses (wrong fabric, key, action or principal).
std::vector<SyntheticRequest> SyntheticRequests(const SyntheticShape& shape, std::size_t count, std::uint32_t seed);

}  // namespace keyward::policy::testing
