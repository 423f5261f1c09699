// Policy decision latency: the indexed evaluator (CompiledPolicy::Decide) against the full rule scan
// (DecideByScan) as the baseline measured in the same run, for 10 to 10,000 rules over 100 fabrics.
// Target (DESIGN.md §8): ≤ 500 ns median per decision at 1,000 rules.
//
//   build/release/bin/policy_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// After the usual table it prints one line per policy size: indexed median, scan median, and their ratio.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/recording_reporter.h"
#include "policy/compiled.h"
#include "policy/loader.h"
#include "policy/testing/synthetic_policy.h"

namespace {

using keyward::policy::CompiledPolicy;
using keyward::policy::testing::SyntheticRequest;
using keyward::policy::testing::SyntheticShape;

struct Fixture {
  std::shared_ptr<const CompiledPolicy> policy;
  std::vector<SyntheticRequest> requests;
};

const Fixture& FixtureFor(std::size_t rules) {
  static std::map<std::size_t, Fixture> cache;
  auto it = cache.find(rules);
  if (it != cache.end()) return it->second;
  const SyntheticShape shape{.rules = rules, .fabrics = 100, .seed = 3};
  std::vector<keyward::Diagnostic> errors;
  auto p = keyward::policy::ParsePolicy(keyward::policy::testing::SyntheticPolicyJson(shape), &errors);
  if (!p.has_value()) {
    std::fprintf(stderr, "synthetic policy does not load: %s\n", p.error().ToString().c_str());
    std::abort();
  }
  Fixture f{CompiledPolicy::Compile(std::move(*p)), keyward::policy::testing::SyntheticRequests(shape, 4096, 17)};
  return cache.emplace(rules, std::move(f)).first->second;
}

void BM_DecideIndexed(benchmark::State& state) {
  const Fixture& f = FixtureFor(static_cast<std::size_t>(state.range(0)));
  std::size_t i = 0, allowed = 0;
  for (auto _ : state) {
    const auto d = f.policy->Decide(f.requests[i++ & std::size_t{4095}].view());
    allowed += static_cast<std::size_t>(d.allowed());
    benchmark::DoNotOptimize(d);
  }
  state.counters["allowed_%"] = 100.0 * static_cast<double>(allowed) / static_cast<double>(state.iterations());
}

void BM_DecideScan(benchmark::State& state) {
  const Fixture& f = FixtureFor(static_cast<std::size_t>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    const auto d = f.policy->DecideByScan(f.requests[i++ & std::size_t{4095}].view());
    benchmark::DoNotOptimize(d);
  }
}

BENCHMARK(BM_DecideIndexed)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK(BM_DecideScan)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000);

void PrintRatios(const keyward::bench::RecordingReporter& r) {
  std::printf("\n%-8s %16s %16s %10s\n", "rules", "indexed ns", "scan ns", "scan/index");
  for (const long n : {10L, 100L, 1000L, 10000L}) {
    const double a = r.Time("BM_DecideIndexed/" + std::to_string(n));
    const double b = r.Time("BM_DecideScan/" + std::to_string(n));
    if (a <= 0 || b <= 0) continue;
    std::printf("%-8ld %16.1f %16.1f %9.1fx\n", n, a, b, b / a);
  }
}

}  // namespace

int main(int argc, char** argv) { return keyward::bench::RunBenchmarks(argc, argv, PrintRatios); }
