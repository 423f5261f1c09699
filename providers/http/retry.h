// When and how long the HTTP client waits before trying a request again. Pure functions, so that the
// policy can be tested without a network.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

namespace keyward::http {

using Millis = std::chrono::milliseconds;

// Bounded retries with exponential backoff and jitter.
struct RetryPolicy {
  int max_attempts = 4;                  // attempts in all, the first included; 1 = never retry
  Millis initial_backoff{100};           // the wait before the second attempt, before jitter
  Millis max_backoff{2000};              // the cap on one wait, before jitter
};

// True for the statuses worth trying again: 429, 502, 503, 504.
bool IsRetryableStatus(unsigned status);

// The wait before attempt `next_attempt` (2 for the first retry): min(max, initial * 2^(n-2)), of
// which the upper half is drawn uniformly ("equal jitter": never less than half the nominal wait, so
// that backoff still backs off, and spread so that clients do not retry in lockstep).
Millis Backoff(const RetryPolicy& policy, int next_attempt, std::mt19937_64& rng);

// A Retry-After header value: delay-seconds ("120") or an HTTP-date ("Sun, 06 Nov 1994 08:49:37 GMT",
// the IMF-fixdate form RFC 9110 requires senders to use), relative to `now`. nullopt when malformed.
// A date in the past is a zero wait.
std::optional<Millis> ParseRetryAfter(std::string_view value, std::chrono::system_clock::time_point now);

}  // namespace keyward::http
