#include "policy/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/testing/status_matchers.h"

namespace keyward::policy {
namespace {

using ::keyward::testing::IsOk;
using ::keyward::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A diagnostic at `pointer` of `kind` whose message contains `text`.
::testing::Matcher<Diagnostic> Diag(const std::string& pointer, const std::string& kind, const std::string& text) {
  return AllOf(Field("pointer", &Diagnostic::pointer, pointer), Field("kind", &Diagnostic::kind, kind),
               Field("message", &Diagnostic::message, HasSubstr(text)));
}

// A valid base document; tests splice one defect in.
constexpr const char* kProviders = R"(
  "providers": [
    {"id": "dbx", "type": "databricks"},
    {"id": "vault", "type": "vault"},
    {"id": "env", "type": "environment"}
  ])";
constexpr const char* kFabrics = R"(
  "fabrics": [
    {"id": "prod", "kind": "databricks", "providers": ["dbx", "vault", "env"]},
    {"id": "emr", "kind": "emr", "providers": ["vault", "env"]},
    {"id": "trial", "kind": "databricks", "managed": true, "scope": "trial-scope", "providers": ["dbx"]}
  ])";

std::string Doc(const std::string& rules, const std::string& providers = kProviders,
                const std::string& fabrics = kFabrics) {
  return "{\"format\": \"keyward-policy/1\"," + providers + "," + fabrics + ", \"rules\": [" + rules + "]}";
}

class LoaderTest : public ::testing::Test {
 protected:
  Result<Policy> Parse(const std::string& text) { return ParsePolicy(text, &errors_); }
  std::vector<Diagnostic> errors_;
};

constexpr const char* kGoodRule =
    R"({"id": "r", "effect": "allow", "principals": ["etl"], "fabrics": ["emr"], "providers": ["vault"],
        "secrets": ["secret/etl/*"], "actions": ["resolve"]})";

TEST_F(LoaderTest, ValidPolicyLoads) {
  auto p = Parse(Doc(kGoodRule));
  ASSERT_THAT(p, IsOk());
  EXPECT_THAT(errors_, IsEmpty());
  ASSERT_EQ(p->rules.size(), 1u);
  EXPECT_EQ(p->rules[0].secrets[0].scope, "secret/etl");
  EXPECT_EQ(p->rules[0].secrets[0].key, "*");
  EXPECT_EQ(p->version.size(), 64u);
  EXPECT_TRUE(p->fabrics[2].managed);
}

TEST_F(LoaderTest, NotJson) {
  EXPECT_THAT(Parse("{\"format\": "), StatusIs(StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
  EXPECT_THAT(errors_, ElementsAre(Diag("", "syntax", "line 1")));
}

TEST_F(LoaderTest, DuplicateJsonKeyIsAnError) {
  EXPECT_THAT(Parse(Doc(R"({"id": "r", "effect": "deny", "effect": "allow"})")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("", "syntax", "duplicate key 'effect' in the object at /rules/0")));
}

TEST_F(LoaderTest, UnsupportedFormat) {
  auto p = Parse(R"({"format": "keyward-policy/9", "providers": [], "fabrics": [], "rules": []})");
  EXPECT_THAT(p, StatusIs(StatusCode::kInvalidArgument, HasSubstr("/format")));
  EXPECT_THAT(errors_, ElementsAre(Diag("/format", "format", "unsupported format 'keyward-policy/9'")));
}

TEST_F(LoaderTest, MissingTopLevelFields) {
  EXPECT_THAT(Parse("{}"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("", "missing-field", "'format'"), Diag("", "missing-field", "'providers'"),
                                   Diag("", "missing-field", "'fabrics'"), Diag("", "missing-field", "'rules'")));
}

TEST_F(LoaderTest, TopLevelMustBeAnObject) {
  EXPECT_THAT(Parse("[]"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("", "type", "expected an object, got an array")));
}

TEST_F(LoaderTest, UnknownFieldsAreErrors) {
  EXPECT_THAT(Parse(R"({"format": "keyward-policy/1", "providers": [], "fabrics": [], "rules": [], "rulez": []})"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("/rulez", "unknown-field", "unknown field 'rulez'")));
}

TEST_F(LoaderTest, UnknownFieldInRule) {
  EXPECT_THAT(Parse(Doc(R"({"id": "r", "effect": "allow", "principals": ["etl"], "fabrics": ["emr"],
      "providers": ["vault"], "secrets": ["secret/etl/*"], "actions": ["resolve"], "actoins": ["list"]})")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("/rules/0/actoins", "unknown-field", "unknown field 'actoins'")));
}

TEST_F(LoaderTest, BadProviderDefinitions) {
  const std::string providers = R"("providers": [
      {"id": "vault", "type": "vault"}, {"id": "vault", "type": "vault"}, {"id": "-x", "type": "vault"},
      {"id": "k", "type": "keychain"}, {"type": "vault"}])";
  EXPECT_THAT(Parse(Doc("", providers, R"("fabrics": [])")), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_,
              ElementsAre(Diag("/providers/1/id", "duplicate-id", "duplicate provider id 'vault' (first defined at /providers/0)"),
                          Diag("/providers/2/id", "id", "provider id '-x' is not valid"),
                          Diag("/providers/3/type", "enum", "expected \"databricks\", \"vault\" or \"environment\", got 'keychain'"),
                          Diag("/providers/4", "missing-field", "'id'")));
}

TEST_F(LoaderTest, UnknownFabricKind) {
  const std::string fabrics = R"("fabrics": [{"id": "f", "kind": "hadoop", "providers": []}])";
  EXPECT_THAT(Parse(Doc("", kProviders, fabrics)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("/fabrics/0/kind", "enum", "unknown fabric kind 'hadoop' (expected one of: "
                                                                    "databricks, emr, dataproc, livy, onprem, synapse, kubernetes)")));
}

TEST_F(LoaderTest, DatabricksProviderOnEmrFabricIsRejected) {
  const std::string fabrics = R"("fabrics": [{"id": "emr", "kind": "emr", "providers": ["vault", "dbx"]}])";
  EXPECT_THAT(Parse(Doc("", kProviders, fabrics)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("/fabrics/0/providers/1", "constraint",
                                        "Databricks Secrets can be used only on databricks fabrics: provider 'dbx' "
                                        "is databricks, fabric 'emr' is of kind emr")));
}

TEST_F(LoaderTest, ManagedFabricRules) {
  const std::string fabrics = R"("fabrics": [
      {"id": "m1", "kind": "databricks", "managed": true, "providers": ["dbx"]},
      {"id": "m2", "kind": "emr", "managed": true, "scope": "m2", "providers": []},
      {"id": "m3", "kind": "databricks", "managed": true, "scope": "m3", "providers": ["vault"]},
      {"id": "u", "kind": "databricks", "scope": "u", "providers": []},
      {"id": "m4", "kind": "databricks", "managed": true, "scope": "bad scope", "providers": []},
      {"id": "m5", "kind": "databricks", "managed": true, "scope": "Shared", "providers": ["dbx"]},
      {"id": "m6", "kind": "databricks", "managed": true, "scope": "shared", "providers": ["dbx"]}])";
  EXPECT_THAT(Parse(Doc("", kProviders, fabrics)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_,
              ElementsAre(Diag("/fabrics/0", "missing-field", "missing required field 'scope'"),
                          Diag("/fabrics/1/kind", "constraint", "managed fabrics are databricks fabrics"),
                          Diag("/fabrics/2/providers/0", "constraint", "managed fabrics may use Databricks Secrets only"),
                          Diag("/fabrics/3/scope", "constraint", "only managed fabrics own a scope"),
                          Diag("/fabrics/4/scope", "scope", "databricks scope 'bad scope' has a character that is not allowed"),
                          Diag("/fabrics/6/scope", "constraint", "already owned by the managed fabric at /fabrics/5")));
}

TEST_F(LoaderTest, FabricProviderReferences) {
  const std::string fabrics = R"("fabrics": [{"id": "f", "kind": "emr", "providers": ["vault", "vualt", "vault"]},
                                             {"id": "f", "kind": "emr", "providers": []}])";
  EXPECT_THAT(Parse(Doc("", kProviders, fabrics)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("/fabrics/0/providers/1", "unknown-reference",
                                        "unknown provider 'vualt' (defined: dbx, vault, env)"),
                                   Diag("/fabrics/0/providers/2", "duplicate-id", "provider 'vault' is listed twice"),
                                   Diag("/fabrics/1/id", "duplicate-id", "duplicate fabric id 'f' (first defined at /fabrics/0)")));
}

TEST_F(LoaderTest, BadEffect) {
  EXPECT_THAT(Parse(Doc(std::string(kGoodRule) + "," + kGoodRule + "," + kGoodRule + "," +
                        R"({"id": "r4", "effect": "alow", "principals": ["etl"], "fabrics": ["emr"],
                            "providers": ["vault"], "secrets": ["secret/etl/*"], "actions": ["resolve"]})")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("/rules/1/id", "duplicate-id", "duplicate rule id 'r' (first defined at /rules/0)"),
                                   Diag("/rules/2/id", "duplicate-id", "duplicate rule id 'r'"),
                                   Diag("/rules/3/effect", "enum", "expected \"allow\" or \"deny\", got 'alow'")));
}

TEST_F(LoaderTest, RuleListsMustBePresentAndNonEmpty) {
  EXPECT_THAT(Parse(Doc(R"({"id": "r", "effect": "allow", "principals": [], "fabrics": "emr", "providers": [7],
                            "actions": ["resolve"]})")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("/rules/0/principals", "empty", "expected at least one element (use [\"*\"] to mean every one)"),
                                   Diag("/rules/0/fabrics", "type", "expected an array, got a string"),
                                   Diag("/rules/0/providers/0", "type", "expected a string, got an integer"),
                                   Diag("/rules/0", "missing-field", "'secrets'")));
}

TEST_F(LoaderTest, UnknownReferencesInRules) {
  EXPECT_THAT(Parse(Doc(R"({"id": "r", "effect": "allow", "principals": ["etl"], "fabrics": ["emr", "emr-2", "prod-*"],
                            "providers": ["vault", "hashicorp"], "secrets": ["*"], "actions": ["resolve"]})")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("/rules/0/fabrics/1", "unknown-reference", "unknown fabric 'emr-2'"),
                                   Diag("/rules/0/providers/1", "unknown-reference", "unknown provider 'hashicorp'")));
}

TEST_F(LoaderTest, BadPrincipalsAndActions) {
  EXPECT_THAT(Parse(Doc(R"({"id": "r", "effect": "allow", "principals": ["etl pipeline", ""], "fabrics": ["emr"],
                            "providers": ["vault"], "secrets": ["*"], "actions": ["read", "list"]})")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("/rules/0/principals/0", "principal", "principal 'etl pipeline' is not valid"),
                                   Diag("/rules/0/principals/1", "principal", "must not be empty"),
                                   Diag("/rules/0/actions/0", "enum", "got 'read'")));
}

TEST_F(LoaderTest, BadSecretPatterns) {
  EXPECT_THAT(Parse(Doc(R"({"id": "r", "effect": "allow", "principals": ["etl"], "fabrics": ["emr"],
      "providers": ["vault"], "actions": ["resolve"],
      "secrets": ["secret/etl/", "/KEY", "secret//x/k", "secret/../k", "secret/a**/k", "secret/**", "secret/x/**", ""]})")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("/rules/0/secrets/0", "secret-pattern", "has no key after the last '/'"),
                                   Diag("/rules/0/secrets/1", "secret-pattern", "starts with '/'"),
                                   Diag("/rules/0/secrets/2", "secret-pattern", "empty scope segment"),
                                   Diag("/rules/0/secrets/3", "secret-pattern", "'..' segment"),
                                   Diag("/rules/0/secrets/4", "secret-pattern", "'**' must be a whole segment"),
                                   Diag("/rules/0/secrets/5", "secret-pattern", "'**' in the key"),
                                   Diag("/rules/0/secrets/6", "secret-pattern", "'**' in the key"),
                                   Diag("/rules/0/secrets/7", "secret-pattern", "must not be empty")));
}

TEST_F(LoaderTest, AllowNamingDatabricksOnNonDatabricksFabricsIsRejected) {
  EXPECT_THAT(Parse(Doc(R"({"id": "r", "effect": "allow", "principals": ["etl"], "fabrics": ["emr"],
                            "providers": ["dbx"], "secrets": ["*"], "actions": ["resolve"]})")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("/rules/0/providers/0", "constraint",
                                        "provider 'dbx' is databricks and this allow rule names only emr (emr)")));
}

TEST_F(LoaderTest, AllowNamingVaultOnManagedFabricIsRejected) {
  EXPECT_THAT(Parse(Doc(R"({"id": "r", "effect": "allow", "principals": ["etl"], "fabrics": ["trial"],
                            "providers": ["dbx", "vault"], "secrets": ["*"], "actions": ["resolve"]})")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("/rules/0/providers/1", "constraint",
                                        "managed fabrics may use Databricks Secrets only: provider 'vault' is vault")));
}

TEST_F(LoaderTest, AllowOnManagedFabricOutsideItsScopeIsRejected) {
  EXPECT_THAT(Parse(Doc(R"({"id": "r", "effect": "allow", "principals": ["u"], "fabrics": ["trial"],
                            "providers": ["dbx"], "secrets": ["TRIAL-scope/*", "other/*", "trial-*/k"],
                            "actions": ["resolve"]})")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("/rules/0/secrets/1", "constraint",
                                        "managed fabrics may access only their own scope: 'other/*' matches none "
                                        "of the own scopes of trial (databricks, own scope 'trial-scope')")));
}

TEST_F(LoaderTest, AllowOnManagedFabricOutsideItsScopeIsRejectedWhateverTheProviderEntry) {
  for (const char* providers : {R"(["*"])", R"(["d*"])", R"(["vault-*", "dbx"])"}) {
    SCOPED_TRACE(providers);
    errors_.clear();
    EXPECT_THAT(Parse(Doc(std::string(R"({"id": "r", "effect": "allow", "principals": ["u"], "fabrics": ["trial"],
                            "providers": )") + providers + R"(, "secrets": ["other/*"], "actions": ["resolve"]})")),
                StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(errors_, ElementsAre(Diag("/rules/0/secrets/0", "constraint",
                                          "managed fabrics may access only their own scope: 'other/*' matches none")));
  }
}

TEST_F(LoaderTest, AllowWritingEnvironmentIsRejected) {
  EXPECT_THAT(Parse(Doc(R"({"id": "r", "effect": "allow", "principals": ["ops"], "fabrics": ["emr"],
                            "providers": ["env"], "secrets": ["*"], "actions": ["resolve", "write", "delete"]})")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(errors_, ElementsAre(Diag("/rules/0/actions/1", "constraint", "environment variables are read-only"),
                                   Diag("/rules/0/actions/2", "constraint", "'delete' can never be allowed")));
}

TEST_F(LoaderTest, DenyRulesMayRestateConstraints) {
  // A deny that the constraints make redundant is harmless: the linter mentions it, the loader accepts it.
  EXPECT_THAT(Parse(Doc(R"({"id": "r", "effect": "deny", "principals": ["ops"], "fabrics": ["emr"],
                            "providers": ["env", "dbx"], "secrets": ["*"], "actions": ["write"]})")),
              IsOk());
}

TEST_F(LoaderTest, GlobsMayIncludeForbiddenCombinations) {
  EXPECT_THAT(Parse(Doc(R"({"id": "r", "effect": "allow", "principals": ["*"], "fabrics": ["*"],
                            "providers": ["*"], "secrets": ["*"], "actions": ["*"]})")),
              IsOk());
}

TEST_F(LoaderTest, ReportsEveryErrorAtOnce) {
  const std::string text = R"({"format": "keyward-policy/1",
    "providers": [{"id": "v", "type": "vualt"}],
    "fabrics": [{"id": "f", "kind": "emr", "providers": ["v"], "managed": "no"}],
    "rules": [{"id": "a", "effect": "permit", "principals": ["p"], "fabrics": ["f"], "providers": ["v"],
               "secrets": ["s/k"], "actions": ["resolve"]},
              {"id": "b", "effect": "allow", "principals": ["p"], "fabrics": ["g"], "providers": ["v"],
               "secrets": ["s/k"], "actions": ["fetch"]}]})";
  auto p = Parse(text);
  EXPECT_THAT(p, StatusIs(StatusCode::kInvalidArgument,
                          HasSubstr("5 errors in the policy; the first: /providers/0/type")));
  EXPECT_THAT(errors_, ElementsAre(Diag("/providers/0/type", "enum", "got 'vualt'"),
                                   Diag("/fabrics/0/managed", "type", "expected true or false, got a string"),
                                   Diag("/rules/0/effect", "enum", "got 'permit'"),
                                   Diag("/rules/1/fabrics/0", "unknown-reference", "unknown fabric 'g'"),
                                   Diag("/rules/1/actions/0", "enum", "got 'fetch'")));
}

TEST_F(LoaderTest, VersionIgnoresWhitespaceOrderCommentsAndDefaults) {
  auto a = Parse(Doc(kGoodRule));
  const std::string reordered = R"(
    // the same policy, written differently
    {"rules": [{"actions": ["resolve"], "secrets": ["secret/etl/*"], "providers": ["vault"], "fabrics": ["emr"],
                "principals": ["etl"], "effect": "allow", "id": "r", "description": ""}],
     "fabrics": [
       {"id": "prod", "kind": "databricks", "managed": false, "providers": ["dbx", "vault", "env"]},
       {"providers": ["vault", "env"], "kind": "emr", "id": "emr"},
       {"id": "trial", "kind": "databricks", "managed": true, "scope": "trial-scope", "providers": ["dbx"]}
     ],
     /* providers last */
     "providers": [{"type": "databricks", "id": "dbx"}, {"id": "vault", "type": "vault"},
                   {"id": "env", "type": "environment"}],
     "format": "keyward-policy/1"})";
  auto b = Parse(reordered);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->version, b->version);
  // ["*"] is the same action set as the four actions spelled out.
  auto star = Parse(Doc(R"({"id": "r", "effect": "allow", "principals": ["etl"], "fabrics": ["emr"],
      "providers": ["vault"], "secrets": ["secret/etl/*"], "actions": ["*"]})"));
  auto four = Parse(Doc(R"({"id": "r", "effect": "allow", "principals": ["etl"], "fabrics": ["emr"],
      "providers": ["vault"], "secrets": ["secret/etl/*"], "actions": ["delete", "write", "list", "resolve"]})"));
  ASSERT_THAT(star, IsOk());
  ASSERT_THAT(four, IsOk());
  EXPECT_EQ(star->version, four->version);
  EXPECT_NE(star->version, a->version);
}

TEST_F(LoaderTest, VersionChangesWithMeaning) {
  auto a = Parse(Doc(kGoodRule));
  auto b = Parse(Doc(R"({"id": "r", "effect": "allow", "principals": ["etl"], "fabrics": ["emr"],
      "providers": ["vault"], "secrets": ["secret/etl/**/*"], "actions": ["resolve"]})"));
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(a->version, b->version);
}

TEST_F(LoaderTest, CanonicalFormIsSortedAndCompact) {
  auto p = Parse(Doc(kGoodRule));
  ASSERT_THAT(p, IsOk());
  const std::string canon = CanonicalJson(*p);
  EXPECT_EQ(canon.find('\n'), std::string::npos);
  EXPECT_EQ(canon.rfind("{\"description\":\"\",\"fabrics\":[", 0), 0u) << canon;
  EXPECT_NE(canon.find(R"("actions":["resolve"],"description":"","effect":"allow")"), std::string::npos) << canon;
}

TEST(LoadPolicyFileTest, FileErrorsKeepTheirCode) {
  std::vector<Diagnostic> errors;
  EXPECT_THAT(LoadPolicyFile("/nonexistent/policy.json", &errors),
              StatusIs(StatusCode::kNotFound, HasSubstr("/nonexistent/policy.json")));
  EXPECT_THAT(LoadPolicyFile("/", &errors), StatusIs(StatusCode::kInvalidArgument, HasSubstr("is a directory")));
  EXPECT_THAT(errors, IsEmpty());
}

TEST(LoadPolicyFileTest, ExamplePolicyIsValid) {
  std::vector<Diagnostic> errors;
  auto p = LoadPolicyFile(std::string(KEYWARD_SOURCE_DIR) + "/examples/policy.json", &errors);
  ASSERT_THAT(p, IsOk()) << (errors.empty() ? "" : errors[0].ToString());
  EXPECT_GE(p->rules.size(), 5u);
}

}  // namespace
}  // namespace keyward::policy
