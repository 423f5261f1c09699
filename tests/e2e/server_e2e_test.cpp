// keyward-server end to end: the built binary on a loopback port, the Vault and Databricks doubles and the
// server's environment as providers. Every scenario ends with `keyward-audit verify` passing on the log
// the server wrote, and no secret value in any byte the server wrote.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Transaction.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "core/json.h"
#include "tests/e2e/e2e_util.h"
#include "tests/e2e/server_fixture.h"

namespace keyward::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ServerE2eTest : public ::testing::Test {
 protected:
  void TearDown() override {
    const std::string problems = f_.VerifyAndScan();
    EXPECT_EQ(problems, "") << f_.server_stderr();
  }
  ServerFixture f_;
};

TEST_F(ServerE2eTest, ResolveAnAllowedBatchAcrossProviders) {
  f_.Start();
  const auto r = f_.Call("etl", "POST", "/v1/resolve",
                         ResolveBody("prod", {Ref("vault", "secret/etl", "db_password"), Ref("dbx", "sales", "salesforce"),
                                              Ref("env", "", "E2E_DB_PASSWORD")}));
  ASSERT_EQ(r.status, 200) << r.body;
  const Json j = Body(r);
  ASSERT_EQ(j["secrets"].size(), 3u);
  EXPECT_EQ(j["secrets"][0]["value"], f_.secret_values()[0]);
  EXPECT_EQ(j["secrets"][1]["value"], f_.secret_values()[4]);
  EXPECT_EQ(j["secrets"][2]["value"], f_.secret_values()[7]);
  EXPECT_EQ(j["audit"]["origin"], "keyward.e2e/log");
  EXPECT_EQ(j["audit"]["last_seq"].get<int>() - j["audit"]["first_seq"].get<int>(), 2);
  EXPECT_EQ(r.Header("cache-control"), "no-store");
  EXPECT_FALSE(r.Header("x-request-id").empty());
}

TEST_F(ServerE2eTest, DeniedAndMixedBatchesReleaseNothing) {
  f_.Start();
  const auto denied = f_.Call("etl", "POST", "/v1/resolve", ResolveBody("prod", {Ref("vault", "secret/app", "token")}));
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(Body(denied)["error"]["code"], "permission_denied");
  const auto mixed = f_.Call("etl", "POST", "/v1/resolve",
                             ResolveBody("prod", {Ref("vault", "secret/etl", "db_password"),
                                                  Ref("vault", "secret/etl", "forbidden_root")}));
  ASSERT_EQ(mixed.status, 403);
  const Json e = Body(mixed)["error"];
  ASSERT_EQ(e["denied"].size(), 1u);
  EXPECT_EQ(e["denied"][0]["key"], "forbidden_root");
  EXPECT_EQ(e["denied"][0]["decided_by"], "rule:no-forbidden");
  EXPECT_THAT(mixed.body, Not(HasSubstr(f_.secret_values()[0])));  // the allowed one is not released either
  EXPECT_EQ(f_.vault().CountRequests("GET", "/v1/secret/data/etl"), 0);  // nothing was fetched
}

TEST_F(ServerE2eTest, ManagedFabricReadsItsOwnScopeOnly) {
  f_.Start();
  const auto own = f_.Call("trial-a-user", "POST", "/v1/resolve", ResolveBody("trial-a", {Ref("dbx-trial", "trial-a", "k")}));
  ASSERT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(Body(own)["secrets"][0]["value"], f_.secret_values()[5]);
  const auto other = f_.Call("trial-a-user", "POST", "/v1/resolve", ResolveBody("trial-a", {Ref("dbx-trial", "trial-b", "k")}));
  ASSERT_EQ(other.status, 403);
  EXPECT_EQ(Body(other)["error"]["denied"][0]["decided_by"], "constraint:managed-fabric-own-scope");
}

TEST_F(ServerE2eTest, ListIsFilteredByPolicyAndNeverCarriesValues) {
  f_.Start();
  const auto r = f_.Call("etl", "GET", "/v1/fabrics/prod/secrets?provider=vault&scope=secret/etl");
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<std::string> keys;
  const Json listed = Body(r);  // (not `for (... : Body(r)["secrets"])`: the temporary would be gone)
  for (const auto& s : listed["secrets"]) keys.push_back(s["key"]);
  EXPECT_THAT(keys, ::testing::UnorderedElementsAre("api_key", "db_password"));  // not forbidden_root
  for (const std::string& v : f_.secret_values()) EXPECT_THAT(r.body, Not(HasSubstr(v)));
  EXPECT_TRUE(listed["scopes"].empty());
  const auto fabrics = f_.Call("etl", "GET", "/v1/fabrics");
  ASSERT_EQ(fabrics.status, 200);
  EXPECT_EQ(Body(fabrics)["fabrics"].size(), 2u);  // prod and emr
  // A bare mount lists the scopes below it under which something may be listed: etl's, not app's.
  const auto mount = f_.Call("etl", "GET", "/v1/fabrics/prod/secrets?provider=vault&scope=secret");
  ASSERT_EQ(mount.status, 200) << mount.body;
  EXPECT_EQ(Body(mount)["scopes"], Json::parse(R"([{"provider":"vault","scope":"secret/etl"}])"));
  EXPECT_TRUE(Body(mount)["secrets"].empty());
  const auto admin_mount = f_.Call("admin", "GET", "/v1/fabrics/prod/secrets?provider=vault&scope=secret");
  ASSERT_EQ(admin_mount.status, 200) << admin_mount.body;
  EXPECT_EQ(Body(admin_mount)["scopes"], Json::parse(R"([{"provider":"vault","scope":"secret/app"}])"));
  // Where no rule lets etl list anything, the provider is not asked: a scope that exists and one that
  // does not get the same 403.
  const int vault_lists = f_.vault().CountRequests("GET", "/v1/secret/metadata");
  const auto app = f_.Call("etl", "GET", "/v1/fabrics/prod/secrets?provider=vault&scope=secret/app");
  const auto nothing = f_.Call("etl", "GET", "/v1/fabrics/prod/secrets?provider=vault&scope=secret/nothing");
  EXPECT_EQ(app.status, 403);
  EXPECT_EQ(nothing.status, 403);
  EXPECT_EQ(Body(app)["error"]["code"], "permission_denied");
  EXPECT_EQ(f_.vault().CountRequests("GET", "/v1/secret/metadata"), vault_lists);
  // Databricks without a scope lists the scopes; etl may resolve in sales but not list: refused.
  EXPECT_EQ(f_.Call("etl", "GET", "/v1/fabrics/prod/secrets?provider=dbx").status, 403);
  const auto provider = f_.Call("etl", "GET", "/v1/fabrics/prod/secrets");
  EXPECT_EQ(provider.status, 400);
  EXPECT_THAT(Body(provider)["error"]["message"].get<std::string>(), HasSubstr("(here: vault, dbx, env)"));
}

TEST_F(ServerE2eTest, WriteAndDeleteThroughVaultAndDatabricks) {
  f_.AddSecretValue("NEW-VAULT-VALUE-31415926");
  f_.AddSecretValue("NEW-DBX-VALUE-27182818");
  f_.Start();
  const auto w = f_.Call("admin", "PUT", "/v1/fabrics/prod/secrets/vault/secret/app/extra", R"({"value":"NEW-VAULT-VALUE-31415926"})");
  ASSERT_EQ(w.status, 200) << w.body;
  EXPECT_EQ(f_.vault().Get("secret/", "app")->at("extra"), "NEW-VAULT-VALUE-31415926");
  EXPECT_EQ(f_.vault().Get("secret/", "app")->at("token"), f_.secret_values()[3]);  // the rest of the map kept
  const auto d = f_.Call("admin", "DELETE", "/v1/fabrics/prod/secrets/vault/secret/app/extra");
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_FALSE(f_.vault().Get("secret/", "app")->contains("extra"));
  const auto dw = f_.Call("admin", "PUT", "/v1/fabrics/prod/secrets/dbx/admin-scope/k", R"({"value":"NEW-DBX-VALUE-27182818"})");
  ASSERT_EQ(dw.status, 200) << dw.body;
  EXPECT_EQ(f_.databricks().Secret("admin-scope", "k"), "NEW-DBX-VALUE-27182818");
  const auto dd = f_.Call("admin", "DELETE", "/v1/fabrics/prod/secrets/dbx/admin-scope/k");
  ASSERT_EQ(dd.status, 200) << dd.body;
  EXPECT_EQ(f_.databricks().Secret("admin-scope", "k"), std::nullopt);
  // A write the policy does not allow never reaches the provider.
  const int before = f_.vault().CountRequests("POST", "/v1/secret/data/etl");
  EXPECT_EQ(f_.Call("etl", "PUT", "/v1/fabrics/prod/secrets/vault/secret/etl/db_password", R"({"value":"x"})").status, 403);
  EXPECT_EQ(f_.vault().CountRequests("POST", "/v1/secret/data/etl"), before);
}

TEST_F(ServerE2eTest, EnvironmentWriteIs405) {
  f_.Start();
  const auto r = f_.Call("admin", "PUT", "/v1/fabrics/prod/secrets/env/E2E_DB_PASSWORD", R"({"value":"x"})");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Body(r)["error"]["code"], "unimplemented");
  EXPECT_THAT(Body(r)["error"]["message"].get<std::string>(), HasSubstr("read-only"));
  ASSERT_TRUE(r.headers.count("allow"));
  EXPECT_EQ(r.Header("allow"), "");  // RFC 9110 §15.5.6: it allows no method here
  EXPECT_EQ(f_.Call("admin", "DELETE", "/v1/fabrics/prod/secrets/env/E2E_DB_PASSWORD").status, 405);
}

TEST_F(ServerE2eTest, UnknownFabricProviderAndPrincipal) {
  f_.Start();
  const auto fabric = f_.Call("etl", "POST", "/v1/resolve", ResolveBody("nope", {Ref("vault", "secret/etl", "db_password")}));
  EXPECT_EQ(fabric.status, 404);
  EXPECT_EQ(Body(fabric)["error"]["code"], "not_found");
  const auto provider = f_.Call("etl", "POST", "/v1/resolve", ResolveBody("prod", {Ref("nope", "secret/etl", "db_password")}));
  EXPECT_EQ(provider.status, 404);
  const auto principal = f_.Call("other", "POST", "/v1/resolve", ResolveBody("prod", {Ref("vault", "secret/etl", "db_password")}));
  EXPECT_EQ(principal.status, 403);
  EXPECT_EQ(Body(principal)["error"]["denied"][0]["decided_by"], "default");
}

TEST_F(ServerE2eTest, TwoAuthorizationHeadersAreRefusedWhateverTheyHold) {
  f_.Start();
  const std::string good = "Bearer " + f_.token("etl");
  for (const auto& second : {good, std::string("Bearer kw_not-a-real-token")}) {
    auto r = testing::Http(f_.port(), "GET", "/v1/fabrics", {{"Authorization", good}, {"Authorization", second}});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(Body(*r)["error"]["message"], "more than one Authorization header");
  }
  auto one = testing::Http(f_.port(), "GET", "/v1/fabrics", {{"Authorization", good}});
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->status, 200);
}

TEST_F(ServerE2eTest, MissingAndBadTokens) {
  f_.Start();
  // The scheme is case-insensitive (RFC 9110 §11.1).
  auto lower = testing::Http(f_.port(), "GET", "/v1/fabrics", {{"Authorization", "bearer  " + f_.token("etl")}});
  ASSERT_TRUE(lower.has_value());
  EXPECT_EQ(lower->status, 200);
  const auto none = f_.Call("", "POST", "/v1/resolve", ResolveBody("prod", {Ref("vault", "secret/etl", "db_password")}));
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(Body(none)["error"]["code"], "unauthenticated");
  auto bad = testing::Http(f_.port(), "GET", "/v1/fabrics", {{"Authorization", "Bearer kw_not-a-real-token"}});
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, 401);
  EXPECT_EQ(Body(*bad)["error"]["message"], "unknown token");
  // max_failures is 5 here: the 5th failure is answered 429 and recorded as "throttled"; after it the
  // address is refused without being checked or recorded.
  std::vector<int> statuses;
  for (int i = 0; i < 6; ++i) {
    auto r = testing::Http(f_.port(), "GET", "/v1/fabrics", {{"Authorization", "Bearer wrong-" + std::to_string(i)}});
    ASSERT_TRUE(r.has_value());
    statuses.push_back(r->status);
    if (r->status == 429) {
      EXPECT_EQ(Body(*r)["error"]["code"], "resource_exhausted");
      EXPECT_EQ(r->Header("retry-after"), "60");
    }
  }
  EXPECT_THAT(statuses, ::testing::ElementsAre(401, 401, 429, 429, 429, 429));
  // Even the right token is refused from a blocked address until the block ends.
  EXPECT_EQ(f_.Call("etl", "GET", "/v1/fabrics").status, 429);
  std::vector<std::string> reasons;
  for (const auto& e : f_.AuditEntries()) {
    if (e.record.action == "authenticate") reasons.push_back(e.record.reason);
  }
  EXPECT_THAT(reasons, ::testing::ElementsAre("unauthenticated", "unauthenticated", "unauthenticated", "unauthenticated",
                                              "throttled"));
}

TEST_F(ServerE2eTest, MalformedRequestsGetPreciseErrors) {
  f_.config()["limits"]["max_body_bytes"] = 4096;
  f_.config()["limits"]["max_refs_per_request"] = 5;
  f_.Start();
  auto code = [&](const testing::HttpReply& r) { return Body(r)["error"]["code"].get<std::string>(); };
  const auto bad_json = f_.Call("etl", "POST", "/v1/resolve", R"({"fabric": "prod", "secrets": [)");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(code(bad_json), "invalid_argument");
  const auto bad_utf8 = f_.Call("etl", "POST", "/v1/resolve", "{\"fabric\": \"pr\xC3\x28od\", \"secrets\": []}");
  EXPECT_EQ(bad_utf8.status, 400);
  EXPECT_THAT(Body(bad_utf8)["error"]["message"].get<std::string>(), HasSubstr("UTF-8"));
  // Refused by the server before the API sees it, yet in the API's shape and with the client's request id.
  const auto big = testing::Http(f_.port(), "POST", "/v1/resolve", {{"X-Request-Id", "big-1"}}, std::string(5000, ' '));
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(big->headers.at("x-request-id"), "big-1");
  EXPECT_EQ(Body(*big)["error"]["code"], "invalid_argument");
  EXPECT_EQ(Body(*big)["error"]["request_id"], "big-1");
  std::vector<Json> many;
  for (int i = 0; i < 6; ++i) many.push_back(Ref("env", "", "E2E_DB_PASSWORD"));
  const auto too_many = f_.Call("etl", "POST", "/v1/resolve", ResolveBody("prod", many));
  EXPECT_EQ(too_many.status, 400);
  EXPECT_THAT(Body(too_many)["error"]["message"].get<std::string>(), HasSubstr("too many secrets: 6 (at most 5"));
  const auto none = f_.Call("etl", "POST", "/v1/resolve", R"({"fabric": "prod", "secrets": []})");
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(Body(none)["error"]["message"], "/secrets: expected at least one element");  // no policy-language hint
  const auto wrong_type = f_.Call("etl", "POST", "/v1/resolve", R"({"fabric": 7, "secrets": [{"provider": "env", "key": "X"}]})");
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_THAT(Body(wrong_type)["error"]["message"].get<std::string>(), HasSubstr("/fabric: expected a string"));
  const auto dotdot = f_.Call("etl", "POST", "/v1/resolve", ResolveBody("prod", {Ref("vault", "secret/../sys", "x")}));
  EXPECT_EQ(dotdot.status, 400);
  EXPECT_THAT(dotdot.body, HasSubstr("'..' segment"));
  auto header = testing::Http(f_.port(), "GET", "/v1/fabrics", {{"X-Padding", std::string(20000, 'a')}});
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->status, 431);
  EXPECT_THAT(header->headers.at("x-request-id"), ::testing::StartsWith("kw-"));  // the header was never read
  EXPECT_EQ(Body(*header)["error"]["request_id"], header->headers.at("x-request-id"));
  EXPECT_EQ(f_.Call("etl", "GET", "/v1/nothing-here").status, 404);
  const auto get_resolve = f_.Call("etl", "GET", "/v1/resolve");
  EXPECT_EQ(get_resolve.status, 405);
  EXPECT_EQ(get_resolve.Header("allow"), "POST");
  // Percent-encoded bytes that are not UTF-8: a 400, before anything else.
  const auto not_utf8 = f_.Call("etl", "GET", "/v1/fabrics/%FF/secrets?provider=env");
  EXPECT_EQ(not_utf8.status, 400);
  EXPECT_THAT(Body(not_utf8)["error"]["message"].get<std::string>(), HasSubstr("not valid UTF-8"));
  EXPECT_EQ(f_.Call("etl", "GET", "/v1/fabrics/prod/secrets?provider=%C3%28").status, 400);
  EXPECT_EQ(f_.Call("etl", "GET", "/v1/fabrics/prod/secrets?provider=%4").status, 400);
  // The absolute form of the request target is accepted (RFC 9112 §3.2.2).
  EXPECT_EQ(f_.Call("etl", "GET", "http://keyward.example/v1/fabrics").status, 200);
  // The server still serves.
  EXPECT_EQ(f_.Call("etl", "POST", "/v1/resolve", ResolveBody("prod", {Ref("env", "", "E2E_DB_PASSWORD")})).status, 200);
}

TEST_F(ServerE2eTest, AStalledProviderDoesNotStallOtherRequests) {
  f_.Start();
  f_.vault().server().SetFault(doubles::Fault::kStall);
  const auto started = std::chrono::steady_clock::now();
  auto stalled = std::async(std::launch::async, [&] {
    return f_.Call("etl", "POST", "/v1/resolve", ResolveBody("prod", {Ref("vault", "secret/etl", "db_password")}));
  });
  // While the Vault call hangs, other requests are answered.
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(f_.Call("etl", "POST", "/v1/resolve", ResolveBody("prod", {Ref("env", "", "E2E_DB_PASSWORD")})).status, 200);
  }
  EXPECT_EQ(stalled.wait_for(std::chrono::seconds(0)), std::future_status::timeout);  // still waiting for Vault
  const auto r = stalled.get();
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "deadline_exceeded");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(15));  // the 3 s deadline, generously
  f_.vault().server().SetFault(doubles::Fault::kNone);
}

TEST_F(ServerE2eTest, NoValueLeavesWhenTheAuditLogCannotWrite) {
  f_.Start();
  ASSERT_EQ(f_.Call("etl", "POST", "/v1/resolve", ResolveBody("prod", {Ref("env", "", "E2E_DB_PASSWORD")})).status, 200);
  {
    // Another process holds the database's write lock: the server cannot record, so it must not answer.
    SQLite::Database db(f_.db(), SQLite::OPEN_READWRITE);
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    const auto r = f_.Call("etl", "POST", "/v1/resolve", ResolveBody("prod", {Ref("env", "", "E2E_DB_PASSWORD")}));
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(Body(r)["error"]["code"], "unavailable");
    EXPECT_THAT(r.body, Not(HasSubstr(f_.secret_values()[7])));
    EXPECT_EQ(f_.Call("", "GET", "/readyz").status, 503);
  }
  // The lock is gone: the server records and answers again by itself.
  EXPECT_EQ(f_.Call("etl", "POST", "/v1/resolve", ResolveBody("prod", {Ref("env", "", "E2E_DB_PASSWORD")})).status, 200);
  EXPECT_EQ(f_.Call("", "GET", "/readyz").status, 200);
}

TEST_F(ServerE2eTest, SighupReloadsAGoodPolicyAndKeepsTheOldOneOnABadOne) {
  f_.Start();
  const std::string body = ResolveBody("prod", {Ref("vault", "secret/app", "token")});
  EXPECT_EQ(f_.Call("etl", "POST", "/v1/resolve", body).status, 403);
  // A policy that lets etl read secret/app too.
  std::string next = f_.policy();
  next.replace(next.find(R"("secrets": ["secret/etl/*"])"), 27, R"("secrets": ["secret/etl/*", "secret/app/*"])");
  f_.WritePolicy(next);
  f_.Signal(SIGHUP);
  ASSERT_TRUE(f_.WaitForLog("policy reloaded"));
  EXPECT_EQ(f_.Call("etl", "POST", "/v1/resolve", body).status, 200);
  // A broken policy: the server keeps the one in force.
  f_.WritePolicy(R"({"format": "keyward-policy/1", "providers": [], "fabrics": [], "rules": [], "typo": 1})");
  f_.Signal(SIGHUP);
  ASSERT_TRUE(f_.WaitForLog("policy reload failed"));
  EXPECT_EQ(f_.Call("etl", "POST", "/v1/resolve", body).status, 200);
  EXPECT_EQ(f_.Stop(), 0);
  const auto show = testing::Run({testing::ToolPath("keyward-audit"), "show", f_.db(), "--json"});
  auto entries = ParseJson(show.out);
  ASSERT_TRUE(entries.has_value());
  int reload_ok = 0, reload_failed = 0;
  for (const auto& e : *entries) {
    if (e["action"] == "policy.reload") (e["decision"] == "allow" ? reload_ok : reload_failed)++;
  }
  EXPECT_EQ(reload_ok, 1);
  EXPECT_EQ(reload_failed, 1);
}

TEST_F(ServerE2eTest, SigtermLetsRequestsInFlightFinish) {
  f_.Start();
  f_.vault().server().SetFault(doubles::Fault::kStall, 1);
  auto in_flight = std::async(std::launch::async, [&] {
    return f_.Call("etl", "POST", "/v1/resolve", ResolveBody("prod", {Ref("vault", "secret/etl", "db_password")}));
  });
  // Wait until the request is in the server (the double has it), then ask the server to stop.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (f_.vault().server().requests() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_GT(f_.vault().server().requests(), 0);
  f_.Signal(SIGTERM);
  const auto r = in_flight.get();
  EXPECT_EQ(f_.Stop(), 0);
  EXPECT_EQ(r.status, 504) << f_.server_stderr();  // answered (by its deadline), not dropped
  EXPECT_THAT(f_.server_stderr(), HasSubstr("received SIGTERM: stopping"));
  // The final checkpoint covers everything, including the stop event.
  const auto show = testing::Run({testing::ToolPath("keyward-audit"), "checkpoint", f_.db()});
  const auto all = testing::Run({testing::ToolPath("keyward-audit"), "show", f_.db(), "--json"});
  auto entries = ParseJson(all.out);
  ASSERT_TRUE(entries.has_value());
  EXPECT_EQ(entries->back()["action"], "server.stop");
  EXPECT_THAT(show.out, HasSubstr("\n" + std::to_string(entries->size()) + "\n"));
}

TEST_F(ServerE2eTest, HealthReadinessMetricsAndCheckpoint) {
  f_.Start();
  EXPECT_EQ(f_.Call("", "GET", "/healthz").status, 200);
  const auto ready = f_.Call("", "GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(Body(ready)["checks"]["providers"]["vault"], "ok");
  // /readyz is public: it must not let anyone make keyward call its providers at will.
  const int health_calls = f_.vault().CountRequests("GET", "/v1/sys/health");
  EXPECT_EQ(health_calls, 1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(f_.Call("", "GET", "/readyz").status, 200);
  EXPECT_EQ(f_.vault().CountRequests("GET", "/v1/sys/health"), health_calls);
  ASSERT_EQ(f_.Call("etl", "POST", "/v1/resolve", ResolveBody("prod", {Ref("vault", "secret/etl", "db_password")})).status, 200);
  const auto metrics = f_.Call("", "GET", "/metrics");
  EXPECT_THAT(metrics.body, HasSubstr("keyward_http_requests_total{route=\"resolve\",status=\"200\"} 1"));
  EXPECT_THAT(metrics.body, HasSubstr("keyward_decisions_total{outcome=\"allow\"}"));
  EXPECT_THAT(metrics.body, HasSubstr("keyward_provider_duration_seconds_count{provider=\"vault\"} 1"));
  EXPECT_THAT(metrics.body, HasSubstr("keyward_audit_entries "));
  EXPECT_THAT(metrics.body, ::testing::ContainsRegex("keyward_audit_bytes [1-9][0-9]+\n"));
  EXPECT_THAT(metrics.body, Not(HasSubstr("db_password")));  // no key names in metrics
  // The checkpoint: signed, for this origin (a checkpoint is signed every 200 ms while the log grows).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  testing::HttpReply cp;
  do {
    cp = f_.Call("", "GET", "/v1/audit/checkpoint");
  } while (cp.status != 200 && std::chrono::steady_clock::now() < give_up);
  EXPECT_EQ(cp.status, 200);
  EXPECT_THAT(cp.body, ::testing::StartsWith("keyward.e2e/log\n"));
}

TEST_F(ServerE2eTest, ClientRequestIdIsEchoed) {
  f_.Start();
  auto headers = f_.Auth("etl");
  headers.emplace_back("X-Request-Id", "pipeline-run-42.step-3");
  auto r = testing::Http(f_.port(), "GET", "/v1/fabrics", headers);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->Header("x-request-id"), "pipeline-run-42.step-3");
  headers.back().second = "bad id with spaces";
  r = testing::Http(f_.port(), "GET", "/v1/fabrics", headers);
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->Header("x-request-id"), "bad id with spaces");
  EXPECT_FALSE(r->Header("x-request-id").empty());
}

TEST_F(ServerE2eTest, KeepAliveAndPipelining) {
  f_.Start();
  auto conn = testing::HttpConnection::Connect(f_.port());
  ASSERT_TRUE(conn.has_value());
  const std::string body = ResolveBody("prod", {Ref("env", "", "E2E_DB_PASSWORD")});
  for (int i = 0; i < 5; ++i) {
    auto r = (*conn)->Request("POST", "/v1/resolve", f_.Auth("etl"), body);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  // Two requests sent back to back are answered in order.
  std::string two;
  for (const char* id : {"first", "second"}) {
    two += "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + std::string(id) + "\r\n\r\n";
  }
  ASSERT_TRUE((*conn)->Send(two).ok());
  auto a = (*conn)->ReadReply();
  auto b = (*conn)->ReadReply();
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->Header("x-request-id"), "first");
  EXPECT_EQ(b->Header("x-request-id"), "second");
}

TEST_F(ServerE2eTest, CheckModeValidatesWithoutServing) {
  f_.Start();
  EXPECT_EQ(f_.Stop(), 0);
  const auto ok = testing::Run({testing::ToolPath("keyward-server"), "--config", f_.dir() + "/config.json", "--check"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("valid"));
  f_.config()["limits"]["max_refs_per_request"] = "many";
  f_.config()["surprise"] = true;
  ::keyward::testing::TempDir d;
  const std::string bad = d.Write("config.json", f_.config().dump());
  const auto r = testing::Run({testing::ToolPath("keyward-server"), "--config", bad, "--check"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("error: /limits/max_refs_per_request: expected an integer"));
  EXPECT_THAT(r.err, HasSubstr("error: /surprise: unknown field"));
}

}  // namespace
}  // namespace keyward::e2e
