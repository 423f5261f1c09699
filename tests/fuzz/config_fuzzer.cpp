// Fuzzes the server configuration loader (tools/keyward-server/config.h, keyward::server_config): the
// input is the configuration file, written to a temporary directory and loaded with LoadConfig, as
// `keyward-server --check` and the server at start do. The same bytes are also used as a principal id
// for PrincipalIdProblem and PrincipalEntryLine (what `keyward-server mint-token` prints).
//
// Invariants:
//   - LoadConfig fails exactly when it reports diagnostics: InvalidArgument, every diagnostic an error
//     with a pointer ("" or /...) that exists in the document or names a member of an object that does,
//     and the summary names the first one. Loading is deterministic.
//   - A configuration that loads keeps every promise docs/config.md makes: an IP address literal to listen
//     on; TLS configured, or plaintext explicitly chosen; absolute, non-empty paths; an origin that is a
//     valid key name; principal ids valid and unique; no token hash or certificate identity shared by two
//     principals; every principal has a credential, and each certificate identity authenticates its
//     principal through http::Authenticator; throttle settings never shorter than configured.
//   - PrincipalEntryLine is valid JSON whatever the id holds, and carries the id when it is UTF-8; a valid
//     principal id is non-empty and has no '*'.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "audit/note.h"
#include "core/http/auth.h"
#include "core/json.h"
#include "core/utf8.h"
#include "tests/fuzz/fuzz_check.h"
#include "tools/keyward-server/config.h"

namespace keyward::server {
namespace {

std::string* dir = nullptr;

void WriteFile(const std::string& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) std::abort();
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) std::abort();
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

bool IsIpLiteral(std::string s) {
  in_addr v4{};
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) return true;
  s = s.substr(0, s.find('%'));
  in6_addr v6{};
  return ::inet_pton(AF_INET6, s.c_str(), &v6) == 1;
}

// The pointer, or the object it would be a member of, is in the document.
bool PointsIntoDocument(const Json& doc, const std::string& pointer) {
  if (pointer.empty()) return true;
  if (pointer[0] != '/') return false;
  if (doc.contains(Json::json_pointer(pointer))) return true;
  const std::string parent = pointer.substr(0, pointer.rfind('/'));
  return doc.contains(Json::json_pointer(parent)) && doc.at(Json::json_pointer(parent)).is_object();
}

void CheckLoaded(const Config& c) {
  const std::string& a = c.listen.address;
  FUZZ_CHECK(IsIpLiteral(a) && a.find('\0') == std::string::npos, "listen.address '%s' is not an IP literal", a.c_str());
  FUZZ_CHECK(c.tls == (!c.listen.certificate.empty() && !c.listen.private_key.empty()), "tls disagrees with its files");
  for (const std::string* p : {&c.audit.path, &c.audit.signing_key_path, &c.policy_path}) {
    FUZZ_CHECK(!p->empty() && (*p)[0] == '/', "a required path '%s' is empty or relative", p->c_str());
  }
  for (const std::string* p : {&c.audit.export_path, &c.listen.client_ca, &c.listen.certificate, &c.listen.private_key}) {
    FUZZ_CHECK(p->empty() || (*p)[0] == '/', "a path '%s' is relative", p->c_str());
  }
  FUZZ_CHECK(audit::ValidateKeyName(c.audit.origin).ok(), "origin '%s' is not a key name", c.audit.origin.c_str());
  FUZZ_CHECK(c.api.origin == c.audit.origin, "the API and the log name different origins");

  std::set<std::string> ids, identities;
  std::set<Digest> hashes;
  for (const http::PrincipalCredentials& p : c.principals) {
    FUZZ_CHECK(PrincipalIdProblem(p.id).empty(), "principal id '%s': %s", p.id.c_str(), PrincipalIdProblem(p.id).c_str());
    FUZZ_CHECK(ids.insert(p.id).second, "principal id '%s' twice", p.id.c_str());
    FUZZ_CHECK(!p.token_hashes.empty() || !p.certificates.empty(), "principal '%s' has no credential", p.id.c_str());
    for (const Digest& d : p.token_hashes) FUZZ_CHECK(hashes.insert(d).second, "a token hash for two principals");
    for (const std::string& i : p.certificates) {
      FUZZ_CHECK(identities.insert(i).second, "certificate identity '%s' for two principals", i.c_str());
    }
  }
  http::Authenticator auth(c.principals, MakeThrottle(c.auth));
  for (const http::PrincipalCredentials& p : c.principals) {
    for (const std::string& i : p.certificates) {
      const auto v = auth.Authenticate(std::nullopt, {i}, "192.0.2.1");  // no Authorization header
      FUZZ_CHECK(v.outcome == http::Authenticator::Outcome::kOk && v.principal == p.id,
                 "certificate identity '%s' does not authenticate principal '%s'", i.c_str(), p.id.c_str());
    }
  }
  const http::Authenticator::Throttle t = MakeThrottle(c.auth);
  FUZZ_CHECK(t.max_failures == c.auth.max_failures && t.window >= c.auth.failure_window && t.block >= c.auth.block,
             "the throttle is shorter than configured");
}

void CheckPrincipalId(std::string_view id) {
  const std::string hash = http::TokenHashString("kw_fuzz");
  const std::string line = PrincipalEntryLine(id, hash);
  const auto parsed = ParseJson(line);
  FUZZ_CHECK(parsed.has_value(), "PrincipalEntryLine is not JSON: %s", parsed.error().ToString().c_str());
  FUZZ_CHECK(parsed->is_object() && parsed->size() == 2 && (*parsed)["tokens"] == Json::array({hash}),
             "PrincipalEntryLine: %s", line.c_str());
  if (IsValidUtf8(id)) FUZZ_CHECK((*parsed)["id"] == std::string(id), "PrincipalEntryLine lost the id: %s", line.c_str());
  if (PrincipalIdProblem(id).empty()) {
    FUZZ_CHECK(!id.empty() && id.find('*') == std::string_view::npos && IsValidUtf8(id) && !HasControlCharacter(id),
               "'%.*s' passes as a principal id", static_cast<int>(id.size()), id.data());
  }
}

}  // namespace
}  // namespace keyward::server

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string templ = std::string(base) + "/keyward-config-fuzz-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) std::abort();
  keyward::server::dir = new std::string(templ);
  std::atexit([] { std::filesystem::remove_all(*keyward::server::dir); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keyward;
  using namespace keyward::server;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string path = *dir + "/config.json";
  WriteFile(path, text);

  std::vector<Diagnostic> errors;
  Result<Config> c = LoadConfig(path, &errors);
  std::vector<Diagnostic> again_errors;
  Result<Config> again = LoadConfig(path, &again_errors);
  FUZZ_CHECK(c.has_value() == again.has_value() && errors.size() == again_errors.size(), "loading twice differs");

  if (c.has_value()) {
    FUZZ_CHECK(errors.empty(), "loaded with %zu errors", errors.size());
    CheckLoaded(*c);
  } else {
    FUZZ_CHECK(c.error().code() == StatusCode::kInvalidArgument, "LoadConfig: %s", c.error().ToString().c_str());
    FUZZ_CHECK(!errors.empty(), "LoadConfig failed without a diagnostic: %s", c.error().ToString().c_str());
    const auto doc = ParseJson(text, JsonLimits{.max_depth = 16, .allow_comments = true});
    for (const Diagnostic& d : errors) {
      FUZZ_CHECK(d.severity == Diagnostic::Severity::kError, "a warning among the errors");
      FUZZ_CHECK(!d.kind.empty() && !d.message.empty(), "a diagnostic without kind or message");
      if (doc.has_value()) {
        FUZZ_CHECK(PointsIntoDocument(*doc, d.pointer), "diagnostic pointer '%s' (%s) is not in the document",
                   d.pointer.c_str(), d.kind.c_str());
      }
    }
    FUZZ_CHECK(c.error().message().find(errors[0].message) != std::string::npos,
               "the summary does not name the first error: %s", c.error().message().c_str());
  }
  CheckPrincipalId(text);
  return 0;
}
