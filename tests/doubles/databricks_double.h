// DatabricksDouble: the Databricks Secrets API 2.0 as reference/databricks-api.md describes it,
// in-process, over HttpDouble: bearer tokens, scopes (names compared case-insensitively), secrets as
// bytes returned base64 by `get`, {"error_code","message"} error bodies, empty lists as `{}`, 429
// REQUEST_LIMIT_EXCEEDED with Retry-After, 503 TEMPORARILY_UNAVAILABLE, the 128 KB value limit.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/doubles/http_double.h"

namespace keyward::doubles {

class DatabricksDouble {
 public:
  using Json = nlohmann::json;
  explicit DatabricksDouble(DoubleOptions options = {});
  ~DatabricksDouble();

  HttpDouble& server() { return *server_; }
  std::string url(const std::string& host = "127.0.0.1") const { return server_->url(host); }

  // --- set-up ---
  void AddToken(const std::string& token);
  void CreateScope(const std::string& scope);
  void PutSecret(const std::string& scope, const std::string& key, const std::string& bytes);
  // Every request about this scope gets 403 PERMISSION_DENIED.
  void DenyScope(const std::string& scope);
  void RateLimitNext(int count, int retry_after_seconds);
  // The next `count` requests get `status` with {"error_code": code, "message": message}.
  void FailNext(int count, unsigned status, const std::string& error_code, const std::string& message);

  // The next `count` requests get 200 with a body that is not JSON.
  void MalformNext(int count);
  // The next answer to a request for `path` (e.g. "/api/2.0/secrets/get") whose JSON body has
  // `json_pointer` gets `value` there: an answer with a member of an unexpected type.
  void RewriteNext(const std::string& path, const std::string& json_pointer, Json value);

  // --- observation ---
  bool HasScope(const std::string& scope) const;
  std::optional<std::string> Secret(const std::string& scope, const std::string& key) const;
  std::vector<DoubleRequest> Requests() const;
  int CountRequests(const std::string& method, const std::string& path) const;

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::unique_ptr<HttpDouble> server_;
};

}  // namespace keyward::doubles
