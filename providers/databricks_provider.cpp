#include "providers/databricks_provider.h"

#include <algorithm>

#include "core/json.h"
#include "core/secret_ref.h"
#include "core/utf8.h"
#include "providers/adapter_util.h"
#include "providers/base64.h"
#include "providers/secure_json.h"

namespace keyward::providers {

using http::Method;
using http::Response;

namespace {

constexpr std::string_view kApi = "/api/2.0/secrets/";

// An error code that is a plain upper-case token (kept even under ServerText::kOmit).
bool IsPlainCode(std::string_view code) {
  return std::all_of(code.begin(), code.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; });
}

// Databricks' answer `r` (not 2xx) as a Status, by error_code first and HTTP status second.
Status DatabricksStatus(const Response& r, const std::string& ctx, ServerText text = ServerText::kQuote) {
  auto parsed = ParseJson(r.body.view(), kSecretDocument);
  WipedJson body(parsed.has_value() ? std::move(*parsed) : Json());
  std::string code = StringMember(body.get(), "error_code", "");
  std::string message = StringMember(body.get(), "message", "");
  if (text == ServerText::kOmit) {
    if (!IsPlainCode(code)) code.clear();
    if (!message.empty()) message = "the message is left out: the request carried a secret value";
  }
  const std::string detail = code.empty() ? " (HTTP " + std::to_string(r.status) + ")"
                                          : " (" + Printable(code, 60) + (message.empty() ? "" : ": " + Printable(message, 200)) + ")";
  if (code == "RESOURCE_DOES_NOT_EXIST") return Status::NotFound(ctx + ": not found" + detail);
  if (code == "PERMISSION_DENIED") return Status::PermissionDenied(ctx + ": permission denied by Databricks" + detail);
  if (code == "UNAUTHENTICATED") return Status::Unauthenticated(ctx + ": Databricks rejected keyward's token" + detail);
  if (code == "INVALID_PARAMETER_VALUE" || code == "BAD_REQUEST" || code == "MALFORMED_REQUEST") {
    return Status::InvalidArgument(ctx + ": Databricks rejected the request" + detail);
  }
  if (code == "REQUEST_LIMIT_EXCEEDED" || code == "RESOURCE_EXHAUSTED" || r.status == 429) {
    return Status::Unavailable(ctx + ": Databricks is rate-limiting keyward after " + std::to_string(r.attempts) +
                               (r.attempts == 1 ? " attempt" : " attempts") + detail);
  }
  if (code == "TEMPORARILY_UNAVAILABLE") return Status::Unavailable(ctx + ": Databricks is unavailable" + detail);
  if (code == "QUOTA_EXCEEDED" || code == "RESOURCE_LIMIT_EXCEEDED" || code == "MAX_SECRET_SCOPES_EXCEEDED") {
    return Status::ResourceExhausted(ctx + ": a Databricks limit was reached" + detail);
  }
  switch (r.status) {
    case 400: return Status::InvalidArgument(ctx + ": Databricks rejected the request" + detail);
    case 401: return Status::Unauthenticated(ctx + ": Databricks rejected keyward's token" + detail);
    case 403: return Status::PermissionDenied(ctx + ": permission denied by Databricks" + detail);
    case 404: return Status::NotFound(ctx + ": not found" + detail);
    default: break;
  }
  return Status::Unavailable(ctx + ": Databricks answered HTTP " + std::to_string(r.status) + detail);
}

std::string ErrorCode(const Response& r) {
  auto parsed = ParseJson(r.body.view(), kSecretDocument);
  if (!parsed.has_value()) return {};
  return StringMember(*parsed, "error_code", "");
}

}  // namespace

class DatabricksCore final : public RemoteCore, public std::enable_shared_from_this<DatabricksCore> {
 public:
  DatabricksCore(DatabricksOptions options, std::unique_ptr<http::Client> client)
      : id_(std::move(options.id)), token_(std::move(options.token)), client_(std::move(client)) {}

  void Shutdown() override { client_->Shutdown(); }
  http::ClientStats stats() const override { return client_->stats(); }

  void Get(const std::string& scope, const std::string& key, Deadline d, Provider::GetDone done) override {
    const std::string ctx = Ctx("get", scope, key);
    if (Status s = ValidateSecretRef(ProviderType::kDatabricks, scope, key); !s.ok()) return done(s.WithContext(ctx));
    Send(Method::kGet, "get?scope=" + http::PercentEncode(scope, false) + "&key=" + http::PercentEncode(key, false), {},
         d, std::nullopt, [ctx, done](Result<Response> r) {
           if (!r) return done(TransportError(ctx, r.error()));
           if (!IsSuccess(r->status)) return done(DatabricksStatus(*r, ctx));
           auto parsed = ParseJson(r->body.view(), kSecretDocument);
           if (!parsed.has_value()) return done(Malformed(ctx, "the body is not JSON (" + parsed.error().message() + ")"));
           WipedJson body(std::move(*parsed));
           const Json& j = body.get();
           if (!j.is_object() || !j.contains("value") || !j["value"].is_string()) {
             return done(Malformed(ctx, "no \"value\" string in the answer"));
           }
           auto bytes = Base64Decode(j["value"].get_ref<const std::string&>());
           if (!bytes) return done(Malformed(ctx, "\"value\" is not base64"));
           done(bytes->ToSecretValue());
         });
  }

  void List(const std::string& scope, Deadline d, Provider::ListDone done) override {
    const std::string ctx = Ctx("list", scope, "");
    if (!scope.empty()) {
      if (Status s = ValidateScope(ProviderType::kDatabricks, scope); !s.ok()) return done(s.WithContext(ctx));
    }
    const bool scopes = scope.empty();
    Send(Method::kGet, scopes ? std::string("scopes/list") : "list?scope=" + http::PercentEncode(scope, false), {}, d,
         std::nullopt, [ctx, scopes, done](Result<Response> r) {
           if (!r) return done(TransportError(ctx, r.error()));
           // A scope that does not exist lists as empty: the resolver must not be able to tell it from a
           // scope whose keys the caller may not see. Only Databricks' own answer says so; any other 404
           // (a wrong base path, a proxy) stays an error.
           if (!scopes && r->status == 404 && ErrorCode(*r) == "RESOURCE_DOES_NOT_EXIST") {
             return done(std::vector<ListedName>{});
           }
           if (!IsSuccess(r->status)) return done(DatabricksStatus(*r, ctx));
           auto parsed = ParseJson(r->body.view(), kSecretDocument);
           if (!parsed.has_value() || !parsed->is_object()) return done(Malformed(ctx, "the body is not a JSON object"));
           const char* array = scopes ? "scopes" : "secrets";
           const char* field = scopes ? "name" : "key";
           std::vector<ListedName> names;
           // An empty list may come back as {}: the array left out.
           if (parsed->contains(array)) {
             const Json& items = (*parsed)[array];
             if (!items.is_array()) return done(Malformed(ctx, std::string("\"") + array + "\" is not an array"));
             for (const Json& item : items) {
               if (!item.is_object() || !item.contains(field) || !item[field].is_string()) {
                 return done(Malformed(ctx, std::string("an entry of \"") + array + "\" without \"" + field + "\""));
               }
               names.push_back(ListedName{item[field].get<std::string>(), scopes});
             }
           }
           std::sort(names.begin(), names.end(), [](const ListedName& a, const ListedName& b) { return a.name < b.name; });
           done(std::move(names));
         });
  }

  void Put(const std::string& scope, const std::string& key, std::shared_ptr<SecretValue> value, Deadline d,
           Provider::StatusDone done) override {
    const std::string ctx = Ctx("put", scope, key);
    if (Status s = ValidateSecretRef(ProviderType::kDatabricks, scope, key); !s.ok()) return done(s.WithContext(ctx));
    if (value->size() > kMaxDatabricksValueBytes) {
      return done(Status::ResourceExhausted(ctx + ": the value is " + std::to_string(value->size()) +
                                            " bytes; Databricks stores at most " +
                                            std::to_string(kMaxDatabricksValueBytes)));
    }
    auto scrubbed = [value, done](Status s) { done(Scrub(std::move(s), value->reveal())); };
    PutOnce(scope, key, value, d, ctx, /*may_create_scope=*/true, scrubbed);
  }

  void Remove(const std::string& scope, const std::string& key, Deadline d, Provider::StatusDone done) override {
    const std::string ctx = Ctx("remove", scope, key);
    if (Status s = ValidateSecretRef(ProviderType::kDatabricks, scope, key); !s.ok()) return done(s.WithContext(ctx));
    SecureString body(R"({"scope":)");
    WriteJsonString(scope, &body);
    body += R"(,"key":)";
    WriteJsonString(key, &body);
    body += '}';
    // Deleting twice deletes once: safe to retry. A resent delete that finds nothing there is taken as
    // done: an earlier attempt whose answer was lost may have deleted it (the key is absent either way).
    Send(Method::kPost, "delete", std::move(body), d, true, [ctx, done](Result<Response> r) {
      if (!r) return done(TransportError(ctx, r.error()));
      if (!IsSuccess(r->status)) {
        if (r->attempts > 1 && ErrorCode(*r) == "RESOURCE_DOES_NOT_EXIST") return done(Status());
        return done(DatabricksStatus(*r, ctx));
      }
      done(Status());
    });
  }

  void Health(Deadline d, Provider::StatusDone done) override {
    const std::string ctx = Ctx("health", "", "");
    Send(Method::kGet, "scopes/list", {}, d, std::nullopt, [ctx, done](Result<Response> r) {
      if (!r) return done(TransportError(ctx, r.error()));
      if (!IsSuccess(r->status)) return done(DatabricksStatus(*r, ctx));
      done(Status());
    });
  }

 private:
  std::string Ctx(std::string_view op, std::string_view scope, std::string_view key) const {
    return OpContext(ProviderType::kDatabricks, id_, op, scope, key);
  }

  void Send(Method method, const std::string& op, SecureString body, Deadline d, std::optional<bool> idempotent,
            http::Client::Done done) {
    http::Request r;
    r.method = method;
    r.target = std::string(kApi) + op;
    SecureString auth("Bearer ");
    auth += token_.reveal();
    r.headers.emplace_back("Authorization", std::move(auth));
    r.body = std::move(body);
    r.idempotent = idempotent;
    client_->Send(std::move(r), d, std::move(done));
  }

  void PutOnce(const std::string& scope, const std::string& key, std::shared_ptr<SecretValue> value, Deadline d,
               const std::string& ctx, bool may_create_scope, Provider::StatusDone done) {
    SecureString body(R"({"scope":)");
    WriteJsonString(scope, &body);
    body += R"(,"key":)";
    WriteJsonString(key, &body);
    if (value->is_utf8()) {
      body += R"(,"string_value":)";
      WriteJsonString(value->reveal(), &body);
    } else {
      body += R"(,"bytes_value":")";
      body += Base64Encode(value->reveal()).view();
      body += '"';
    }
    body += '}';
    auto self = shared_from_this();
    // A put overwrites: sending it twice stores the same value.
    Send(Method::kPost, "put", std::move(body), d, true,
         [self, scope, key, value, d, ctx, may_create_scope, done](Result<Response> r) {
           if (!r) return done(TransportError(ctx, r.error()));
           if (IsSuccess(r->status)) return done(Status());
           if (may_create_scope && r->status == 404 && ErrorCode(*r) == "RESOURCE_DOES_NOT_EXIST") {
             return self->CreateScopeThenPut(scope, key, value, d, ctx, done);
           }
           done(DatabricksStatus(*r, ctx, ServerText::kOmit));
         });
  }

  void CreateScopeThenPut(const std::string& scope, const std::string& key, std::shared_ptr<SecretValue> value,
                          Deadline d, const std::string& ctx, Provider::StatusDone done) {
    SecureString body(R"({"scope":)");
    WriteJsonString(scope, &body);
    body += '}';
    auto self = shared_from_this();
    // Creating an existing scope answers RESOURCE_ALREADY_EXISTS, which is as good as success.
    Send(Method::kPost, "scopes/create", std::move(body), d, true,
         [self, scope, key, value, d, ctx, done](Result<Response> r) {
           const std::string create_ctx = ctx + ": create the scope";
           if (!r) return done(TransportError(create_ctx, r.error()));
           if (!IsSuccess(r->status) && ErrorCode(*r) != "RESOURCE_ALREADY_EXISTS") {
             return done(DatabricksStatus(*r, create_ctx));
           }
           self->PutOnce(scope, key, value, d, ctx, /*may_create_scope=*/false, done);
         });
  }

  const std::string id_;
  const SecretValue token_;
  std::unique_ptr<http::Client> client_;
};

Result<std::unique_ptr<RemoteProvider>> MakeDatabricksProvider(std::shared_ptr<http::IoRuntime> runtime, DatabricksOptions options) {
  KEYWARD_ASSIGN_OR_RETURN(auto client, http::Client::Create(runtime, options.origin, options.http));
  std::string id = options.id;
  auto core = std::make_shared<DatabricksCore>(std::move(options), std::move(client));
  return std::make_unique<RemoteProvider>(std::move(id), ProviderType::kDatabricks, std::move(runtime), std::move(core));
}

}  // namespace keyward::providers
