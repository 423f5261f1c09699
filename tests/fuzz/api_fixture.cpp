#include "tests/fuzz/api_fixture.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>
#include <string>

#include "audit/entry.h"
#include "core/base64.h"
#include "core/http/api.h"
#include "core/http/auth.h"
#include "core/http/metrics.h"
#include "core/json.h"
#include "core/resolver.h"
#include "core/secret_value.h"
#include "policy/loader.h"
#include "tests/fuzz/fuzz_check.h"

namespace keyward::fuzz {
namespace {

constexpr std::string_view kPolicy = R"({
  "format": "keyward-policy/1",
  "providers": [
    {"id": "vault", "type": "vault"},
    {"id": "dbx", "type": "databricks"},
    {"id": "env", "type": "environment"}
  ],
  "fabrics": [
    {"id": "emr", "kind": "emr", "providers": ["vault", "env"]},
    {"id": "dbx-prod", "kind": "databricks", "providers": ["dbx", "vault", "env"]},
    {"id": "trial-a", "kind": "databricks", "managed": true, "scope": "trial-a", "providers": ["dbx"]}
  ],
  "rules": [
    {"id": "alice-vault", "effect": "allow", "principals": ["alice"], "fabrics": ["*"], "providers": ["vault"],
     "secrets": ["secret/app/*", "secret/team/**/*"], "actions": ["*"]},
    {"id": "alice-dbx", "effect": "allow", "principals": ["alice"], "fabrics": ["dbx-prod", "trial-a"],
     "providers": ["dbx"], "secrets": ["*"], "actions": ["*"]},
    {"id": "spark-env", "effect": "allow", "principals": ["*"], "fabrics": ["*"], "providers": ["env"],
     "secrets": ["SPARK_*"], "actions": ["resolve", "list"]},
    {"id": "no-admin", "effect": "deny", "principals": ["*"], "fabrics": ["*"], "providers": ["vault"],
     "secrets": ["secret/app/admin/*"], "actions": ["*"]},
    {"id": "bob-reads", "effect": "allow", "principals": ["bob", "carol"], "fabrics": ["emr"], "providers": ["vault"],
     "secrets": ["secret/app/*"], "actions": ["resolve", "list"]}
  ]
})";

// The values the providers hold. None may leave except in a 200 answer to POST /v1/resolve.
const std::map<std::string, std::string>& VaultData() {
  static const std::map<std::string, std::string> d = {
      {"secret/app/db/password", "VAULT-PASSWORD-7c1e9a0b"},
      {"secret/app/db/user", "VAULT-USER-42f0d8e1"},
      {"secret/app/admin/root", "VAULT-ROOT-9b3d21aa"},
      {"secret/app/broken", "VAULT-NEVER-SEEN-1111"},  // a scope whose keys fail: see Get
      {"secret/team/x/y/k", std::string("\xff\x00\x01VAULT-BINARY-5e6f7a8b", 24)},
      {"secret/app/u/k", "VAULT-\xc3\x9cnicode-33aa\n\"\\tab\t-VALUE"},
  };
  return d;
}
const std::map<std::string, std::string>& DbxData() {
  static const std::map<std::string, std::string> d = {
      {"sales/token", "DBX-TOKEN-1a2b3c4d5e"},
      {"trial-a/key", "DBX-TRIAL-4d5e6f7a8b"},
  };
  return d;
}
const std::map<std::string, std::string>& EnvData() {
  static const std::map<std::string, std::string> d = {
      {"/SPARK_HOME", "ENV-SPARK-HOME-8f9e0d1c"},
      {"/SPARK_CONF", "ENV-SPARK-CONF-2b3c4d5e"},
      {"/HOME", "ENV-HOME-6f7a8b9c0d"},
  };
  return d;
}

std::shared_ptr<const policy::CompiledPolicy> FixedPolicy() {
  static const std::shared_ptr<const policy::CompiledPolicy> compiled = [] {
    std::vector<Diagnostic> errors;
    auto p = policy::ParsePolicy(kPolicy, &errors);
    if (!p.has_value()) {
      std::fprintf(stderr, "api fixture: the fixed policy does not load: %s\n",
                   errors.empty() ? p.error().ToString().c_str() : errors[0].ToString().c_str());
      std::abort();
    }
    return policy::CompiledPolicy::Compile(std::move(*p));
  }();
  return compiled;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  for (std::size_t at = s->find(from); at != std::string::npos; at = s->find(from, at + to.size())) {
    s->replace(at, from.size(), to);
  }
}

bool Has(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

// A value, and the forms in which it could appear in a response: raw, JSON-escaped, base64.
std::vector<std::string> Forms(std::string_view value) {
  std::vector<std::string> forms = {std::string(value)};
  const std::string escaped = Json(std::string(value)).dump(-1, ' ', false, Json::error_handler_t::replace);
  forms.push_back(escaped.substr(1, escaped.size() - 2));
  std::string b64;
  Base64Append(value, &b64);
  forms.push_back(b64);
  return forms;
}

const std::set<int>& DocumentedStatuses() {
  static const std::set<int> s = {200, 400, 401, 403, 404, 405, 409, 429, 500, 503, 504};
  return s;
}

std::size_t CountHeader(const http::HttpResponse& r, std::string_view name) {
  return static_cast<std::size_t>(
      std::count_if(r.headers.begin(), r.headers.end(), [&](const auto& h) { return Lower(h.first) == Lower(name); }));
}
std::string HeaderOf(const http::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (Lower(k) == Lower(name)) return v;
  }
  return "";
}

// Every form in which the request carries text: raw, as the Api got it (method, header values, peer,
// identities), its target percent-decoded, its body's JSON strings unescaped. A value the client sent may
// come back to it (echoed as a name or a request id) without being a leak.
std::string CarriedText(const http::HttpRequest& request, std::string_view raw_input) {
  std::string out(raw_input);
  for (const std::string* s : {&request.method, &request.peer}) out += '\n' + *s;
  for (const auto& [name, value] : request.headers) out += '\n' + value;
  for (const std::string& identity : request.client_identities) out += '\n' + identity;
  out += '\n';
  for (std::size_t i = 0; i < request.target.size(); ++i) {
    const char c = request.target[i];
    if (c == '%' && i + 2 < request.target.size() && std::isxdigit(static_cast<unsigned char>(request.target[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(request.target[i + 2]))) {
      out += static_cast<char>(std::stoi(request.target.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += c == '+' ? ' ' : c;
    }
  }
  struct Strings : nlohmann::json_sax<Json> {
    std::string* out;
    explicit Strings(std::string* o) : out(o) {}
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t& v) override { return Add(v); }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t& v) override { return Add(v); }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
    bool Add(const std::string& v) {
      *out += '\n';
      *out += v;
      return true;
    }
  } strings(&out);
  Json::sax_parse(request.body, &strings, Json::input_format_t::json, false);
  return out;
}

std::string Dump(const http::HttpResponse& r) {
  std::string out = std::to_string(r.status) + "\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\n";
  return out + "\n" + r.body;
}

}  // namespace

MemoryProvider::MemoryProvider(std::string id, ProviderType type, std::map<std::string, std::string> data)
    : id_(std::move(id)), type_(type), data_(std::move(data)) {}

void MemoryProvider::Get(const std::string& scope, const std::string& key, Deadline, GetDone done) {
  if (scope == "secret/app/broken") return done(Status::Unavailable("vault: sealed"));
  if (key == "slow") return done(Status::DeadlineExceeded("vault: no answer in time"));
  auto it = data_.find(scope + "/" + key);
  if (it == data_.end()) return done(Status::NotFound("no key '" + key + "' in " + scope));
  done(SecretValue(it->second));
}

void MemoryProvider::List(const std::string& scope, Deadline, ListDone done) {
  if (scope == "secret/app/broken") return done(Status::Unavailable("vault: sealed"));
  std::vector<ListedName> names;
  std::set<std::string> scopes;
  const std::string prefix = scope.empty() ? "" : scope + "/";
  for (const auto& [path, value] : data_) {
    if (path.rfind(prefix, 0) != 0) continue;
    const std::string rest = path.substr(prefix.size());
    const std::size_t slash = rest.find('/');
    if (slash == std::string::npos) {
      names.push_back({rest, false});
    } else if (scopes.insert(rest.substr(0, slash)).second) {
      names.push_back({rest.substr(0, slash), true});
    }
  }
  done(std::move(names));
}

void MemoryProvider::Put(const std::string& scope, const std::string& key, SecretValue value, Deadline,
                         StatusDone done) {
  ++puts;
  if (type_ == ProviderType::kEnvironment) return done(Status::Unimplemented("environment variables are read-only"));
  if (key == "conflict") return done(Status::Aborted("a concurrent writer won"));
  data_[scope + "/" + key] = std::string(value.reveal());
  done(Status());
}

void MemoryProvider::Remove(const std::string& scope, const std::string& key, Deadline, StatusDone done) {
  ++removes;
  if (type_ == ProviderType::kEnvironment) return done(Status::Unimplemented("environment variables are read-only"));
  done(data_.erase(scope + "/" + key) ? Status() : Status::NotFound("no key '" + key + "' in " + scope));
}

void MemoryProvider::Health(Deadline, StatusDone done) { done(Status()); }

void MemorySink::Append(std::vector<AuditRecord> batch, AppendDone done) {
  FUZZ_CHECK(!batch.empty(), "an empty audit batch");
  for (const AuditRecord& r : batch) {
    if (Status s = audit::ValidateRecord(r); !s.ok()) return done(s);  // as AuditLog::Append, inline
  }
  if (down) return done(Status::Unavailable("the audit log cannot write: disk full"));
  const SeqRange range{next_, next_ + static_cast<std::int64_t>(batch.size()) - 1};
  next_ = range.last + 1;
  for (AuditRecord& r : batch) records.push_back(std::move(r));
  done(range);
}

namespace {

// Keeps what Boost.Beast's request parser lets through to the handler (basic_parser.ipp, Boost 1.74):
// methods and header names are tokens, targets have no controls, space or DEL, header values no controls
// but tab. Everything else would have been refused with 400 before the Api saw it.
bool TokenChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool TargetChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f;
}
bool ValueChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}
std::string Keep(std::string_view s, bool (*ok)(char)) {
  std::string out;
  for (const char c : s) {
    if (ok(c)) out.push_back(c);
  }
  return out;
}

}  // namespace

Exchange ParseExchange(std::string_view input) {
  Exchange ex;
  http::HttpRequest& req = ex.request;
  req.peer = "10.0.0.7:51234";
  auto next_line = [&input]() {
    const std::size_t nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };
  const std::string_view first = next_line();
  const std::size_t sp = first.find(' ');
  req.method = Keep(first.substr(0, sp), TokenChar);
  req.target = sp == std::string_view::npos ? std::string() : Keep(first.substr(sp + 1), TargetChar);
  while (!input.empty()) {
    const std::string_view line = next_line();
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    const std::string name = Lower(Keep(line.substr(0, colon), TokenChar));
    std::string value = Keep(colon == std::string_view::npos ? std::string_view() : Trim(line.substr(colon + 1)), ValueChar);
    if (name == "x-fuzz-peer") {
      req.peer = value;
    } else if (name == "x-fuzz-cert") {
      req.client_identities.push_back(value);
    } else if (name == "x-fuzz-sink") {
      ex.sink_down = value == "down";
    } else {
      ReplaceAll(&value, "@ALICE", kAliceToken);
      ReplaceAll(&value, "@BOB", kBobToken);
      req.headers.emplace_back(name, std::move(value));
    }
  }
  req.body = std::string(input);
  return ex;
}

void Check(const Exchange& exchange, std::string_view raw_input) {
  MemoryProvider vault("vault", ProviderType::kVault, VaultData());
  MemoryProvider dbx("dbx", ProviderType::kDatabricks, DbxData());
  MemoryProvider env("env", ProviderType::kEnvironment, EnvData());
  MemorySink sink;
  sink.down = exchange.sink_down;
  http::Metrics metrics;
  const auto policy = FixedPolicy();
  auto policy_fn = [policy]() -> std::shared_ptr<const Authorizer> { return policy; };
  Resolver resolver(
      policy_fn,
      [&](std::string_view id) -> Provider* {
        if (id == "vault") return &vault;
        if (id == "dbx") return &dbx;
        if (id == "env") return &env;
        return nullptr;
      },
      &sink, &metrics);
  std::vector<http::PrincipalCredentials> principals(3);
  principals[0].id = "alice";
  principals[0].token_hashes.push_back(*http::ParseTokenHash(http::TokenHashString(kAliceToken)));
  principals[1].id = "bob";
  principals[1].token_hashes.push_back(*http::ParseTokenHash(http::TokenHashString(kBobToken)));
  principals[2].id = "carol";
  principals[2].certificates.push_back("CN=carol,O=Example");
  auto now = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  http::Authenticator auth(std::move(principals), http::Authenticator::Throttle{3, std::chrono::seconds(60), std::chrono::seconds(60)},
                           [&now] { return now; });
  http::ApiDeps deps;
  deps.resolver = &resolver;
  deps.auth = &auth;
  deps.metrics = &metrics;
  deps.audit = &sink;
  deps.policy = policy_fn;
  deps.latest_checkpoint = [] { return std::string("keyward.test/log\n3\nAAAA\n\n\xe2\x80\x94 keyward.test/log AAAA\n"); };
  deps.audit_health = [&sink] { return sink.down ? Status::Unavailable("disk full") : Status(); };
  deps.providers = {&vault, &dbx, &env};
  http::Api api(http::ApiOptions{.origin = "keyward.test/log"}, std::move(deps));

  // The secrets that must not leak: the providers' values, and the value a PUT body carries, each in
  // every form it could take.
  std::vector<std::vector<std::string>> values;
  for (const auto* data : {&VaultData(), &DbxData(), &EnvData()}) {
    for (const auto& [path, value] : *data) values.push_back(Forms(value));
  }
  if (exchange.request.method == "PUT") {
    const Json body = Json::parse(exchange.request.body, nullptr, false);
    if (body.is_object() && body.contains("value") && body["value"].is_string()) {
      const std::string v = body["value"].get<std::string>();
      std::string decoded;
      const bool b64 = body.contains("encoding") && Base64DecodeAppend(v, &decoded);
      for (const std::string& candidate : {v, decoded}) {
        if (candidate.size() >= 10 && (candidate != decoded || b64)) values.push_back(Forms(candidate));
      }
    }
  }
  // Where the request itself carries a secret, in any form, it may come back (a name spelled like a value,
  // echoed in an error).
  const std::string carried = CarriedText(exchange.request, raw_input);
  std::vector<std::string> secrets;
  for (const std::vector<std::string>& forms : values) {
    if (std::any_of(forms.begin(), forms.end(), [&](const std::string& f) { return Has(carried, f); })) continue;
    for (const std::string& f : forms) {
      if (f.size() >= 8) secrets.push_back(f);
    }
  }

  // Handle it.
  int calls = 0;
  http::HttpResponse response;
  http::HttpRequest request = exchange.request;
  const std::string method = request.method;
  api.Handle(std::move(request), [&](http::HttpResponse r) {
    ++calls;
    response = std::move(r);
  });
  FUZZ_CHECK(calls == 1, "respond was called %d times before Handle returned", calls);
  const std::string dump = Dump(response);
  FUZZ_CHECK(DocumentedStatuses().count(response.status) == 1, "undocumented status:\n%s", dump.c_str());
  FUZZ_CHECK(response.status != 500, "the handler answered 500 (internal error):\n%s", dump.c_str());
  FUZZ_CHECK(CountHeader(response, "X-Request-Id") == 1, "not exactly one X-Request-Id:\n%s", dump.c_str());
  const std::string request_id = HeaderOf(response, "X-Request-Id");

  const bool json = HeaderOf(response, "Content-Type") == "application/json";
  FUZZ_CHECK(json || response.status == 200, "an error that is not JSON:\n%s", dump.c_str());
  Json body;
  if (json) {
    body = Json::parse(response.body, nullptr, false);
    FUZZ_CHECK(!body.is_discarded() && body.is_object(), "a JSON response that does not parse:\n%s", dump.c_str());
  }
  const bool not_ready = response.status == 503 && body.contains("ready") && body["ready"] == false && body.contains("checks");
  if (response.status != 200 && !not_ready) {  // /readyz answers 503 with its checks, not an error
    FUZZ_CHECK(body.size() == 1 && body.contains("error") && body["error"].is_object(), "malformed error:\n%s", dump.c_str());
    const Json& err = body["error"];
    FUZZ_CHECK(err.contains("code") && err["code"].is_string() && err.contains("message") && err["message"].is_string() &&
                   err.contains("request_id") && err["request_id"] == request_id,
               "malformed error:\n%s", dump.c_str());
    bool code_matches = false;
    for (int c = 0; c <= static_cast<int>(StatusCode::kDataLoss); ++c) {
      const auto code = static_cast<StatusCode>(c);
      if (StatusCodeName(code) == err["code"].get<std::string>()) code_matches = http::HttpStatusFor(code) == response.status;
    }
    FUZZ_CHECK(code_matches, "error code does not map onto the status:\n%s", dump.c_str());
    if (response.status == 405) FUZZ_CHECK(CountHeader(response, "Allow") == 1, "a 405 without Allow:\n%s", dump.c_str());
  }

  // Which route answered: the metrics know.
  const bool resolve_ok = response.status == 200 && method == "POST" && body.contains("secrets");
  FUZZ_CHECK(response.sensitive == resolve_ok, "sensitive=%d on:\n%s", response.sensitive, dump.c_str());
  if (!resolve_ok) {
    for (const std::string& s : secrets) {
      FUZZ_CHECK(!Has(dump, s), "a secret value leaked into a response:\n%s", dump.c_str());
    }
  } else {
    // Exactly the providers' values of the refs asked for, each with its audit record.
    FUZZ_CHECK(body["secrets"].is_array() && !body["secrets"].empty(), "a resolve without secrets:\n%s", dump.c_str());
    for (const Json& s : body["secrets"]) {
      const std::string provider = s.value("provider", ""), scope = s.value("scope", ""), key = s.value("key", "");
      const auto& data = provider == "vault" ? VaultData() : provider == "dbx" ? DbxData() : EnvData();
      auto it = data.find(scope + "/" + key);
      FUZZ_CHECK(it != data.end(), "a value for a secret that does not exist:\n%s", dump.c_str());
      std::string value = s.value("value", "");
      if (s.contains("encoding")) {
        std::string decoded;
        FUZZ_CHECK(s["encoding"] == "base64" && Base64DecodeAppend(value, &decoded), "bad encoding:\n%s", dump.c_str());
        value = decoded;
      }
      FUZZ_CHECK(value == it->second, "a resolve returned another value than the provider's:\n%s", dump.c_str());
    }
    FUZZ_CHECK(!sink.down && sink.records.size() >= body["secrets"].size(), "values without their audit records:\n%s",
               dump.c_str());
  }
  if (sink.down) {
    FUZZ_CHECK(vault.puts + dbx.puts + env.puts == 0 && vault.removes + dbx.removes + env.removes == 0,
               "a provider was changed while the audit log was down:\n%s", dump.c_str());
    const bool accessed = body.contains("audit");
    FUZZ_CHECK(!accessed, "an access answered while the audit log was down:\n%s", dump.c_str());
  }
  if (response.status == 200 && body.contains("audit")) {
    FUZZ_CHECK(!sink.records.empty(), "an access answered without an audit record:\n%s", dump.c_str());
  }
  for (const AuditRecord& r : sink.records) {
    for (const std::string& s : secrets) {
      for (const std::string* field : {&r.request_id, &r.principal, &r.fabric, &r.provider, &r.scope, &r.key, &r.reason,
                                       &r.detail, &r.peer, &r.policy}) {
        FUZZ_CHECK(!Has(*field, s), "a secret value leaked into an audit record (%s)", r.action.c_str());
      }
    }
  }
  const std::string rendered = metrics.Render();
  for (const std::string& s : secrets) FUZZ_CHECK(!Has(rendered, s), "a secret value leaked into the metrics");

  // The server's own refusals carry the client's request id when it is well formed.
  http::HttpResponse refused = api.Refuse(431, "resource_exhausted", "headers too large", exchange.request.Header("x-request-id"));
  const Json refused_body = Json::parse(refused.body, nullptr, false);
  FUZZ_CHECK(refused_body.is_object() && refused_body["error"]["request_id"] == HeaderOf(refused, "X-Request-Id"),
             "a refusal whose request id does not match:\n%s", Dump(refused).c_str());
}

}  // namespace keyward::fuzz
