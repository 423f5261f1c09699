// keyward-policy, run as a user would: the built binary, its output and its exit codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "core/json.h"
#include "tests/support/subprocess.h"

namespace keyward {
namespace {

using ::keyward::testing::ProcessResult;
using ::keyward::testing::SourcePath;
using ::keyward::testing::TempDir;
using ::keyward::testing::ToolPath;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

ProcessResult Policy(std::vector<std::string> args) {
  args.insert(args.begin(), ToolPath("keyward-policy"));
  return ::keyward::testing::Run(args);
}

const std::string kExample = SourcePath("examples/policy.json");
const std::string kExampleCases = SourcePath("examples/policy.cases.json");

Json ParseOut(const ProcessResult& r) {
  auto j = ParseJson(r.out);
  EXPECT_TRUE(j.has_value()) << r.out;
  return j.has_value() ? *j : Json();
}

constexpr const char* kInvalidPolicy = R"({"format": "keyward-policy/1",
  "providers": [{"id": "dbx", "type": "databricks"}, {"id": "v", "type": "vault"}],
  "fabrics": [{"id": "emr", "kind": "emr", "providers": ["dbx"]}],
  "rules": [{"id": "r", "effect": "alow", "principals": ["p"], "fabrics": ["emr"], "providers": ["v"],
             "secrets": ["a/b"], "actions": ["resolve"]}]})";

constexpr const char* kPolicyWithWarning = R"({"format": "keyward-policy/1",
  "providers": [{"id": "v", "type": "vault"}, {"id": "unused", "type": "vault"}],
  "fabrics": [{"id": "emr", "kind": "emr", "providers": ["v"]}],
  "rules": [{"id": "r", "effect": "allow", "principals": ["p"], "fabrics": ["emr"], "providers": ["v"],
             "secrets": ["secret/a/*"], "actions": ["resolve"]}]})";

// --- check ---------------------------------------------------------------------------------------------

TEST(PolicyCliCheck, ValidPolicy) {
  const auto r = Policy({"check", kExample});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ContainsRegex("valid — 4 providers, 6 fabrics, 9 rules; version [0-9a-f]{64}"));
  EXPECT_THAT(r.err, IsEmpty());
}

TEST(PolicyCliCheck, InvalidPolicyListsEveryErrorWithItsPointer) {
  TempDir dir;
  const auto r = Policy({"check", dir.Write("bad.json", kInvalidPolicy)});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr(": 2 errors\n"));
  EXPECT_THAT(r.out, HasSubstr("error: /fabrics/0/providers/0: Databricks Secrets can be used only on databricks "
                               "fabrics: provider 'dbx' is databricks, fabric 'emr' is of kind emr\n"));
  EXPECT_THAT(r.out, HasSubstr("error: /rules/0/effect: expected \"allow\" or \"deny\", got 'alow'\n"));
}

TEST(PolicyCliCheck, JsonOutput) {
  TempDir dir;
  const auto r = Policy({"check", dir.Write("bad.json", kInvalidPolicy), "--json"});
  EXPECT_EQ(r.exit_code, 1);
  const Json j = ParseOut(r);
  EXPECT_EQ(j["valid"], false);
  ASSERT_EQ(j["errors"].size(), 2u);
  EXPECT_EQ(j["errors"][0]["pointer"], "/fabrics/0/providers/0");
  EXPECT_EQ(j["errors"][0]["kind"], "constraint");
  EXPECT_EQ(j["errors"][1]["pointer"], "/rules/0/effect");

  const auto ok = Policy({"check", kExample, "--json"});
  EXPECT_EQ(ok.exit_code, 0);
  const Json k = ParseOut(ok);
  EXPECT_EQ(k["valid"], true);
  EXPECT_EQ(k["rules"], 9);
  EXPECT_EQ(k["version"].get<std::string>().size(), 64u);
}

TEST(PolicyCliCheck, WarningsFailOnlyWithStrict) {
  TempDir dir;
  const std::string file = dir.Write("warn.json", kPolicyWithWarning);
  const auto lenient = Policy({"check", file});
  EXPECT_EQ(lenient.exit_code, 0);
  EXPECT_THAT(lenient.out, HasSubstr("warning: /providers/1: provider 'unused' is listed by no fabric"));
  EXPECT_THAT(lenient.out, HasSubstr("1 warning\n"));
  EXPECT_EQ(Policy({"check", file, "--strict"}).exit_code, 1);
  EXPECT_EQ(Policy({"check", kExample, "--strict"}).exit_code, 0);
}

TEST(PolicyCliCheck, UnreadableFile) {
  const auto r = Policy({"check", "/nonexistent/policy.json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot open /nonexistent/policy.json"));
}

TEST(PolicyCliCheck, NotJson) {
  TempDir dir;
  const auto r = Policy({"check", dir.Write("x.json", "{\"format\": keyward}")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("error: (document): invalid JSON at line 1, column 12"));
}

// --- explain -------------------------------------------------------------------------------------------

TEST(PolicyCliExplain, Allowed) {
  const auto r = Policy({"explain", kExample, "--principal", "pipeline-etl-daily", "--fabric", "emr-etl", "--secret",
                         "vault:secret/data-eng/snowflake/password", "--action", "resolve"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("decision     allow\n"));
  EXPECT_THAT(r.out, HasSubstr("decided by   rule etl-reads-snowflake — Nightly ETL pipelines read the Snowflake "
                               "credentials\n"));
  EXPECT_THAT(r.out, ContainsRegex("/rules/0 +allow +etl-reads-snowflake +<- decides"));
}

TEST(PolicyCliExplain, DeniedByConstraint) {
  const auto r = Policy({"explain", kExample, "--principal", "trial-user-acme", "--fabric", "trial-acme", "--secret",
                         "dbx-trial:trial-globex/openai-key", "--action", "resolve"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("decision     deny\n"));
  EXPECT_THAT(r.out, HasSubstr("decided by   built-in constraint managed-fabric-own-scope: managed fabrics may "
                               "access only their own scope\n"));
}

TEST(PolicyCliExplain, DenyWinsAndEveryMatchIsListed) {
  const auto r = Policy({"explain", kExample, "--principal", "admin-alice", "--fabric", "emr-etl", "--secret",
                         "vault:secret/data-eng/snowflake/root-password", "--action", "resolve", "--json"});
  EXPECT_EQ(r.exit_code, 0);
  const Json j = ParseOut(r);
  EXPECT_EQ(j["decision"], "deny");
  EXPECT_EQ(j["decided_by"], "rule:no-root-credentials");
  ASSERT_EQ(j["matched_rules"].size(), 2u);
  EXPECT_EQ(j["matched_rules"][0]["id"], "platform-admins");
  EXPECT_EQ(j["matched_rules"][1]["id"], "no-root-credentials");
  EXPECT_EQ(j["matched_rules"][1]["pointer"], "/rules/7");
  EXPECT_EQ(j["request"]["secret"], "vault:secret/data-eng/snowflake/root-password");
  EXPECT_TRUE(j["ref_error"].is_null());
}

TEST(PolicyCliExplain, DefaultDeny) {
  const auto r = Policy({"explain", kExample, "--principal", "stranger", "--fabric", "emr-etl", "--secret",
                         "vault:secret/data-eng/snowflake/password"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("decided by   default deny: no rule matched\n"));
  EXPECT_THAT(r.out, HasSubstr("matching rules: none\n"));
}

TEST(PolicyCliExplain, MalformedRefExplainsTheRule) {
  const auto r = Policy({"explain", kExample, "--principal", "pipeline-etl-daily", "--fabric", "emr-etl", "--secret",
                         "vault:secret/../sys/k", "--action", "resolve"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("built-in constraint invalid-secret-ref"));
  EXPECT_THAT(r.out, HasSubstr("vault path 'secret/../sys' has a '..' segment"));
}

TEST(PolicyCliExplain, UsageErrors) {
  const auto missing = Policy({"explain", kExample, "--principal", "p", "--secret", "vault:a/b/c"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("the option '--fabric' is required but missing"));
  const auto action = Policy({"explain", kExample, "--principal", "p", "--fabric", "f", "--secret", "vault:a/b/c",
                              "--action", "read"});
  EXPECT_EQ(action.exit_code, 2);
  EXPECT_THAT(action.err, HasSubstr("--action must be resolve, list, write or delete, got 'read'"));
  const auto secret = Policy({"explain", kExample, "--principal", "p", "--fabric", "f", "--secret", "nocolon"});
  EXPECT_EQ(secret.exit_code, 2);
  EXPECT_THAT(secret.err, HasSubstr("is not PROVIDER:SCOPE/KEY"));
}

TEST(PolicyCliExplain, InvalidPolicyIsReported) {
  TempDir dir;
  const auto r = Policy({"explain", dir.Write("bad.json", kInvalidPolicy), "--principal", "p", "--fabric", "emr",
                         "--secret", "v:secret/a/b"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("error: /rules/0/effect"));
}

// --- test ----------------------------------------------------------------------------------------------

TEST(PolicyCliTest, ExampleCasesPass) {
  const auto r = Policy({"test", kExample, kExampleCases});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("13 cases: 13 passed, 0 failed"));
}

TEST(PolicyCliTest, DecisionTablePasses) {
  const auto r = Policy({"test", SourcePath("policy/testdata/decision_table.policy.json"),
                         SourcePath("policy/testdata/decision_table.cases.json")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, ContainsRegex("([6-9][0-9]|[1-9][0-9][0-9]) cases: [0-9]+ passed, 0 failed"));
}

TEST(PolicyCliTest, FailingCaseIsShownWithTheActualDecision) {
  TempDir dir;
  const std::string cases = dir.Write("cases.json", R"({"cases": [
    {"name": "wrong on purpose", "principal": "pipeline-etl-daily", "fabric": "emr-etl",
     "secret": "vault:secret/data-eng/snowflake/password", "action": "resolve", "expect": "deny"},
    {"name": "right", "principal": "pipeline-etl-daily", "fabric": "emr-etl",
     "secret": "vault:secret/data-eng/snowflake/password", "action": "resolve", "expect": "allow"},
    {"name": "wrong rule", "principal": "pipeline-etl-daily", "fabric": "emr-etl",
     "secret": "vault:secret/data-eng/snowflake/password", "action": "resolve", "expect": "allow",
     "decided_by": "rule:platform-admins"}]})");
  const auto r = Policy({"test", kExample, cases});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("FAIL /cases/0 \"wrong on purpose\": pipeline-etl-daily on emr-etl, resolve "
                               "vault:secret/data-eng/snowflake/password: expected deny, got allow "
                               "(rule:etl-reads-snowflake)\n"));
  EXPECT_THAT(r.out, HasSubstr("FAIL /cases/2 \"wrong rule\""));
  EXPECT_THAT(r.out, Not(HasSubstr("\"right\"")));
  EXPECT_THAT(r.out, HasSubstr("3 cases: 1 passed, 2 failed"));

  const auto j = Policy({"test", kExample, cases, "--json"});
  EXPECT_EQ(j.exit_code, 1);
  const Json out = ParseOut(j);
  EXPECT_EQ(out["failed"], 2);
  EXPECT_EQ(out["results"][0]["actual_decided_by"], "rule:etl-reads-snowflake");
  EXPECT_EQ(out["results"][1]["passed"], true);
}

TEST(PolicyCliTest, MalformedCasesFile) {
  TempDir dir;
  const auto r = Policy({"test", kExample, dir.Write("cases.json", R"({"cases": [{"name": "x", "expect": "maybe"}]})")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("/cases/0/expect: expected \"allow\" or \"deny\", got 'maybe'"));
  EXPECT_THAT(r.err, HasSubstr("/cases/0: missing required field 'principal'"));
}

// --- general -------------------------------------------------------------------------------------------

TEST(PolicyCli, HelpDocumentsCommandsAndExitCodes) {
  const auto r = Policy({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("keyward-policy check FILE"));
  EXPECT_THAT(r.out, HasSubstr("Exit codes:"));
  EXPECT_THAT(r.out, HasSubstr("2  usage error"));
  const auto sub = Policy({"explain", "--help"});
  EXPECT_EQ(sub.exit_code, 0);
  EXPECT_THAT(sub.out, HasSubstr("--principal"));
}

TEST(PolicyCli, NoArgumentsOrUnknownCommandIsUsageError) {
  const auto none = Policy({});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("Usage:"));
  const auto unknown = Policy({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command 'frobnicate'"));
}

TEST(PolicyCli, Version) {
  const auto r = Policy({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, ContainsRegex("^keyward-policy [0-9]+\\.[0-9]+\\.[0-9]+\n$"));
}

}  // namespace
}  // namespace keyward
