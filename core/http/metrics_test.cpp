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
  EXPECT_THAT(
      text,
      HasSubstr("keyward_http_request_duration_seconds_bucket{route=\"resolve\",le=\"0.0005\"} 12000\n"));
  EXPECT_THAT(text, HasSubstr("keyward_provider_calls_total{provider=\"env\",code=\"ok\"} 12000\n"));
  EXPECT_THAT(text, HasSubstr("keyward_provider_duration_seconds_count{provider=\"env\"} 12000\n"));
}

// Provider ids may be 128 characters long: every line is whole, whatever the label's length.
TEST(MetricsTest, LongLabelValuesGiveWholeLines) {
  Metrics m;
  const std::string id = "env-" + std::string(124, 'x');
  m.OnProviderCall(id, std::chrono::microseconds(7), Status());
  const std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("keyward_provider_duration_seconds_sum{provider=\"" + id +
                              "\"} 0.000007\n"
                              "keyward_provider_duration_seconds_count{provider=\"" +
                              id + "\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("keyward_provider_calls_total{provider=\"" + id + "\",code=\"ok\"} 1\n"));
  // Each line is a comment or one sample: a name, its labels, a value.
  std::size_t start = 0, lines = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1, ++lines) {
    const std::string line = text.substr(start, nl - start);
    if (line.rfind("# ", 0) == 0) continue;
    EXPECT_THAT(line, ::testing::MatchesRegex("[a-z_]+(\\{[^{}]*\\})? [0-9.e+]+")) << line;
  }
  EXPECT_EQ(start, text.size()) << "the text ends with a whole line";
  EXPECT_GT(lines, 20u);
}

}  // namespace
}  // namespace keyward::http
