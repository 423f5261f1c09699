// TLS: the client against HttpDouble serving certificates from a CA made during the run.
//
// This binary runs with a permissive OpenSSL configuration (testdata/openssl-permissive.cnf: TLS 1.0+
// and security level 0 for every context in the process), so that when a TLS 1.1 server is refused,
// it is keyward's own minimum that refused it — a control test shows that a client with OpenSSL's
// defaults does connect to that server.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "core/json.h"
#include "core/testing/status_matchers.h"
#include "providers/factory.h"
#include "providers/http/client.h"
#include "tests/doubles/http_double.h"
#include "tests/doubles/test_ca.h"
#include "tests/doubles/vault_double.h"
#include "tests/providers/wait.h"
#include "tests/support/subprocess.h"

namespace keyward::http {
namespace {

// Before main, so before OpenSSL reads its configuration.
const bool kPermissiveOpenSsl = [] {
  return setenv("OPENSSL_CONF", KEYWARD_SOURCE_DIR "/tests/providers/testdata/openssl-permissive.cnf", 1) == 0;
}();

using ::keyward::doubles::DoubleOptions;
using ::keyward::doubles::DoubleRequest;
using ::keyward::doubles::DoubleResponse;
using ::keyward::doubles::HttpDouble;
using ::keyward::doubles::TestCa;
using ::keyward::doubles::TlsServerConfig;
using ::keyward::testing::IsOk;
using ::keyward::testing::SendAndWait;
using ::keyward::testing::Soon;
using ::keyward::testing::StatusIs;
using ::keyward::testing::TempDir;
using ::testing::HasSubstr;

DoubleResponse Ok(const DoubleRequest&) { return DoubleResponse{200, {}, R"({"ok":true})"}; }

class TlsTest : public ::testing::Test {
 protected:
  TlsTest() { EXPECT_TRUE(kPermissiveOpenSsl); }

  DoubleOptions Serving(const doubles::TestCertificate& cert, bool only_tls_1_1 = false) {
    DoubleOptions o;
    o.tls = TlsServerConfig{cert.cert_pem, cert.key_pem, only_tls_1_1};
    return o;
  }

  Result<Response> Get(const std::string& url, const std::string& ca_file) {
    auto origin = ParseUrl(url);
    EXPECT_THAT(origin, IsOk());
    ClientOptions o;
    o.ca_file = ca_file;
    o.retry.max_attempts = 1;
    auto client = Client::Create(runtime_, *origin, o);
    if (!client.has_value()) return client.error();
    Request r;
    r.target = "/v1/sys/health";
    return SendAndWait(**client, std::move(r), Soon());
  }

  std::shared_ptr<IoRuntime> runtime_ = IoRuntime::Start();
  TestCa ca_;
  TempDir dir_;
  std::string ca_file_ = dir_.Write("ca.pem", ca_.cert_pem());
};

TEST_F(TlsTest, AGoodCertificateForTheIpAddressPassesAndNoSniIsSent) {
  HttpDouble server(Ok, Serving(ca_.Issue({"localhost"}, {"127.0.0.1"})));
  auto r = Get(server.url("127.0.0.1"), ca_file_);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(server.last_sni(), "");
}

TEST_F(TlsTest, AGoodCertificateForTheHostNamePassesAndSniNamesTheHost) {
  HttpDouble server(Ok, Serving(ca_.Issue({"localhost"}, {})));
  auto r = Get(server.url("localhost"), ca_file_);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(server.last_sni(), "localhost");
}

TEST_F(TlsTest, ACertificateForAnotherHostIsRefused) {
  HttpDouble server(Ok, Serving(ca_.Issue({"vault.example.test"}, {"10.1.2.3"})));
  EXPECT_THAT(Get(server.url("127.0.0.1"), ca_file_),
              StatusIs(StatusCode::kUnavailable, HasSubstr("certificate: hostname mismatch")));
  EXPECT_THAT(Get(server.url("localhost"), ca_file_),
              StatusIs(StatusCode::kUnavailable, HasSubstr("certificate: hostname mismatch")));
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(TlsTest, ACertificateFromAnUntrustedCaIsRefused) {
  TestCa other("another CA");
  HttpDouble server(Ok, Serving(other.Issue({"localhost"}, {"127.0.0.1"})));
  EXPECT_THAT(Get(server.url("127.0.0.1"), ca_file_),
              StatusIs(StatusCode::kUnavailable, HasSubstr("self-signed certificate in certificate chain")));
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(TlsTest, TheSystemRootsDoNotTrustTheTestCa) {
  HttpDouble server(Ok, Serving(ca_.Issue({"localhost"}, {"127.0.0.1"})));
  EXPECT_THAT(Get(server.url("127.0.0.1"), ""), StatusIs(StatusCode::kUnavailable, HasSubstr("TLS handshake failed")));
}

// The control for the next test: in this process, a client with OpenSSL's defaults negotiates TLS 1.1.
int HandshakeWithDefaults(std::uint16_t port) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  int version = -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) version = SSL_version(ssl);
    SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  close(fd);
  SSL_CTX_free(ctx);
  return version;
}

TEST_F(TlsTest, AServerThatOnlySpeaksTls11IsRefused) {
  HttpDouble server(Ok, Serving(ca_.Issue({"localhost"}, {"127.0.0.1"}), /*only_tls_1_1=*/true));
  ASSERT_EQ(HandshakeWithDefaults(server.port()), TLS1_1_VERSION);
  EXPECT_THAT(Get(server.url("127.0.0.1"), ca_file_),
              StatusIs(StatusCode::kUnavailable, HasSubstr("TLS handshake failed: tlsv1 alert protocol version")));
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(TlsTest, AProviderBuiltFromConfigurationTalksTls) {
  doubles::VaultDouble vault(Serving(ca_.Issue({"localhost"}, {"127.0.0.1"})));
  vault.Mount("secret", 2);
  vault.Put("secret", "app", nlohmann::json{{"password", "over-tls"}});
  setenv("KWTLS_VAULT_TOKEN", vault.CreateToken(3600).c_str(), 1);
  Json section = Json{{"id", "vault-tls"},
                      {"type", "vault"},
                      {"address", vault.url("localhost")},
                      {"tls", {{"ca_file", ca_file_}}},
                      {"auth", {{"method", "token"}, {"token", {{"env", "KWTLS_VAULT_TOKEN"}}}}}};
  std::vector<Diagnostic> errors;
  auto p = providers::MakeProvider(section, providers::ProviderContext{"/providers/0", runtime_, nullptr}, &errors);
  ASSERT_THAT(p, IsOk());
  auto v = testing::GetAndWait(**p, "secret/app", "password");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->reveal(), "over-tls");
  EXPECT_EQ(vault.server().last_sni(), "localhost");
}

}  // namespace
}  // namespace keyward::http
