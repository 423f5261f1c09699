// Unit tests of the server configuration: the loader (every field, defaults, relative paths, every
// error with its pointer), the preflight of the files it names (real PEM files and signing keys in a
// temporary directory), the policy/providers cross-check, and the helpers mint-token uses.
#include "tools/keyward-server/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sched.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "audit/note.h"
#include "core/http/server.h"
#include "core/testing/status_matchers.h"
#include "tests/doubles/test_ca.h"
#include "tests/support/subprocess.h"
#include "tools/keyward-server/preflight.h"

namespace keyward {
void PrintTo(const Diagnostic& d, std::ostream* os) { *os << d.ToString(); }
}  // namespace keyward

namespace keyward::server {
namespace {

using ::keyward::testing::IsOk;
using ::keyward::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using namespace std::chrono_literals;

constexpr const char* kHashA = "sha256:1b2e25d1791e897e280877c6301e6386bcc294c3764769c00a3c31ff4a44c99d";
constexpr const char* kHashB = "sha256:d95bcbb6b95f7a648e94560f2b1000b0aa3a86151476328befdafc06b1313d4c";

// An error diagnostic at exactly `pointer` whose message contains `message`.
::testing::Matcher<Diagnostic> ErrorAt(const std::string& pointer, const std::string& message) {
  return AllOf(Field("severity", &Diagnostic::severity, Diagnostic::Severity::kError),
               Field("pointer", &Diagnostic::pointer, pointer), Field("message", &Diagnostic::message, HasSubstr(message)));
}

// The smallest valid configuration: plain HTTP, no providers, one principal with a token.
Json Minimal() {
  return Json::parse(R"({
    "listen": {"address": "127.0.0.1", "port": 8080},
    "tls": {"certificate": "tls/server.pem", "private_key": "tls/server.key", "client_ca": "tls/clients.pem"},
    "audit": {"database": "audit.db", "origin": "keyward.test/log", "signing_key": "audit.key"},
    "policy": "policy.json",
    "providers": [],
    "principals": [{"id": "etl", "tokens": ["sha256:1b2e25d1791e897e280877c6301e6386bcc294c3764769c00a3c31ff4a44c99d"]}]
  })");
}

class ConfigTest : public ::testing::Test {
 protected:
  // Writes `text` as the configuration file `name` (in a subdirectory when it has a '/') and loads it.
  Result<Config> LoadText(const std::string& text, const std::string& name = "keyward.json") {
    const std::filesystem::path p = std::filesystem::path(dir_.path()) / name;
    std::filesystem::create_directories(p.parent_path());
    diags_.clear();
    return LoadConfig(dir_.Write(name, text), &diags_);
  }
  Result<Config> Load(const Json& config) { return LoadText(config.dump(2)); }
  std::string In(const std::string& relative) const { return dir_.path() + "/" + relative; }

  ::keyward::testing::TempDir dir_;
  std::vector<Diagnostic> diags_;
};

// --- what a valid file says ------------------------------------------------------------------------

TEST_F(ConfigTest, CompleteConfigReadsEveryField) {
  auto c = LoadText(R"({
    // every field, none at its default
    "listen": {"address": "::1", "port": 8643, "io_threads": 4},
    "tls": {"certificate": "/etc/keyward/server.pem", "private_key": "/etc/keyward/server.key",
            "client_ca": "/etc/keyward/clients.pem"},
    "limits": {"max_body_bytes": 1000, "max_header_bytes": 2000, "max_refs_per_request": 7, "max_connections": 9,
               "read_timeout_ms": 11, "idle_timeout_ms": 12, "request_timeout_ms": 13, "shutdown_grace_ms": 14},
    "audit": {"database": "/var/lib/keyward/audit.db", "origin": "keyward.example.com/prod-1",
              "signing_key": "/etc/keyward/audit.key", "checkpoint_interval_ms": 15,
              "checkpoint_export": "/var/lib/keyward/checkpoints.notes"},
    "policy": "/etc/keyward/policy.json",
    "providers": [{"id": "env", "type": "environment", "allow": ["X"]}],
    "principals": [
      {"id": "pipeline-etl", "certificates": ["URI:spiffe://example.com/pipeline-etl", "CN=pipeline-etl,O=Example Corp"],
       "description": "nightly ETL"},
      {"id": "secrets-admin@example.com", "tokens": [")" + std::string(kHashA) + R"(", ")" + kHashB + R"("],
       "certificates": ["DNS:admin.example.com", "email:admin@example.com"]}
    ],
    "auth": {"max_failures": 3, "failure_window_ms": 1500, "block_ms": 2500}
  })");
  ASSERT_THAT(c, IsOk()) << ::testing::PrintToString(diags_);
  EXPECT_THAT(diags_, IsEmpty());
  EXPECT_EQ(c->path, In("keyward.json"));
  EXPECT_EQ(c->listen.address, "::1");
  EXPECT_EQ(c->listen.port, 8643);
  EXPECT_EQ(c->listen.io_threads, 4);
  EXPECT_TRUE(c->tls);
  EXPECT_EQ(c->listen.certificate, "/etc/keyward/server.pem");
  EXPECT_EQ(c->listen.private_key, "/etc/keyward/server.key");
  EXPECT_EQ(c->listen.client_ca, "/etc/keyward/clients.pem");
  EXPECT_EQ(c->listen.max_body_bytes, 1000u);
  EXPECT_EQ(c->listen.max_header_bytes, 2000u);
  EXPECT_EQ(c->api.max_refs, 7u);
  EXPECT_EQ(c->listen.max_connections, 9u);
  EXPECT_EQ(c->listen.read_timeout, 11ms);
  EXPECT_EQ(c->listen.idle_timeout, 12ms);
  EXPECT_EQ(c->api.request_timeout, 13ms);
  EXPECT_EQ(c->shutdown_grace, 14ms);
  EXPECT_EQ(c->audit.path, "/var/lib/keyward/audit.db");
  EXPECT_EQ(c->audit.origin, "keyward.example.com/prod-1");
  EXPECT_EQ(c->api.origin, "keyward.example.com/prod-1");
  EXPECT_EQ(c->audit.signing_key_path, "/etc/keyward/audit.key");
  EXPECT_EQ(c->audit.checkpoint_interval, 15ms);
  EXPECT_EQ(c->audit.export_path, "/var/lib/keyward/checkpoints.notes");
  EXPECT_EQ(c->policy_path, "/etc/keyward/policy.json");
  EXPECT_EQ(c->providers, Json::parse(R"([{"id": "env", "type": "environment", "allow": ["X"]}])"));
  ASSERT_THAT(c->principals, SizeIs(2));
  EXPECT_EQ(c->principals[0].id, "pipeline-etl");
  EXPECT_THAT(c->principals[0].token_hashes, IsEmpty());
  EXPECT_THAT(c->principals[0].certificates,
              ElementsAre("URI:spiffe://example.com/pipeline-etl", "CN=pipeline-etl,O=Example Corp"));
  EXPECT_EQ(c->principals[1].id, "secrets-admin@example.com");
  ASSERT_THAT(c->principals[1].token_hashes, SizeIs(2));
  EXPECT_EQ("sha256:" + ToHex(c->principals[1].token_hashes[0]), kHashA);
  EXPECT_EQ("sha256:" + ToHex(c->principals[1].token_hashes[1]), kHashB);
  EXPECT_THAT(c->principals[1].certificates, ElementsAre("DNS:admin.example.com", "email:admin@example.com"));
  EXPECT_EQ(c->auth.max_failures, 3);
  EXPECT_EQ(c->auth.failure_window, 1500ms);
  EXPECT_EQ(c->auth.block, 2500ms);
}

TEST_F(ConfigTest, DefaultsForEverythingOptional) {
  Json j = Minimal();
  j.erase("tls");
  j["insecure_plaintext"] = true;
  auto c = Load(j);
  ASSERT_THAT(c, IsOk()) << ::testing::PrintToString(diags_);
  EXPECT_EQ(c->listen.io_threads, DefaultIoThreads());
  EXPECT_FALSE(c->tls);
  EXPECT_EQ(c->listen.certificate, "");
  EXPECT_EQ(c->listen.private_key, "");
  EXPECT_EQ(c->listen.client_ca, "");
  EXPECT_EQ(c->listen.max_body_bytes, 65536u);
  EXPECT_EQ(c->listen.max_header_bytes, 8192u);
  EXPECT_EQ(c->api.max_refs, 100u);
  EXPECT_EQ(c->listen.max_connections, 10000u);
  EXPECT_EQ(c->listen.read_timeout, 10000ms);
  EXPECT_EQ(c->listen.idle_timeout, 60000ms);
  EXPECT_EQ(c->api.request_timeout, 10000ms);
  EXPECT_EQ(c->shutdown_grace, 10000ms);
  EXPECT_EQ(c->audit.checkpoint_interval, 10000ms);
  EXPECT_EQ(c->audit.export_path, "");
  EXPECT_EQ(c->auth.max_failures, 10);
  EXPECT_EQ(c->auth.failure_window, 60000ms);
  EXPECT_EQ(c->auth.block, 60000ms);
  ASSERT_THAT(c->principals, SizeIs(1));
  EXPECT_THAT(c->principals[0].certificates, IsEmpty());
}

// The default follows the CPUs the process may run on: this thread is pinned to 1, 2, 3... of them.
TEST(DefaultIoThreadsTest, IsOnePerAllowedCpuLessOneForTheAuditWriter) {
  cpu_set_t original;
  ASSERT_EQ(sched_getaffinity(0, sizeof original, &original), 0);
  std::vector<std::size_t> allowed;
  for (std::size_t cpu = 0; cpu < static_cast<std::size_t>(CPU_SETSIZE); ++cpu) {
    if (CPU_ISSET(cpu, &original)) allowed.push_back(cpu);
  }
  ASSERT_FALSE(allowed.empty());
  for (std::size_t n = 1; n <= std::min<std::size_t>(allowed.size(), 4); ++n) {
    cpu_set_t some;
    CPU_ZERO(&some);
    for (std::size_t i = 0; i < n; ++i) CPU_SET(allowed[i], &some);
    ASSERT_EQ(sched_setaffinity(0, sizeof some, &some), 0);
    EXPECT_EQ(DefaultIoThreads(), std::max(1, static_cast<int>(n) - 1)) << n << " CPUs";
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof original, &original), 0);
}

TEST_F(ConfigTest, RelativePathsAreRelativeToTheConfigurationsDirectory) {
  Json j = Minimal();
  j.erase("insecure_plaintext");
  j["tls"] = {{"certificate", "tls/server.pem"}, {"private_key", "./tls/server.key"}, {"client_ca", "../ca/clients.pem"}};
  j["audit"] = {{"database", "../var/audit.db"}, {"origin", "o"}, {"signing_key", "audit.key"},
                {"checkpoint_export", "/abs/checkpoints.notes"}};
  j["policy"] = "policy.json";
  j["providers"] = Json::parse(R"([
    {"id": "vault", "type": "vault", "auth": {"method": "token", "token": {"file": "secrets/vault-token"}},
     "tls": {"ca_file": "tls/vault-ca.pem"}, "note": {"file": 3}},
    {"id": "abs", "type": "databricks", "token": {"file": "/run/token"}, "x": [{"file": "in-an-array"}]}
  ])");
  auto c = LoadText(j.dump(), "etc/keyward/keyward.json");
  ASSERT_THAT(c, IsOk()) << ::testing::PrintToString(diags_);
  const std::string etc = In("etc/keyward");
  EXPECT_EQ(c->listen.certificate, etc + "/tls/server.pem");
  EXPECT_EQ(c->listen.private_key, etc + "/tls/server.key");
  EXPECT_EQ(c->listen.client_ca, In("etc/ca/clients.pem"));
  EXPECT_EQ(c->audit.path, In("etc/var/audit.db"));
  EXPECT_EQ(c->audit.signing_key_path, etc + "/audit.key");
  EXPECT_EQ(c->audit.export_path, "/abs/checkpoints.notes");
  EXPECT_EQ(c->policy_path, etc + "/policy.json");
  EXPECT_EQ(c->providers[0]["auth"]["token"]["file"], etc + "/secrets/vault-token");
  EXPECT_EQ(c->providers[0]["tls"]["ca_file"], etc + "/tls/vault-ca.pem");
  EXPECT_EQ(c->providers[0]["note"]["file"], 3);  // not a string: left for the provider's own check
  EXPECT_EQ(c->providers[1]["token"]["file"], "/run/token");
  EXPECT_EQ(c->providers[1]["x"][0]["file"], "in-an-array");  // only objects are searched
}

TEST_F(ConfigTest, AnEnvironmentProviderMayExposeVariablesBesideACredential) {
  // A prefix exposes only longer names, as the provider itself decides: VAULT_TOKEN is not exposed
  // by the prefix "VAULT_TOKEN", nor by an allow-list that names other variables.
  Json j = Minimal();
  j["providers"] = Json::parse(R"([
    {"id": "vault", "type": "vault", "auth": {"method": "token", "token": {"env": "VAULT_TOKEN"}}},
    {"id": "env", "type": "environment", "prefix": "VAULT_TOKEN", "allow": ["VAULT_ADDR"]}
  ])");
  EXPECT_THAT(Load(j), IsOk()) << ::testing::PrintToString(diags_);
}

TEST_F(ConfigTest, OneDatabricksWorkspaceUnderAnySpellingOfItsAddress) {
  // The same address written another way: a leading-zero port, another path, an IP literal spelt
  // otherwise, an IPv4-mapped IPv6 address.
  for (const auto& [first, second] : std::vector<std::pair<std::string, std::string>>{
           {"https://adb-1.azuredatabricks.net", "https://adb-1.azuredatabricks.net:0443"},
           {"https://adb-1.azuredatabricks.net", "https://adb-1.azuredatabricks.net/."},
           {"https://adb-1.azuredatabricks.net", "https://adb-1.azuredatabricks.net//x/.."},
           {"https://adb-1.azuredatabricks.net/a", "https://adb-1.azuredatabricks.net/b"},
           {"https://[::1]:8443", "https://[0::1]:8443"},
           {"https://127.0.0.1:8443", "https://[::ffff:127.0.0.1]:8443"}}) {
    SCOPED_TRACE(first + " and " + second);
    Json j = Minimal();
    j["providers"] = Json::array({{{"id", "a"}, {"type", "databricks"}, {"workspace_url", first}},
                                  {{"id", "b"}, {"type", "databricks"}, {"workspace_url", second}}});
    EXPECT_THAT(Load(j), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(diags_, ElementsAre(ErrorAt("/providers/1/workspace_url", "addresses the same Databricks workspace")));
  }
}

TEST_F(ConfigTest, DatabricksProvidersOnDifferentWorkspacesLoad) {
  Json j = Minimal();
  j["providers"] = Json::parse(R"([
    {"id": "dbx-a", "type": "databricks", "workspace_url": "https://adb-1.azuredatabricks.net"},
    {"id": "dbx-b", "type": "databricks", "workspace_url": "https://adb-2.azuredatabricks.net"},
    {"id": "dbx-c", "type": "databricks", "workspace_url": "https://adb-1.azuredatabricks.net:8443"}
  ])");
  EXPECT_THAT(Load(j), IsOk()) << ::testing::PrintToString(diags_);
}

TEST_F(ConfigTest, ATokenPastedAsACertificateIdentityIsNotRepeated) {
  const std::string token = "kw_TswMJs3z11LzryAuwSy9rjRBxX4jfCzVCYmIKaUlQNY";
  Json j = Minimal();
  j["principals"][0]["certificates"] = {token};
  auto r = Load(j);
  ASSERT_THAT(r, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(r.error().message(), Not(HasSubstr("TswMJs3z")));
  ASSERT_FALSE(diags_.empty());
  for (const Diagnostic& d : diags_) EXPECT_THAT(d.message, Not(HasSubstr("TswMJs3z"))) << d.pointer;
}

TEST_F(ConfigTest, AuthThrottleKeepsMilliseconds) {
  Json j = Minimal();
  j["auth"] = {{"max_failures", 5}, {"failure_window_ms", 1500}, {"block_ms", 86399999}};
  auto c = Load(j);
  ASSERT_THAT(c, IsOk()) << ::testing::PrintToString(diags_);
  EXPECT_EQ(c->auth.failure_window, 1500ms);
  EXPECT_EQ(c->auth.block, 86399999ms);

  const http::Authenticator::Throttle t = MakeThrottle(c->auth);
  EXPECT_EQ(t.max_failures, 5);
  if constexpr (std::is_same_v<decltype(t.window), std::chrono::milliseconds>) {
    EXPECT_EQ(t.window, 1500ms);
    EXPECT_EQ(t.block, 86399999ms);
  } else {  // a coarser throttle never gets a shorter window or block than configured
    EXPECT_EQ(std::chrono::milliseconds(t.window), 2000ms);
    EXPECT_EQ(std::chrono::milliseconds(t.block), 86400000ms);
  }
}

TEST_F(ConfigTest, ValidListenAddresses) {
  for (const char* address : {"127.0.0.1", "0.0.0.0", "::", "::1", "2001:db8::7", "::ffff:10.0.0.1", "fe80::1%lo"}) {
    Json j = Minimal();
    j["listen"]["address"] = address;
    EXPECT_THAT(Load(j), IsOk()) << address << ": " << ::testing::PrintToString(diags_);
  }
}

TEST_F(ConfigTest, PlainHttpOnAnyLoopbackAddress) {
  for (const char* address : {"127.0.0.1", "127.5.5.5", "::1", "::1%lo", "::ffff:127.0.0.1"}) {
    Json j = Minimal();
    j.erase("tls");
    j["insecure_plaintext"] = true;
    j["listen"]["address"] = address;
    EXPECT_THAT(Load(j), IsOk()) << address << ": " << ::testing::PrintToString(diags_);
  }
  for (const char* address : {"0.0.0.0", "::", "10.0.0.1", "::ffff:10.0.0.1", "128.0.0.1"}) {
    Json j = Minimal();
    j.erase("tls");
    j["insecure_plaintext"] = true;
    j["listen"]["address"] = address;
    EXPECT_THAT(Load(j), StatusIs(StatusCode::kInvalidArgument)) << address;
    EXPECT_THAT(diags_, ElementsAre(ErrorAt("/insecure_plaintext", "plain HTTP only on a loopback address"))) << address;
  }
}

TEST_F(ConfigTest, ValidPrincipalIdsAndCertificateIdentities) {
  Json j = Minimal();
  j["principals"] = Json::array();
  int n = 0;
  for (const std::string& id :
       std::vector<std::string>{"etl", "pipeline-etl.daily_2", "user@example.com", "svc:etl+1", "0", std::string(256, 'a')}) {
    j["principals"].push_back({{"id", id}, {"certificates", {"DNS:host" + std::to_string(n++) + ".example.com"}}});
  }
  for (const char* identity :
       {"CN=pipeline-etl,O=Example Corp", "O=Example Corp", "emailAddress=etl@example.com,CN=etl", "DC=com",
        "2.5.4.3=#0C03657466", "CN=caf\xC3\xA9", "URI:spiffe://example.com/etl", "email:etl@example.com", "DNS:*.example.com"}) {
    j["principals"].push_back({{"id", "id" + std::to_string(n++)}, {"certificates", {identity}}});
  }
  EXPECT_THAT(Load(j), IsOk()) << ::testing::PrintToString(diags_);
}

// --- every error, with its pointer ---------------------------------------------------------------------

struct ErrorCase {
  std::string name;
  std::function<void(Json&)> change;  // applied to Minimal()
  std::string pointer;
  std::string message;  // a substring of the message
};
void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

Json Principal(const std::string& id, std::vector<std::string> tokens, std::vector<std::string> certificates = {}) {
  Json p = {{"id", id}};
  if (!tokens.empty()) p["tokens"] = tokens;
  if (!certificates.empty()) p["certificates"] = certificates;
  return p;
}
std::string Hex64(char c) { return "sha256:" + std::string(64, c); }

const std::vector<ErrorCase>& ErrorCases() {
  static const std::vector<ErrorCase> cases = {
      // the document
      {"UnknownTopLevelField", [](Json& j) { j["surprise"] = true; }, "/surprise", "unknown field 'surprise' (expected one of:"},
      {"NotAnObject", [](Json& j) { j = Json::array(); }, "", "expected an object, got an array"},
      // listen
      {"ListenMissing", [](Json& j) { j.erase("listen"); }, "", "missing required field 'listen' (an object with address and port)"},
      {"ListenUnknownField", [](Json& j) { j["listen"]["threads"] = 2; }, "/listen/threads", "unknown field 'threads' (expected one of: address, port, io_threads)"},
      {"ListenAddressMissing", [](Json& j) { j["listen"].erase("address"); }, "/listen", "missing required field 'address' (a string)"},
      {"ListenAddressHostName", [](Json& j) { j["listen"]["address"] = "localhost"; }, "/listen/address",
       "expected an IP address literal (such as 127.0.0.1, 0.0.0.0 or ::), got 'localhost'; host names are not resolved"},
      {"ListenAddressEmpty", [](Json& j) { j["listen"]["address"] = ""; }, "/listen/address", "expected an IP address literal"},
      {"ListenAddressOctetTooLarge", [](Json& j) { j["listen"]["address"] = "10.0.0.256"; }, "/listen/address", "got '10.0.0.256'"},
      {"ListenAddressWithPort", [](Json& j) { j["listen"]["address"] = "127.0.0.1:8080"; }, "/listen/address", "expected an IP address literal"},
      {"ListenAddressEmptyScope", [](Json& j) { j["listen"]["address"] = "fe80::1%"; }, "/listen/address", "expected an IP address literal"},
      {"ListenAddressNotAString", [](Json& j) { j["listen"]["address"] = 127; }, "/listen/address", "expected a string, got an integer"},
      {"ListenPortOutOfRange", [](Json& j) { j["listen"]["port"] = 65536; }, "/listen/port", "expected an integer from 0 to 65535"},
      {"ListenIoThreadsZero", [](Json& j) { j["listen"]["io_threads"] = 0; }, "/listen/io_threads", "expected an integer from 1 to 64, got 0"},
      // TLS
      {"NeitherTlsNorPlaintext", [](Json& j) { j.erase("tls"); }, "",
       "missing 'tls' (certificate and private key); to serve plain HTTP, say so: \"insecure_plaintext\": true"},
      {"PlaintextFalseWithoutTls", [](Json& j) { j.erase("tls"); j["insecure_plaintext"] = false; }, "", "missing 'tls'"},
      {"PlaintextOffLoopback", [](Json& j) { j.erase("tls"); j["insecure_plaintext"] = true; j["listen"]["address"] = "0.0.0.0"; },
       "/insecure_plaintext",
       "plain HTTP only on a loopback address (127.0.0.0/8, ::1), not 0.0.0.0: tokens and secret values would cross the "
       "network in the clear; configure \"tls\""},
      {"CertificatesWithoutClientCa", [](Json& j) { j["tls"].erase("client_ca"); j["principals"][0]["certificates"] = {"CN=etl"}; },
       "/principals/0/certificates",
       "principal 'etl' lists certificates, but the server asks for none (no tls.client_ca): they could never "
       "authenticate it; set tls.client_ca, or use tokens"},
      {"TlsAndPlaintext", [](Json& j) { j["insecure_plaintext"] = true; }, "/insecure_plaintext",
       "\"tls\" and \"insecure_plaintext\" exclude each other"},
      {"TlsWithoutKey", [](Json& j) { j.erase("insecure_plaintext"); j["tls"] = {{"certificate", "c.pem"}}; }, "/tls",
       "missing required field 'private_key' (a string)"},
      {"TlsCertificateEmpty", [](Json& j) { j.erase("insecure_plaintext"); j["tls"] = {{"certificate", ""}, {"private_key", "k.pem"}}; },
       "/tls/certificate", "expected a path, got an empty string"},
      {"TlsPrivateKeyEmpty", [](Json& j) { j.erase("insecure_plaintext"); j["tls"] = {{"certificate", "c.pem"}, {"private_key", ""}}; },
       "/tls/private_key", "expected a path, got an empty string"},
      {"TlsClientCaEmpty",
       [](Json& j) {
         j.erase("insecure_plaintext");
         j["tls"] = {{"certificate", "c.pem"}, {"private_key", "k.pem"}, {"client_ca", ""}};
       },
       "/tls/client_ca", "expected a path, got an empty string (leave the field out for none)"},
      {"PlaintextNotABoolean",
       [](Json& j) {
         j["insecure_plaintext"] = "yes";
         j["tls"] = {{"certificate", "c.pem"}, {"private_key", "k.pem"}};
       },
       "/insecure_plaintext", "expected true or false, got a string"},
      // limits
      {"LimitTooSmall", [](Json& j) { j["limits"] = {{"max_body_bytes", 100}}; }, "/limits/max_body_bytes",
       "expected an integer from 256 to 16777216, got 100"},
      {"LimitNotAnInteger", [](Json& j) { j["limits"] = {{"read_timeout_ms", "10s"}}; }, "/limits/read_timeout_ms", "expected an integer, got a string"},
      {"LimitUnknown", [](Json& j) { j["limits"] = {{"max_bodies", 1}}; }, "/limits/max_bodies", "unknown field 'max_bodies'"},
      {"ShutdownGraceTooLong", [](Json& j) { j["limits"] = {{"shutdown_grace_ms", 3600001}}; }, "/limits/shutdown_grace_ms",
       "expected an integer from 0 to 3600000"},
      // audit
      {"AuditMissing", [](Json& j) { j.erase("audit"); }, "", "missing required field 'audit' (database, origin, signing_key)"},
      {"AuditDatabaseMissing", [](Json& j) { j["audit"].erase("database"); }, "/audit", "missing required field 'database' (a string)"},
      {"AuditDatabaseEmpty", [](Json& j) { j["audit"]["database"] = ""; }, "/audit/database", "expected a path, got an empty string"},
      {"AuditSigningKeyEmpty", [](Json& j) { j["audit"]["signing_key"] = ""; }, "/audit/signing_key", "expected a path, got an empty string"},
      {"AuditExportEmpty", [](Json& j) { j["audit"]["checkpoint_export"] = ""; }, "/audit/checkpoint_export",
       "expected a path, got an empty string (leave the field out for none)"},
      {"AuditOriginEmpty", [](Json& j) { j["audit"]["origin"] = ""; }, "/audit/origin",
       "the origin must not be empty (it names the log in its checkpoints)"},
      {"AuditOriginWithSpace", [](Json& j) { j["audit"]["origin"] = "my log"; }, "/audit/origin", "the origin must not contain spaces"},
      {"AuditOriginWithPlus", [](Json& j) { j["audit"]["origin"] = "a+b"; }, "/audit/origin", "the origin must not contain '+'"},
      {"AuditOriginControlCharacter", [](Json& j) { j["audit"]["origin"] = "a\tb"; }, "/audit/origin",
       "the origin must be UTF-8 without control characters"},
      {"CheckpointIntervalTooShort", [](Json& j) { j["audit"]["checkpoint_interval_ms"] = 9; }, "/audit/checkpoint_interval_ms",
       "expected an integer from 10 to 86400000, got 9"},
      // policy and providers
      {"PolicyMissing", [](Json& j) { j.erase("policy"); }, "", "missing required field 'policy' (a string)"},
      {"PolicyEmpty", [](Json& j) { j["policy"] = ""; }, "/policy", "expected a path, got an empty string"},
      {"ProvidersMissing", [](Json& j) { j.erase("providers"); }, "", "missing required field 'providers'"},
      {"ProviderNotAnObject", [](Json& j) { j["providers"] = {"vault"}; }, "/providers/0", "expected an object (a provider section)"},
      // an environment provider exposing another provider's credential
      {"EnvPrefixExposesAVaultToken",
       [](Json& j) {
         j["providers"] = Json::parse(R"([{"id": "vault", "type": "vault", "auth": {"method": "token", "token": {"env": "KW_VAULT_TOKEN"}}},
                                          {"id": "env", "type": "environment", "prefix": "KW_"}])");
       },
       "/providers/1/prefix", "would expose KW_VAULT_TOKEN, which holds the credential of provider 'vault' (/providers/0/auth/token/env)"},
      {"EnvAllowExposesADatabricksToken",
       [](Json& j) {
         j["providers"] = Json::parse(R"([{"id": "env", "type": "environment", "allow": ["HOME", "DBX_TOKEN"]},
                                          {"id": "dbx", "type": "databricks", "token": {"env": "DBX_TOKEN"}}])");
       },
       "/providers/0/allow/1", "would expose DBX_TOKEN, which holds the credential of provider 'dbx' (/providers/1/token/env)"},
      {"EnvAllowExposesAnAppRoleSecretId",
       [](Json& j) {
         j["providers"] = Json::parse(R"([{"id": "v", "type": "vault", "auth": {"method": "approle", "role_id": {"file": "r"},
                                                                               "secret_id": {"env": "APP_SECRET"}}},
                                          {"id": "env", "type": "environment", "allow": ["APP_SECRET"]}])");
       },
       "/providers/1/allow/0", "holds the credential of provider 'v' (/providers/0/auth/secret_id/env)"},
      // one Databricks provider per workspace, however the URL spells it
      {"TwoDatabricksProvidersOnOneWorkspace",
       [](Json& j) {
         j["providers"] = Json::parse(R"([{"id": "dbx-trial", "type": "databricks", "workspace_url": "https://adb-1.azuredatabricks.net"},
                                          {"id": "env", "type": "environment", "allow": ["HOME"]},
                                          {"id": "dbx-admin", "type": "databricks", "workspace_url": "https://ADB-1.azuredatabricks.net.:443/"}])");
       },
       "/providers/2/workspace_url",
       "provider 'dbx-admin' addresses the same Databricks workspace as provider 'dbx-trial' (/providers/0): a managed "
       "fabric's scope is protected per provider"},
      // principals
      {"PrincipalsMissing", [](Json& j) { j.erase("principals"); }, "", "missing required field 'principals'"},
      {"PrincipalNotAnObject", [](Json& j) { j["principals"] = {"etl"}; }, "/principals/0", "expected an object"},
      {"PrincipalUnknownField", [](Json& j) { j["principals"][0]["token"] = 1; }, "/principals/0/token", "unknown field 'token'"},
      {"PrincipalIdMissing", [](Json& j) { j["principals"][0].erase("id"); }, "/principals/0", "missing required field 'id' (a string)"},
      {"PrincipalIdEmpty", [](Json& j) { j["principals"][0]["id"] = ""; }, "/principals/0/id", "a principal id must not be empty"},
      {"PrincipalIdWithQuote", [](Json& j) { j["principals"][0]["id"] = "a\"b"; }, "/principals/0/id",
       "principal id 'a\"b' is not valid: a principal id is at most 256 letters, digits, '.', '_', '-', '@', ':', '+'"},
      {"PrincipalIdWithSpace", [](Json& j) { j["principals"][0]["id"] = "etl daily"; }, "/principals/0/id", "principal id 'etl daily' is not valid"},
      {"PrincipalIdNonAscii", [](Json& j) { j["principals"][0]["id"] = "caf\xC3\xA9"; }, "/principals/0/id", "is not valid"},
      {"PrincipalIdSlash", [](Json& j) { j["principals"][0]["id"] = "team/etl"; }, "/principals/0/id", "is not valid"},
      {"PrincipalIdTooLong", [](Json& j) { j["principals"][0]["id"] = std::string(257, 'a'); }, "/principals/0/id", "is not valid"},
      {"PrincipalIdWildcard", [](Json& j) { j["principals"][0]["id"] = "etl-*"; }, "/principals/0/id",
       "principal id 'etl-*' is not valid: '*' is a wildcard in the policy's rules; a principal id is literal"},
      {"PrincipalIdDuplicate", [](Json& j) { j["principals"].push_back(Principal("etl", {kHashB})); }, "/principals/1/id",
       "duplicate principal id 'etl' (first at /principals/0)"},
      {"PrincipalWithoutCredentials", [](Json& j) { j["principals"][0].erase("tokens"); }, "/principals/0",
       "principal 'etl' has neither tokens nor certificates: it could never authenticate"},
      {"PrincipalWithEmptyCredentialLists",
       [](Json& j) {
         j["principals"][0]["tokens"] = Json::array();
         j["principals"][0]["certificates"] = Json::array();
       },
       "/principals/0", "has neither tokens nor certificates"},
      {"DescriptionNotAString", [](Json& j) { j["principals"][0]["description"] = 1; }, "/principals/0/description", "expected a string"},
      // token hashes
      {"TokenItself", [](Json& j) { j["principals"][0]["tokens"] = {"kw_TswMJs3z11LzryAuwSy9rjRBxX4jfCzVCYmIKaUlQNY"}; }, "/principals/0/tokens/0",
       "a token hash is \"sha256:\" followed by 64 hex digits (run keyward-server mint-token; never put a token itself here)"},
      {"TokenHashUpperCaseHex", [](Json& j) { j["principals"][0]["tokens"] = {Hex64('A')}; }, "/principals/0/tokens/0",
       "a token hash is \"sha256:\" followed by 64 lower-case hex digits"},
      {"TokenHashUpperCasePrefix", [](Json& j) { j["principals"][0]["tokens"] = {"SHA256:" + std::string(64, 'a')}; }, "/principals/0/tokens/0",
       "followed by 64 hex digits"},
      {"TokenHashTooShort", [](Json& j) { j["principals"][0]["tokens"] = {"sha256:" + std::string(63, 'a')}; }, "/principals/0/tokens/0",
       "followed by 64 hex digits"},
      {"TokenHashTooLong", [](Json& j) { j["principals"][0]["tokens"] = {"sha256:" + std::string(65, 'a')}; }, "/principals/0/tokens/0",
       "followed by 64 hex digits"},
      {"TokenHashNotHex", [](Json& j) { j["principals"][0]["tokens"] = {Hex64('g')}; }, "/principals/0/tokens/0", "64 lower-case hex digits"},
      {"TokenNotAString", [](Json& j) { j["principals"][0]["tokens"] = {1}; }, "/principals/0/tokens/0", "expected a string, got an integer"},
      {"TokensNotAnArray", [](Json& j) { j["principals"][0]["tokens"] = kHashA; }, "/principals/0/tokens", "expected an array, got a string"},
      {"TokenHashTwiceInOnePrincipal", [](Json& j) { j["principals"][0]["tokens"] = {kHashA, kHashA}; }, "/principals/0/tokens/1",
       "this token hash is listed twice (also at /principals/0/tokens/0)"},
      {"TokenHashInTwoPrincipals", [](Json& j) { j["principals"].push_back(Principal("admin", {kHashB, kHashA})); }, "/principals/1/tokens/1",
       "this token hash is listed twice: also for principal 'etl' at /principals/0/tokens/0; one credential must identify exactly one principal"},
      // certificate identities
      {"IdentityEmpty", [](Json& j) { j["principals"][0]["certificates"] = {""}; }, "/principals/0/certificates/0",
       "a certificate identity must not be empty"},
      {"IdentityBareName", [](Json& j) { j["principals"][0]["certificates"] = {"pipeline-etl"}; }, "/principals/0/certificates/0",
       "this is not a certificate identity: expected a subject in RFC 2253 form, as in CN=pipeline-etl,O=Example Corp, "
       "or a subject alternative name DNS:..., URI:... or email:..."},
      {"IdentityLowerCaseSanPrefix", [](Json& j) { j["principals"][0]["certificates"] = {"dns:etl.example.com"}; },
       "/principals/0/certificates/0", "this is not a certificate identity"},
      {"CertificateIsAPastedToken",
       [](Json& j) { j["principals"] = Json::parse(R"([{"id": "a", "certificates": ["kw_TswMJs3z11LzryAuwSy9rjRBxX4jfCzVCYmIKaUlQNY"]}])"); },
       "/principals/0/certificates/0", "(the value is not repeated here: it may be a credential pasted in the wrong place)"},
      {"IdentityLowerCaseAttributeType", [](Json& j) { j["principals"][0]["certificates"] = {"cn=etl"}; }, "/principals/0/certificates/0",
       "this is not a certificate identity"},
      {"IdentityUnknownAttributeType", [](Json& j) { j["principals"][0]["certificates"] = {"SPIFFE=spiffe://x/y"}; },
       "/principals/0/certificates/0", "is not a certificate identity"},
      {"IdentityIpSan", [](Json& j) { j["principals"][0]["certificates"] = {"IP:10.0.0.1"}; }, "/principals/0/certificates/0",
       "is not a certificate identity"},
      {"IdentitySubjectWithoutValue", [](Json& j) { j["principals"][0]["certificates"] = {"CN="}; }, "/principals/0/certificates/0",
       "is not a certificate identity"},
      {"IdentitySanWithoutName", [](Json& j) { j["principals"][0]["certificates"] = {"URI:"}; }, "/principals/0/certificates/0",
       "'URI:' names nothing: write URI: and the name"},
      {"IdentityControlCharacter", [](Json& j) { j["principals"][0]["certificates"] = {"CN=a\nb"}; }, "/principals/0/certificates/0",
       "a certificate identity must not contain control characters"},
      {"IdentityNotAString", [](Json& j) { j["principals"][0]["certificates"] = {true}; }, "/principals/0/certificates/0",
       "expected a string, got a boolean"},
      {"IdentityTwiceInOnePrincipal", [](Json& j) { j["principals"][0]["certificates"] = {"CN=etl", "CN=etl"}; },
       "/principals/0/certificates/1", "this certificate identity is listed twice (also at /principals/0/certificates/0)"},
      {"IdentityInTwoPrincipals",
       [](Json& j) {
         j["principals"][0]["certificates"] = {"URI:spiffe://example.com/etl"};
         j["principals"].push_back(Principal("admin", {}, {"URI:spiffe://example.com/etl"}));
       },
       "/principals/1/certificates/0",
       "this certificate identity is listed twice: also for principal 'etl' at /principals/0/certificates/0; one credential "
       "must identify exactly one principal"},
      // auth
      {"AuthUnknownField", [](Json& j) { j["auth"] = {{"window_ms", 1}}; }, "/auth/window_ms", "unknown field 'window_ms'"},
      {"AuthMaxFailuresZero", [](Json& j) { j["auth"] = {{"max_failures", 0}}; }, "/auth/max_failures", "expected an integer from 1 to 1000000, got 0"},
      {"AuthWindowTooShort", [](Json& j) { j["auth"] = {{"failure_window_ms", 999}}; }, "/auth/failure_window_ms",
       "expected an integer from 1000 to 86400000, got 999"},
      {"AuthBlockTooLong", [](Json& j) { j["auth"] = {{"block_ms", 86400001}}; }, "/auth/block_ms", "expected an integer from 1000 to 86400000"},
      {"AuthBlockNotAnInteger", [](Json& j) { j["auth"] = {{"block_ms", 1.5}}; }, "/auth/block_ms", "expected an integer"},
  };
  return cases;
}

class ConfigErrorTest : public ConfigTest, public ::testing::WithParamInterface<ErrorCase> {};

// Each case is one problem: it is the only error, at exactly its pointer.
TEST_P(ConfigErrorTest, IsTheOnlyErrorAtItsPointer) {
  const ErrorCase& c = GetParam();
  Json j = Minimal();
  c.change(j);
  auto r = Load(j);
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument, HasSubstr("1 error(s) in " + In("keyward.json"))));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt(c.pointer, c.message)));
}

INSTANTIATE_TEST_SUITE_P(Table, ConfigErrorTest, ::testing::ValuesIn(ErrorCases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& param) { return param.param.name; });

TEST_F(ConfigTest, ReportsEveryProblemAtOnceInDocumentOrder) {
  // The example of docs/config.md#checking---check.
  auto r = LoadText(R"({
    "listen": {"address": "localhost", "port": 80000, "threads": 4},
    "tls": {"certificate": "server.pem"},
    "insecure_plaintext": true,
    "limits": {"max_body_bytes": 100, "read_timeout_ms": "10s"},
    "audit": {"database": "audit.db", "origin": "my log", "signing_key": "audit.key"},
    "providers": [{"id": "env", "type": "environment"}, "vault"],
    "principals": [
      {"id": "a", "tokens": ["kw_TswMJs3z11LzryAuwSy9rjRBxX4jfCzVCYmIKaUlQNY"]},
      {"id": "a"},
      {"id": "pipeline etl", "certificates": ["spiffe://example.com/etl"]}
    ],
    "auth": {"max_failures": 0, "block_ms": 10}
  })",
                    "c1.json");
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument, HasSubstr("18 error(s) in " + In("c1.json") +
                                                                 "; the first: /listen/threads: unknown field 'threads'")));
  std::vector<std::string> lines;
  for (const Diagnostic& d : diags_) lines.push_back(d.ToString());
  EXPECT_THAT(lines,
              ElementsAre(
                  "error: /listen/threads: unknown field 'threads' (expected one of: address, port, io_threads)",
                  "error: /listen/address: expected an IP address literal (such as 127.0.0.1, 0.0.0.0 or ::), got 'localhost'; host "
                  "names are not resolved",
                  "error: /listen/port: expected an integer from 0 to 65535",
                  "error: /insecure_plaintext: \"tls\" and \"insecure_plaintext\" exclude each other",
                  "error: /tls: missing required field 'private_key' (a string)",
                  "error: /limits/max_body_bytes: expected an integer from 256 to 16777216, got 100",
                  "error: /limits/read_timeout_ms: expected an integer, got a string",
                  "error: /audit/origin: the origin must not contain spaces (it names the log in its checkpoints)",
                  "error: (document): missing required field 'policy' (a string)",
                  "error: /providers/1: expected an object (a provider section)",
                  "error: /principals/0/tokens/0: a token hash is \"sha256:\" followed by 64 hex digits (run keyward-server "
                  "mint-token; never put a token itself here)",
                  "error: /principals/1/id: duplicate principal id 'a' (first at /principals/0)",
                  "error: /principals/1: principal 'a' has neither tokens nor certificates: it could never authenticate",
                  "error: /principals/2/id: principal id 'pipeline etl' is not valid: a principal id is at most 256 letters, "
                  "digits, '.', '_', '-', '@', ':', '+' (the policy's rule for the principals its rules name)",
                  "error: /principals/2/certificates/0: this is not a certificate identity: expected a "
                  "subject in RFC 2253 form, as in CN=pipeline-etl,O=Example Corp, or a subject alternative name DNS:..., "
                  "URI:... or email:... (the value is not repeated here: it may be a credential pasted in the wrong place)",
                  "error: /principals/2/certificates: principal 'pipeline etl' lists certificates, but the server asks for "
                  "none (no tls.client_ca): they could never authenticate it; set tls.client_ca, or use tokens",
                  "error: /auth/max_failures: expected an integer from 1 to 1000000, got 0",
                  "error: /auth/block_ms: expected an integer from 1000 to 86400000, got 10"));
}

TEST_F(ConfigTest, SyntaxErrorIsReportedAtTheDocument) {
  auto r = LoadText("{\"listen\": ");
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument, HasSubstr("is not valid JSON")));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("", "invalid JSON at line 1")));
}

TEST_F(ConfigTest, DuplicateKeyIsReportedAtTheDocument) {
  auto r = LoadText(R"({"policy": "a.json", "policy": "b.json"})");
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("", "duplicate key 'policy'")));
}

TEST_F(ConfigTest, InvalidUtf8IsReportedAtTheDocument) {
  Json j = Minimal();
  j["principals"][0]["certificates"] = {"CN=@@"};
  std::string text = j.dump();
  text.replace(text.find("@@"), 2, "\xC3\x28");  // an ill-formed sequence inside the identity string
  auto r = LoadText(text);
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("", "UTF-8")));
}

TEST_F(ConfigTest, UnreadableFileKeepsItsCodeAndAddsNoDiagnostics) {
  std::vector<Diagnostic> diags;
  EXPECT_THAT(LoadConfig(In("missing.json"), &diags), StatusIs(StatusCode::kNotFound, HasSubstr(In("missing.json"))));
  EXPECT_THAT(diags, IsEmpty());
  EXPECT_THAT(LoadConfig(dir_.path(), &diags), StatusIs(StatusCode::kInvalidArgument, HasSubstr("is a directory")));
  EXPECT_THAT(diags, IsEmpty());
}

TEST_F(ConfigTest, CommentsAreAllowed) {
  auto r = LoadText("// a comment\n/* another */" + Minimal().dump());
  EXPECT_THAT(r, IsOk()) << ::testing::PrintToString(diags_);
}

// --- principal ids and mint-token's line ---------------------------------------------------------------

TEST(PrincipalIdTest, FollowsThePolicysRuleAndRefusesWildcards) {
  EXPECT_EQ(PrincipalIdProblem("demo-pipeline"), "");
  EXPECT_EQ(PrincipalIdProblem("etl@example.com"), "");
  EXPECT_EQ(PrincipalIdProblem("svc:a+b_c.d"), "");
  EXPECT_EQ(PrincipalIdProblem(std::string(256, 'x')), "");
  EXPECT_EQ(PrincipalIdProblem(""), "a principal id must not be empty");
  EXPECT_THAT(PrincipalIdProblem("a\"b"), HasSubstr("principal id 'a\"b' is not valid"));
  EXPECT_THAT(PrincipalIdProblem("a\\b"), HasSubstr("is not valid"));
  EXPECT_THAT(PrincipalIdProblem(std::string(257, 'x')), HasSubstr("is not valid"));
  EXPECT_THAT(PrincipalIdProblem("a\nb"), HasSubstr("is not valid"));
  EXPECT_THAT(PrincipalIdProblem("\xFF"), HasSubstr("is not valid"));  // not UTF-8
  EXPECT_THAT(PrincipalIdProblem("*"), HasSubstr("'*' is a wildcard"));
}

TEST(PrincipalEntryLineTest, IsTheDocumentedLine) {
  EXPECT_EQ(PrincipalEntryLine("demo-pipeline", kHashA),
            std::string("{\"id\": \"demo-pipeline\", \"tokens\": [\"") + kHashA + "\"]}");
}

TEST(PrincipalEntryLineTest, IsValidJsonWhateverTheIdHolds) {
  for (const std::string& id : std::vector<std::string>{"a\"b", "a\\b\"}, {\"x", std::string("nul\0byte", 8), "line\nbreak"}) {
    const std::string line = PrincipalEntryLine(id, kHashA);
    auto parsed = ParseJson(line);
    ASSERT_THAT(parsed, IsOk()) << line;
    EXPECT_EQ((*parsed)["id"], id) << line;
    EXPECT_EQ((*parsed)["tokens"], Json::array({kHashA})) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos) << "one line";
  }
  // Not UTF-8: replaced, still one valid line (mint-token refuses such an id before printing).
  EXPECT_THAT(ParseJson(PrincipalEntryLine("\xFF", kHashA)), IsOk());
}

// --- the policy against the providers ------------------------------------------------------------------

TEST(CrossCheckTest, AgreementGivesNoErrors) {
  policy::Policy p;
  p.providers = {{"vault", ProviderType::kVault, ""}, {"env", ProviderType::kEnvironment, ""}};
  const std::map<std::string, ConfiguredProvider> configured = {{"vault", {ProviderType::kVault, 1}},
                                                               {"env", {ProviderType::kEnvironment, 0}},
                                                               {"unused", {ProviderType::kDatabricks, 2}}};
  EXPECT_THAT(CrossCheckProviders(p, configured), IsEmpty());
}

TEST(CrossCheckTest, MissingProviderPointsAtProvidersAndNamesThePolicysId) {
  policy::Policy p;
  p.providers = {{"dbx-prod", ProviderType::kDatabricks, ""}};
  EXPECT_THAT(CrossCheckProviders(p, {}),
              ElementsAre(ErrorAt("/providers", "the policy's provider 'dbx-prod' is not configured (add a section to \"providers\")")));
}

TEST(CrossCheckTest, TypeMismatchPointsAtTheSectionsType) {
  policy::Policy p;
  p.providers = {{"env", ProviderType::kEnvironment, ""}, {"vault", ProviderType::kVault, ""}};
  const std::map<std::string, ConfiguredProvider> configured = {{"env", {ProviderType::kEnvironment, 0}},
                                                               {"vault", {ProviderType::kDatabricks, 3}}};
  EXPECT_THAT(CrossCheckProviders(p, configured),
              ElementsAre(ErrorAt("/providers/3/type", "provider 'vault' is vault in the policy but databricks in the configuration")));
}

// --- preflight: the files the configuration names -------------------------------------------------------

std::string KeyPem(EVP_PKEY* key, const EVP_CIPHER* cipher = nullptr, const std::string& passphrase = "") {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  const auto* pass = reinterpret_cast<const unsigned char*>(passphrase.data());
  if (PEM_write_bio_PrivateKey(bio.get(), key, cipher, cipher ? pass : nullptr, static_cast<int>(passphrase.size()),
                               nullptr, nullptr) != 1) {
    ADD_FAILURE() << "cannot write a PEM key";
    return {};
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string NewKeyPem(const char* type) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_PKEY_Q_keygen(nullptr, nullptr, type), &EVP_PKEY_free);
  if (!key) {
    ADD_FAILURE() << "cannot generate a " << type << " key";
    return {};
  }
  return KeyPem(key.get());
}

// The key of a PEM file, re-encoded (encrypted when a cipher is given).
std::string Reencode(const std::string& key_pem, const EVP_CIPHER* cipher, const std::string& passphrase) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                                                          &EVP_PKEY_free);
  if (!key) {
    ADD_FAILURE() << "cannot read the key";
    return {};
  }
  return KeyPem(key.get(), cipher, passphrase);
}

constexpr const char* kGarbagePem = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";

// A TLS configuration over real files: the test CA's server certificate and key, the CA as client CA,
// and a signing key made by audit::SigningKey.
class PreflightTest : public ::testing::Test {
 protected:
  PreflightTest() : issued_(ca_.Issue({"localhost"}, {"127.0.0.1"})) {
    dir_.Write("server.pem", issued_.cert_pem);
    dir_.Write("server.key", issued_.key_pem);
    dir_.Write("clients-ca.pem", ca_.cert_pem());
    auto key = audit::SigningKey::Generate("keyward.test/log");
    if (!key.has_value() || !key->Save(In("audit.key")).ok()) ADD_FAILURE() << "cannot make a signing key";
    config_ = Json::parse(R"({
      "listen": {"address": "127.0.0.1", "port": 0},
      "tls": {"certificate": "server.pem", "private_key": "server.key", "client_ca": "clients-ca.pem"},
      "audit": {"database": "audit.db", "origin": "keyward.test/log", "signing_key": "audit.key"},
      "policy": "policy.json", "providers": [],
      "principals": [{"id": "etl", "certificates": ["CN=etl"]}]
    })");
  }

  std::string In(const std::string& name) const { return dir_.path() + "/" + name; }

  // LoadConfig (which must succeed) then Preflight.
  Status Run() {
    std::vector<Diagnostic> load_errors;
    auto c = LoadConfig(dir_.Write("keyward.json", config_.dump()), &load_errors);
    if (!c.has_value()) {
      ADD_FAILURE() << "the configuration does not load: " << ::testing::PrintToString(load_errors);
      return c.error();
    }
    config_loaded_ = *c;
    diags_.clear();
    return Preflight(*c, &diags_);
  }

  doubles::TestCa ca_;
  doubles::TestCertificate issued_;
  ::keyward::testing::TempDir dir_;
  Json config_;
  Config config_loaded_;
  std::vector<Diagnostic> diags_;
};

TEST_F(PreflightTest, ValidFilesPass) {
  EXPECT_THAT(Run(), IsOk());
  EXPECT_THAT(diags_, IsEmpty());
}

TEST_F(PreflightTest, PlainHttpChecksOnlyTheSigningKey) {
  config_.erase("tls");
  config_["insecure_plaintext"] = true;
  config_["principals"] = Json::parse(R"([{"id": "etl", "tokens": ["sha256:1b2e25d1791e897e280877c6301e6386bcc294c3764769c00a3c31ff4a44c99d"]}])");
  dir_.Write("server.pem", kGarbagePem);  // not named any more: not read
  EXPECT_THAT(Run(), IsOk());
  std::filesystem::remove(In("audit.key"));
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/audit/signing_key", "does not exist")));
}

TEST_F(PreflightTest, WithoutClientCa) {
  config_["tls"].erase("client_ca");
  config_["principals"] = Json::parse(R"([{"id": "etl", "tokens": ["sha256:1b2e25d1791e897e280877c6301e6386bcc294c3764769c00a3c31ff4a44c99d"]}])");
  std::filesystem::remove(In("clients-ca.pem"));
  EXPECT_THAT(Run(), IsOk());
}

TEST_F(PreflightTest, MissingCertificate) {
  std::filesystem::remove(In("server.pem"));
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument, HasSubstr("1 error(s) in the files")));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/tls/certificate", "cannot open " + In("server.pem") + ": No such file or directory")));
}

TEST_F(PreflightTest, GarbageCertificatePem) {
  dir_.Write("server.pem", kGarbagePem);
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/tls/certificate", In("server.pem") + " holds no PEM certificate that can be loaded (OpenSSL: ")));
}

TEST_F(PreflightTest, CertificateFileHoldsOnlyAKey) {
  dir_.Write("server.pem", issued_.key_pem);
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/tls/certificate", "holds no PEM certificate that can be loaded")));
}

TEST_F(PreflightTest, CertificateIsADirectory) {
  config_["tls"]["certificate"] = ".";
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/tls/certificate", "is a directory, not a file")));
}

TEST_F(PreflightTest, MissingPrivateKey) {
  std::filesystem::remove(In("server.key"));
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/tls/private_key", "cannot open " + In("server.key"))));
}

TEST_F(PreflightTest, GarbagePrivateKey) {
  dir_.Write("server.key", "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/tls/private_key", In("server.key") +
                                                                 " holds no PEM private key that can be loaded without a pass phrase")));
}

TEST_F(PreflightTest, EncryptedPrivateKeyIsRefusedWithoutPrompting) {
  dir_.Write("server.key", Reencode(issued_.key_pem, EVP_aes_256_cbc(), "correct horse"));
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/tls/private_key", "without a pass phrase")));
}

TEST_F(PreflightTest, KeyOfAnotherCertificate) {
  dir_.Write("server.key", ca_.Issue({"other.example.com"}, {}).key_pem);  // same type (EC P-256)
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/tls/private_key", "the private key in " + In("server.key") +
                                                                 " does not belong to the certificate in " + In("server.pem"))));
}

TEST_F(PreflightTest, KeyOfAnotherType) {
  dir_.Write("server.key", NewKeyPem("ED25519"));  // OpenSSL alone would take it, in another slot
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/tls/private_key", "does not belong to the certificate")));
}

TEST_F(PreflightTest, GarbageClientCa) {
  dir_.Write("clients-ca.pem", kGarbagePem);
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/tls/client_ca", In("clients-ca.pem") + " holds no PEM CA certificate that can be loaded (OpenSSL: ")));
}

TEST_F(PreflightTest, EmptyClientCaFile) {
  dir_.Write("clients-ca.pem", "");
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/tls/client_ca", "holds no PEM CA certificate")));
}

TEST_F(PreflightTest, MissingClientCa) {
  std::filesystem::remove(In("clients-ca.pem"));
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/tls/client_ca", "cannot open " + In("clients-ca.pem"))));
}

TEST_F(PreflightTest, MissingSigningKey) {
  std::filesystem::remove(In("audit.key"));
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/audit/signing_key", "signing key " + In("audit.key") + " does not exist")));
}

TEST_F(PreflightTest, SigningKeyReadableByOthers) {
  ASSERT_EQ(::chmod(In("audit.key").c_str(), 0644), 0);
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/audit/signing_key", "may be read or written by its group or others (mode 0644)")));
  EXPECT_THAT(diags_[0].message, HasSubstr("chmod 600 " + In("audit.key")));
}

TEST_F(PreflightTest, TlsPrivateKeyOthersMayRead) {
  ASSERT_EQ(::chmod(In("server.key").c_str(), 0644), 0);
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/tls/private_key", "may be used by others, or written by its group (mode 0644)")));
  EXPECT_THAT(diags_[0].message, HasSubstr("chmod 600 " + In("server.key")));
  ASSERT_EQ(::chmod(In("server.key").c_str(), 0640), 0);  // a key shared with a service group
  EXPECT_THAT(Run(), IsOk());
}

TEST_F(PreflightTest, SigningKeyThatIsNotOne) {
  dir_.Write("audit.key", issued_.key_pem);  // a PEM key, but not a keyward signing key file
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/audit/signing_key", In("audit.key") + " is not a keyward signing key")));
}

TEST_F(PreflightTest, SigningKeyWithGarbagePem) {
  // The header keyward-audit keygen writes, then a PEM block that holds no key.
  dir_.Write("audit.key", "keyward audit signing key\nname: keyward.test/log\n" + std::string(kGarbagePem));
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/audit/signing_key", In("audit.key") + ": no PEM private key could be read")));
}

TEST_F(PreflightTest, ReportsEveryFileAtOnce) {
  std::filesystem::remove(In("server.pem"));
  dir_.Write("clients-ca.pem", kGarbagePem);
  std::filesystem::remove(In("audit.key"));
  EXPECT_THAT(Run(), StatusIs(StatusCode::kInvalidArgument, HasSubstr("3 error(s)")));
  EXPECT_THAT(diags_, ElementsAre(ErrorAt("/tls/certificate", "cannot open"), ErrorAt("/tls/client_ca", "holds no PEM CA certificate"),
                                  ErrorAt("/audit/signing_key", "does not exist")));
}

// What preflight passes, the server's own TLS set-up accepts (and what it refuses, the server refuses too,
// except a key of another type, which OpenSSL would take and the server could then not use).
class NullHandler final : public http::Handler {
 public:
  void Handle(http::HttpRequest, Respond respond) override { respond(http::HttpResponse{}); }
  http::HttpResponse Refuse(int status, const std::string&, const std::string&, std::string_view) override {
    http::HttpResponse r;
    r.status = status;
    return r;
  }
};

TEST_F(PreflightTest, AgreesWithTheServersTlsSetUp) {
  NullHandler handler;
  const std::vector<std::pair<std::string, std::function<void()>>> cases = {
      {"valid", [] {}},
      {"garbage certificate", [this] { dir_.Write("server.pem", kGarbagePem); }},
      {"key of another certificate", [this] { dir_.Write("server.key", ca_.Issue({"other"}, {}).key_pem); }},
      {"garbage client CA", [this] { dir_.Write("clients-ca.pem", kGarbagePem); }},
  };
  for (const auto& [name, damage] : cases) {
    SCOPED_TRACE(name);
    dir_.Write("server.pem", issued_.cert_pem);
    dir_.Write("server.key", issued_.key_pem);
    dir_.Write("clients-ca.pem", ca_.cert_pem());
    damage();
    const bool preflight_ok = Run().ok();
    auto server = http::HttpServer::Start(config_loaded_.listen, &handler);
    EXPECT_EQ(preflight_ok, server.has_value()) << (server.has_value() ? "" : server.error().message());
    if (server.has_value()) (*server)->Shutdown(0ms);
  }
}

}  // namespace
}  // namespace keyward::server
