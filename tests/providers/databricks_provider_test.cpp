// The Databricks adapter against DatabricksDouble: every operation and every error_code mapping, each
// asserting the exact StatusCode.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/json.h"
#include "core/testing/status_matchers.h"
#include "providers/databricks_provider.h"
#include "tests/doubles/databricks_double.h"
#include "tests/providers/wait.h"

namespace keyward::providers {
namespace {

using ::keyward::doubles::DatabricksDouble;
using ::keyward::doubles::Fault;
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
using ::testing::ElementsAre;
using ::testing::HasSubstr;


constexpr const char* kToken = "dapi-test-0123456789";

class DatabricksTest : public ::testing::Test {
 protected:
  DatabricksTest() {
    dbx_.AddToken(kToken);
    dbx_.PutSecret("etl", "db-password", "pa55");
    dbx_.PutSecret("etl", "api-key", "k-123");
    dbx_.PutSecret("etl", "binary", std::string("\x00\xff\x10", 3));
    dbx_.CreateScope("empty-scope");
  }

  std::unique_ptr<RemoteProvider> Make(const std::string& token = kToken) { return Make(dbx_, token); }
  std::unique_ptr<RemoteProvider> Make(DatabricksDouble& workspace, const std::string& token = kToken) {
    DatabricksOptions o;
    o.id = "dbx-test";
    o.origin = *http::ParseUrl(workspace.url());
    o.token = SecretValue(token);
    o.http.allow_plain_http = true;
    o.http.retry = http::RetryPolicy{4, http::Millis(2), http::Millis(10)};
    auto p = MakeDatabricksProvider(runtime_, std::move(o));
    EXPECT_THAT(p, IsOk());
    return std::move(*p);
  }

  std::vector<Json> BodiesOf(const std::string& path) const {
    std::vector<Json> out;
    for (const auto& r : dbx_.Requests()) {
      if (r.path == path) out.push_back(Json::parse(r.body));
    }
    return out;
  }

  DatabricksDouble dbx_;
  std::shared_ptr<http::IoRuntime> runtime_ = http::IoRuntime::Start();
};

// --- get ---------------------------------------------------------------------------------------------

TEST_F(DatabricksTest, GetDecodesTheBase64Value) {
  auto p = Make();
  auto v = GetAndWait(*p, "etl", "db-password");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->reveal(), "pa55");
  const auto reqs = dbx_.Requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/api/2.0/secrets/get?scope=etl&key=db-password");
  EXPECT_EQ(reqs[0].Header("authorization"), std::string("Bearer ") + kToken);
}

TEST_F(DatabricksTest, GetReturnsBytesThatAreNotUtf8Faithfully) {
  auto p = Make();
  auto v = GetAndWait(*p, "etl", "binary");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->reveal(), std::string("\x00\xff\x10", 3));
  EXPECT_FALSE(v->is_utf8());
}

TEST_F(DatabricksTest, ScopeNamesAreCaseInsensitive) {
  auto p = Make();
  auto v = GetAndWait(*p, "ETL", "api-key");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->reveal(), "k-123");
}

TEST_F(DatabricksTest, AnErrorCodeOfAnUnexpectedTypeDoesNotStallTheOperation) {
  auto p = Make();
  dbx_.RewriteNext("/api/2.0/secrets/get", "/error_code", 404);  // a number, not a string
  // Without a usable error_code the HTTP status decides.
  EXPECT_THAT(GetAndWait(*p, "etl", "no-such-key"), StatusIs(StatusCode::kNotFound));
  dbx_.FailNext(1, 403, "PERMISSION_DENIED", "denied");
  dbx_.RewriteNext("/api/2.0/secrets/get", "/message", Json::array({"not", "a", "string"}));
  EXPECT_THAT(GetAndWait(*p, "etl", "db-password"), StatusIs(StatusCode::kPermissionDenied));
}

TEST_F(DatabricksTest, MissingKeyOrScopeIsNotFound) {
  auto p = Make();
  EXPECT_THAT(GetAndWait(*p, "etl", "nope"), StatusIs(StatusCode::kNotFound, HasSubstr("RESOURCE_DOES_NOT_EXIST")));
  EXPECT_THAT(GetAndWait(*p, "no-scope", "k"), StatusIs(StatusCode::kNotFound));
}

TEST_F(DatabricksTest, PermissionDeniedIsPermissionDenied) {
  dbx_.DenyScope("etl");
  auto p = Make();
  EXPECT_THAT(GetAndWait(*p, "etl", "db-password"), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(ListAndWait(*p, "etl"), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(PutAndWait(*p, "etl", "k", "v"), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(RemoveAndWait(*p, "etl", "api-key"), StatusIs(StatusCode::kPermissionDenied));
}

TEST_F(DatabricksTest, ABadTokenIsUnauthenticated) {
  auto p = Make("dapi-wrong");
  EXPECT_THAT(GetAndWait(*p, "etl", "db-password"), StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(HealthAndWait(*p), StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(DatabricksTest, BadRequestCodesAreInvalidArgument) {
  auto p = Make();
  for (const char* code : {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "MALFORMED_REQUEST"}) {
    dbx_.FailNext(1, 400, code, "rejected");
    EXPECT_THAT(GetAndWait(*p, "etl", "db-password"), StatusIs(StatusCode::kInvalidArgument, HasSubstr(code)));
  }
}

TEST_F(DatabricksTest, ErrorsMapByErrorCodeBeforeHttpStatus) {
  auto p = Make();
  dbx_.FailNext(1, 400, "RESOURCE_DOES_NOT_EXIST", "odd status, known code");
  EXPECT_THAT(GetAndWait(*p, "etl", "db-password"), StatusIs(StatusCode::kNotFound));
  dbx_.FailNext(1, 400, "QUOTA_EXCEEDED", "too many scopes");
  EXPECT_THAT(GetAndWait(*p, "etl", "db-password"), StatusIs(StatusCode::kResourceExhausted));
  dbx_.FailNext(1, 418, "SOMETHING_NEW", "unknown code");
  EXPECT_THAT(GetAndWait(*p, "etl", "db-password"), StatusIs(StatusCode::kUnavailable, HasSubstr("HTTP 418")));
}

TEST_F(DatabricksTest, RateLimitedOnceIsRetriedAndSucceeds) {
  dbx_.RateLimitNext(1, 0);
  auto p = Make();
  auto v = GetAndWait(*p, "etl", "db-password");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->reveal(), "pa55");
  EXPECT_EQ(dbx_.CountRequests("GET", "/api/2.0/secrets/get"), 2);
}

TEST_F(DatabricksTest, RateLimitedPersistentlyIsUnavailable) {
  dbx_.RateLimitNext(100, 0);
  auto p = Make();
  EXPECT_THAT(GetAndWait(*p, "etl", "db-password"),
              StatusIs(StatusCode::kUnavailable, HasSubstr("rate-limiting keyward after 4 attempts")));
}

TEST_F(DatabricksTest, TemporarilyUnavailableIsRetriedThenUnavailable) {
  dbx_.FailNext(100, 503, "TEMPORARILY_UNAVAILABLE", "try later");
  auto p = Make();
  EXPECT_THAT(GetAndWait(*p, "etl", "db-password"), StatusIs(StatusCode::kUnavailable, HasSubstr("TEMPORARILY_UNAVAILABLE")));
  EXPECT_EQ(dbx_.CountRequests("GET", "/api/2.0/secrets/get"), 4);
}

TEST_F(DatabricksTest, MalformedAnswersAreUnavailable) {
  auto p = Make();
  dbx_.MalformNext(1);
  EXPECT_THAT(GetAndWait(*p, "etl", "db-password"), StatusIs(StatusCode::kUnavailable, HasSubstr("malformed")));
  dbx_.server().SetFault(Fault::kGarbage, 1);
  EXPECT_THAT(GetAndWait(*p, "etl", "db-password"), StatusIs(StatusCode::kUnavailable, HasSubstr("malformed")));
  dbx_.server().SetFault(Fault::kOversizedChunked, 1);
  EXPECT_THAT(GetAndWait(*p, "etl", "db-password"), StatusIs(StatusCode::kUnavailable, HasSubstr("larger than")));
}

TEST_F(DatabricksTest, StalledWorkspaceIsDeadlineExceeded) {
  dbx_.server().SetFault(Fault::kStall);
  auto p = Make();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(GetAndWait(*p, "etl", "db-password", In(std::chrono::milliseconds(300))),
              StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300) + std::chrono::seconds(2));
}

TEST_F(DatabricksTest, NamesAreValidatedBeforeAnyCall) {
  auto p = Make();
  EXPECT_THAT(GetAndWait(*p, "etl", "bad/key"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(GetAndWait(*p, "", "k"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(PutAndWait(*p, "sc ope", "k", "v"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(RemoveAndWait(*p, "etl", std::string(129, 'k')), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ListAndWait(*p, "a/b"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_TRUE(dbx_.Requests().empty());
}

// --- list --------------------------------------------------------------------------------------------

TEST_F(DatabricksTest, ListsScopesWhenTheScopeIsEmpty) {
  auto p = Make();
  auto scopes = ListAndWait(*p, "");
  ASSERT_THAT(scopes, IsOk());
  EXPECT_THAT(Names(*scopes), ElementsAre(std::pair{"empty-scope", true}, std::pair{"etl", true}));
}

TEST_F(DatabricksTest, ListsKeysNeverValues) {
  auto p = Make();
  auto keys = ListAndWait(*p, "etl");
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(Names(*keys), ElementsAre(std::pair{"api-key", false}, std::pair{"binary", false},
                                        std::pair{"db-password", false}));
}

TEST_F(DatabricksTest, AnEmptyListAnsweredAsEmptyObjectIsEmpty) {
  auto p = Make();
  auto keys = ListAndWait(*p, "empty-scope");
  ASSERT_THAT(keys, IsOk());
  EXPECT_TRUE(keys->empty());
  DatabricksDouble bare;  // no scopes at all: scopes/list answers {}
  bare.AddToken(kToken);
  auto scopes = ListAndWait(*Make(bare), "");
  ASSERT_THAT(scopes, IsOk());
  EXPECT_TRUE(scopes->empty());
}

TEST_F(DatabricksTest, ListOfAMissingScopeIsEmpty) {
  // Databricks' own RESOURCE_DOES_NOT_EXIST: an empty list, as for a scope whose keys the caller may not
  // see (the resolver must not be able to tell the two apart).
  auto p = Make();
  auto listed = ListAndWait(*p, "no-scope");
  ASSERT_THAT(listed, IsOk());
  EXPECT_TRUE(listed->empty());
}

TEST_F(DatabricksTest, AListAnsweredByAnother404StaysAnError) {
  // A wrong base path (a proxy prefix that is not there): the workspace answers ENDPOINT_NOT_FOUND, which
  // says nothing about the scope. Listing a scope, or every scope, fails; it is not an empty list.
  DatabricksOptions o;
  o.id = "dbx-test";
  o.origin = *http::ParseUrl(dbx_.url() + "/no-such-prefix");
  o.token = SecretValue(kToken);
  o.http.allow_plain_http = true;
  auto p = MakeDatabricksProvider(runtime_, std::move(o));
  ASSERT_THAT(p, IsOk());
  EXPECT_THAT(ListAndWait(**p, "etl"), StatusIs(StatusCode::kNotFound, HasSubstr("ENDPOINT_NOT_FOUND")));
  EXPECT_THAT(ListAndWait(**p, ""), StatusIs(StatusCode::kNotFound, HasSubstr("ENDPOINT_NOT_FOUND")));
}

// --- put and remove ----------------------------------------------------------------------------------

TEST_F(DatabricksTest, PutSendsTextAsStringValue) {
  auto p = Make();
  ASSERT_THAT(PutAndWait(*p, "etl", "new-key", "text value"), IsOk());
  EXPECT_EQ(dbx_.Secret("etl", "new-key"), "text value");
  const auto bodies = BodiesOf("/api/2.0/secrets/put");
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0], (Json{{"scope", "etl"}, {"key", "new-key"}, {"string_value", "text value"}}));
}

TEST_F(DatabricksTest, PutSendsBytesThatAreNotUtf8AsBase64) {
  auto p = Make();
  const std::string bytes("\xff\x00\xc3\x28", 4);
  ASSERT_THAT(PutAndWait(*p, "etl", "raw", bytes), IsOk());
  EXPECT_EQ(dbx_.Secret("etl", "raw"), bytes);
  const auto bodies = BodiesOf("/api/2.0/secrets/put");
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0], (Json{{"scope", "etl"}, {"key", "raw"}, {"bytes_value", "/wDDKA=="}}));
  auto back = GetAndWait(*p, "etl", "raw");
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->reveal(), bytes);
}

TEST_F(DatabricksTest, PutCreatesAMissingScopeFirst) {
  auto p = Make();
  ASSERT_THAT(PutAndWait(*p, "brand-new", "k", "v"), IsOk());
  EXPECT_TRUE(dbx_.HasScope("brand-new"));
  EXPECT_EQ(dbx_.Secret("brand-new", "k"), "v");
  EXPECT_EQ(BodiesOf("/api/2.0/secrets/scopes/create"), (std::vector<Json>{Json{{"scope", "brand-new"}}}));
}

TEST_F(DatabricksTest, PutOverwrites) {
  auto p = Make();
  ASSERT_THAT(PutAndWait(*p, "etl", "db-password", "rotated"), IsOk());
  EXPECT_EQ(dbx_.Secret("etl", "db-password"), "rotated");
  EXPECT_EQ(dbx_.CountRequests("POST", "/api/2.0/secrets/scopes/create"), 0);
}

TEST_F(DatabricksTest, PutOverTheValueLimitIsResourceExhaustedWithoutACall) {
  auto p = Make();
  EXPECT_THAT(PutAndWait(*p, "etl", "big", std::string(kMaxDatabricksValueBytes + 1, 'x')),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("131072")));
  EXPECT_TRUE(dbx_.Requests().empty());
  EXPECT_THAT(PutAndWait(*p, "etl", "big", std::string(kMaxDatabricksValueBytes, 'x')), IsOk());
}

TEST_F(DatabricksTest, RemoveDeletesAndMissingIsNotFound) {
  auto p = Make();
  ASSERT_THAT(RemoveAndWait(*p, "etl", "api-key"), IsOk());
  EXPECT_EQ(dbx_.Secret("etl", "api-key"), std::nullopt);
  EXPECT_THAT(RemoveAndWait(*p, "etl", "api-key"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(RemoveAndWait(*p, "no-scope", "k"), StatusIs(StatusCode::kNotFound));
}

TEST_F(DatabricksTest, ARemoveResentAfterALostAnswerFindsItDoneAndSucceeds) {
  auto p = Make();
  dbx_.server().SetFault(Fault::kDropMidBody, 1);  // the first delete is carried out, its answer lost
  EXPECT_THAT(RemoveAndWait(*p, "etl", "api-key"), IsOk());
  EXPECT_EQ(dbx_.CountRequests("POST", "/api/2.0/secrets/delete"), 2);
  EXPECT_EQ(dbx_.Secret("etl", "api-key"), std::nullopt);
}

// --- health and concurrency --------------------------------------------------------------------------

TEST_F(DatabricksTest, HealthListsScopes) {
  auto p = Make();
  EXPECT_THAT(HealthAndWait(*p), IsOk());
  EXPECT_EQ(dbx_.CountRequests("GET", "/api/2.0/secrets/scopes/list"), 1);
  dbx_.server().StopListening();
  auto fresh = Make();  // no pooled connection to the workspace
  EXPECT_THAT(HealthAndWait(*fresh), StatusIs(StatusCode::kUnavailable, HasSubstr("cannot connect")));
}

TEST_F(DatabricksTest, ManyConcurrentGetsReusePooledConnections) {
  auto p = Make();
  constexpr int kGets = 100;
  for (const auto& r : GetManyAndWait(*p, "etl", "db-password", kGets)) EXPECT_THAT(r, IsOk());
  EXPECT_LE(dbx_.server().accepted_connections(), 8);  // the default pool size
  EXPECT_EQ(static_cast<int>(dbx_.Requests().size()), kGets);
}

}  // namespace
}  // namespace keyward::providers
