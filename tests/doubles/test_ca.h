// TestCa: a certificate authority made up during the test run with OpenSSL's C API (no openssl CLI,
// no files checked in), and the server certificates it issues. EC P-256 keys, SHA-256 signatures.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace keyward::doubles {

struct TestCertificate {
  std::string cert_pem;  // the leaf, then the CA
  std::string key_pem;   // PKCS#8, unencrypted
};

class TestCa {
 public:
  // Generates the CA key and its self-signed certificate. Aborts the test binary on an OpenSSL failure.
  explicit TestCa(const std::string& common_name = "keyward test CA");
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& cert_pem() const { return cert_pem_; }

  // A server certificate, valid for an hour either side of now, for `dns_names` and `ip_addresses`
  // (subjectAltName), signed by this CA.
  TestCertificate Issue(const std::vector<std::string>& dns_names, const std::vector<std::string>& ip_addresses) const;
  // A client certificate (extended key usage clientAuth) with subject CN=`common_name` and the
  // subjectAltNames `sans`, in OpenSSL's syntax ("DNS:etl.example.com", "URI:spiffe://example/etl").
  TestCertificate IssueClient(const std::string& common_name, const std::vector<std::string>& sans) const;

 private:
  TestCertificate IssueLeaf(const std::string& common_name, const std::vector<std::string>& sans,
                            const std::string& extended_key_usage) const;
  struct Keys;
  std::unique_ptr<Keys> keys_;
  std::string cert_pem_;
};

}  // namespace keyward::doubles
