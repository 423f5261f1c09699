#include "core/secret_ref.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "core/testing/status_matchers.h"

namespace keyward {
namespace {

using ::keyward::testing::IsOk;
using ::keyward::testing::StatusIs;
using ::testing::HasSubstr;

struct RefCase {
  const char* name;
  ProviderType type;
  std::string scope;
  std::string key;
  const char* error;  // nullptr = valid; else a substring the InvalidArgument message must contain
};

inline void PrintTo(const RefCase& c, std::ostream* os) { *os << c.name; }

class SecretRefValidationTest : public ::testing::TestWithParam<RefCase> {};

TEST_P(SecretRefValidationTest, Validates) {
  const RefCase& c = GetParam();
  const Status s = ValidateSecretRef(c.type, c.scope, c.key);
  if (c.error == nullptr) {
    EXPECT_THAT(s, IsOk());
  } else {
    EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.error)));
  }
}

const std::string k128(128, 'a');
const std::string k129(129, 'a');

INSTANTIATE_TEST_SUITE_P(
    Table, SecretRefValidationTest,
    ::testing::Values(
        // Databricks
        RefCase{"dbx_ok", ProviderType::kDatabricks, "team-a.prod_1", "snowflake.password-2", nullptr},
        RefCase{"dbx_scope_at", ProviderType::kDatabricks, "user@example.com", "k", nullptr},
        RefCase{"dbx_key_at", ProviderType::kDatabricks, "s", "a@b", "databricks key 'a@b' has a character that is not allowed at position 1"},
        RefCase{"dbx_max_len", ProviderType::kDatabricks, k128, k128, nullptr},
        RefCase{"dbx_scope_too_long", ProviderType::kDatabricks, k129, "k", "databricks scope is 129 characters long"},
        RefCase{"dbx_key_too_long", ProviderType::kDatabricks, "s", k129, "databricks key is 129 characters long"},
        RefCase{"dbx_empty_scope", ProviderType::kDatabricks, "", "k", "databricks scope must not be empty"},
        RefCase{"dbx_empty_key", ProviderType::kDatabricks, "s", "", "databricks key must not be empty"},
        RefCase{"dbx_slash", ProviderType::kDatabricks, "a/b", "k", "position 1"},
        RefCase{"dbx_space", ProviderType::kDatabricks, "s", "my key", "allowed: letters, digits, '-', '_', '.')"},
        RefCase{"dbx_unicode", ProviderType::kDatabricks, "s", "cl\xC3\xA9", "position 2"},
        // Vault
        RefCase{"vault_ok", ProviderType::kVault, "secret/team-a/snowflake", "password", nullptr},
        RefCase{"vault_unicode_key", ProviderType::kVault, "secret/app", "cl\xC3\xA9_\xF0\x9F\x94\x91", nullptr},
        RefCase{"vault_mount_only", ProviderType::kVault, "secret", "k", "names only a mount"},
        RefCase{"vault_leading_slash", ProviderType::kVault, "/secret/a", "k", "must not start with '/'"},
        RefCase{"vault_trailing_slash", ProviderType::kVault, "secret/a/", "k", "must not end with '/'"},
        RefCase{"vault_empty_segment", ProviderType::kVault, "secret//a", "k", "empty segment"},
        RefCase{"vault_dotdot", ProviderType::kVault, "secret/../sys", "k", "'..' segment"},
        RefCase{"vault_dot", ProviderType::kVault, "secret/./a", "k", "'.' segment"},
        RefCase{"vault_dotdot_end", ProviderType::kVault, "secret/a/..", "k", "'..' segment"},
        RefCase{"vault_dots_in_name_ok", ProviderType::kVault, "secret/a..b/.c", "k", nullptr},
        RefCase{"vault_nul", ProviderType::kVault, std::string("secret/a\0b", 10), "k", "control character"},
        RefCase{"vault_bad_utf8", ProviderType::kVault, "secret/\xC3\x28", "k", "not valid UTF-8 (byte 7)"},
        RefCase{"vault_key_slash", ProviderType::kVault, "secret/a", "b/c", "contains '/'"},
        RefCase{"vault_key_empty", ProviderType::kVault, "secret/a", "", "vault key must not be empty"},
        RefCase{"vault_key_newline", ProviderType::kVault, "secret/a", "k\n", "control character"},
        RefCase{"vault_path_too_long", ProviderType::kVault, "secret/" + std::string(1100, 'p'), "k", "at most 1024"},
        // Environment
        RefCase{"env_ok", ProviderType::kEnvironment, "", "DB_PASSWORD_2", nullptr},
        RefCase{"env_underscore_first", ProviderType::kEnvironment, "", "_X", nullptr},
        RefCase{"env_digit_first", ProviderType::kEnvironment, "", "2FA", "position 0"},
        RefCase{"env_dash", ProviderType::kEnvironment, "", "DB-PASS", "[A-Za-z_][A-Za-z0-9_]*"},
        RefCase{"env_scope", ProviderType::kEnvironment, "prod", "X", "environment variables have no scope"},
        RefCase{"env_empty", ProviderType::kEnvironment, "", "", "must not be empty"}),
    [](const auto& test_param) { return std::string(test_param.param.name); });

TEST(SecretRefTest, ScopeValidationAllowsBareVaultMountForListing) {
  EXPECT_THAT(ValidateScope(ProviderType::kVault, "secret"), IsOk());
  EXPECT_THAT(ValidateScope(ProviderType::kVault, "secret/"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateScope(ProviderType::kEnvironment, ""), IsOk());
  EXPECT_THAT(ValidateScope(ProviderType::kDatabricks, ""), StatusIs(StatusCode::kInvalidArgument));
}

TEST(SecretRefTest, MessagesEscapeUnprintableBytes) {
  const Status s = ValidateSecretRef(ProviderType::kVault, "secret/a", "k\x1b[31m");
  EXPECT_THAT(s.message(), HasSubstr("k\\x1B[31m"));
  EXPECT_EQ(s.message().find('\x1b'), std::string::npos);
}

TEST(SecretRefTest, ParseAndFormatRoundTrip) {
  auto r = ParseSecretRef("vault:secret/team-a/snowflake/password");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->provider, "vault");
  EXPECT_EQ(r->scope, "secret/team-a/snowflake");
  EXPECT_EQ(r->key, "password");
  EXPECT_EQ(FormatSecretRef(*r), "vault:secret/team-a/snowflake/password");

  auto env = ParseSecretRef("env:DB_PASSWORD");
  ASSERT_THAT(env, IsOk());
  EXPECT_EQ(env->scope, "");
  EXPECT_EQ(env->key, "DB_PASSWORD");
  EXPECT_EQ(FormatSecretRef(*env), "env:DB_PASSWORD");

  EXPECT_THAT(ParseSecretRef("no-provider"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("PROVIDER:SCOPE/KEY")));
  EXPECT_THAT(ParseSecretRef(":scope/key"), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace keyward
