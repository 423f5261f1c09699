#include "core/http/metrics.h"

#include <cstdarg>
#include <cstdio>

namespace keyward::http {

void Metrics::Histogram::Observe(double seconds) {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  ++buckets[i];
  sum += seconds;
  ++count;
}

void Metrics::Histogram::Add(const Histogram& other) {
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
  sum += other.sum;
  count += other.count;
}

Metrics::Shard& Metrics::Mine() {
  // A thread keeps the shard it first got, for every Metrics (there is one per process).
  thread_local const std::size_t index = next_shard_.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shards_[index];
}

void Metrics::OnRequest(std::string_view route, int status, std::chrono::microseconds latency) {
  Shard& s = Mine();
  std::lock_guard lk(s.mu);
  ++s.requests[{std::string(route), status}];
  s.request_latency[std::string(route)].Observe(static_cast<double>(latency.count()) / 1e6);
}

void Metrics::OnDecision(Effect effect) { ++(effect == Effect::kAllow ? allow_ : deny_); }

void Metrics::OnProviderCall(const std::string& provider, std::chrono::microseconds latency,
                             const Status& status) {
  Shard& s = Mine();
  std::lock_guard lk(s.mu);
  s.provider_latency[provider].Observe(static_cast<double>(latency.count()) / 1e6);
  ++s.provider_calls[{provider, std::string(StatusCodeName(status.code()))}];
}

void Metrics::OnAuthFailure(bool throttled) { ++(throttled ? auth_throttled_ : auth_failed_); }

namespace {

// Appends printf-formatted text to `out`, however long it is (label values are ids of up to 128
// characters).
[[gnu::format(printf, 2, 3)]] void AppendF(std::string& out, const char* format, ...) {
  va_list args, again;
  va_start(args, format);
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, format, args);
  va_end(args);
  if (n > 0) {
    const std::size_t at = out.size();
    out.resize(at + static_cast<std::size_t>(n) + 1);
    std::vsnprintf(out.data() + at, static_cast<std::size_t>(n) + 1, format, again);
    out.resize(at + static_cast<std::size_t>(n));
  }
  va_end(again);
}

}  // namespace

std::string Metrics::Render() const {
  std::string out;
  auto histogram = [&](const char* name, const char* label, const std::string& value, const Histogram& h) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < h.buckets.size(); ++i) {
      cumulative += h.buckets[i];
      if (i < kBounds.size()) {
        AppendF(out, "%s_bucket{%s=\"%s\",le=\"%g\"} %llu\n", name, label, value.c_str(), kBounds[i],
                static_cast<unsigned long long>(cumulative));
      } else {
        AppendF(out, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", name, label, value.c_str(),
                static_cast<unsigned long long>(cumulative));
      }
    }
    AppendF(out, "%s_sum{%s=\"%s\"} %.6f\n%s_count{%s=\"%s\"} %llu\n", name, label, value.c_str(), h.sum,
            name, label, value.c_str(), static_cast<unsigned long long>(h.count));
  };
  Shard all;  // the shards merged
  for (const Shard& shard : shards_) {
    std::lock_guard lk(shard.mu);
    for (const auto& [k, v] : shard.requests) all.requests[k] += v;
    for (const auto& [k, v] : shard.provider_calls) all.provider_calls[k] += v;
    for (const auto& [k, h] : shard.request_latency) all.request_latency[k].Add(h);
    for (const auto& [k, h] : shard.provider_latency) all.provider_latency[k].Add(h);
  }
  out +=
      "# HELP keyward_http_requests_total HTTP requests by route and status.\n# TYPE "
      "keyward_http_requests_total counter\n";
  for (const auto& [k, v] : all.requests) {
    AppendF(out, "keyward_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", k.first.c_str(), k.second,
            static_cast<unsigned long long>(v));
  }
  out +=
      "# HELP keyward_http_request_duration_seconds Time to answer, by route.\n"
      "# TYPE keyward_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : all.request_latency)
    histogram("keyward_http_request_duration_seconds", "route", route, h);
  out +=
      "# HELP keyward_decisions_total Policy decisions by outcome.\n# TYPE keyward_decisions_total counter\n";
  AppendF(out,
          "keyward_decisions_total{outcome=\"allow\"} %llu\nkeyward_decisions_total{outcome=\"deny\"} %llu\n",
          static_cast<unsigned long long>(allow_.load()), static_cast<unsigned long long>(deny_.load()));
  out +=
      "# HELP keyward_auth_failures_total Failed authentications, and attempts refused while throttled.\n"
      "# TYPE keyward_auth_failures_total counter\n";
  AppendF(out,
          "keyward_auth_failures_total{result=\"failed\"} "
          "%llu\nkeyward_auth_failures_total{result=\"throttled\"} %llu\n",
          static_cast<unsigned long long>(auth_failed_.load()),
          static_cast<unsigned long long>(auth_throttled_.load()));
  out +=
      "# HELP keyward_provider_calls_total Provider calls by provider and result.\n# TYPE "
      "keyward_provider_calls_total counter\n";
  for (const auto& [k, v] : all.provider_calls) {
    AppendF(out, "keyward_provider_calls_total{provider=\"%s\",code=\"%s\"} %llu\n", k.first.c_str(),
            k.second.c_str(), static_cast<unsigned long long>(v));
  }
  out +=
      "# HELP keyward_provider_duration_seconds Provider call latency.\n"
      "# TYPE keyward_provider_duration_seconds histogram\n";
  for (const auto& [p, h] : all.provider_latency)
    histogram("keyward_provider_duration_seconds", "provider", p, h);
  if (extra_) out += extra_();
  return out;
}

}  // namespace keyward::http
