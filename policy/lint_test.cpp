#include "policy/lint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/testing/status_matchers.h"
#include "policy/loader.h"

namespace keyward::policy {
namespace {

using ::keyward::testing::IsOk;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

::testing::Matcher<Diagnostic> Warning(const std::string& pointer, const std::string& kind, const std::string& text) {
  return AllOf(Field("severity", &Diagnostic::severity, Diagnostic::Severity::kWarning),
               Field("pointer", &Diagnostic::pointer, pointer), Field("kind", &Diagnostic::kind, kind),
               Field("message", &Diagnostic::message, HasSubstr(text)));
}

std::vector<Diagnostic> LintOf(const std::string& rules, const std::string& extra_providers = "") {
  const std::string doc = R"({"format": "keyward-policy/1",
    "providers": [{"id": "dbx", "type": "databricks"}, {"id": "vault", "type": "vault"},
                  {"id": "env", "type": "environment"})" + extra_providers + R"(],
    "fabrics": [
      {"id": "prod", "kind": "databricks", "providers": ["dbx", "vault", "env"]},
      {"id": "emr", "kind": "emr", "providers": ["vault", "env"]},
      {"id": "trial", "kind": "databricks", "managed": true, "scope": "trial", "providers": ["dbx"]}],
    "rules": [)" + rules + "]}";
  std::vector<Diagnostic> errors;
  auto p = ParsePolicy(doc, &errors);
  EXPECT_THAT(p, IsOk()) << (errors.empty() ? "" : errors[0].ToString());
  return p.has_value() ? Lint(*p) : std::vector<Diagnostic>{};
}

TEST(LintTest, CleanPolicyHasNoWarnings) {
  EXPECT_THAT(LintOf(R"({"id": "a", "effect": "allow", "principals": ["etl"], "fabrics": ["emr"],
                         "providers": ["vault"], "secrets": ["secret/etl/*"], "actions": ["resolve"]})"),
              IsEmpty());
}

TEST(LintTest, NoRules) { EXPECT_THAT(LintOf(""), ElementsAre(Warning("/rules", "no-rules", "every request will be denied"))); }

TEST(LintTest, UnusedProvider) {
  EXPECT_THAT(LintOf(R"({"id": "a", "effect": "allow", "principals": ["etl"], "fabrics": ["emr"],
                         "providers": ["vault"], "secrets": ["secret/etl/*"], "actions": ["resolve"]})",
                     R"(, {"id": "vault-old", "type": "vault"})"),
              ElementsAre(Warning("/providers/3", "unused-provider", "provider 'vault-old' is listed by no fabric")));
}

TEST(LintTest, RuleWhoseFabricsListNoneOfItsProviders) {
  // emr does not list dbx; the rule is a deny, so the loader accepts it.
  EXPECT_THAT(LintOf(R"({"id": "d", "effect": "deny", "principals": ["*"], "fabrics": ["emr"],
                         "providers": ["dbx"], "secrets": ["*"], "actions": ["*"]})"),
              ElementsAre(Warning("/rules/0", "never-matches",
                                  "deny rule 'd' can never match: none of its fabrics lists any of its providers")));
}

TEST(LintTest, RuleWhoseGlobMatchesNoFabric) {
  EXPECT_THAT(LintOf(R"({"id": "a", "effect": "allow", "principals": ["x"], "fabrics": ["dataproc-*"],
                         "providers": ["vault"], "secrets": ["*"], "actions": ["resolve"]})"),
              ElementsAre(Warning("/rules/0", "never-matches", "its fabrics match no defined fabric")));
}

TEST(LintTest, RuleThatOnlyWritesReadOnlyProviders) {
  EXPECT_THAT(LintOf(R"({"id": "d", "effect": "deny", "principals": ["*"], "fabrics": ["*"],
                         "providers": ["env"], "secrets": ["*"], "actions": ["write", "delete"]})"),
              ElementsAre(Warning("/rules/0", "never-matches", "its providers are read-only")));
}

TEST(LintTest, ScopelessPatternOnScopedProvider) {
  EXPECT_THAT(LintOf(R"({"id": "a", "effect": "allow", "principals": ["x"], "fabrics": ["emr"],
                         "providers": ["vault"], "secrets": ["DB_PASSWORD"], "actions": ["resolve"]})"),
              ElementsAre(Warning("/rules/0", "never-matches", "none of its secret patterns can match")));
}

TEST(LintTest, PatternsOfTheWrongShapeForTheirProviderNeverMatch) {
  // A Vault scope is a mount and a path: "secret/team-a" is scope "secret", key "team-a", and no Vault
  // scope is a bare mount. A Databricks scope is one segment of letters, digits, '-', '_', '.', '@'.
  for (const char* rule : {
           R"({"id": "d", "effect": "deny", "principals": ["*"], "fabrics": ["emr"], "providers": ["vault"],
               "secrets": ["secret/team-a"], "actions": ["*"]})",
           R"({"id": "d", "effect": "deny", "principals": ["*"], "fabrics": ["prod"], "providers": ["dbx"],
               "secrets": ["finance/prod/*"], "actions": ["*"]})",
           R"({"id": "d", "effect": "deny", "principals": ["*"], "fabrics": ["prod"], "providers": ["dbx"],
               "secrets": ["fin ance/*"], "actions": ["*"]})"}) {
    EXPECT_THAT(LintOf(rule), ElementsAre(Warning("/rules/0", "never-matches", "none of its secret patterns can match")))
        << rule;
  }
  // The shapes that fit: two Vault segments or "**"; one Databricks segment, "**" too.
  for (const char* rule : {
           R"({"id": "d", "effect": "deny", "principals": ["*"], "fabrics": ["emr"], "providers": ["vault"],
               "secrets": ["secret/*/k", "secret/**/k", "**/k"], "actions": ["*"]})",
           R"({"id": "d", "effect": "deny", "principals": ["*"], "fabrics": ["prod"], "providers": ["dbx"],
               "secrets": ["fin*@x.y/k", "**/k"], "actions": ["*"]})"}) {
    EXPECT_THAT(LintOf(rule), IsEmpty()) << rule;
  }
  // Listing names a bare mount: "secret/*" (scope "secret") decides listing it.
  EXPECT_THAT(LintOf(R"({"id": "browse-mount", "effect": "allow", "principals": ["admin"], "fabrics": ["emr"],
                         "providers": ["vault"], "secrets": ["secret/*"], "actions": ["list"]})"),
              IsEmpty());
}

TEST(LintTest, GlobbedRuleOnManagedFabricOutsideItsScope) {
  EXPECT_THAT(LintOf(R"({"id": "a", "effect": "allow", "principals": ["x"], "fabrics": ["tri*"],
                         "providers": ["dbx"], "secrets": ["other/*"], "actions": ["resolve"]})"),
              ElementsAre(Warning("/rules/0", "never-matches", "a managed fabric reaches only its own scope")));
}

TEST(LintTest, DeadEntriesOfALiveRule) {
  EXPECT_THAT(LintOf(R"({"id": "a", "effect": "allow", "principals": ["x"], "fabrics": ["emr", "trial", "gcp-*"],
                         "providers": ["vault"], "secrets": ["*"], "actions": ["resolve"]})"),
              ElementsAre(Warning("/rules/0/fabrics/1", "entry-matches-nothing",
                                  "fabric entry 'trial' of rule 'a' cannot use any provider"),
                          Warning("/rules/0/fabrics/2", "entry-matches-nothing",
                                  "fabric entry 'gcp-*' of rule 'a' matches no defined fabric")));
}

TEST(LintTest, AllowOverriddenByBroaderDeny) {
  EXPECT_THAT(LintOf(R"({"id": "a", "effect": "allow", "principals": ["pipeline-etl"], "fabrics": ["emr"],
                         "providers": ["vault"], "secrets": ["secret/etl/db/*"], "actions": ["resolve"]},
                        {"id": "d", "effect": "deny", "principals": ["pipeline-*"], "fabrics": ["*"],
                         "providers": ["vault"], "secrets": ["secret/**/*"], "actions": ["resolve", "list"]})"),
              ElementsAre(Warning("/rules/0", "overridden",
                                  "allow rule 'a' never takes effect: deny rule 'd' (/rules/1) matches every "
                                  "request it matches")));
}

TEST(LintTest, PartialOverlapIsNotOverridden) {
  // The deny covers resolve only; the allow also lists. Not overridden.
  EXPECT_THAT(LintOf(R"({"id": "a", "effect": "allow", "principals": ["p"], "fabrics": ["emr"],
                         "providers": ["vault"], "secrets": ["secret/etl/*"], "actions": ["resolve", "list"]},
                        {"id": "d", "effect": "deny", "principals": ["*"], "fabrics": ["*"],
                         "providers": ["*"], "secrets": ["*"], "actions": ["resolve"]})"),
              IsEmpty());
  // The deny names a narrower secret pattern.
  EXPECT_THAT(LintOf(R"({"id": "a", "effect": "allow", "principals": ["p"], "fabrics": ["emr"],
                         "providers": ["vault"], "secrets": ["secret/etl/*"], "actions": ["resolve"]},
                        {"id": "d", "effect": "deny", "principals": ["*"], "fabrics": ["*"],
                         "providers": ["*"], "secrets": ["secret/etl/root*"], "actions": ["*"]})"),
              IsEmpty());
}

TEST(LintTest, AllowAll) {
  EXPECT_THAT(LintOf(R"({"id": "a", "effect": "allow", "principals": ["*"], "fabrics": ["emr"],
                         "providers": ["vault"], "secrets": ["*"], "actions": ["resolve"]})"),
              ElementsAre(Warning("/rules/0", "allow-all", "gives every principal every secret")));
}

TEST(LintTest, ExamplePolicyIsClean) {
  std::vector<Diagnostic> errors;
  auto p = LoadPolicyFile(std::string(KEYWARD_SOURCE_DIR) + "/examples/policy.json", &errors);
  ASSERT_THAT(p, IsOk());
  EXPECT_THAT(Lint(*p), IsEmpty());
}

}  // namespace
}  // namespace keyward::policy
