#include "providers/factory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "core/testing/status_matchers.h"
#include "providers/credential.h"
#include "tests/support/subprocess.h"

namespace keyward::providers {
namespace {

using ::keyward::testing::IsOk;
using ::keyward::testing::StatusIs;
using ::keyward::testing::TempDir;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;

Json Doc(const char* text) {
  auto j = ParseJson(text);
  EXPECT_TRUE(j.has_value()) << text;
  return j.has_value() ? *j : Json();
}

class FactoryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("KWFACTORY_VAULT_TOKEN", "hvs.factory-test-token", 1);
    setenv("KWFACTORY_DBX_TOKEN", "dapi-factory-test", 1);
    setenv("KWFACTORY_EMPTY", "", 1);
    unsetenv("KWFACTORY_UNSET");
  }

  Result<std::unique_ptr<Provider>> Make(const Json& section) {
    errors_.clear();
    return MakeProvider(section, ProviderContext{"/providers/3", runtime_, nullptr}, &errors_);
  }

  // The pointers of every diagnostic.
  std::vector<std::string> Pointers() const {
    std::vector<std::string> out;
    for (const auto& d : errors_) out.push_back(d.pointer);
    return out;
  }

  std::string AllMessages() const {
    std::string out;
    for (const auto& d : errors_) out += d.ToString() + "\n";
    return out;
  }

  std::shared_ptr<http::IoRuntime> runtime_ = http::IoRuntime::Start();
  std::vector<Diagnostic> errors_;
};

auto DiagAt(const std::string& pointer, const std::string& substring) {
  return AllOf(Field(&Diagnostic::pointer, pointer), Field(&Diagnostic::message, HasSubstr(substring)));
}

TEST_F(FactoryTest, BuildsAnEnvironmentProvider) {
  auto p = Make(Doc(R"({"id": "env", "type": "environment", "allow": ["PATH"], "prefix": "APP_"})"));
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ((*p)->id(), "env");
  EXPECT_EQ((*p)->type(), ProviderType::kEnvironment);
  EXPECT_TRUE(errors_.empty());
}

TEST_F(FactoryTest, AnEnvironmentProviderMustFilter) {
  EXPECT_THAT(Make(Doc(R"({"id": "env", "type": "environment"})")), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3", "never exposes the whole environment")));
}

TEST_F(FactoryTest, BuildsAVaultProviderWithoutTouchingTheNetwork) {
  auto p = Make(Doc(R"({"id": "vault-prod", "type": "vault", "address": "https://vault.invalid:8200",
                        "namespace": "team-a", "auth": {"method": "token", "token": {"env": "KWFACTORY_VAULT_TOKEN"}},
                        "http": {"max_connections": 4, "retry": {"max_attempts": 2}}})"));
  ASSERT_THAT(p, IsOk()) << AllMessages();
  EXPECT_EQ((*p)->type(), ProviderType::kVault);
  EXPECT_EQ((*p)->id(), "vault-prod");
}

TEST_F(FactoryTest, BuildsADatabricksProvider) {
  TempDir dir;
  const std::string token = dir.Write("token", "dapi-from-a-file\n");
  Json section = Doc(R"({"id": "dbx", "type": "databricks", "workspace_url": "https://adb-1.2.azuredatabricks.net"})");
  section["token"] = Json{{"file", token}};
  auto p = Make(section);
  ASSERT_THAT(p, IsOk()) << AllMessages();
  EXPECT_EQ((*p)->type(), ProviderType::kDatabricks);
}

TEST_F(FactoryTest, ReportsEveryProblemAtItsPointer) {
  auto p = Make(Doc(R"({"id": "-bad", "type": "vault", "adress": "x", "address": "http://vault:8200",
                        "auth": {"method": "approle", "role_id": {"env": "KWFACTORY_UNSET"}, "token": {"env": "X"}},
                        "http": {"max_connections": 0, "retry": {"max_attempts": 11, "jitter": true}},
                        "tls": {"ca_file": "/nonexistent/ca.pem"}})"));
  ASSERT_THAT(p, StatusIs(StatusCode::kInvalidArgument, HasSubstr("in the provider section at /providers/3")));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/id", "not valid")));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/adress", "unknown field")));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/address", "plain HTTP")));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/auth/token", "belongs to method \"token\"")));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/auth", "missing required field 'secret_id'")));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/auth/role_id/env", "KWFACTORY_UNSET is not set")));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/http/max_connections", "from 1 to 1024")));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/http/retry/max_attempts", "from 1 to 10")));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/http/retry/jitter", "unknown field")));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/tls/ca_file", "/nonexistent/ca.pem")));
  EXPECT_EQ(errors_.size(), 10u) << AllMessages();
}

TEST_F(FactoryTest, InlineCredentialsAreRefusedWithoutBeingRepeated) {
  auto p = Make(Doc(R"({"id": "dbx", "type": "databricks", "workspace_url": "https://w.example",
                        "token": "dapi0123456789abcdef-inline"})"));
  EXPECT_THAT(p, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/token", "credentials never go in the configuration")));
  EXPECT_THAT(AllMessages(), Not(HasSubstr("dapi0123456789abcdef-inline")));
  EXPECT_THAT(p.error().message(), Not(HasSubstr("dapi0123456789abcdef-inline")));
}

TEST_F(FactoryTest, CredentialProblemsArePointedAt) {
  TempDir dir;
  auto p = Make(Doc(R"({"id": "v", "type": "vault", "address": "https://v.example",
                        "auth": {"method": "token", "token": {"file": "/nonexistent/token"}}})"));
  EXPECT_THAT(p, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/auth/token/file", "/nonexistent/token")));

  EXPECT_THAT(Make(Doc(R"({"id": "v", "type": "vault", "address": "https://v.example",
                           "auth": {"method": "token", "token": {"env": "KWFACTORY_EMPTY"}}})")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/auth/token/env", "is empty")));

  EXPECT_THAT(Make(Doc(R"({"id": "v", "type": "vault", "address": "https://v.example",
                           "auth": {"method": "token", "token": {"env": "A", "file": "/b"}}})")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/auth/token", "not both")));
}

TEST_F(FactoryTest, ATypeOrShapeProblemStopsEarly) {
  EXPECT_THAT(Make(Doc(R"(["not", "an", "object"])")), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3", "expected an object")));
  EXPECT_THAT(Make(Doc(R"({"id": "x", "type": "consul"})")), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, Contains(DiagAt("/providers/3/type", "'consul'")));
}

TEST_F(FactoryTest, PlainHttpIsAllowedOnlyWhenSaidSo) {
  auto p = Make(Doc(R"({"id": "dbx", "type": "databricks", "workspace_url": "http://127.0.0.1:9",
                        "allow_plain_http": true, "token": {"env": "KWFACTORY_DBX_TOKEN"}})"));
  EXPECT_THAT(p, IsOk()) << AllMessages();
}

TEST(CredentialSource, FilesLoseOneTrailingNewline) {
  TempDir dir;
  auto a = CredentialSource{CredentialSource::Kind::kFile, dir.Write("a", "tok-a\n")}.Load();
  auto b = CredentialSource{CredentialSource::Kind::kFile, dir.Write("b", "tok-b\r\n")}.Load();
  auto c = CredentialSource{CredentialSource::Kind::kFile, dir.Write("c", "tok c")}.Load();
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->reveal(), "tok-a");
  EXPECT_EQ(b->reveal(), "tok-b");
  EXPECT_THAT(c, StatusIs(StatusCode::kInvalidArgument, HasSubstr("whitespace")));
  EXPECT_THAT(c.error().message(), Not(HasSubstr("tok c")));
  const CredentialSource missing{CredentialSource::Kind::kFile, dir.path() + "/none"};
  EXPECT_THAT(missing.Load(), StatusIs(StatusCode::kNotFound));
}

TEST(CredentialSource, AFileOthersMayUseOrItsGroupWriteIsRefused) {
  TempDir dir;
  const std::string path = dir.Write("token", "tok-a\n");
  const CredentialSource source{CredentialSource::Kind::kFile, path};
  for (const mode_t mode : {0604u, 0602u, 0601u, 0620u, 0644u, 0666u}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto v = source.Load();
    EXPECT_THAT(v, StatusIs(StatusCode::kFailedPrecondition, HasSubstr("refusing to use it. Run: chmod 600 " + path)))
        << std::oct << mode;
    if (!v.has_value()) {
      EXPECT_THAT(v.error().message(), Not(HasSubstr("tok-a")));
    }
  }
  // Owner only, or read by its group (a Vault Agent sink, a key shared with a service group).
  for (const mode_t mode : {0600u, 0400u, 0640u, 0440u}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto v = source.Load();
    ASSERT_THAT(v, IsOk()) << std::oct << mode;
    EXPECT_EQ(v->reveal(), "tok-a");
  }
}

}  // namespace
}  // namespace keyward::providers
