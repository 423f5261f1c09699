// Provider get round trips: Provider::Get through the Vault adapter and the HTTP client against the
// in-process Vault double (tests/doubles) on loopback, over plain HTTP and TLS, with connection reuse
// (the keep-alive pool) and without it (idle_timeout 0: a new connection, and handshake, per request)
// as the baseline measured in the same run.
//
//   BM_Get/.../in_flight:1    one get at a time: the round-trip latency
//   BM_Get/.../in_flight:64   64 gets in flight over at most 8 connections: the throughput
//
//   build/release/bin/providers_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// After the usual table it prints, per transport, the reuse/no-reuse ratios of latency and throughput.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "bench/recording_reporter.h"
#include "providers/vault_provider.h"
#include "tests/doubles/test_ca.h"
#include "tests/doubles/vault_double.h"

namespace {

using keyward::Provider;
using keyward::Result;
using keyward::SecretValue;
using keyward::doubles::DoubleOptions;
using keyward::doubles::TestCa;
using keyward::doubles::TlsServerConfig;
using keyward::doubles::VaultDouble;
namespace http = keyward::http;
namespace providers = keyward::providers;

constexpr int kInFlight = 64;

// Counts completions; Wait returns once `n` have arrived.
class Latch {
 public:
  void Arrive(bool ok) {
    std::lock_guard lock(mu_);
    ++arrived_;
    failed_ += ok ? 0 : 1;
    cv_.notify_one();
  }
  // The number of failed completions among the `n`.
  int Wait(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return arrived_ >= n; });
    const int failed = failed_;
    arrived_ = 0;
    failed_ = 0;
    return failed;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  int failed_ = 0;
};

// Two Vault doubles (plain and TLS) and, for each, a provider with and one without connection reuse.
class Fixture {
 public:
  static Fixture& Get() {
    static Fixture f;
    return f;
  }

  Provider& provider(bool tls, bool reuse) { return *providers_.at({tls, reuse}); }

 private:
  Fixture() : runtime_(http::IoRuntime::Start()) {
    const auto cert = ca_.Issue({"localhost"}, {"127.0.0.1"});
    DoubleOptions tls_options;
    tls_options.tls = TlsServerConfig{cert.cert_pem, cert.key_pem, false};
    plain_ = std::make_unique<VaultDouble>();
    tls_ = std::make_unique<VaultDouble>(tls_options);
    char dir[] = "/tmp/keyward-bench-XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    ca_file_ = std::string(dir) + "/ca.pem";
    std::ofstream(ca_file_) << ca_.cert_pem();
    for (VaultDouble* v : {plain_.get(), tls_.get()}) {
      v->RecordRequests(false);
      v->Mount("secret", 2);
      v->Put("secret", "bench/db", nlohmann::json{{"password", "bench-password-0123456789"}, {"user", "bench"}});
    }
    for (const bool tls : {false, true}) {
      for (const bool reuse : {false, true}) {
        VaultDouble& v = tls ? *tls_ : *plain_;
        providers::VaultOptions o;
        o.id = "bench";
        o.origin = *http::ParseUrl(v.url());
        o.auth.token = SecretValue(v.CreateToken(0));
        o.http.allow_plain_http = true;
        o.http.ca_file = ca_file_;
        o.http.max_connections = 8;
        o.http.idle_timeout = reuse ? http::Millis(30000) : http::Millis(0);
        auto p = providers::MakeVaultProvider(runtime_, std::move(o));
        if (!p.has_value()) {
          std::fprintf(stderr, "providers_bench: %s\n", p.error().ToString().c_str());
          std::abort();
        }
        providers_[{tls, reuse}] = std::move(*p);
      }
    }
  }

  std::shared_ptr<http::IoRuntime> runtime_;
  TestCa ca_;
  std::string ca_file_;
  std::unique_ptr<VaultDouble> plain_;
  std::unique_ptr<VaultDouble> tls_;
  std::map<std::pair<bool, bool>, std::unique_ptr<Provider>> providers_;
};

void StartGet(Provider& p, Latch& latch) {
  p.Get("secret/bench/db", "password", std::chrono::steady_clock::now() + std::chrono::seconds(10),
        [&latch](Result<SecretValue> v) { latch.Arrive(v.has_value()); });
}

// Warm-up outside the timing: the token and the mount's KV version are cached after one get.
void WarmUp(Provider& p, Latch& latch) {
  StartGet(p, latch);
  latch.Wait(1);
}

// `in_flight` gets at a time (1: a plain round trip), waiting for the whole batch before the next.
void BM_Get(benchmark::State& state) {
  const bool tls = state.range(0) != 0, reuse = state.range(1) != 0;
  const int in_flight = static_cast<int>(state.range(2));
  Provider& p = Fixture::Get().provider(tls, reuse);
  Latch latch;
  WarmUp(p, latch);
  int failed = 0;
  for (auto _ : state) {
    for (int i = 0; i < in_flight; ++i) StartGet(p, latch);
    failed += latch.Wait(in_flight);
  }
  state.SetItemsProcessed(state.iterations() * in_flight);
  if (failed != 0) state.SkipWithError("some gets failed");
}

BENCHMARK(BM_Get)
    ->ArgNames({"tls", "reuse", "in_flight"})
    ->ArgsProduct({{0, 1}, {1, 0}, {1, kInFlight}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void PrintRatios(const keyward::bench::RecordingReporter& r) {
  auto find = [&r](int tls, int reuse, int in_flight) {
    return r.Time("BM_Get/tls:" + std::to_string(tls) + "/reuse:" + std::to_string(reuse) +
                  "/in_flight:" + std::to_string(in_flight) + "/real_time");
  };
  std::printf("\n%-6s %14s %14s %12s %14s %14s %12s\n", "", "latency us", "latency us", "reuse/", "gets/s", "gets/s",
              "reuse/");
  std::printf("%-6s %14s %14s %12s %14s %14s %12s\n", "", "reuse", "no reuse", "no reuse", "reuse", "no reuse",
              "no reuse");
  for (const int tls : {0, 1}) {
    const auto l1 = find(tls, 1, 1), l0 = find(tls, 0, 1);
    const auto t1 = find(tls, 1, kInFlight), t0 = find(tls, 0, kInFlight);
    if (l1 <= 0 || l0 <= 0 || t1 <= 0 || t0 <= 0) continue;
    const double g1 = kInFlight * 1e6 / t1, g0 = kInFlight * 1e6 / t0;  // times are in microseconds
    std::printf("%-6s %14.1f %14.1f %11.2fx %14.0f %14.0f %11.2fx\n", tls ? "TLS" : "HTTP", l1, l0, l1 / l0, g1, g0,
                g1 / g0);
  }
}

}  // namespace

int main(int argc, char** argv) { return keyward::bench::RunBenchmarks(argc, argv, PrintRatios); }
