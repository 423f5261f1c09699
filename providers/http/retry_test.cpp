#include "providers/http/retry.h"

#include <gtest/gtest.h>

#include <set>

namespace keyward::http {
namespace {

using std::chrono::system_clock;

TEST(IsRetryableStatus, ExactlyTheTransientOnes) {
  for (unsigned s : {429u, 502u, 503u, 504u}) EXPECT_TRUE(IsRetryableStatus(s)) << s;
  for (unsigned s : {200u, 204u, 400u, 403u, 404u, 409u, 500u, 501u}) EXPECT_FALSE(IsRetryableStatus(s)) << s;
}

TEST(Backoff, DoublesUpToTheCapWithEqualJitter) {
  const RetryPolicy p{6, Millis(100), Millis(1000)};
  std::mt19937_64 rng(7);
  // nominal waits before attempts 2..6: 100, 200, 400, 800, 1000 (capped)
  const std::int64_t nominal[] = {100, 200, 400, 800, 1000};
  for (int attempt = 2; attempt <= 6; ++attempt) {
    const std::int64_t n = nominal[attempt - 2];
    for (int i = 0; i < 200; ++i) {
      const auto w = Backoff(p, attempt, rng).count();
      EXPECT_GE(w, n / 2) << "attempt " << attempt;
      EXPECT_LE(w, n) << "attempt " << attempt;
    }
  }
}

TEST(Backoff, IsJittered) {
  const RetryPolicy p{4, Millis(1000), Millis(8000)};
  std::mt19937_64 rng(1);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 50; ++i) seen.insert(Backoff(p, 3, rng).count());
  EXPECT_GT(seen.size(), 10u);
}

TEST(Backoff, HugeAttemptNumbersStayAtTheCap) {
  const RetryPolicy p{100, Millis(100), Millis(500)};
  std::mt19937_64 rng(3);
  const auto w = Backoff(p, 90, rng).count();
  EXPECT_GE(w, 250);
  EXPECT_LE(w, 500);
}

TEST(ParseRetryAfter, DelaySeconds) {
  const auto now = system_clock::now();
  EXPECT_EQ(ParseRetryAfter("0", now), Millis(0));
  EXPECT_EQ(ParseRetryAfter("120", now), Millis(120000));
  EXPECT_EQ(ParseRetryAfter(" 3 ", now), Millis(3000));
}

TEST(ParseRetryAfter, HttpDate) {
  // 1994-11-06T08:49:37Z is 784111777 seconds after the epoch.
  const auto now = system_clock::time_point(std::chrono::seconds(784111777 - 30));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now), Millis(30000));
  const auto later = system_clock::time_point(std::chrono::seconds(784111777 + 30));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", later), Millis(0));
}

TEST(ParseRetryAfter, Malformed) {
  const auto now = system_clock::now();
  for (const char* v : {"", "-1", "1.5", "soon", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Foo 1994 08:49:37 GMT",
                        "Sun, 32 Nov 1994 08:49:37 GMT", "99999999999"}) {
    EXPECT_EQ(ParseRetryAfter(v, now), std::nullopt) << v;
  }
}

}  // namespace
}  // namespace keyward::http
