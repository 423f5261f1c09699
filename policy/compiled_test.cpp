#include "policy/compiled.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/testing/status_matchers.h"
#include "policy/cases.h"
#include "policy/loader.h"
#include "policy/policy_store.h"
#include "policy/testing/synthetic_policy.h"

namespace keyward::policy {

// gtest prints parameters through ADL: this must live in PolicyCase's namespace.
void PrintTo(const PolicyCase& c, std::ostream* os) { *os << c.name; }

namespace {

using ::keyward::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

std::shared_ptr<const CompiledPolicy> CompileFile(const std::string& relative) {
  std::vector<Diagnostic> errors;
  auto p = LoadPolicyFile(std::string(KEYWARD_SOURCE_DIR) + "/" + relative, &errors);
  EXPECT_THAT(p, IsOk()) << (errors.empty() ? "" : errors[0].ToString());
  return p.has_value() ? CompiledPolicy::Compile(std::move(*p)) : nullptr;
}

std::vector<PolicyCase> CasesFile(const std::string& relative) {
  std::vector<Diagnostic> errors;
  auto c = LoadCasesFile(std::string(KEYWARD_SOURCE_DIR) + "/" + relative, &errors);
  EXPECT_THAT(c, IsOk()) << (errors.empty() ? "" : errors[0].ToString());
  return c.has_value() ? std::move(*c) : std::vector<PolicyCase>{};
}

AccessRequest RequestOf(const PolicyCase& c) {
  return AccessRequest{c.principal, c.fabric, c.secret.provider, c.secret.scope, c.secret.key, c.action};
}

// --- The decision table: policy/testdata/decision_table.{policy,cases}.json ---------------------------

class DecisionTableTest : public ::testing::TestWithParam<PolicyCase> {
 protected:
  static void SetUpTestSuite() { policy_ = CompileFile("policy/testdata/decision_table.policy.json"); }
  static void TearDownTestSuite() { policy_.reset(); }
  static std::shared_ptr<const CompiledPolicy> policy_;
};
std::shared_ptr<const CompiledPolicy> DecisionTableTest::policy_;

TEST_P(DecisionTableTest, Decides) {
  ASSERT_NE(policy_, nullptr);
  const PolicyCase& c = GetParam();
  ASSERT_TRUE(c.decided_by.has_value()) << "every row of the table pins what decides it";
  const AccessRequest req = RequestOf(c);
  const Decision d = policy_->Decide(req);
  EXPECT_EQ(EffectName(d.effect), EffectName(c.expect));
  EXPECT_EQ(DecidedByLabel(d), *c.decided_by);
  // The index and the full scan must agree on every row, and so must explain.
  const Decision scan = policy_->DecideByScan(req);
  EXPECT_EQ(DecidedByLabel(scan), DecidedByLabel(d));
  const auto ex = policy_->Explain(req);
  EXPECT_EQ(DecidedByLabel(ex.decision), DecidedByLabel(d));
  if (d.basis == Decision::Basis::kRule) {
    ASSERT_FALSE(ex.matched_rules.empty());
  }
}

std::vector<PolicyCase> TableCases() { return CasesFile("policy/testdata/decision_table.cases.json"); }

INSTANTIATE_TEST_SUITE_P(Table, DecisionTableTest, ::testing::ValuesIn(TableCases()),
                         [](const auto& test_param) {
                           std::string name;
                           for (const char ch : test_param.param.name) {
                             name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           }
                           return std::to_string(test_param.index) + "_" + name;
                         });

TEST(DecisionTableSizeTest, HasAtLeastSixtyCases) { EXPECT_GE(TableCases().size(), 60u); }

// --- Explain -----------------------------------------------------------------------------------------

TEST(ExplainTest, ListsEveryMatchingRuleInOrder) {
  auto p = CompileFile("policy/testdata/decision_table.policy.json");
  ASSERT_NE(p, nullptr);
  // etl-read (0), etl-deep (1) and deny-etl-root (2) all match; the deny decides.
  const auto ex = p->Explain(AccessRequest{"etl", "emr-1", "vault", "secret/etl", "root_pw", Action::kResolve});
  EXPECT_THAT(ex.matched_rules, ElementsAre(0u, 1u, 2u));
  EXPECT_EQ(DecidedByLabel(ex.decision), "rule:deny-etl-root");
  EXPECT_EQ(ex.constraint, nullptr);
}

TEST(ExplainTest, ShowsRulesThatAConstraintOverrides) {
  auto p = CompileFile("policy/testdata/decision_table.policy.json");
  ASSERT_NE(p, nullptr);
  const auto ex = p->Explain(AccessRequest{"ops", "emr-1", "env", "", "SPARK_HOME", Action::kWrite});
  EXPECT_EQ(ex.constraint, &constraint::kReadOnlyProvider);
  ASSERT_THAT(ex.matched_rules, SizeIs(1));
  EXPECT_EQ(p->policy().rules[ex.matched_rules[0]].id, "ops-write");
}

TEST(ExplainTest, CarriesTheReasonOfAnInvalidRef) {
  auto p = CompileFile("policy/testdata/decision_table.policy.json");
  ASSERT_NE(p, nullptr);
  const auto ex = p->Explain(AccessRequest{"etl", "emr-1", "vault", "secret/../x", "k", Action::kResolve});
  EXPECT_EQ(ex.constraint, &constraint::kInvalidSecretRef);
  EXPECT_THAT(ex.ref_status.message(), HasSubstr("'..' segment"));
}

TEST(DecisionTest, ReasonCarriesTheRuleDescription) {
  auto p = CompileFile("examples/policy.json");
  ASSERT_NE(p, nullptr);
  const Decision d = p->Decide(AccessRequest{"pipeline-etl-daily", "emr-etl", "vault", "secret/data-eng/snowflake",
                                             "password", Action::kResolve});
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.decided_by, "etl-reads-snowflake");
  EXPECT_EQ(d.reason, "Nightly ETL pipelines read the Snowflake credentials");
  EXPECT_EQ(p->version(), p->policy().version);
}

TEST(FabricsForTest, ListsTheFabricsAndProvidersAPrincipalIsGranted) {
  auto p = CompileFile("examples/policy.json");
  ASSERT_NE(p, nullptr);
  const auto fabrics = p->FabricsFor("trial-user-acme");
  ASSERT_EQ(fabrics.size(), 1u);
  EXPECT_EQ(fabrics[0].id, "trial-acme");
  EXPECT_TRUE(fabrics[0].managed);
  ASSERT_EQ(fabrics[0].providers.size(), 1u);
  EXPECT_EQ(fabrics[0].providers[0].id, "dbx-trial");
  // Pipelines may read the environment everywhere (runtime-environment), except on managed fabrics,
  // where the environment provider is not allowed at all.
  const auto etl = p->FabricsFor("pipeline-etl-daily");
  std::vector<std::string> ids;
  for (const auto& f : etl) ids.push_back(f.id);
  EXPECT_THAT(ids, ElementsAre("prod-databricks", "emr-etl", "livy-onprem"));
  EXPECT_TRUE(p->FabricsFor("nobody").empty());
  EXPECT_EQ(p->ProviderTypeOf("vault"), ProviderType::kVault);
  EXPECT_EQ(p->ProviderTypeOf("nope"), std::nullopt);
}

TEST(DecideScopeTest, AllowsWhereSomeAllowRuleCouldMatchBelowTheScope) {
  auto p = CompileFile("examples/policy.json");
  ASSERT_NE(p, nullptr);
  auto scope = [&](std::string_view principal, std::string_view fabric, std::string_view provider, std::string_view s) {
    return p->DecideScope(AccessRequest{principal, fabric, provider, s, "", Action::kList});
  };
  // platform-admins: secret/data-eng/**/* — the bare mount, the team path and anything below it.
  for (const char* s : {"secret", "secret/data-eng", "secret/data-eng/snowflake/deep"}) {
    const Decision d = scope("admin-alice", "emr-etl", "vault", s);
    EXPECT_TRUE(d.allowed()) << s;
    EXPECT_EQ(d.decided_by, "platform-admins") << s;
  }
  EXPECT_FALSE(scope("admin-alice", "emr-etl", "vault", "secret/other-team").allowed());
  EXPECT_EQ(scope("admin-alice", "emr-etl", "vault", "secret/other-team").basis, Decision::Basis::kNoMatch);
  // etl-reads-snowflake grants resolve, not list.
  EXPECT_FALSE(scope("pipeline-etl-daily", "emr-etl", "vault", "secret/data-eng/snowflake").allowed());
  // Databricks: scopes compare case-insensitively; "" (every scope) is valid for a non-managed fabric.
  EXPECT_TRUE(scope("pipeline-sales-sync", "prod-databricks", "dbx-prod", "SalesForce").allowed());
  EXPECT_TRUE(scope("pipeline-sales-sync", "prod-databricks", "dbx-prod", "").allowed());
  EXPECT_FALSE(scope("pipeline-sales-sync", "prod-databricks", "dbx-prod", "marketing").allowed());
  // A managed fabric may not list every scope, nor another fabric's: the constraint decides.
  EXPECT_EQ(scope("trial-user-acme", "trial-acme", "dbx-trial", "").decided_by, "managed-fabric-own-scope");
  EXPECT_EQ(scope("trial-user-acme", "trial-acme", "dbx-trial", "trial-globex").decided_by, "managed-fabric-own-scope");
  EXPECT_TRUE(scope("trial-user-acme", "trial-acme", "dbx-trial", "trial-acme").allowed());
  // The environment: one scope, "".
  EXPECT_TRUE(scope("pipeline-etl-daily", "emr-etl", "env", "").allowed());
  // Malformed scopes and unknown names are constraints, as in Decide.
  EXPECT_EQ(scope("admin-alice", "emr-etl", "vault", "").decided_by, "invalid-secret-ref");
  EXPECT_EQ(scope("admin-alice", "emr-etl", "vault", "secret/../x").decided_by, "invalid-secret-ref");
  EXPECT_EQ(scope("admin-alice", "nope", "vault", "secret").decided_by, "unknown-fabric");
  EXPECT_EQ(scope("admin-alice", "emr-etl", "nope", "secret").decided_by, "unknown-provider");
  EXPECT_EQ(scope("admin-alice", "dataproc-ml", "env", "").decided_by, "provider-not-on-fabric");
}

TEST(DecideScopeTest, ADenyRuleCoveringTheWholeSubtreeDeniesTheScope) {
  std::vector<Diagnostic> errors;
  auto parsed = ParsePolicy(R"({
    "format": "keyward-policy/1",
    "providers": [{"id": "vault", "type": "vault"}],
    "fabrics": [{"id": "emr", "kind": "emr", "providers": ["vault"]}],
    "rules": [
      {"id": "admins", "effect": "allow", "principals": ["admin"], "fabrics": ["*"], "providers": ["vault"],
       "secrets": ["secret/**/*"], "actions": ["list"]},
      {"id": "hr-is-off-limits", "effect": "deny", "principals": ["*"], "fabrics": ["*"], "providers": ["vault"],
       "secrets": ["secret/hr/**/*"], "actions": ["*"]},
      {"id": "no-root-keys", "effect": "deny", "principals": ["*"], "fabrics": ["*"], "providers": ["vault"],
       "secrets": ["secret/ops/**/root-*"], "actions": ["*"]}
    ]})",
                            &errors);
  ASSERT_THAT(parsed, IsOk()) << (errors.empty() ? "" : errors[0].ToString());
  const auto p = CompiledPolicy::Compile(std::move(*parsed));
  auto scope = [&](std::string_view s) {
    return p->DecideScope(AccessRequest{"admin", "emr", "vault", s, "", Action::kList});
  };
  // Everything in and below secret/hr is denied: the scope is, so the provider is never asked.
  EXPECT_EQ(scope("secret/hr").decided_by, "hr-is-off-limits");
  EXPECT_FALSE(scope("secret/hr/payroll/2026").allowed());
  // A deny rule that covers only some keys leaves the scope to be listed key by key.
  EXPECT_EQ(scope("secret/ops").decided_by, "admins");
  EXPECT_TRUE(scope("secret/ops").allowed());
  // Above the denied subtree the scope may be listed (its other parts are allowed).
  EXPECT_TRUE(scope("secret").allowed());
}

TEST(DecideScopeTest, DatabricksScopesAreFlatSoADenyOnAScopesKeysDeniesTheScope) {
  std::vector<Diagnostic> errors;
  auto parsed = ParsePolicy(R"({
    "format": "keyward-policy/1",
    "providers": [{"id": "dbx", "type": "databricks"}, {"id": "dbx2", "type": "databricks"}],
    "fabrics": [{"id": "prod", "kind": "databricks", "providers": ["dbx", "dbx2"]}],
    "rules": [
      {"id": "admins", "effect": "allow", "principals": ["admin"], "fabrics": ["*"], "providers": ["dbx", "dbx2"],
       "secrets": ["*/*"], "actions": ["*"]},
      {"id": "hr-is-off-limits", "effect": "deny", "principals": ["*"], "fabrics": ["*"], "providers": ["dbx"],
       "secrets": ["HR/*"], "actions": ["*"]},
      {"id": "no-root-keys", "effect": "deny", "principals": ["*"], "fabrics": ["*"], "providers": ["dbx"],
       "secrets": ["ops/root-*"], "actions": ["*"]},
      {"id": "dbx2-frozen", "effect": "deny", "principals": ["admin"], "fabrics": ["*"], "providers": ["dbx2"],
       "secrets": ["*/*"], "actions": ["*"]}
    ]})",
                            &errors);
  ASSERT_THAT(parsed, IsOk()) << (errors.empty() ? "" : errors[0].ToString());
  const auto p = CompiledPolicy::Compile(std::move(*parsed));
  auto scope = [&](std::string_view provider, std::string_view s) {
    return p->DecideScope(AccessRequest{"admin", "prod", provider, s, "", Action::kList});
  };
  // Every key of the scope is denied, and nothing is below a Databricks scope: the scope is denied
  // (in any case), so the provider is never asked, and it does not show among the scopes.
  EXPECT_EQ(scope("dbx", "hr").decided_by, "hr-is-off-limits");
  EXPECT_EQ(scope("dbx", "HR").decided_by, "hr-is-off-limits");
  // Some keys only: the scope is listed key by key.
  EXPECT_EQ(scope("dbx", "ops").decided_by, "admins");
  // Listing every scope is allowed unless a deny covers every scope.
  EXPECT_EQ(scope("dbx", "").decided_by, "admins");
  EXPECT_EQ(scope("dbx2", "").decided_by, "dbx2-frozen");
  EXPECT_EQ(scope("dbx2", "sales").decided_by, "dbx2-frozen");
  EXPECT_EQ(scope("dbx2", "no-such-scope").decided_by, "dbx2-frozen");
}

// --- The index must agree with the scan on arbitrary requests ----------------------------------------

TEST(DifferentialTest, IndexAgreesWithScanOnRandomRequests) {
  auto p = CompileFile("policy/testdata/decision_table.policy.json");
  ASSERT_NE(p, nullptr);
  const std::vector<std::string> principals = {"etl", "ops", "admin", "sales-east", "sales-intern", "intl",
                                               "trial-a-user", "trial-b-user", "nobody", ""};
  std::vector<std::string> fabrics;
  for (const FabricDef& f : p->policy().fabrics) fabrics.push_back(f.id);
  fabrics.push_back("unknown");
  std::vector<std::string> providers;
  for (const ProviderDef& pr : p->policy().providers) providers.push_back(pr.id);
  const std::vector<std::string> scopes = {"",         "secret/etl", "secret/etl/team", "kv/app",   "salesforce",
                                           "Shared",   "trial-a",    "TRIAL-A",         "trial-b",  "secret/intl",
                                           "shared-team", "secret/../x"};
  const std::vector<std::string> keys = {"db", "root", "root_pw", "SPARK_HOME", "DB_X", "api-1", "k", "clé-x", ""};
  std::mt19937 rng(99);
  auto pick = [&](const std::vector<std::string>& v) -> const std::string& {
    return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
  };
  int allowed = 0;
  for (int i = 0; i < 50000; ++i) {
    const AccessRequest req{pick(principals), pick(fabrics), pick(providers), pick(scopes), pick(keys),
                            kAllActions[std::uniform_int_distribution<std::size_t>(0, 3)(rng)]};
    const Decision a = p->Decide(req);
    const Decision b = p->DecideByScan(req);
    ASSERT_EQ(DecidedByLabel(a), DecidedByLabel(b))
        << req.principal << " " << req.fabric << " " << req.provider << ":" << req.scope << "/" << req.key << " "
        << ActionName(req.action);
    allowed += a.allowed() ? 1 : 0;
  }
  EXPECT_GT(allowed, 100);  // the random requests reach allow decisions, not only denials
}

TEST(DifferentialTest, IndexAgreesWithScanOnLargeSyntheticPolicies) {
  for (const std::size_t rules : {std::size_t{10}, std::size_t{1000}, std::size_t{3000}}) {
    const testing::SyntheticShape shape{.rules = rules, .fabrics = 100, .seed = 5};
    std::vector<Diagnostic> errors;
    auto p = ParsePolicy(testing::SyntheticPolicyJson(shape), &errors);
    ASSERT_THAT(p, IsOk()) << (errors.empty() ? "" : errors[0].ToString());
    const auto compiled = CompiledPolicy::Compile(std::move(*p));
    int allow = 0, deny_rule = 0;
    for (const auto& r : testing::SyntheticRequests(shape, 8000, 11)) {
      const Decision a = compiled->Decide(r.view());
      ASSERT_EQ(DecidedByLabel(a), DecidedByLabel(compiled->DecideByScan(r.view())))
          << r.principal << " " << r.fabric << " " << r.provider << ":" << r.scope << "/" << r.key;
      allow += a.allowed() ? 1 : 0;
      deny_rule += (!a.allowed() && a.basis == Decision::Basis::kRule) ? 1 : 0;
    }
    EXPECT_GT(allow, 800) << rules << " rules";  // the generator aims at real rules
    if (rules >= 1000) {
      EXPECT_GT(deny_rule, 20) << rules << " rules";
    }
  }
}

// --- Concurrency: readers decide while the policy is swapped -----------------------------------------

TEST(PolicyStoreTest, ReadersSeeWholeSnapshotsWhileReloading) {
  auto first = CompileFile("examples/policy.json");
  auto second = CompileFile("policy/testdata/decision_table.policy.json");
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  const std::string v1(first->version()), v2(second->version());
  PolicyStore store(first);
  constexpr int kReaders = 4, kPerReader = 5000;
  std::atomic<int> readers_done{0};
  std::atomic<long> decisions{0}, inconsistent{0}, swaps{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&] {
      for (int n = 0; n < kPerReader; ++n) {
        const auto snap = store.Current();
        // The same request decided twice against one snapshot gives the same answer, and the snapshot is
        // one of the two policies, whole.
        const AccessRequest req{"pipeline-etl-daily", "emr-etl", "vault", "secret/data-eng/snowflake", "password",
                                Action::kResolve};
        const Decision a = snap->Decide(req);
        const Decision b = snap->Decide(req);
        const std::string v(snap->version());
        if (DecidedByLabel(a) != DecidedByLabel(b) || (v != v1 && v != v2)) ++inconsistent;
        if (v == v1 && !a.allowed()) ++inconsistent;  // allowed by the example policy
        if (v == v2 && a.allowed()) ++inconsistent;   // unknown fabric in the table policy
        ++decisions;
      }
      ++readers_done;
    });
  }
  // Swap for as long as any reader runs, however the threads happen to be scheduled.
  do {
    store.Replace(swaps % 2 ? first : second);
    ++swaps;
    std::this_thread::yield();
  } while (readers_done.load() < kReaders);
  for (auto& r : readers) r.join();
  EXPECT_EQ(inconsistent.load(), 0);
  EXPECT_EQ(decisions.load(), kReaders * kPerReader);
  EXPECT_GT(swaps.load(), 0);
}

}  // namespace
}  // namespace keyward::policy
