#include "core/http/api.h"

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <mutex>

#include "core/base64.h"
#include "core/json.h"
#include "core/secret_value.h"
#include "core/utf8.h"

namespace keyward::http {
namespace {

constexpr const char* kJson = "application/json";

bool WellFormedRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// The bytes AppendJsonString adds for `s`.
std::size_t JsonStringSize(std::string_view s) {
  std::size_t n = 2;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    n += (c == '"' || c == '\\') ? 2 : c < 0x20 ? 6 : 1;
  }
  return n;
}

// Appends `s` as a JSON string (RFC 8259): escapes '"', '\' and control characters; UTF-8 passes through.
void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (c < 0x20) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(ch);
    }
  }
  out->push_back('"');
}

// Percent-decodes one path segment or query value. False for a malformed escape.
// Decodes one path segment or query component. In the query, '+' is a space (the form-encoding rule
// that browsers, curl --data-urlencode and most client libraries follow); a literal '+' is %2B there.
// Fails with the reason: malformed %-escapes, or bytes that are not UTF-8.
Status PercentDecode(std::string_view in, std::string* out, bool plus_is_space, std::string_view where) {
  out->clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(plus_is_space && in[i] == '+' ? ' ' : in[i]);
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = i + 2 < in.size() ? hex(in[i + 1]) : -1;
    const int lo = i + 2 < in.size() ? hex(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) return Status::InvalidArgument("malformed percent-encoding in the " + std::string(where));
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  if (!IsValidUtf8(*out)) {
    return Status::InvalidArgument("the " + std::string(where) + " is not valid UTF-8 once percent-decoded");
  }
  return Status::Ok();
}

std::string PeerAddress(const std::string& peer) {
  const std::size_t colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

Json AuditJson(const std::string& origin, const SeqRange& r) {
  return {{"origin", origin}, {"first_seq", r.first}, {"last_seq", r.last}};
}

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kUnimplemented: return 405;
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted:
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kInternal:
    case StatusCode::kDataLoss: return 500;
    case StatusCode::kCancelled:
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
  }
  return 500;
}

namespace {
void SetAllow(HttpResponse& r, std::string_view methods) {
  for (auto& [name, value] : r.headers) {
    if (name == "Allow") {
      value = methods;
      return;
    }
  }
  r.headers.emplace_back("Allow", methods);
}
}  // namespace

// One request in flight.
struct Api::Call {
  HttpRequest request;
  Respond respond;
  std::string request_id;
  std::string route = "unknown";
  std::string path;
  std::vector<std::string> segments;  // the decoded path segments
  std::vector<std::pair<std::string, std::string>> query;
  std::string principal;
  std::chrono::steady_clock::time_point start;
  Metrics* metrics = nullptr;
  // Set by the first Send: a call is answered once. (Not std::call_once: glibc's pthread_once wakes
  // waiters with a futex system call every time a flag is first used, i.e. on every request.)
  std::atomic<bool> answered{false};

  void Send(HttpResponse r) {
    if (answered.exchange(true, std::memory_order_acq_rel)) return;
    r.headers.emplace_back("X-Request-Id", request_id);
    if (metrics != nullptr) {
      metrics->OnRequest(route, r.status,
                         std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start));
    }
    respond(std::move(r));
  }
  void SendJson(int status, const Json& body) {
    HttpResponse r;
    r.status = status;
    r.headers.emplace_back("Content-Type", kJson);
    r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    Send(std::move(r));
  }
  HttpResponse ErrorResponse(const Status& s, Json extra = Json::object()) const {
    Json err = {{"code", StatusCodeName(s.code())}, {"message", s.message()}, {"request_id", request_id}};
    for (auto& [k, v] : extra.items()) err[k] = v;
    HttpResponse r;
    r.status = HttpStatusFor(s.code());
    r.headers.emplace_back("Content-Type", kJson);
    r.body = Json{{"error", std::move(err)}}.dump(-1, ' ', false, Json::error_handler_t::replace);
    // RFC 9110 §15.5.6: a 405 names the methods the resource allows. Where the method is refused for
    // what the resource is (a read-only provider), it allows none: an empty Allow.
    if (r.status == 405) SetAllow(r, "");
    return r;
  }
  void SendError(const Status& s, Json extra = Json::object()) { Send(ErrorResponse(s, std::move(extra))); }
  const std::string* Query(std::string_view name) const {
    for (const auto& [k, v] : query) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

Api::Api(ApiOptions options, ApiDeps deps) : options_(std::move(options)), deps_(std::move(deps)) {
  std::uint8_t r[4];
  if (RAND_bytes(r, sizeof r) != 1) std::abort();
  id_prefix_ = "kw-" + ToHex(std::span<const std::uint8_t>(r)) + "-";
}

std::string Api::RequestIdFor(std::string_view given) {
  return WellFormedRequestId(given) ? std::string(given) : id_prefix_ + std::to_string(++next_id_);
}

HttpResponse Api::Refuse(int status, const std::string& code, const std::string& message,
                         std::string_view client_request_id) {
  const std::string request_id = RequestIdFor(client_request_id);
  HttpResponse r;
  r.status = status;
  r.close = true;
  r.headers.emplace_back("Content-Type", kJson);
  r.headers.emplace_back("X-Request-Id", request_id);
  r.body = Json{{"error", {{"code", code}, {"message", message}, {"request_id", request_id}}}}.dump();
  if (deps_.metrics != nullptr) deps_.metrics->OnRequest("refused", status, std::chrono::microseconds(0));
  return r;
}

void Api::Handle(HttpRequest request, Respond respond) {
  auto call = std::make_shared<Call>();
  call->start = std::chrono::steady_clock::now();
  call->metrics = deps_.metrics;
  call->respond = std::move(respond);
  call->request_id = RequestIdFor(request.Header("x-request-id"));
  call->request = std::move(request);
  try {
    Route(call);
  } catch (const std::exception& e) {  // the last-resort catch of a handler: a bug, answered as one
    call->SendError(Status::Internal(std::string("internal error: ") + e.what()));
  }
}

void Api::Route(std::shared_ptr<Call> call) {
  std::string_view target = call->request.target;
  // RFC 9112 §3.2.2: a server accepts the absolute form ("http://host/path") too; the authority is
  // not used for routing.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() > scheme.size() && std::equal(scheme.begin(), scheme.end(), target.begin(), [](char a, char b) {
          return a == (b | 0x20);
        })) {
      const std::size_t path = target.find_first_of("/?", scheme.size());
      target = path == std::string_view::npos ? std::string_view("/")
               : target[path] == '?'          ? std::string_view()  // "http://h?q": no path; refused below
                                              : target.substr(path);
      break;
    }
  }
  const std::size_t q = target.find('?');
  call->path = std::string(target.substr(0, q));
  if (q != std::string::npos) {
    std::string_view rest = std::string_view(target).substr(q + 1);
    while (!rest.empty()) {
      const std::size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      const std::size_t eq = pair.find('=');
      std::string k, v;
      Status decoded = PercentDecode(pair.substr(0, eq), &k, true, "query string");
      if (decoded.ok()) {
        decoded = PercentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), &v, true, "query string");
      }
      if (!decoded.ok()) return call->SendError(decoded);
      call->query.emplace_back(std::move(k), std::move(v));
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    }
  }
  if (call->path.empty() || call->path[0] != '/') return call->SendError(Status::InvalidArgument("the path must start with '/'"));
  std::string_view p = std::string_view(call->path).substr(1);
  while (true) {
    const std::size_t slash = p.find('/');
    std::string seg;
    if (Status decoded = PercentDecode(p.substr(0, slash), &seg, false, "path"); !decoded.ok()) {
      return call->SendError(decoded);
    }
    if (seg.find('/') != std::string::npos) {
      return call->SendError(Status::InvalidArgument("a path segment must not contain an encoded '/': send it as a separator"));
    }
    call->segments.push_back(std::move(seg));
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  const auto& s = call->segments;
  const std::string& m = call->request.method;
  auto method_not_allowed = [&](const char* allowed) {
    HttpResponse r = call->ErrorResponse(Status::Unimplemented(m + " is not allowed on " + call->path));
    SetAllow(r, allowed);
    call->Send(std::move(r));
  };

  // Unauthenticated: liveness, readiness, metrics and the public checkpoint.
  if (s.size() == 1 && s[0] == "healthz") {
    call->route = "healthz";
    if (m != "GET") return method_not_allowed("GET");
    return call->SendJson(200, {{"status", "ok"}});
  }
  if (s.size() == 1 && s[0] == "readyz") {
    call->route = "readyz";
    if (m != "GET") return method_not_allowed("GET");
    return Ready(call);
  }
  if (s.size() == 1 && s[0] == "metrics") {
    call->route = "metrics";
    if (m != "GET") return method_not_allowed("GET");
    HttpResponse r;
    r.headers.emplace_back("Content-Type", "text/plain; version=0.0.4");
    r.body = deps_.metrics->Render();
    return call->Send(std::move(r));
  }
  if (s.size() == 3 && s[0] == "v1" && s[1] == "audit" && s[2] == "checkpoint") {
    call->route = "checkpoint";
    if (m != "GET") return method_not_allowed("GET");
    const std::string note = deps_.latest_checkpoint();
    if (note.empty()) return call->SendError(Status::NotFound("no checkpoint has been signed yet"));
    HttpResponse r;
    r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    r.body = note;
    return call->Send(std::move(r));
  }
  if (s.empty() || s[0] != "v1") return call->SendError(Status::NotFound("no such endpoint: " + Printable(call->path)));

  if (s.size() == 2 && s[1] == "resolve") {
    call->route = "resolve";
    if (m != "POST") return method_not_allowed("POST");
  } else if (s.size() == 2 && s[1] == "fabrics") {
    call->route = "fabrics";
    if (m != "GET") return method_not_allowed("GET");
  } else if (s.size() == 4 && s[1] == "fabrics" && s[3] == "secrets") {
    call->route = "list";
    if (m != "GET") return method_not_allowed("GET");
  } else if (s.size() >= 6 && s[1] == "fabrics" && s[3] == "secrets") {
    call->route = m == "DELETE" ? "delete" : "write";
    if (m != "PUT" && m != "DELETE") return method_not_allowed("PUT, DELETE");
  } else {
    return call->SendError(Status::NotFound("no such endpoint: " + Printable(call->path)));
  }
  if (!Authenticate(call)) return;
  if (call->route == "resolve") return Resolve(call);
  if (call->route == "fabrics") return Fabrics(call);
  if (call->route == "list") return List(call, s[2]);
  return Mutate(call, s[2], std::vector<std::string>(s.begin() + 4, s.end()), m == "PUT");
}

bool Api::Authenticate(const std::shared_ptr<Call>& call) {
  // Two Authorization headers are ambiguous (a proxy in front may have checked the other one): a
  // failed attempt, whatever either holds.
  const auto& headers = call->request.headers;
  const bool ambiguous =
      std::count_if(headers.begin(), headers.end(), [](const auto& h) { return h.first == "authorization"; }) > 1;
  auto v = deps_.auth->Authenticate(ambiguous ? std::optional<std::string_view>("") : call->request.FindHeader("authorization"),
                                    call->request.client_identities, PeerAddress(call->request.peer));
  if (ambiguous && v.outcome != Authenticator::Outcome::kOk) v.failure = "more than one Authorization header";
  if (v.outcome == Authenticator::Outcome::kOk) {
    call->principal = v.principal;
    return true;
  }
  const bool throttled = v.outcome == Authenticator::Outcome::kThrottled;
  deps_.metrics->OnAuthFailure(throttled);
  const auto retry_after = std::chrono::ceil<std::chrono::seconds>(v.retry_after);
  auto refuse = [call, retry_after] {
    HttpResponse r = call->ErrorResponse(
        Status::ResourceExhausted("too many failed authentications from this address; try again later"));
    r.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(1, retry_after.count())));
    call->Send(std::move(r));
  };
  if (throttled && !v.throttle_started) {
    // Refused without being checked or audited one by one: a flood must not flood the log.
    refuse();
    return false;
  }
  AuditRecord r;
  r.request_id = call->request_id;
  r.peer = call->request.peer;
  r.action = "authenticate";
  r.decision = "deny";
  r.reason = throttled ? "throttled" : "unauthenticated";
  r.detail = throttled ? v.failure + "; too many failed authentications: further attempts from this address are refused for " +
                             std::to_string(retry_after.count()) + " s"
                       : v.failure;
  const std::string failure = v.failure;
  deps_.audit->Append({std::move(r)}, [call, throttled, failure, refuse](Result<SeqRange>) {
    // Recorded or not, nothing was accessed: the answer is the same.
    if (throttled) return refuse();
    call->SendError(Status::Unauthenticated(failure));
  });
  return false;
}

Status ReadResolveRequest(const Json& body, std::size_t max_refs, SchemaReader& reader, ResolveRequest* out) {
  if (!reader.Object(body, "", {"fabric", "secrets"})) return Status();
  out->fabric = reader.String(body, "", "fabric", true).value_or("");
  const Json* secrets = reader.Array(body, "", "secrets", true, false);
  if (secrets == nullptr) return Status();
  if (secrets->size() > max_refs) {
    return Status::InvalidArgument("too many secrets: " + std::to_string(secrets->size()) + " (at most " +
                                   std::to_string(max_refs) + " per request)");
  }
  for (std::size_t i = 0; i < secrets->size(); ++i) {
    const std::string ptr = JsonPointerJoin("/secrets", i);
    const Json& e = (*secrets)[i];
    if (!reader.Object(e, ptr, {"provider", "scope", "key"})) continue;
    SecretRef ref;
    ref.provider = reader.String(e, ptr, "provider", true).value_or("");
    ref.scope = reader.String(e, ptr, "scope", false).value_or("");
    ref.key = reader.String(e, ptr, "key", true).value_or("");
    out->refs.push_back(std::move(ref));
  }
  return Status();
}

namespace {

// The resolve body as clients send it: exactly {"fabric": "...", "secrets": [{"provider": "...", "scope":
// "...", "key": "..."}, ...]}, each member once and nothing else, at most max_refs secrets. Read with
// nlohmann's SAX parser straight into the request, without building a DOM (which costs some forty heap
// allocations for a one-secret body). Anything it does not recognise stops it: the caller then reads the
// body the general way, which names the precise error. The JSON fuzzer checks that whatever this accepts,
// the general way reads identically.
class ResolveBodyReader {
 public:
  ResolveBodyReader(std::size_t max_refs, ResolveRequest* out) : max_refs_(max_refs), out_(out) {}

  bool null() { return false; }
  bool boolean(bool) { return false; }
  bool number_integer(Json::number_integer_t) { return false; }
  bool number_unsigned(Json::number_unsigned_t) { return false; }
  bool number_float(Json::number_float_t, const std::string&) { return false; }
  bool binary(Json::binary_t&) { return false; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

  bool string(std::string& v) {
    std::string* target = nullptr;
    switch (slot_) {
      case Slot::kFabric: target = &out_->fabric; break;
      case Slot::kProvider: target = &out_->refs.back().provider; break;
      case Slot::kScope: target = &out_->refs.back().scope; break;
      case Slot::kKey: target = &out_->refs.back().key; break;
      default: return false;
    }
    *target = std::move(v);
    slot_ = Slot::kNone;
    return true;
  }
  bool start_object(std::size_t) {
    if (level_ == Level::kStart) {
      level_ = Level::kRoot;
      return true;
    }
    if (level_ != Level::kSecrets || out_->refs.size() == max_refs_) return false;
    out_->refs.emplace_back();
    seen_ = 0;
    level_ = Level::kRef;
    return true;
  }
  bool start_array(std::size_t) {
    if (level_ != Level::kRoot || slot_ != Slot::kSecrets) return false;
    slot_ = Slot::kNone;
    level_ = Level::kSecrets;
    return true;
  }
  bool end_array() {  // only the secrets array is ever open
    level_ = Level::kRoot;
    return !out_->refs.empty();
  }
  bool end_object() {
    if (level_ == Level::kRef) {
      level_ = Level::kSecrets;
      return (seen_ & (kProvider | kKey)) == (kProvider | kKey);
    }
    level_ = Level::kEnd;
    return root_seen_ == (kFabric | kSecrets);
  }
  bool key(std::string& k) {
    if (level_ == Level::kRoot) return Member(k, {{"fabric", kFabric, Slot::kFabric}, {"secrets", kSecrets, Slot::kSecrets}}, &root_seen_);
    return Member(k, {{"provider", kProvider, Slot::kProvider}, {"scope", kScope, Slot::kScope}, {"key", kKey, Slot::kKey}}, &seen_);
  }

 private:
  enum class Level { kStart, kRoot, kSecrets, kRef, kEnd };
  enum class Slot { kNone, kFabric, kSecrets, kProvider, kScope, kKey };
  static constexpr unsigned kFabric = 1, kSecrets = 2, kProvider = 1, kScope = 2, kKey = 4;
  struct Known {
    std::string_view name;
    unsigned bit;
    Slot slot;
  };
  bool Member(const std::string& k, std::initializer_list<Known> known, unsigned* seen) {
    for (const Known& m : known) {
      if (k != m.name) continue;
      if (*seen & m.bit) return false;  // a duplicate
      *seen |= m.bit;
      slot_ = m.slot;
      return true;
    }
    return false;
  }

  const std::size_t max_refs_;
  ResolveRequest* out_;
  Level level_ = Level::kStart;
  Slot slot_ = Slot::kNone;
  unsigned root_seen_ = 0, seen_ = 0;
};

}  // namespace

std::string ResolveResponseBody(const ResolveResult& result, std::string_view origin) {
  // Built by hand, not through a JSON library, into one buffer sized first: it is never reallocated, which
  // would leave a copy of the values behind in freed memory, unwiped. (An upper bound: every secret is
  // counted with the base64 marker.)
  const std::string first_seq = std::to_string(result.audit.first), last_seq = std::to_string(result.audit.last);
  std::size_t size = std::string_view("{\"secrets\":[],\"audit\":{\"first_seq\":,\"last_seq\":,\"origin\":}}").size() +
                     first_seq.size() + last_seq.size() + JsonStringSize(origin);
  for (const ResolvedSecret& s : result.secrets) {
    size += std::string_view(",{\"provider\":,\"scope\":,\"key\":,\"value\":\",\"encoding\":\"base64\"}").size() +
            JsonStringSize(s.ref.provider) + JsonStringSize(s.ref.scope) + JsonStringSize(s.ref.key) +
            (s.value.is_utf8() ? JsonStringSize(s.value.reveal()) : (s.value.reveal().size() + 2) / 3 * 4);
  }
  std::string out;
  out.reserve(size);
  [[maybe_unused]] const char* const buffer = out.data();
  out += "{\"secrets\":[";
  for (std::size_t i = 0; i < result.secrets.size(); ++i) {
    const ResolvedSecret& s = result.secrets[i];
    if (i) out += ',';
    out += "{\"provider\":";
    AppendJsonString(s.ref.provider, &out);
    out += ",\"scope\":";
    AppendJsonString(s.ref.scope, &out);
    out += ",\"key\":";
    AppendJsonString(s.ref.key, &out);
    out += ",\"value\":";
    if (s.value.is_utf8()) {
      AppendJsonString(s.value.reveal(), &out);
    } else {
      out += '"';
      Base64Append(s.value.reveal(), &out);
      out += "\",\"encoding\":\"base64\"";
    }
    out += '}';
  }
  out += "],\"audit\":{\"first_seq\":";  // the keys in AuditJson's (sorted) order
  out += first_seq;
  out += ",\"last_seq\":";
  out += last_seq;
  out += ",\"origin\":";
  AppendJsonString(origin, &out);
  out += "}}";
  assert(out.data() == buffer && "the size computed above was too small");
  return out;
}

bool ReadWellFormedResolveRequest(std::string_view body, std::size_t max_refs, ResolveRequest* out) {
  ResolveBodyReader reader(max_refs, out);
  if (Json::sax_parse(body.begin(), body.end(), &reader, Json::input_format_t::json, /*strict=*/true,
                      /*ignore_comments=*/false)) {
    return true;
  }
  *out = ResolveRequest();
  return false;
}

void Api::Resolve(std::shared_ptr<Call> call) {
  ResolveRequest req;
  if (!ReadWellFormedResolveRequest(call->request.body, options_.max_refs, &req)) {
    auto body = ParseJson(call->request.body, kResolveBodyLimits);
    if (!body.has_value()) return call->SendError(body.error());
    std::vector<Diagnostic> problems;
    SchemaReader reader(&problems);
    if (Status s = ReadResolveRequest(*body, options_.max_refs, reader, &req); !s.ok()) return call->SendError(s);
    if (!problems.empty()) {
      return call->SendError(Status::InvalidArgument(problems[0].pointer + ": " + problems[0].message));
    }
  }
  const RequestContext ctx{call->request_id, call->principal, call->request.peer,
                           std::chrono::steady_clock::now() + options_.request_timeout};
  auto policy = deps_.policy();
  const std::string origin = options_.origin;
  deps_.resolver->Resolve(ctx, req.fabric, std::move(req.refs), [call, policy, origin](Result<ResolveResult> r, std::vector<DeniedRef> denied) {
    if (!r.has_value()) {
      Json extra = Json::object();
      if (!denied.empty()) {
        Json list = Json::array();
        for (const DeniedRef& d : denied) {
          std::string reason = d.reason;
          if (d.decided_by == "constraint:invalid-secret-ref") {
            if (auto type = policy->ProviderTypeOf(d.ref.provider)) reason = ValidateSecretRef(*type, d.ref.scope, d.ref.key).message();
          }
          list.push_back({{"provider", d.ref.provider}, {"scope", d.ref.scope}, {"key", d.ref.key},
                          {"decided_by", d.decided_by}, {"reason", reason}});
        }
        extra["denied"] = std::move(list);
      }
      return call->SendError(r.error(), std::move(extra));
    }
    HttpResponse resp;
    resp.sensitive = true;
    resp.headers.emplace_back("Content-Type", kJson);
    resp.body = ResolveResponseBody(*r, origin);
    call->Send(std::move(resp));
  });
}

void Api::Fabrics(std::shared_ptr<Call> call) {
  Json fabrics = Json::array();
  for (const auto& f : deps_.policy()->FabricsFor(call->principal)) {
    Json providers = Json::array();
    for (const auto& p : f.providers) providers.push_back({{"id", p.id}, {"type", ProviderTypeName(p.type)}});
    fabrics.push_back({{"id", f.id}, {"kind", f.kind}, {"managed", f.managed}, {"providers", std::move(providers)}});
  }
  call->SendJson(200, {{"fabrics", std::move(fabrics)}});
}

void Api::List(std::shared_ptr<Call> call, const std::string& fabric) {
  const std::string* provider = call->Query("provider");
  if (provider == nullptr || provider->empty()) {
    // Which providers could be meant is the policy's to say: name the ones this principal may use here.
    std::string choices;
    if (auto policy = deps_.policy()) {
      for (const auto& f : policy->FabricsFor(call->principal)) {
        if (f.id != fabric) continue;
        for (const auto& p : f.providers) choices += (choices.empty() ? "" : ", ") + p.id;
      }
    }
    return call->SendError(Status::InvalidArgument("the query parameter 'provider' is required" +
                                                   (choices.empty() ? std::string() : " (here: " + choices + ")")));
  }
  const std::string* scope = call->Query("scope");
  const std::string scope_value = scope ? *scope : "";
  const RequestContext ctx{call->request_id, call->principal, call->request.peer,
                           std::chrono::steady_clock::now() + options_.request_timeout};
  const std::string origin = options_.origin;
  const std::string provider_id = *provider;
  deps_.resolver->List(ctx, fabric, provider_id, scope_value, [call, origin, provider_id, scope_value](Result<ListResult> r) {
    if (!r.has_value()) return call->SendError(r.error());
    Json secrets = Json::array(), scopes = Json::array();
    for (const ListedName& n : r->names) {
      if (n.is_scope) {
        scopes.push_back({{"provider", provider_id}, {"scope", scope_value.empty() ? n.name : scope_value + "/" + n.name}});
      } else {
        secrets.push_back({{"provider", provider_id}, {"scope", scope_value}, {"key", n.name}});
      }
    }
    call->SendJson(200, {{"secrets", std::move(secrets)}, {"scopes", std::move(scopes)}, {"audit", AuditJson(origin, r->audit)}});
  });
}

void Api::Mutate(std::shared_ptr<Call> call, const std::string& fabric, std::vector<std::string> tail, bool write) {
  // tail: provider, [scope segments...], key
  SecretRef ref;
  ref.provider = tail.front();
  ref.key = tail.back();
  for (std::size_t i = 1; i + 1 < tail.size(); ++i) ref.scope += (i > 1 ? "/" : "") + tail[i];
  const RequestContext ctx{call->request_id, call->principal, call->request.peer,
                           std::chrono::steady_clock::now() + options_.request_timeout};
  const std::string origin = options_.origin;
  auto done = [call, origin](Result<WriteResult> r) {
    if (!r.has_value()) return call->SendError(r.error());
    call->SendJson(200, {{"audit", AuditJson(origin, r->audit)}});
  };
  if (!write) {
    if (!call->request.body.empty()) return call->SendError(Status::InvalidArgument("DELETE takes no body"));
    return deps_.resolver->Delete(ctx, fabric, std::move(ref), std::move(done));
  }
  // The body holds the value: parse it, move the value into a SecretValue, wipe every other copy.
  std::string& raw = call->request.body;
  auto body = ParseJson(raw, JsonLimits{.max_depth = 4});
  WipeMemory(raw.data(), raw.size());
  if (!body.has_value()) return call->SendError(body.error());
  std::vector<Diagnostic> problems;
  SchemaReader reader(&problems);
  std::optional<SecretValue> value;
  if (reader.Object(*body, "", {"value", "encoding"})) {
    const auto encoding = reader.String(*body, "", "encoding", false);
    auto it = body->find("value");
    if (it == body->end() || !it->is_string()) {
      reader.Error("/value", "type", "expected \"value\": a string");
    } else {
      std::string& v = it->get_ref<std::string&>();
      if (!encoding) {
        value.emplace(v);
      } else if (*encoding == "base64") {
        std::string decoded;
        if (Base64DecodeAppend(v, &decoded)) {
          value.emplace(decoded);
        } else {
          reader.Error("/value", "encoding", "\"value\" is not canonical base64 (RFC 4648, padded)");
        }
        WipeMemory(decoded.data(), decoded.size());
      } else {
        reader.Error("/encoding", "enum", "\"encoding\" must be \"base64\" when given");
      }
      WipeMemory(v.data(), v.size());
    }
  }
  if (!problems.empty()) return call->SendError(Status::InvalidArgument(problems[0].pointer + ": " + problems[0].message));
  deps_.resolver->Write(ctx, fabric, std::move(ref), std::move(*value), std::move(done));
}

void Api::CheckProviders(std::function<void(const ProviderHealth::Results&)> done) {
  {
    std::lock_guard lk(health_.mu);
    const auto now = std::chrono::steady_clock::now();
    if (health_.checked && now - *health_.checked < options_.provider_health_ttl) {
      const ProviderHealth::Results results = health_.results;
      return done(results);
    }
    health_.waiting.push_back(std::move(done));
    if (health_.checking) return;  // the round in progress answers this caller too
    health_.checking = true;
  }
  struct Round {
    std::mutex mu;
    ProviderHealth::Results results;
    std::size_t remaining = 0;
  };
  auto round = std::make_shared<Round>();
  round->remaining = deps_.providers.size();
  auto finish = [this, round] {
    std::vector<std::function<void(const ProviderHealth::Results&)>> waiting;
    {
      std::lock_guard lk(health_.mu);
      health_.results = round->results;
      health_.checked = std::chrono::steady_clock::now();
      health_.checking = false;
      waiting.swap(health_.waiting);
    }
    for (auto& w : waiting) w(round->results);
  };
  if (round->remaining == 0) return finish();
  for (Provider* p : deps_.providers) {
    p->Health(std::chrono::steady_clock::now() + std::chrono::seconds(2), [round, id = p->id(), finish](Status s) {
      bool last = false;
      {
        std::lock_guard lk(round->mu);
        round->results.emplace_back(id, std::move(s));
        last = --round->remaining == 0;
      }
      if (last) finish();
    });
  }
}

void Api::Ready(std::shared_ptr<Call> call) {
  Json checks = Json::object();
  const bool policy = deps_.policy() != nullptr;
  checks["policy"] = policy ? "ok" : "no policy loaded";
  const Status audit = deps_.audit_health();
  checks["audit"] = audit.ok() ? "ok" : audit.message();
  CheckProviders([call, checks = std::move(checks), ready = policy && audit.ok()](const ProviderHealth::Results& results) mutable {
    // Only the status code: a provider's message may name its address, and /readyz is public.
    Json providers = Json::object();
    for (const auto& [id, s] : results) {
      providers[id] = s.ok() ? "ok" : StatusCodeName(s.code());
      ready = ready && s.ok();
    }
    checks["providers"] = std::move(providers);
    call->SendJson(ready ? 200 : 503, {{"ready", ready}, {"checks", std::move(checks)}});
  });
}

}  // namespace keyward::http
