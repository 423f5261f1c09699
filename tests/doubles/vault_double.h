// VaultDouble: HashiCorp Vault's HTTP API as reference/vault-api.md describes it, in-process, over
// HttpDouble. KV v1 and v2 mounts side by side, namespaces (X-Vault-Namespace), tokens with TTLs
// (lookup-self, renew-self), AppRole login, sys/health, sys/internal/ui/mounts — and the odd shapes:
// the empty-list 404 {"errors":[]}, the multierror 403 string, the deleted-version 404 with a full
// body, the sealed 503, 429 with Retry-After, the check-and-set 400.
//
// Time does not pass in the double: token TTLs are what lookup-self reports; a test expires a token by
// revoking it. Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/doubles/http_double.h"

namespace keyward::doubles {

class VaultDouble {
 public:
  using Json = nlohmann::json;

  explicit VaultDouble(DoubleOptions options = {});
  ~VaultDouble();

  HttpDouble& server() { return *server_; }
  std::string url(const std::string& host = "127.0.0.1") const { return server_->url(host); }

  // --- set-up ---
  // Mounts a KV engine at `path` ("secret/", trailing slash optional), version 1 or 2, in namespace `ns`
  // ("" = root; "team-a/" as sent in X-Vault-Namespace).
  void Mount(const std::string& path, int kv_version, const std::string& ns = "");
  // A token with `ttl_seconds` (0 = never expires, like a root token). Returns it.
  std::string CreateToken(int ttl_seconds, bool renewable = true);
  // Every request with the token fails 403 from now on, renew-self included.
  void RevokeToken(const std::string& token);
  // renew-self fails (403) for every token from now on.
  void FailRenewals(bool fail);
  // An AppRole whose logins issue tokens with `token_ttl_seconds`.
  void AddAppRole(const std::string& role_id, const std::string& secret_id, int token_ttl_seconds,
                  bool renewable = true);
  // Writes a map directly (a new version on KV v2). `path` is relative to the mount.
  void Put(const std::string& mount, const std::string& path, const Json& map, const std::string& ns = "");
  // KV v2: soft-deletes the latest version, as `vault kv delete` does.
  void SoftDeleteLatest(const std::string& mount, const std::string& path, const std::string& ns = "");
  // Requests under this API path prefix ("secret/data/locked") get the multierror 403.
  void DenyPath(const std::string& api_path_prefix);
  void Seal(bool sealed);
  void SetStandby(bool standby);
  // The next `count` requests get 429 "rate limit quota exceeded" with Retry-After: retry_after_seconds.
  void RateLimitNext(int count, int retry_after_seconds);
  // The next `count` requests (health excepted) get `status` with {"errors": errors}.
  void FailNext(int count, unsigned status, const std::vector<std::string>& errors);
  // The next `count` KV writes (POST outside auth/ and sys/) get `status` with {"errors": errors}.
  void FailNextWrites(int count, unsigned status, const std::vector<std::string>& errors);
  // The next `count` requests (health excepted) get 200 with a body that is not JSON.
  void MalformNext(int count);
  // The next answer to a request for `api_path` (after /v1/, e.g. "auth/token/lookup-self") whose JSON
  // body has `json_pointer` gets `value` there: an answer with a member of an unexpected type.
  void RewriteNext(const std::string& api_path, const std::string& json_pointer, Json value);
  // A number written exactly as `text` in the double's answers ("1.10", "12345678901234567890123"),
  // for a map given to Put: Vault keeps numbers as they were written, which a double cannot hold.
  static Json RawNumber(const std::string& text);
  // Before each of the next `count` KV v2 writes, another client writes the secret first (a new
  // version with an extra key "concurrent"), so that the write's check-and-set fails.
  void ConcurrentWriterBeforeNextWrites(int count);

  // --- observation ---
  // Whether requests are kept for Log/Requests/CountRequests (on by default; benchmarks turn it off).
  void RecordRequests(bool record);
  // The current map at `path` (nullopt: none, or the latest version is deleted).
  std::optional<Json> Get(const std::string& mount, const std::string& path, const std::string& ns = "") const;
  int CurrentVersion(const std::string& mount, const std::string& path, const std::string& ns = "") const;
  // Requests received, in order ("GET /v1/secret/data/a?version=1" with the namespace, if any, in front:
  // "[ns1/] GET ...").
  std::vector<std::string> Log() const;
  std::vector<DoubleRequest> Requests() const;
  int CountRequests(const std::string& method, const std::string& path_prefix) const;
  // Waits until CountRequests(method, path_prefix) >= count, or `timeout` passes; returns whether it did.
  bool WaitForRequests(const std::string& method, const std::string& path_prefix, int count,
                       std::chrono::milliseconds timeout) const;

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::unique_ptr<HttpDouble> server_;
};

}  // namespace keyward::doubles
