// GoogleMock matchers for Status and Result<T>:
//   EXPECT_THAT(s, IsOk());
//   EXPECT_THAT(r, StatusIs(StatusCode::kNotFound));
//   EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument, HasSubstr("'..' segment")));
//   EXPECT_THAT(r, IsOkAndHolds(Eq(42)));
#pragma once

#include <gmock/gmock.h>

#include "core/result.h"
#include "core/status.h"

namespace keyward {
// gtest prints a Result as its status, or as "value" (values may not be printable).
template <typename T>
void PrintTo(const Result<T>& r, std::ostream* os) {
  if (r.has_value()) {
    *os << "a value";
  } else {
    *os << r.error();
  }
}
}  // namespace keyward

namespace keyward::testing {

inline const Status& GetStatus(const Status& s) { return s; }
template <typename T>
Status GetStatus(const Result<T>& r) {
  return r.status();
}

MATCHER(IsOk, negation ? "is not OK" : "is OK") {
  const Status s = ::keyward::testing::GetStatus(arg);
  if (!s.ok()) *result_listener << "whose status is " << s;
  return s.ok();
}

MATCHER_P(StatusIs, code,
          std::string(negation ? "does not have" : "has") + " status code " +
              std::string(::keyward::StatusCodeName(code))) {
  const Status s = ::keyward::testing::GetStatus(arg);
  *result_listener << "whose status is " << s;
  return s.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           std::string(negation ? "does not have" : "has") + " status code " +
               std::string(::keyward::StatusCodeName(code)) + " and a message that " +
               ::testing::DescribeMatcher<std::string>(message_matcher)) {
  const Status s = ::keyward::testing::GetStatus(arg);
  *result_listener << "whose status is " << s;
  return s.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, s.message(), result_listener);
}

MATCHER_P(IsOkAndHolds, value_matcher,
          std::string(negation ? "is not OK or holds a value that does not match" : "is OK and holds a matching value")) {
  if (!arg.has_value()) {
    *result_listener << "whose status is " << arg.error();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace keyward::testing
