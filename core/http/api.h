// Api: keyward's HTTP API (docs/api.md) on top of the Resolver. Routing, authentication, strict JSON
// request bodies, the Status -> HTTP mapping, JSON errors, request ids, metrics and readiness.
// Beast-free: the HttpServer calls it with plain structs.
//
// Errors are {"error": {"code": "<status code name>", "message": "...", "request_id": "..."}} with
//   invalid_argument 400, unauthenticated 401, permission_denied 403, not_found 404, unimplemented 405,
//   already_exists / aborted / failed_precondition 409, resource_exhausted 429, internal / data_loss 500,
//   unavailable / cancelled 503, deadline_exceeded 504.
// Every response carries X-Request-Id: the client's when it sent a well-formed one
// ([A-Za-z0-9._:-]{1,128}), else a fresh one.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/audit_sink.h"
#include "core/authorizer.h"
#include "core/http/auth.h"
#include "core/http/metrics.h"
#include "core/http/server.h"
#include "core/json.h"
#include "core/provider.h"
#include "core/resolver.h"

namespace keyward::http {

// The body of POST /v1/resolve (docs/api.md): {"fabric": ..., "secrets": [{"provider", "scope", "key"}]}.
struct ResolveRequest {
  std::string fabric;
  std::vector<SecretRef> refs;
};
// Reads `body` into *out, recording every schema error in `reader` (a ref with errors is left out).
// InvalidArgument, and nothing read, when it holds more than `max_refs` secrets.
Status ReadResolveRequest(const Json& body, std::size_t max_refs, SchemaReader& reader, ResolveRequest* out);
// The limits the resolve body is parsed with.
inline constexpr JsonLimits kResolveBodyLimits{.max_depth = 8};
// The fast path: reads `body` into *out when it is exactly a valid resolve request with at most `max_refs`
// secrets (what ParseJson with kResolveBodyLimits and ReadResolveRequest would read without an error),
// without building a DOM. Otherwise returns false and leaves *out empty: read it the general way for the
// error.
bool ReadWellFormedResolveRequest(std::string_view body, std::size_t max_refs, ResolveRequest* out);

// The body of a successful resolve (docs/api.md): the values (UTF-8 as JSON strings, anything else in
// base64 with "encoding": "base64") and the audit range. The string is allocated once, at its final size,
// so that no copy of the values is left in freed memory; the caller wipes it once it is sent.
std::string ResolveResponseBody(const ResolveResult& result, std::string_view origin);

struct ApiOptions {
  std::size_t max_refs = 100;                        // secrets per resolve request
  std::chrono::milliseconds request_timeout{10000};  // provider deadline of each request
  std::string origin;                                // the audit log's origin, echoed with seqs
  // /readyz asks the providers at most this often (it needs no authentication: it must not let anyone
  // make keyward call its providers at will). Concurrent probes share one round of checks.
  std::chrono::milliseconds provider_health_ttl{5000};
};

// Everything the Api talks to. REQUIRES: all outlive the Api.
struct ApiDeps {
  Resolver* resolver = nullptr;
  Authenticator* auth = nullptr;
  Metrics* metrics = nullptr;
  AuditSink* audit = nullptr;  // for failed authentications
  std::function<std::shared_ptr<const Authorizer>()> policy;
  std::function<std::string()> latest_checkpoint;  // "" when there is none yet
  std::function<Status()> audit_health;            // OK when the log can record
  std::vector<Provider*> providers;                // checked by /readyz
};

int HttpStatusFor(StatusCode code);

class Api final : public Handler {
 public:
  Api(ApiOptions options, ApiDeps deps);
  void Handle(HttpRequest request, Respond respond) override;
  HttpResponse Refuse(int status, const std::string& code, const std::string& message,
                      std::string_view client_request_id) override;

 private:
  struct Call;
  void Route(std::shared_ptr<Call> call);
  void Resolve(std::shared_ptr<Call> call);
  void Fabrics(std::shared_ptr<Call> call);
  void List(std::shared_ptr<Call> call, const std::string& fabric);
  void Mutate(std::shared_ptr<Call> call, const std::string& fabric, std::vector<std::string> tail, bool write);
  void Ready(std::shared_ptr<Call> call);
  bool Authenticate(const std::shared_ptr<Call>& call);
  // The client's X-Request-Id when it is well formed, else a fresh one.
  std::string RequestIdFor(std::string_view given);

  // The providers' last health answers, shared by /readyz callers.
  struct ProviderHealth {
    using Results = std::vector<std::pair<std::string, Status>>;
    std::mutex mu;
    std::optional<std::chrono::steady_clock::time_point> checked;
    Results results;
    bool checking = false;
    std::vector<std::function<void(const Results&)>> waiting;
  };
  void CheckProviders(std::function<void(const ProviderHealth::Results&)> done);

  ApiOptions options_;
  ApiDeps deps_;
  ProviderHealth health_;
  std::string id_prefix_;
  std::atomic<std::uint64_t> next_id_{0};
};

}  // namespace keyward::http
