#include "providers/http/retry.h"

#include <algorithm>
#include <array>
#include <ctime>

namespace keyward::http {
namespace {

std::optional<int> Digits(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  int v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// "Sun, 06 Nov 1994 08:49:37 GMT" -> seconds since the epoch.
std::optional<std::int64_t> ParseImfFixdate(std::string_view v) {
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (v.size() != 29 || v.substr(3, 2) != ", " || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' || v[19] != ':' ||
      v[22] != ':' || v.substr(25) != " GMT") {
    return std::nullopt;
  }
  const auto day = Digits(v.substr(5, 2));
  const auto year = Digits(v.substr(12, 4));
  const auto hour = Digits(v.substr(17, 2));
  const auto minute = Digits(v.substr(20, 2));
  const auto second = Digits(v.substr(23, 2));
  const auto month = std::find(kMonths.begin(), kMonths.end(), v.substr(8, 3));
  if (!day || !year || !hour || !minute || !second || month == kMonths.end()) return std::nullopt;
  if (*day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  const auto m = static_cast<unsigned>(month - kMonths.begin() + 1);
  return DaysFromCivil(*year, m, static_cast<unsigned>(*day)) * 86400 + *hour * 3600 + *minute * 60 + *second;
}

}  // namespace

bool IsRetryableStatus(unsigned status) { return status == 429 || status == 502 || status == 503 || status == 504; }

Millis Backoff(const RetryPolicy& policy, int next_attempt, std::mt19937_64& rng) {
  const int doublings = std::clamp(next_attempt - 2, 0, 30);
  const std::int64_t initial = std::max<std::int64_t>(policy.initial_backoff.count(), 0);
  const std::int64_t cap = std::max<std::int64_t>(policy.max_backoff.count(), 0);
  std::int64_t nominal = initial;
  for (int i = 0; i < doublings && nominal < cap; ++i) nominal *= 2;
  nominal = std::min(nominal, cap);
  const std::int64_t half = nominal / 2;
  std::uniform_int_distribution<std::int64_t> jitter(0, nominal - half);
  return Millis(half + jitter(rng));
}

std::optional<Millis> ParseRetryAfter(std::string_view value, std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (auto secs = Digits(value)) return Millis(std::int64_t{*secs} * 1000);
  const auto when = ParseImfFixdate(value);
  if (!when) return std::nullopt;
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return Millis(std::max<std::int64_t>(*when - now_s, 0) * 1000);
}

}  // namespace keyward::http
