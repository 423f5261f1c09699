// The Vault adapter against VaultDouble: every operation on KV v1 and v2, namespaces, token and
// AppRole auth with renewal, and every error mapping, each asserting the exact StatusCode.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <future>

#include "core/testing/status_matchers.h"
#include "providers/vault_provider.h"
#include "tests/doubles/vault_double.h"
#include "tests/providers/wait.h"
#include "tests/support/subprocess.h"

namespace keyward::providers {
namespace {

using ::keyward::doubles::Fault;
using ::keyward::doubles::VaultDouble;
using ::keyward::testing::GetAndWait;
using ::keyward::testing::GetManyAndWait;
using ::keyward::testing::HealthAndWait;
using ::keyward::testing::In;
using ::keyward::testing::IsOk;
using ::keyward::testing::ListAndWait;
using ::keyward::testing::Names;
using ::keyward::testing::PutAndWait;
using ::keyward::testing::RemoveAndWait;
using ::keyward::testing::StatusIs;
using ::keyward::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

class VaultTest : public ::testing::Test {
 protected:
  VaultTest() {
    vault_.Mount("secret", 2);
    vault_.Mount("kv", 1);
    vault_.Mount("empty", 2);
    vault_.Mount("secret", 2, "team-a");
    token_ = vault_.CreateToken(3600);
    setenv("KWTEST_VAULT_TOKEN", token_.c_str(), 1);
    vault_.Put("secret", "app/db", Json{{"user", "app"}, {"password", "pw-v2"}, {"port", 5432}, {"opts", {{"ssl", true}}}});
    vault_.Put("kv", "app/db", Json{{"user", "legacy"}, {"password", "pw-v1"}});
  }

  VaultOptions Options(VaultAuthOptions auth) {
    VaultOptions o;
    o.id = "vault-test";
    o.origin = *http::ParseUrl(vault_.url());
    o.auth = std::move(auth);
    o.http.allow_plain_http = true;
    o.http.retry = http::RetryPolicy{4, http::Millis(2), http::Millis(10)};
    o.clock = [this] { return std::chrono::steady_clock::now() + std::chrono::seconds(skew_s_.load()); };
    return o;
  }

  static VaultAuthOptions TokenAuth(const std::string& token) {
    VaultAuthOptions a;
    a.method = VaultAuthOptions::Method::kToken;
    a.token = SecretValue(token);
    a.token_source = CredentialSource{CredentialSource::Kind::kEnv, "KWTEST_VAULT_TOKEN"};
    return a;
  }

  static VaultAuthOptions AppRole(const std::string& role, const std::string& secret) {
    VaultAuthOptions a;
    a.method = VaultAuthOptions::Method::kAppRole;
    a.role_id = SecretValue(role);
    a.secret_id = SecretValue(secret);
    return a;
  }

  std::unique_ptr<RemoteProvider> Make(VaultOptions o) {
    auto p = MakeVaultProvider(runtime_, std::move(o));
    EXPECT_THAT(p, IsOk());
    return std::move(*p);
  }
  std::unique_ptr<RemoteProvider> Make() { return Make(Options(TokenAuth(token_))); }

  // Runs one get so that the token is looked up and the mount cached: later faults hit the data call.
  void WarmUp(Provider& p) { ASSERT_THAT(GetAndWait(p, "secret/app/db", "user"), IsOk()); }

  void Advance(std::int64_t seconds) { skew_s_ += seconds; }

  // An AppRole provider (tokens of 1200 s) that has logged in once.
  std::unique_ptr<RemoteProvider> LoggedInWithAppRole() {
    vault_.AddAppRole("role-1", "secret-1", 1200);
    auto p = Make(Options(AppRole("role-1", "secret-1")));
    EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
    return p;
  }
  // A provider whose token is read from the file at `path`, warmed up.
  std::unique_ptr<RemoteProvider> WarmedUpWithTokenFile(const std::string& path) {
    VaultAuthOptions auth = TokenAuth(token_);
    auth.token_source = CredentialSource{CredentialSource::Kind::kFile, path};
    auto p = Make(Options(std::move(auth)));
    WarmUp(*p);
    return p;
  }
  // A provider whose token is read from the file at `path`, after Vault revoked that token and the
  // provider found out (an operation failed as unauthenticated).
  std::unique_ptr<RemoteProvider> WithItsFileTokenRevoked(const std::string& path) {
    auto p = WarmedUpWithTokenFile(path);
    vault_.RevokeToken(token_);
    EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"), StatusIs(StatusCode::kUnauthenticated));
    return p;
  }
  // As an agent does: a new token, written to the file at `path`. Returns it.
  std::string RotateTokenIn(const std::string& path) {
    const std::string rotated = vault_.CreateToken(3600);
    std::ofstream(path) << rotated << "\n";
    return rotated;
  }
  void ExpectRenewalsAndLogins(int renewals, int logins) {
    EXPECT_EQ(vault_.CountRequests("POST", "/v1/auth/token/renew-self"), renewals);
    EXPECT_EQ(vault_.CountRequests("POST", "/v1/auth/approle/login"), logins);
  }

  VaultDouble vault_;
  std::shared_ptr<http::IoRuntime> runtime_ = http::IoRuntime::Start();
  std::string token_;
  std::atomic<std::int64_t> skew_s_{0};
};

// --- get ---------------------------------------------------------------------------------------------

TEST_F(VaultTest, GetsAnEntryFromKvV2) {
  auto p = Make();
  auto v = GetAndWait(*p, "secret/app/db", "password");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->reveal(), "pw-v2");
  EXPECT_EQ(vault_.CountRequests("GET", "/v1/secret/data/app/db"), 1);
}

TEST_F(VaultTest, GetsAnEntryFromKvV1) {
  auto p = Make();
  auto v = GetAndWait(*p, "kv/app/db", "password");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->reveal(), "pw-v1");
  EXPECT_EQ(vault_.CountRequests("GET", "/v1/kv/app/db"), 1);
}

TEST_F(VaultTest, NonStringEntriesComeBackAsJsonText) {
  auto p = Make();
  auto port = GetAndWait(*p, "secret/app/db", "port");
  auto opts = GetAndWait(*p, "secret/app/db", "opts");
  ASSERT_THAT(port, IsOk());
  ASSERT_THAT(opts, IsOk());
  EXPECT_EQ(port->reveal(), "5432");
  EXPECT_EQ(opts->reveal(), R"({"ssl":true})");
}

TEST_F(VaultTest, DetectsTheKvVersionOncePerMount) {
  auto p = Make();
  for (int i = 0; i < 3; ++i) {
    ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
    ASSERT_THAT(GetAndWait(*p, "kv/app/db", "user"), IsOk());
  }
  EXPECT_EQ(vault_.CountRequests("GET", "/v1/sys/internal/ui/mounts/secret/app/db"), 1);
  EXPECT_EQ(vault_.CountRequests("GET", "/v1/sys/internal/ui/mounts/kv/app/db"), 1);
  EXPECT_EQ(vault_.CountRequests("GET", "/v1/sys/internal/ui/mounts/"), 2);
}

TEST_F(VaultTest, MissingSecretIsNotFound) {
  auto p = Make();
  EXPECT_THAT(GetAndWait(*p, "secret/app/nothing", "user"),
              StatusIs(StatusCode::kNotFound, HasSubstr("no secret at this path")));
  EXPECT_THAT(GetAndWait(*p, "kv/app/nothing", "user"), StatusIs(StatusCode::kNotFound));
}

TEST_F(VaultTest, MissingKeyIsNotFound) {
  auto p = Make();
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "nokey"), StatusIs(StatusCode::kNotFound, HasSubstr("'nokey'")));
}

TEST_F(VaultTest, SoftDeletedVersionIsNotFound) {
  vault_.SoftDeleteLatest("secret", "app/db");
  auto p = Make();
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"),
              StatusIs(StatusCode::kNotFound, HasSubstr("version 1 was deleted at")));
}

// A member of an unexpected type must not escape the completion handler as an exception: the
// operation would never complete, and in the token's lookup every later operation would queue behind it.
TEST_F(VaultTest, MembersOfUnexpectedTypesDoNotStallTheProvider) {
  auto p = Make();
  vault_.RewriteNext("auth/token/lookup-self", "/data/renewable", "true");  // a string, not a boolean
  auto v2 = GetAndWait(*p, "secret/app/db", "user");
  ASSERT_THAT(v2, IsOk());
  EXPECT_EQ(v2->reveal(), "app");
  auto v1 = GetAndWait(*p, "kv/app/db", "user");
  ASSERT_THAT(v1, IsOk());
  EXPECT_EQ(v1->reveal(), "legacy");
  vault_.SoftDeleteLatest("secret", "app/db");
  vault_.RewriteNext("secret/data/app/db", "/data/metadata/deletion_time", nullptr);
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"), StatusIs(StatusCode::kNotFound));
  vault_.RewriteNext("secret/data/app/db", "/data/metadata/version", "1");
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"), StatusIs(StatusCode::kNotFound));
}

TEST_F(VaultTest, NumbersAreHandedOutAndWrittenBackExactlyAsStored) {
  vault_.Put("secret", "num", Json{{"user", "u"},
                                   {"acct", VaultDouble::RawNumber("12345678901234567890123")},
                                   {"rate", VaultDouble::RawNumber("1.10")},
                                   {"small", VaultDouble::RawNumber("-2.5e-3")},
                                   {"port", 5432}});
  auto p = Make();
  for (const auto& [key, text] : std::vector<std::pair<std::string, std::string>>{
           {"acct", "12345678901234567890123"}, {"rate", "1.10"}, {"small", "-2.5e-3"}, {"port", "5432"}}) {
    auto v = GetAndWait(*p, "secret/num", key);
    ASSERT_THAT(v, IsOk()) << key;
    EXPECT_EQ(v->reveal(), text) << key;
  }
  // Writing another key sends the numbers back as they were, not re-formatted through a double.
  ASSERT_THAT(PutAndWait(*p, "secret/num", "user", "u2"), IsOk());
  const std::string sent = vault_.Requests().back().body;
  EXPECT_THAT(sent, HasSubstr(R"("acct":12345678901234567890123)"));
  EXPECT_THAT(sent, HasSubstr(R"("rate":1.10)"));
  EXPECT_THAT(sent, HasSubstr(R"("small":-2.5e-3)"));
  EXPECT_THAT(sent, HasSubstr(R"("port":5432)"));
}

TEST_F(VaultTest, NamespaceIsSentWithEveryRequest) {
  vault_.Put("secret", "only-in-team-a", Json{{"k", "team-value"}}, "team-a");
  VaultOptions o = Options(TokenAuth(token_));
  o.ns = "team-a/";
  auto in_ns = Make(std::move(o));
  auto v = GetAndWait(*in_ns, "secret/only-in-team-a", "k");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->reveal(), "team-value");
  for (const auto& r : vault_.Requests()) EXPECT_EQ(r.Header("x-vault-namespace"), "team-a/") << r.target;
  auto root = Make();
  EXPECT_THAT(GetAndWait(*root, "secret/only-in-team-a", "k"), StatusIs(StatusCode::kNotFound));
}

TEST_F(VaultTest, PermissionDeniedIsPermissionDenied) {
  vault_.Put("secret", "locked", Json{{"k", "v"}});
  vault_.DenyPath("secret/data/locked");
  auto p = Make();
  EXPECT_THAT(GetAndWait(*p, "secret/locked", "k"), StatusIs(StatusCode::kPermissionDenied, HasSubstr("permission denied")));
}

TEST_F(VaultTest, NoVisibleMountIsPermissionDenied) {
  auto p = Make();
  EXPECT_THAT(GetAndWait(*p, "nomount/app", "k"), StatusIs(StatusCode::kPermissionDenied, HasSubstr("no mount")));
}

TEST_F(VaultTest, UnknownTokenIsUnauthenticated) {
  auto p = Make(Options(TokenAuth("hvs.not-a-token")));
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"), StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(VaultTest, TokenRevokedAfterUseIsUnauthenticated) {
  auto p = Make();
  WarmUp(*p);
  vault_.RevokeToken(token_);
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"), StatusIs(StatusCode::kUnauthenticated, HasSubstr("invalid")));
}

TEST_F(VaultTest, SealedVaultIsUnavailable) {
  auto p = Make();
  WarmUp(*p);
  vault_.Seal(true);
  const int before = static_cast<int>(vault_.Requests().size());
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"), StatusIs(StatusCode::kUnavailable, HasSubstr("Vault is sealed")));
  EXPECT_EQ(static_cast<int>(vault_.Requests().size()) - before, 4);  // 503 is retried, a bounded number of times
}

TEST_F(VaultTest, RateLimitedOnceIsRetriedAndSucceeds) {
  auto p = Make();
  WarmUp(*p);
  vault_.RateLimitNext(1, 0);
  auto v = GetAndWait(*p, "secret/app/db", "password");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->reveal(), "pw-v2");
  EXPECT_EQ(vault_.CountRequests("GET", "/v1/secret/data/app/db"), 3);
}

TEST_F(VaultTest, RateLimitedPersistentlyIsUnavailable) {
  auto p = Make();
  WarmUp(*p);
  vault_.RateLimitNext(100, 0);
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "password"),
              StatusIs(StatusCode::kUnavailable, HasSubstr("rate-limiting keyward (429) after 4 attempts")));
}

TEST_F(VaultTest, InternalErrorIsUnavailable) {
  auto p = Make();
  WarmUp(*p);
  vault_.FailNext(1, 500, {"failed to audit request"});
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"),
              StatusIs(StatusCode::kUnavailable, HasSubstr("HTTP 500: failed to audit request")));
}

TEST_F(VaultTest, MalformedJsonIsUnavailable) {
  auto p = Make();
  WarmUp(*p);
  vault_.MalformNext(1);
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"),
              StatusIs(StatusCode::kUnavailable, HasSubstr("malformed response")));
}

TEST_F(VaultTest, GarbageAnswerIsUnavailable) {
  auto p = Make();
  WarmUp(*p);
  vault_.server().SetFault(Fault::kGarbage);
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"),
              StatusIs(StatusCode::kUnavailable, HasSubstr("malformed HTTP response")));
}

TEST_F(VaultTest, OversizedAnswerIsUnavailable) {
  auto p = Make();
  WarmUp(*p);
  vault_.server().SetFault(Fault::kOversizedBody);
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"), StatusIs(StatusCode::kUnavailable, HasSubstr("larger than")));
}

TEST_F(VaultTest, ConnectionDroppedMidBodyOnceIsRetried) {
  auto p = Make();
  WarmUp(*p);
  vault_.server().SetFault(Fault::kDropMidBody, 1);
  auto v = GetAndWait(*p, "secret/app/db", "password");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->reveal(), "pw-v2");
}

TEST_F(VaultTest, AnAppRoleLoginWhoseAnswerWasLostIsNotResent) {
  // Vault may have processed it: a second login would mint a second token, and with a secret ID of
  // limited uses it would fail and burn a use. docs/providers.md: not retried.
  vault_.AddAppRole("role-1", "secret-1", 1200);
  auto p = Make(Options(AppRole("role-1", "secret-1")));
  vault_.server().SetFault(Fault::kDropMidBody, 1);
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"), StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(vault_.CountRequests("POST", "/v1/auth/approle/login"), 1);
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());  // the next operation logs in afresh
  EXPECT_EQ(vault_.CountRequests("POST", "/v1/auth/approle/login"), 2);
}

TEST_F(VaultTest, StalledVaultIsDeadlineExceededInTime) {
  auto p = Make();
  WarmUp(*p);
  vault_.server().SetFault(Fault::kStall);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user", In(std::chrono::milliseconds(300))),
              StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300) + std::chrono::seconds(2));
}

TEST_F(VaultTest, UnreachableVaultIsUnavailable) {
  auto p = Make();
  vault_.server().StopListening();
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"), StatusIs(StatusCode::kUnavailable, HasSubstr("cannot connect")));
}

TEST_F(VaultTest, MalformedNamesAreRejectedBeforeAnyCall) {
  auto p = Make();
  EXPECT_THAT(GetAndWait(*p, "secret", "k"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(GetAndWait(*p, "secret/../sys", "k"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(GetAndWait(*p, "secret/app", "a/b"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(PutAndWait(*p, "/secret/app", "k", "v"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(RemoveAndWait(*p, "secret/app/", "k"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ListAndWait(*p, ""), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_TRUE(vault_.Requests().empty());
}

TEST_F(VaultTest, AScopeThatIsAWholeMountIsInvalid) {
  vault_.Mount("team/kv", 2);
  auto p = Make();
  EXPECT_THAT(GetAndWait(*p, "team/kv", "k"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("the mount itself")));
}

// --- list --------------------------------------------------------------------------------------------

TEST_F(VaultTest, ListsSubPathsAndKeysOnKvV2) {
  vault_.Put("secret", "app/db/replica", Json{{"x", "1"}});
  vault_.Put("secret", "app/cache", Json{{"y", "2"}});
  auto p = Make();
  auto app = ListAndWait(*p, "secret/app");
  ASSERT_THAT(app, IsOk());
  EXPECT_THAT(Names(*app), ElementsAre(std::pair{"cache", true}, std::pair{"db", true}));
  auto db = ListAndWait(*p, "secret/app/db");
  ASSERT_THAT(db, IsOk());
  EXPECT_THAT(Names(*db), ElementsAre(std::pair{"opts", false}, std::pair{"password", false}, std::pair{"port", false},
                                      std::pair{"replica", true}, std::pair{"user", false}));
  EXPECT_EQ(vault_.CountRequests("GET", "/v1/secret/metadata/app"), 2);
}

TEST_F(VaultTest, ListsABareMountAndAKvV1Path) {
  auto p = Make();
  auto root = ListAndWait(*p, "secret");
  ASSERT_THAT(root, IsOk());
  EXPECT_THAT(Names(*root), ElementsAre(std::pair{"app", true}));
  auto v1 = ListAndWait(*p, "kv/app/db");
  ASSERT_THAT(v1, IsOk());
  EXPECT_THAT(Names(*v1), ElementsAre(std::pair{"password", false}, std::pair{"user", false}));
}

TEST_F(VaultTest, AnEmptyListIsTheEmpty404AndStillASuccessForAMount) {
  auto p = Make();
  auto empty = ListAndWait(*p, "empty");
  ASSERT_THAT(empty, IsOk());
  EXPECT_TRUE(empty->empty());
  // Nothing stored at or below a path is an empty list too: the resolver must not be able to tell it
  // from a path whose keys the caller may not see.
  auto none = ListAndWait(*p, "secret/none");
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());
}

// --- put ---------------------------------------------------------------------------------------------

TEST_F(VaultTest, PutCreatesASecretWithCheckAndSetZero) {
  auto p = Make();
  ASSERT_THAT(PutAndWait(*p, "secret/new/thing", "token", "fresh"), IsOk());
  EXPECT_EQ(vault_.Get("secret", "new/thing"), (Json{{"token", "fresh"}}));
  const auto reqs = vault_.Requests();
  const auto write = std::find_if(reqs.begin(), reqs.end(), [](const auto& r) {
    return r.method == "POST" && r.path == "/v1/secret/data/new/thing";
  });
  ASSERT_NE(write, reqs.end());
  EXPECT_EQ(Json::parse(write->body)["options"]["cas"], 0);
}

TEST_F(VaultTest, PutKeepsTheOtherEntriesAndChecksTheVersionItRead) {
  auto p = Make();
  ASSERT_THAT(PutAndWait(*p, "secret/app/db", "password", "rotated"), IsOk());
  const auto map = vault_.Get("secret", "app/db");
  ASSERT_TRUE(map.has_value());
  EXPECT_EQ((*map)["password"], "rotated");
  EXPECT_EQ((*map)["user"], "app");
  EXPECT_EQ((*map)["port"], 5432);
  EXPECT_EQ((*map)["opts"], (Json{{"ssl", true}}));
  EXPECT_EQ(vault_.CurrentVersion("secret", "app/db"), 2);
  const auto reqs = vault_.Requests();
  EXPECT_EQ(Json::parse(reqs.back().body)["options"]["cas"], 1);
}

TEST_F(VaultTest, PutOnKvV1RewritesTheWholeMap) {
  auto p = Make();
  ASSERT_THAT(PutAndWait(*p, "kv/app/db", "host", "db.internal"), IsOk());
  EXPECT_EQ(vault_.Get("kv", "app/db"), (Json{{"user", "legacy"}, {"password", "pw-v1"}, {"host", "db.internal"}}));
}

TEST_F(VaultTest, PutRetriesOnceAfterACheckAndSetConflict) {
  auto p = Make();
  vault_.ConcurrentWriterBeforeNextWrites(1);
  ASSERT_THAT(PutAndWait(*p, "secret/app/db", "password", "mine"), IsOk());
  const auto map = vault_.Get("secret", "app/db");
  ASSERT_TRUE(map.has_value());
  EXPECT_EQ((*map)["password"], "mine");
  EXPECT_EQ((*map)["concurrent"], "another writer");  // the other writer's change survived
  EXPECT_EQ(vault_.CountRequests("POST", "/v1/secret/data/app/db"), 2);
}

TEST_F(VaultTest, PutThatConflictsTwiceIsAborted) {
  auto p = Make();
  vault_.ConcurrentWriterBeforeNextWrites(2);
  EXPECT_THAT(PutAndWait(*p, "secret/app/db", "password", "mine"),
              StatusIs(StatusCode::kAborted, HasSubstr("check-and-set")));
  EXPECT_EQ(vault_.CountRequests("POST", "/v1/secret/data/app/db"), 2);
}

TEST_F(VaultTest, PutOfBytesThatAreNotUtf8IsInvalid) {
  auto p = Make();
  EXPECT_THAT(PutAndWait(*p, "secret/app/db", "bin", std::string("\xff\x00\xfe", 3)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("UTF-8")));
  EXPECT_TRUE(vault_.Requests().empty());
}

TEST_F(VaultTest, PutOverASoftDeletedSecretStartsAFreshMap) {
  vault_.SoftDeleteLatest("secret", "app/db");
  auto p = Make();
  ASSERT_THAT(PutAndWait(*p, "secret/app/db", "only", "this"), IsOk());
  EXPECT_EQ(vault_.Get("secret", "app/db"), (Json{{"only", "this"}}));
  EXPECT_EQ(vault_.CurrentVersion("secret", "app/db"), 2);
}

TEST_F(VaultTest, PutDeniedIsPermissionDenied) {
  vault_.DenyPath("secret/data/app/db");
  auto p = Make();
  EXPECT_THAT(PutAndWait(*p, "secret/app/db", "k", "v"), StatusIs(StatusCode::kPermissionDenied));
}

// --- remove ------------------------------------------------------------------------------------------

TEST_F(VaultTest, RemoveErasesOneEntryWithCheckAndSet) {
  auto p = Make();
  ASSERT_THAT(RemoveAndWait(*p, "secret/app/db", "password"), IsOk());
  const auto map = vault_.Get("secret", "app/db");
  ASSERT_TRUE(map.has_value());
  EXPECT_FALSE(map->contains("password"));
  EXPECT_EQ((*map)["user"], "app");
  EXPECT_EQ(Json::parse(vault_.Requests().back().body)["options"]["cas"], 1);
}

TEST_F(VaultTest, RemovingTheLastKeyDeletesTheVersionThatWasRead) {
  vault_.Put("secret", "single", Json{{"only", "x"}});
  auto p = Make();
  ASSERT_THAT(RemoveAndWait(*p, "secret/single", "only"), IsOk());
  EXPECT_EQ(vault_.Get("secret", "single"), std::nullopt);
  const auto last = vault_.Requests().back();
  EXPECT_EQ(last.method, "POST");
  EXPECT_EQ(last.path, "/v1/secret/delete/single");
  EXPECT_EQ(Json::parse(last.body), (Json{{"versions", {1}}}));
  EXPECT_THAT(GetAndWait(*p, "secret/single", "only"), StatusIs(StatusCode::kNotFound, HasSubstr("deleted")));
}

TEST_F(VaultTest, RemovingTheLastKeyOnKvV1DeletesThePath) {
  vault_.Put("kv", "single", Json{{"only", "x"}});
  auto p = Make();
  ASSERT_THAT(RemoveAndWait(*p, "kv/single", "only"), IsOk());
  EXPECT_EQ(vault_.Get("kv", "single"), std::nullopt);
  EXPECT_EQ(vault_.CountRequests("DELETE", "/v1/kv/single"), 1);
}

TEST_F(VaultTest, RemovingWhatIsNotThereIsNotFound) {
  auto p = Make();
  EXPECT_THAT(RemoveAndWait(*p, "secret/app/db", "nokey"), StatusIs(StatusCode::kNotFound, HasSubstr("'nokey'")));
  EXPECT_THAT(RemoveAndWait(*p, "secret/app/none", "k"), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(vault_.CountRequests("POST", "/v1/secret/"), 0);
}

TEST_F(VaultTest, RemoveThatConflictsTwiceIsAborted) {
  auto p = Make();
  vault_.ConcurrentWriterBeforeNextWrites(2);
  EXPECT_THAT(RemoveAndWait(*p, "secret/app/db", "user"), StatusIs(StatusCode::kAborted));
}

// --- authentication ----------------------------------------------------------------------------------

TEST_F(VaultTest, TokenIsLookedUpOnce) {
  auto p = Make();
  for (int i = 0; i < 5; ++i) ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
  EXPECT_EQ(vault_.CountRequests("GET", "/v1/auth/token/lookup-self"), 1);
  EXPECT_EQ(vault_.CountRequests("POST", "/v1/auth/token/renew-self"), 0);
}

TEST_F(VaultTest, TokenIsRenewedWhenTwoThirdsOfItsTtlHavePassed) {
  auto p = Make();  // TTL 3600 s
  WarmUp(*p);
  Advance(2300);
  ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
  EXPECT_EQ(vault_.CountRequests("POST", "/v1/auth/token/renew-self"), 0);
  Advance(100);  // 2400 s: two thirds
  ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
  EXPECT_EQ(vault_.CountRequests("POST", "/v1/auth/token/renew-self"), 1);
  const auto reqs = vault_.Requests();
  const auto renew = std::find_if(reqs.begin(), reqs.end(), [](const auto& r) { return r.path == "/v1/auth/token/renew-self"; });
  EXPECT_EQ(Json::parse(renew->body), (Json{{"increment", "3600s"}}));
  Advance(1000);  // renewed 1000 s ago, for another 3600 s: not due yet
  ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
  EXPECT_EQ(vault_.CountRequests("POST", "/v1/auth/token/renew-self"), 1);
}

TEST_F(VaultTest, TokenIsRenewedInTheBackgroundWhileNothingHappens) {
  const std::string short_lived = vault_.CreateToken(2);  // renewal due after 1.33 s of real time
  auto p = Make(Options(TokenAuth(short_lived)));
  WarmUp(*p);
  // No operation from here on: only the background renewal can send renew-self.
  EXPECT_TRUE(vault_.WaitForRequests("POST", "/v1/auth/token/renew-self", 2, std::chrono::seconds(20)));
  for (const auto& r : vault_.Requests()) {
    if (r.path == "/v1/auth/token/renew-self") {
      EXPECT_EQ(r.Header("x-vault-token"), short_lived);
    }
  }
}

// The CI failure of stop 8: a provider destroyed while its background renewal waited for Vault. The
// renewal, aborted by the shutdown, went on to consult the clock the provider had been given, after its
// owner was gone (a use-after-free under ASan). Once the destructor returns, nothing it was given is
// called again.
TEST_F(VaultTest, ADestroyedProviderCallsNothingItWasGiven) {
  struct Probe {
    std::atomic<bool> counting{false};
    std::atomic<int> calls{0};
  };
  auto probe = std::make_shared<Probe>();
  // Fulfilled when the provider's core lets go of the clock: after every completion that was still in
  // flight (each holds the core) has run.
  auto released = std::make_shared<std::promise<void>>();
  std::shared_ptr<int> witness(new int(0), [released](int* p) {
    delete p;
    released->set_value();
  });
  VaultOptions o = Options(TokenAuth(vault_.CreateToken(2)));  // renewal due after 1.33 s
  o.clock = [probe, witness] {
    if (probe->counting) ++probe->calls;
    return std::chrono::steady_clock::now();
  };
  witness.reset();
  auto p = Make(std::move(o));
  WarmUp(*p);
  vault_.server().SetFault(Fault::kStall, 1);
  ASSERT_TRUE(vault_.server().WaitForStalled(1, std::chrono::seconds(20)));  // the background renew-self
  probe->counting = true;
  p.reset();
  ASSERT_EQ(released->get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(probe->calls.load(), 0);
}

TEST_F(VaultTest, ATokenFileIsReadAgainWhenRenewalFails) {
  TempDir dir;
  const std::string path = dir.Write("token", token_ + "\n");
  auto p = WarmedUpWithTokenFile(path);
  vault_.FailRenewals(true);
  const std::string rotated = RotateTokenIn(path);
  Advance(2500);
  ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
  EXPECT_EQ(vault_.CountRequests("GET", "/v1/auth/token/lookup-self"), 2);
  EXPECT_EQ(vault_.Requests().back().Header("x-vault-token"), rotated);
}

TEST_F(VaultTest, AnExpiredTokenThatCannotBeRenewedIsUnauthenticated) {
  auto p = Make();
  WarmUp(*p);
  vault_.FailRenewals(true);
  Advance(2500);  // renewal fails, the token still has 1100 s: keep using it
  ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
  Advance(1200);  // past its expiry
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("expired and could not be renewed")));
}

TEST_F(VaultTest, AppRoleLogsInOnceAndTakesTheTtlFromAuthLeaseDuration) {
  vault_.AddAppRole("role-1", "secret-1", 1200);
  auto p = Make(Options(AppRole("role-1", "secret-1")));
  for (int i = 0; i < 3; ++i) ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
  EXPECT_EQ(vault_.CountRequests("POST", "/v1/auth/approle/login"), 1);
  Advance(700);  // under two thirds of 1200 s
  ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
  EXPECT_EQ(vault_.CountRequests("POST", "/v1/auth/token/renew-self"), 0);
  Advance(110);  // 810 s: past two thirds of auth.lease_duration (not of the top-level lease_duration, 0)
  ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
  EXPECT_EQ(vault_.CountRequests("POST", "/v1/auth/token/renew-self"), 1);
  EXPECT_EQ(vault_.CountRequests("POST", "/v1/auth/approle/login"), 1);
}

TEST_F(VaultTest, AppRoleLogsInAgainWhenRenewalFails) {
  auto p = LoggedInWithAppRole();
  vault_.FailRenewals(true);
  Advance(900);
  ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
  ExpectRenewalsAndLogins(1, 2);
}

TEST_F(VaultTest, ARenewalThatGrantsNothingIsNotANeverExpiringToken) {
  // At the end of its maximum TTL Vault renews for 0 s: a login must follow, not a token taken as
  // never expiring (whose renewal timer would stop for good).
  auto p = LoggedInWithAppRole();
  vault_.RewriteNext("auth/token/renew-self", "/auth/lease_duration", 0);
  Advance(810);
  ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
  ExpectRenewalsAndLogins(1, 2);
}

TEST_F(VaultTest, ARenewalCappedByTheMaximumTtlIsTheLastOne) {
  auto p = LoggedInWithAppRole();
  vault_.RewriteNext("auth/token/renew-self", "/auth/lease_duration", 100);  // asked for 1200
  Advance(810);
  ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
  ExpectRenewalsAndLogins(1, 1);
  Advance(70);  // past two thirds of the 100 s granted: log in again rather than renew to ever less
  ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
  ExpectRenewalsAndLogins(1, 2);
}

TEST_F(VaultTest, ARevokedTokenFromAFileIsReplacedByTheNextOneWrittenThere) {
  TempDir dir;
  const std::string path = dir.Write("token", token_ + "\n");
  auto p = WithItsFileTokenRevoked(path);
  // A mount not looked up yet: its lookup's 403 names the invalid token, it is not a denial.
  EXPECT_THAT(GetAndWait(*p, "empty/x", "user"), StatusIs(StatusCode::kUnauthenticated));
  // The agent writes a new token after keyward found the old one dead, long before any renewal.
  const std::string rotated = RotateTokenIn(path);
  auto v = GetAndWait(*p, "secret/app/db", "user");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->reveal(), "app");
  EXPECT_EQ(vault_.Requests().back().Header("x-vault-token"), rotated);
}

TEST_F(VaultTest, ATokenFileThatCannotBeReadAgainIsNamedInTheFailure) {
  TempDir dir;
  const std::string path = dir.Write("token", token_ + "\n");
  auto p = WithItsFileTokenRevoked(path);
  // The agent writes the new token with a mode that lets others read it: refused, and said so.
  const std::string rotated = RotateTokenIn(path);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto refused = GetAndWait(*p, "secret/app/db", "user");
  EXPECT_THAT(refused, StatusIs(StatusCode::kUnauthenticated,
                                AllOf(HasSubstr("the token file could not be read again: credential file " + path),
                                      HasSubstr("Run: chmod 600 " + path))));
  if (!refused.has_value()) {
    EXPECT_THAT(refused.error().message(), Not(HasSubstr(rotated)));
  }
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_THAT(GetAndWait(*p, "secret/app/db", "user"), IsOk());
  EXPECT_EQ(vault_.Requests().back().Header("x-vault-token"), rotated);
}

TEST_F(VaultTest, AppRoleWithAWrongSecretIdIsUnauthenticated) {
  vault_.AddAppRole("role-1", "secret-1", 1200);
  auto p = Make(Options(AppRole("role-1", "wrong")));
  EXPECT_THAT(GetAndWait(*p, "secret/app/db", "user"),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("invalid role or secret ID")));
}

TEST_F(VaultTest, ConcurrentFirstOperationsShareOneLogin) {
  vault_.AddAppRole("role-1", "secret-1", 1200);
  auto p = Make(Options(AppRole("role-1", "secret-1")));
  for (const auto& r : GetManyAndWait(*p, "secret/app/db", "user", 20)) EXPECT_THAT(r, IsOk());
  EXPECT_EQ(vault_.CountRequests("POST", "/v1/auth/approle/login"), 1);
}

// --- health ------------------------------------------------------------------------------------------

TEST_F(VaultTest, HealthChecksSysHealthAndTheToken) {
  auto p = Make();
  EXPECT_THAT(HealthAndWait(*p), IsOk());
  EXPECT_EQ(vault_.CountRequests("GET", "/v1/sys/health"), 1);
  EXPECT_GE(vault_.CountRequests("GET", "/v1/auth/token/lookup-self"), 1);
}

TEST_F(VaultTest, HealthOfASealedVaultIsUnavailableWithoutRetrying) {
  vault_.Seal(true);
  auto p = Make();
  EXPECT_THAT(HealthAndWait(*p), StatusIs(StatusCode::kUnavailable, HasSubstr("Vault is sealed")));
  EXPECT_EQ(vault_.CountRequests("GET", "/v1/sys/health"), 1);
}

TEST_F(VaultTest, HealthOfAStandbyIsOk) {
  vault_.SetStandby(true);
  auto p = Make();
  EXPECT_THAT(HealthAndWait(*p), IsOk());
}

TEST_F(VaultTest, HealthWithABadTokenIsUnauthenticated) {
  auto p = Make(Options(TokenAuth("hvs.bogus")));
  EXPECT_THAT(HealthAndWait(*p), StatusIs(StatusCode::kUnauthenticated));
}

// --- concurrency -------------------------------------------------------------------------------------

TEST_F(VaultTest, ManyConcurrentGetsReusePooledConnections) {
  VaultOptions o = Options(TokenAuth(token_));
  o.http.max_connections = 4;
  auto p = Make(std::move(o));
  WarmUp(*p);
  constexpr int kGets = 200;
  for (const auto& v : GetManyAndWait(*p, "secret/app/db", "password", kGets)) {
    ASSERT_THAT(v, IsOk());
    EXPECT_EQ(v->reveal(), "pw-v2");
  }
  EXPECT_LE(vault_.server().accepted_connections(), 4);
  EXPECT_GE(p->http_stats().connections_reused, static_cast<std::uint64_t>(kGets - 4));
}

}  // namespace
}  // namespace keyward::providers
