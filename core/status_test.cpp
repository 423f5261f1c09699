#include "core/status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/result.h"
#include "core/testing/status_matchers.h"

namespace keyward {
namespace {

using ::keyward::testing::IsOk;
using ::keyward::testing::IsOkAndHolds;
using ::keyward::testing::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, FactoriesSetCodeAndMessage) {
  EXPECT_EQ(Status::NotFound("x").code(), StatusCode::kNotFound);
  EXPECT_EQ(Status::PermissionDenied("x").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Status::Unauthenticated("x").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(Status::Unavailable("x").code(), StatusCode::kUnavailable);
  EXPECT_EQ(Status::DeadlineExceeded("x").code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Status::Unimplemented("x").code(), StatusCode::kUnimplemented);
  EXPECT_EQ(Status::DataLoss("x").code(), StatusCode::kDataLoss);
  EXPECT_EQ(Status::InvalidArgument("bad scope").ToString(), "invalid_argument: bad scope");
}

TEST(StatusTest, OkCodeDropsMessage) {
  Status s(StatusCode::kOk, "ignored");
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.message(), "");
}

TEST(StatusTest, WithContextPrefixesMessageAndKeepsCode) {
  Status s = Status::NotFound("no such key").WithContext("reading vault:secret/a/b");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "reading vault:secret/a/b: no such key");
  EXPECT_TRUE(Status().WithContext("anything").ok());
}

TEST(StatusTest, CodeNamesAreSnakeCase) {
  EXPECT_EQ(StatusCodeName(StatusCode::kFailedPrecondition), "failed_precondition");
  EXPECT_EQ(StatusCodeName(StatusCode::kResourceExhausted), "resource_exhausted");
  EXPECT_EQ(StatusCodeName(StatusCode::kDeadlineExceeded), "deadline_exceeded");
}

Result<int> ParsePositive(int v) {
  if (v <= 0) return Status::InvalidArgument("not positive");
  return v;
}

Result<int> Doubled(int v) {
  KEYWARD_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

Status CheckBoth(int a, int b) {
  KEYWARD_RETURN_IF_ERROR(ParsePositive(a).status());
  KEYWARD_RETURN_IF_ERROR(ParsePositive(b).status().WithContext("second"));
  return Status();
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> ok = ParsePositive(3);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 3);
  EXPECT_EQ(ok.value_or(7), 3);
  Result<int> bad = ParsePositive(-1);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.value_or(7), 7);
}

TEST(ResultTest, MacrosPropagateErrors) {
  EXPECT_THAT(Doubled(4), IsOkAndHolds(Eq(8)));
  EXPECT_THAT(Doubled(0), StatusIs(StatusCode::kInvalidArgument, Eq("not positive")));
  EXPECT_THAT(CheckBoth(1, 1), IsOk());
  EXPECT_THAT(CheckBoth(1, -1), StatusIs(StatusCode::kInvalidArgument, Eq("second: not positive")));
}

TEST(ResultTest, OkStatusBecomesInternalError) {
  Result<int> r{Status()};
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kInternal);
}

TEST(ResultTest, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.has_value());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
  Result<int> r = Status::NotFound("gone");
  EXPECT_DEATH({ (void)r.value(); }, "not_found: gone");
}

TEST(MatcherTest, MatchersRejectWrongCodes) {
  // The matchers themselves must be able to fail, or every test using them is hollow.
  EXPECT_THAT(Status::NotFound("x"), Not(StatusIs(StatusCode::kPermissionDenied)));
  EXPECT_THAT(Status::NotFound("x"), Not(IsOk()));
  EXPECT_THAT(Status::NotFound("abc"), Not(StatusIs(StatusCode::kNotFound, HasSubstr("xyz"))));
  EXPECT_THAT(ParsePositive(-1), Not(IsOkAndHolds(Eq(1))));
  EXPECT_THAT(ParsePositive(2), Not(IsOkAndHolds(Eq(1))));
}

}  // namespace
}  // namespace keyward
