// No secret value and no credential in anything the adapters write: every status message (successes
// and every failure mode, servers echoing values back included) and everything written to stderr
// while they ran. The value and the tokens are distinctive strings searched for verbatim, base64'd and
// as Printable renders them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/json.h"
#include "core/testing/status_matchers.h"
#include "core/utf8.h"
#include "providers/base64.h"
#include "providers/databricks_provider.h"
#include "providers/factory.h"
#include "providers/vault_provider.h"
#include "tests/doubles/databricks_double.h"
#include "tests/doubles/vault_double.h"
#include "tests/providers/wait.h"

namespace keyward::providers {
namespace {

using ::keyward::doubles::DatabricksDouble;
using ::keyward::doubles::Fault;
using ::keyward::doubles::VaultDouble;
using ::keyward::testing::GetAndWait;
using ::keyward::testing::HealthAndWait;
using ::keyward::testing::In;
using ::keyward::testing::ListAndWait;
using ::keyward::testing::PutAndWait;
using ::keyward::testing::RemoveAndWait;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kValue = "kw-SECRET-value-7f3a9c1e";
constexpr const char* kNewValue = "kw-SECRET-newvalue-b28d4410";
const std::string kBinaryValue = std::string("kw-BIN-\xff\xfe-5c1a", 13);
constexpr const char* kDatabricksToken = "dapi-kw-TOKEN-91c0ffee";
const std::string kLongValue = "kw-SECRET-long-" + std::string(300, 'L') + "-end";
constexpr const char* kQuotedValue = "kw-SECRET\"quoted\\value";

class NoLeakTest : public ::testing::Test {
 protected:
  NoLeakTest() {
    ::testing::internal::CaptureStderr();
    vault_.Mount("secret", 2);
    vault_.Mount("kv", 1);
    vault_.Put("secret", "app", nlohmann::json{{"password", kValue}, {"user", "app"}});
    vault_.Put("kv", "app", nlohmann::json{{"password", kValue}});
    vault_token_ = vault_.CreateToken(3600);
    dbx_.AddToken(kDatabricksToken);
    dbx_.PutSecret("etl", "password", kValue);
    dbx_.PutSecret("etl", "binary", kBinaryValue);
  }

  // Every string that must never appear.
  std::vector<std::string> Forbidden() const {
    std::vector<std::string> out;
    for (const std::string& v : {std::string(kValue), std::string(kNewValue), kBinaryValue, kLongValue,
                                std::string(kQuotedValue), vault_token_, std::string(kDatabricksToken)}) {
      out.push_back(v);
      out.push_back(std::string(Base64Encode(v).view()));
      out.push_back(Printable(v, 200));
    }
    out.push_back("kw-SECRET");  // any part of the values' distinctive prefix
    return out;
  }

  void Record(const Status& s) { messages_.push_back(s.ToString()); }
  template <typename T>
  void Record(const Result<T>& r) {
    messages_.push_back(r.status().ToString());
  }

  std::unique_ptr<RemoteProvider> Vault() {
    VaultOptions o;
    o.id = "vault";
    o.origin = *http::ParseUrl(vault_.url());
    o.auth.token = SecretValue(vault_token_);
    o.http.allow_plain_http = true;
    o.http.max_response_bytes = 4096;
    o.http.retry = http::RetryPolicy{2, http::Millis(1), http::Millis(2)};
    return std::move(*MakeVaultProvider(runtime_, std::move(o)));
  }

  std::unique_ptr<RemoteProvider> Databricks(const std::string& token = kDatabricksToken) {
    DatabricksOptions o;
    o.id = "dbx";
    o.origin = *http::ParseUrl(dbx_.url());
    o.token = SecretValue(token);
    o.http.allow_plain_http = true;
    o.http.max_response_bytes = 4096;
    o.http.retry = http::RetryPolicy{2, http::Millis(1), http::Millis(2)};
    return std::move(*MakeDatabricksProvider(runtime_, std::move(o)));
  }

  void ExpectNothingLeaked() {
    const std::string err = ::testing::internal::GetCapturedStderr();
    ASSERT_GT(messages_.size(), 10u);
    for (const std::string& f : Forbidden()) {
      EXPECT_THAT(err, Not(HasSubstr(f)));
      for (const std::string& m : messages_) EXPECT_THAT(m, Not(HasSubstr(f)));
    }
  }

  VaultDouble vault_;
  DatabricksDouble dbx_;
  std::shared_ptr<http::IoRuntime> runtime_ = http::IoRuntime::Start();
  std::string vault_token_;
  std::vector<std::string> messages_;
};

TEST_F(NoLeakTest, VaultAdapterNeverWritesAValueOrToken) {
  auto p = Vault();
  Record(GetAndWait(*p, "secret/app", "password"));
  Record(ListAndWait(*p, "secret/app"));
  Record(GetAndWait(*p, "secret/app", "nokey"));
  vault_.server().SetFault(Fault::kDropMidBody);  // half a body holding the value, then a closed connection
  Record(GetAndWait(*p, "secret/app", "password"));
  vault_.server().SetFault(Fault::kGarbage);
  Record(GetAndWait(*p, "kv/app", "password"));
  vault_.server().SetFault(Fault::kNone);
  vault_.Put("secret", "big", nlohmann::json{{"password", kValue}, {"padding", std::string(8192, 'p')}});
  Record(GetAndWait(*p, "secret/big", "password"));  // larger than max_response_bytes
  vault_.MalformNext(1);
  Record(GetAndWait(*p, "secret/app", "password"));
  // A server that echoes the value it was sent back in its error.
  vault_.FailNext(2, 400, {std::string("invalid value ") + kNewValue});
  Record(PutAndWait(*p, "secret/app", "password", kNewValue));
  vault_.FailNext(1, 500, {std::string("storage failed for ") + kNewValue});
  Record(PutAndWait(*p, "kv/app", "password", kNewValue));
  // ... a write refused with the whole map it was sent in its error: the other values (kValue), a
  // value longer than any quote of it, and one that the echo JSON-escapes.
  vault_.FailNextWrites(1, 400, {"invalid map " + nlohmann::json{{"password", kValue}, {"new", kLongValue}}.dump()});
  Record(PutAndWait(*p, "secret/app", "new", kLongValue));
  vault_.FailNextWrites(1, 400, {"invalid map " + nlohmann::json{{"q", kQuotedValue}}.dump()});
  Record(PutAndWait(*p, "secret/app", "q", kQuotedValue));
  vault_.FailNextWrites(1, 500, {"storage failed for " + nlohmann::json{{"password", kValue}}.dump()});
  Record(RemoveAndWait(*p, "secret/app", "user"));
  vault_.ConcurrentWriterBeforeNextWrites(2);
  Record(PutAndWait(*p, "secret/app", "password", kNewValue));
  Record(PutAndWait(*p, "secret/app", "bin", kBinaryValue));
  vault_.DenyPath("secret/data/app");
  Record(PutAndWait(*p, "secret/app", "password", kNewValue));
  Record(RemoveAndWait(*p, "secret/app", "password"));
  vault_.server().SetFault(Fault::kStall);
  Record(GetAndWait(*p, "kv/app", "password", In(std::chrono::milliseconds(200))));
  vault_.server().SetFault(Fault::kNone);
  vault_.Seal(true);
  Record(GetAndWait(*p, "kv/app", "password"));
  Record(HealthAndWait(*p));
  vault_.Seal(false);
  vault_.RevokeToken(vault_token_);
  Record(GetAndWait(*p, "kv/app", "password"));
  Record(HealthAndWait(*p));
  ExpectNothingLeaked();
}

TEST_F(NoLeakTest, DatabricksAdapterNeverWritesAValueOrToken) {
  auto p = Databricks();
  Record(GetAndWait(*p, "etl", "password"));
  Record(GetAndWait(*p, "etl", "binary"));
  Record(ListAndWait(*p, "etl"));
  dbx_.server().SetFault(Fault::kDropMidBody);
  Record(GetAndWait(*p, "etl", "password"));
  dbx_.server().SetFault(Fault::kGarbage);
  Record(GetAndWait(*p, "etl", "password"));
  dbx_.server().SetFault(Fault::kNone);
  dbx_.MalformNext(1);
  Record(GetAndWait(*p, "etl", "password"));
  dbx_.FailNext(1, 400, "INVALID_PARAMETER_VALUE", std::string("value ") + kNewValue + " is not allowed");
  Record(PutAndWait(*p, "etl", "password", kNewValue));
  dbx_.FailNext(1, 400, "INVALID_PARAMETER_VALUE", "bytes " + std::string(Base64Encode(kBinaryValue).view()));
  Record(PutAndWait(*p, "etl", "binary", kBinaryValue));
  dbx_.FailNext(1, 400, "INVALID_PARAMETER_VALUE", "bytes " + Printable(kBinaryValue, 200));
  Record(PutAndWait(*p, "etl", "binary", kBinaryValue));
  Record(PutAndWait(*p, "etl", "huge", std::string(kMaxDatabricksValueBytes + 1, 'k')));
  // Echoes that a search for the whole value cannot find: cut short, and JSON-escaped.
  dbx_.FailNext(1, 400, "INVALID_PARAMETER_VALUE", std::string("value ") + kLongValue + " is not allowed");
  Record(PutAndWait(*p, "etl", "long", kLongValue));
  dbx_.FailNext(1, 400, "INVALID_PARAMETER_VALUE", "body " + nlohmann::json{{"string_value", kQuotedValue}}.dump());
  Record(PutAndWait(*p, "etl", "q", kQuotedValue));
  dbx_.RateLimitNext(10, 0);
  Record(PutAndWait(*p, "etl", "password", kNewValue));
  dbx_.DenyScope("etl");
  Record(PutAndWait(*p, "etl", "password", kNewValue));
  Record(RemoveAndWait(*p, "etl", "password"));
  dbx_.server().SetFault(Fault::kStall);
  Record(GetAndWait(*p, "other", "password", In(std::chrono::milliseconds(200))));
  dbx_.server().SetFault(Fault::kNone);
  auto wrong = Databricks(std::string(kDatabricksToken) + "-wrong");
  Record(GetAndWait(*wrong, "etl", "password"));
  Record(HealthAndWait(*wrong));
  ExpectNothingLeaked();
}

TEST_F(NoLeakTest, ConfigurationErrorsNeverRepeatAnInlineCredential) {
  for (const char* section : {
           R"({"id": "d", "type": "databricks", "workspace_url": "https://x", "token": "dapi-kw-TOKEN-91c0ffee"})",
           R"({"id": "v", "type": "vault", "address": "https://x",
               "auth": {"method": "token", "token": ["dapi-kw-TOKEN-91c0ffee"]}})",
           R"({"id": "v", "type": "vault", "address": "https://x",
               "auth": {"method": "approle", "role_id": "dapi-kw-TOKEN-91c0ffee", "secret_id": {"env": "dapi-kw-TOKEN-91c0ffee"}}})",
       }) {
    std::vector<Diagnostic> errors;
    auto p = MakeProvider(*ParseJson(section), ProviderContext{"/providers/0", runtime_, nullptr}, &errors);
    Record(p);
    for (const auto& d : errors) messages_.push_back(d.ToString());
  }
  ASSERT_GE(messages_.size(), 6u);
  const std::string err = ::testing::internal::GetCapturedStderr();
  for (const std::string& m : messages_) EXPECT_THAT(m, Not(HasSubstr("kw-TOKEN")));
  EXPECT_THAT(err, Not(HasSubstr("kw-TOKEN")));
}

}  // namespace
}  // namespace keyward::providers
