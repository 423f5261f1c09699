// Metrics in the Prometheus text exposition format: requests by route and status, decisions by outcome,
// provider latency histograms, and whatever the composition root adds (the audit log's). Labels are
// route names, status codes, outcomes and provider ids — never keys, scopes or values.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "core/resolver.h"

namespace keyward::http {

class Metrics final : public ResolverObserver {
 public:
  // `extra` returns more exposition text to append (e.g. the audit log's metrics), or is null.
  explicit Metrics(std::function<std::string()> extra = nullptr) : extra_(std::move(extra)) {}

  void OnRequest(std::string_view route, int status, std::chrono::microseconds latency);
  void OnDecision(Effect effect) override;
  void OnProviderCall(const std::string& provider, std::chrono::microseconds latency, const Status& status) override;
  void OnAuthFailure(bool throttled);

  std::string Render() const;

 private:
  struct Histogram {
    std::array<std::uint64_t, 13> buckets{};  // le 0.0005 .. 2.5 s, +Inf
    double sum = 0;
    std::uint64_t count = 0;
    void Observe(double seconds);
    void Add(const Histogram& other);
  };
  static constexpr std::array<double, 12> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

  // Counted in shards, one per thread (modulo kShards), merged by Render: every request is counted from
  // the I/O threads and the audit log's completion thread, which would otherwise contend for one mutex.
  struct Shard {
    mutable std::mutex mu;
    std::map<std::pair<std::string, int>, std::uint64_t> requests;
    std::map<std::string, Histogram> request_latency;
    std::map<std::string, Histogram> provider_latency;
    std::map<std::pair<std::string, std::string>, std::uint64_t> provider_calls;
  };
  static constexpr std::size_t kShards = 8;
  Shard& Mine();

  std::function<std::string()> extra_;
  std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> next_shard_{0};
  std::atomic<std::uint64_t> allow_{0}, deny_{0}, auth_failed_{0}, auth_throttled_{0};
};

}  // namespace keyward::http
