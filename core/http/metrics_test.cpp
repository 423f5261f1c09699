#include "core/http/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace keyward::http {
namespace {

using ::testing::HasSubstr;

// Counted per thread (in shards), rendered as one: nothing counted on any thread is lost or doubled.
TEST(MetricsTest, CountsFromEveryThreadAddUp) {
  Metrics m;
  constexpr int kThreads = 12, kEach = 1000;  // more threads than shards: some share one
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        m.OnRequest("resolve", 200, std::chrono::microseconds(300));
        m.OnProviderCall("env", std::chrono::microseconds(20), Status());
      }
    });
  }
  for (auto& t : threads) t.join();
  m.OnRequest("resolve", 403, std::chrono::microseconds(5000));
  const std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("keyward_http_requests_total{route=\"resolve\",status=\"200\"} 12000\n"));
  EXPECT_THAT(text, HasSubstr("keyward_http_requests_total{route=\"resolve\",status=\"403\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("keyward_http_request_duration_seconds_count{route=\"resolve\"} 12001\n"));
  EXPECT_THAT(text, HasSubstr("keyward_http_request_duration_seconds_bucket{route=\"resolve\",le=\"0.0005\"} 12000\n"));
  EXPECT_THAT(text, HasSubstr("keyward_provider_calls_total{provider=\"env\",code=\"ok\"} 12000\n"));
  EXPECT_THAT(text, HasSubstr("keyward_provider_duration_seconds_count{provider=\"env\"} 12000\n"));
}

}  // namespace
}  // namespace keyward::http
