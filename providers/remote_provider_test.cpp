// CompletionGuard: a provider operation's callback runs exactly once, even when a handler throws.
#include "providers/remote_provider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <stdexcept>

#include "core/testing/status_matchers.h"
#include "providers/http/runtime.h"

namespace keyward::providers {
namespace {

using ::keyward::testing::IsOk;
using ::keyward::testing::StatusIs;

TEST(CompletionGuardTest, TheFirstResultIsDeliveredAndLaterOnesAreDropped) {
  std::vector<Status> got;
  {
    CompletionGuard<Status> done([&](Status s) { got.push_back(std::move(s)); });
    auto copy = done;
    copy(Status());
    done(Status::NotFound("second"));
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_THAT(got[0], IsOk());
}

TEST(CompletionGuardTest, DroppedWithoutAResultItReportsInternal) {
  std::vector<Result<SecretValue>> got;
  {
    CompletionGuard<Result<SecretValue>> done([&](Result<SecretValue> r) { got.push_back(std::move(r)); });
    auto copy = done;  // every copy must be gone first
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_THAT(got[0], StatusIs(StatusCode::kInternal));
}

TEST(CompletionGuardTest, AHandlerThatThrowsOnTheProviderThreadStillCompletes) {
  auto runtime = http::IoRuntime::Start();
  std::promise<Status> result;
  // The posted handler holds the only copy of the guard.
  runtime->Post([done = CompletionGuard<Status>([&](Status s) { result.set_value(std::move(s)); })] {
    throw std::runtime_error("an answer the handler did not expect");
  });
  auto f = result.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_THAT(f.get(), StatusIs(StatusCode::kInternal));
  // The runtime keeps serving.
  std::promise<void> ran;
  runtime->Post([&] { ran.set_value(); });
  EXPECT_EQ(ran.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

}  // namespace
}  // namespace keyward::providers
