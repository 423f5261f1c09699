#include "providers/environment_provider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/testing/status_matchers.h"

namespace keyward::providers {
namespace {

using ::keyward::testing::IsOk;
using ::keyward::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Completions are inline for this provider: capture them directly.
template <typename T>
struct Captured {
  std::optional<T> value;
  auto callback() {
    return [this](T v) { value.emplace(std::move(v)); };
  }
};

class EnvironmentProviderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("KWTEST_APP_PASSWORD", "s3cr3t", 1);
    setenv("KWTEST_APP_TOKEN", "t0k3n", 1);
    setenv("KWTEST_BINARY", "\xff\xfe\x01", 1);
    setenv("KWTEST_ALLOWED", "allowed-value", 1);
    setenv("KWTEST_HIDDEN", "hidden-value", 1);
  }

  EnvironmentProvider provider_{EnvironmentOptions{"env", {"KWTEST_ALLOWED", "KWTEST_UNSET"}, "KWTEST_APP_"}};
  Deadline deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
};

Result<SecretValue> Get(Provider& p, const std::string& scope, const std::string& key) {
  Captured<Result<SecretValue>> c;
  p.Get(scope, key, Deadline(), c.callback());
  return std::move(*c.value);
}

TEST_F(EnvironmentProviderTest, GetsAVariableExposedByPrefix) {
  auto v = Get(provider_, "", "KWTEST_APP_PASSWORD");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->reveal(), "s3cr3t");
}

TEST_F(EnvironmentProviderTest, GetsAVariableExposedByTheAllowList) {
  auto v = Get(provider_, "", "KWTEST_ALLOWED");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->reveal(), "allowed-value");
}

TEST_F(EnvironmentProviderTest, ReturnsBytesThatAreNotUtf8Faithfully) {
  EnvironmentProvider p(EnvironmentOptions{"env", {"KWTEST_BINARY"}, ""});
  auto v = Get(p, "", "KWTEST_BINARY");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->reveal(), "\xff\xfe\x01");
  EXPECT_FALSE(v->is_utf8());
}

TEST_F(EnvironmentProviderTest, AVariableNotExposedIsNotFoundAndNamed) {
  auto v = Get(provider_, "", "KWTEST_HIDDEN");
  EXPECT_THAT(v, StatusIs(StatusCode::kNotFound, HasSubstr("'KWTEST_HIDDEN'")));
  EXPECT_THAT(v.error().message(), Not(HasSubstr("hidden-value")));
}

TEST_F(EnvironmentProviderTest, AMissingVariableIsNotFoundAndNamed) {
  EXPECT_THAT(Get(provider_, "", "KWTEST_UNSET"), StatusIs(StatusCode::kNotFound, HasSubstr("'KWTEST_UNSET'")));
  EXPECT_THAT(Get(provider_, "", "KWTEST_APP_MISSING"),
              StatusIs(StatusCode::kNotFound, HasSubstr("'KWTEST_APP_MISSING'")));
}

TEST_F(EnvironmentProviderTest, MalformedNamesAndScopesAreInvalidArguments) {
  EXPECT_THAT(Get(provider_, "", "1BAD"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Get(provider_, "", "KWTEST_APP_PASS-WORD"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Get(provider_, "scope", "KWTEST_APP_PASSWORD"), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(EnvironmentProviderTest, TheBarePrefixIsNotExposed) {
  EXPECT_TRUE(provider_.Exposes("KWTEST_APP_X"));
  EXPECT_FALSE(provider_.Exposes("KWTEST_APP_"));
  EXPECT_FALSE(provider_.Exposes("KWTEST_AP"));
}

TEST_F(EnvironmentProviderTest, ListsExposedNamesOnlySortedAndNeverValues) {
  Captured<Result<std::vector<ListedName>>> c;
  provider_.List("", deadline_, c.callback());
  ASSERT_THAT(*c.value, IsOk());
  std::vector<std::string> names;
  for (const auto& n : **c.value) {
    EXPECT_FALSE(n.is_scope);
    names.push_back(n.name);
  }
  EXPECT_THAT(names, ElementsAre("KWTEST_ALLOWED", "KWTEST_APP_PASSWORD", "KWTEST_APP_TOKEN"));
}

TEST_F(EnvironmentProviderTest, ListWithAScopeIsInvalid) {
  Captured<Result<std::vector<ListedName>>> c;
  provider_.List("s", deadline_, c.callback());
  EXPECT_THAT(*c.value, StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(EnvironmentProviderTest, PutAndRemoveAreUnimplemented) {
  Captured<Status> put, remove;
  provider_.Put("", "KWTEST_APP_NEW", SecretValue("v"), deadline_, put.callback());
  provider_.Remove("", "KWTEST_APP_PASSWORD", deadline_, remove.callback());
  EXPECT_THAT(*put.value, StatusIs(StatusCode::kUnimplemented, "environment provider is read-only"));
  EXPECT_THAT(*remove.value, StatusIs(StatusCode::kUnimplemented, "environment provider is read-only"));
  EXPECT_EQ(std::getenv("KWTEST_APP_NEW"), nullptr);
  EXPECT_NE(std::getenv("KWTEST_APP_PASSWORD"), nullptr);
}

TEST_F(EnvironmentProviderTest, HealthIsOk) {
  Captured<Status> h;
  provider_.Health(deadline_, h.callback());
  EXPECT_THAT(*h.value, IsOk());
  EXPECT_EQ(provider_.type(), ProviderType::kEnvironment);
  EXPECT_EQ(provider_.id(), "env");
}

}  // namespace
}  // namespace keyward::providers
