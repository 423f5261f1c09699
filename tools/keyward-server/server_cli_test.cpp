// The built keyward-server's command line where it uses the configuration library: mint-token's id
// check and its printed line, and --check and start running the preflight and the cross-check.
// (Serving is tested end to end in tests/e2e.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/http/auth.h"
#include "core/json.h"
#include "tests/support/subprocess.h"

namespace keyward::server {
namespace {

using ::keyward::testing::ToolPath;
namespace kt = ::keyward::testing;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

TEST(MintTokenTest, RefusesAnInvalidPrincipalId) {
  const auto r = kt::Run({ToolPath("keyward-server"), "mint-token", "--principal", "a\"b"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("keyward-server: --principal: principal id 'a\"b' is not valid"));
  EXPECT_THAT(r.out, IsEmpty());  // no token was minted
}

TEST(MintTokenTest, RefusesAWildcard) {
  const auto r = kt::Run({ToolPath("keyward-server"), "mint-token", "--principal", "etl-*"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("'*' is a wildcard"));
}

TEST(MintTokenTest, PrintsTheTokenAndAValidPrincipalsEntry) {
  const auto r = kt::Run({ToolPath("keyward-server"), "mint-token", "--principal", "svc:etl+1@example.com"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::size_t token_at = r.out.find("  kw_");
  ASSERT_NE(token_at, std::string::npos) << r.out;
  const std::string token = r.out.substr(token_at + 2, r.out.find('\n', token_at) - token_at - 2);
  const std::size_t entry_at = r.out.find("  {");
  ASSERT_NE(entry_at, std::string::npos) << r.out;
  const std::string line = r.out.substr(entry_at + 2, r.out.find('\n', entry_at) - entry_at - 2);
  auto entry = ParseJson(line);
  ASSERT_TRUE(entry.has_value()) << line;
  EXPECT_EQ(*entry, Json({{"id", "svc:etl+1@example.com"}, {"tokens", {http::TokenHashString(token)}}}));
}

// A configuration that passes --check: plain HTTP, the environment provider the policy names, a key.
class CheckTest : public ::testing::Test {
 protected:
  CheckTest() {
    const auto keygen =
        kt::Run({ToolPath("keyward-audit"), "keygen", "--out", dir_.path() + "/audit", "--name", "keyward.test/log"});
    if (keygen.exit_code != 0) ADD_FAILURE() << "keygen: " << keygen.err;
    dir_.Write("policy.json", R"({"format": "keyward-policy/1",
      "providers": [{"id": "env", "type": "environment"}],
      "fabrics": [{"id": "prod", "kind": "emr", "providers": ["env"]}],
      "rules": [{"id": "r", "effect": "allow", "principals": ["etl"], "fabrics": ["prod"], "providers": ["env"],
                 "secrets": ["*"], "actions": ["resolve"]}]})");
    config_ = Json::parse(R"({
      "listen": {"address": "127.0.0.1", "port": 0},
      "insecure_plaintext": true,
      "audit": {"database": "audit.db", "origin": "keyward.test/log", "signing_key": "audit.key"},
      "policy": "policy.json",
      "providers": [{"id": "env", "type": "environment", "prefix": "KEYWARD_CLI_TEST_"}],
      "principals": [{"id": "etl", "tokens": ["sha256:1b2e25d1791e897e280877c6301e6386bcc294c3764769c00a3c31ff4a44c99d"]}]
    })");
  }

  kt::ProcessResult Server(bool check) {
    const std::string path = dir_.Write("c.json", config_.dump());
    if (check) return kt::Run({ToolPath("keyward-server"), "--config", path, "--check"});
    kt::RunOptions options;
    options.timeout = std::chrono::seconds(20);  // a start that is not refused would serve until killed
    return kt::Run({ToolPath("keyward-server"), "--config", path}, options);
  }

  kt::TempDir dir_;
  Json config_;
};

TEST_F(CheckTest, ValidConfigurationPasses) {
  const auto r = Server(true);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("c.json: valid — listening on 127.0.0.1:0 (plain HTTP), 1 provider, 1 principal"));
}

TEST_F(CheckTest, CheckAndStartBothRefuseAMissingSigningKey) {
  std::filesystem::remove(dir_.path() + "/audit.key");
  const std::string expected = dir_.path() + "/c.json: error: /audit/signing_key: signing key " + dir_.path() +
                               "/audit.key does not exist";
  const auto check = Server(true);
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_THAT(check.err, HasSubstr(expected));
  const auto start = Server(false);
  EXPECT_EQ(start.exit_code, 1);
  EXPECT_THAT(start.err, HasSubstr(expected));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/audit.db")) << "refused before the audit log is opened";
}

TEST_F(CheckTest, CheckLoadsTheTlsFiles) {
  config_.erase("insecure_plaintext");
  config_["tls"] = {{"certificate", "server.pem"}, {"private_key", "server.key"}};
  const auto r = Server(true);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("c.json: error: /tls/certificate: cannot open " + dir_.path() + "/server.pem"));
  EXPECT_THAT(r.err, HasSubstr("c.json: error: /tls/private_key: cannot open " + dir_.path() + "/server.key"));
}

TEST_F(CheckTest, CrossCheckErrorsCarryPointers) {
  config_["providers"] = Json::parse(R"([{"id": "other", "type": "environment", "prefix": "X_"}])");
  const auto missing = Server(true);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("c.json: error: /providers: the policy's provider 'env' is not configured"));

  config_["providers"] = Json::parse(R"([{"id": "other", "type": "environment", "prefix": "X_"},
    {"id": "env", "type": "vault", "address": "https://vault.example.com:8200",
     "auth": {"method": "token", "token": {"env": "PATH"}}}])");
  const auto mismatch = Server(true);
  EXPECT_EQ(mismatch.exit_code, 1);
  EXPECT_THAT(mismatch.err, HasSubstr("c.json: error: /providers/1/type: provider 'env' is environment in the policy but "
                                      "vault in the configuration"));
  EXPECT_THAT(mismatch.err, Not(HasSubstr("/providers: ")));
}

}  // namespace
}  // namespace keyward::server
