// The API half of the test doubles: what Vault and Databricks answer, request by request. Shapes
// follow /work/shared/reference/vault-api.md and databricks-api.md, odd ones included. No Beast here.
#include <openssl/evp.h>

#include <algorithm>
#include <condition_variable>
#include <set>

#include "tests/doubles/databricks_double.h"
#include "tests/doubles/vault_double.h"

namespace keyward::doubles {
namespace {

using Json = nlohmann::json;

DoubleResponse JsonResponse(unsigned status, const Json& body) { return DoubleResponse{status, {}, body.dump()}; }

// An answer with a member of an unexpected type or value (tests of a server that answers oddly): the
// next response to a request for `path` whose JSON body has `pointer` gets `value` there.
struct Rewrite {
  std::string path;
  Json::json_pointer pointer;
  Json value;
};

// VaultDouble::RawNumber's placeholders, dumped as JSON strings, become the numbers' own text.
constexpr std::string_view kRawOpen = "\"\\u0001RAW:", kRawClose = "\\u0001\"";
std::string SpliceRawNumbers(std::string body) {
  for (std::size_t at = body.find(kRawOpen); at != std::string::npos; at = body.find(kRawOpen, at)) {
    const std::size_t end = body.find(kRawClose, at + kRawOpen.size());
    if (end == std::string::npos) break;
    const std::string text = body.substr(at + kRawOpen.size(), end - at - kRawOpen.size());
    body.replace(at, end + kRawClose.size() - at, text);
    at += text.size();
  }
  return body;
}

void ApplyRewrite(std::vector<Rewrite>& rewrites, const std::string& path, DoubleResponse& res) {
  for (auto it = rewrites.begin(); it != rewrites.end(); ++it) {
    if (it->path != path) continue;
    Json body = Json::parse(res.body, nullptr, false);
    if (body.is_discarded() || !body.contains(it->pointer)) continue;
    body[it->pointer] = it->value;
    res.body = body.dump();
    rewrites.erase(it);
    return;
  }
}

// Every path below a directory `prefix` ("" or "a/b/"): "name" for a path directly in it, "name/" for
// deeper ones. Sorted, unique.
template <typename Map>
std::vector<std::string> Children(const Map& paths, const std::string& dir) {
  const std::string prefix = dir.empty() ? "" : dir + "/";
  std::set<std::string> out;
  for (const auto& [path, unused] : paths) {
    if (path.compare(0, prefix.size(), prefix) != 0 || path.size() == prefix.size()) continue;
    const std::string rest = path.substr(prefix.size());
    const std::size_t slash = rest.find('/');
    out.insert(slash == std::string::npos ? rest : rest.substr(0, slash + 1));
  }
  return {out.begin(), out.end()};
}

std::string StripSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  while (!s.empty() && s.front() == '/') s.erase(0, 1);
  return s;
}

std::string Timestamp(int n) {
  // A fixed day; the counter keeps versions distinguishable.
  const int s = n % 60, m = (n / 60) % 60;
  char buf[64];
  std::snprintf(buf, sizeof buf, "2025-01-15T10:%02d:%02d.%06dZ", m, s, n);
  return buf;
}

}  // namespace

// --- Vault -------------------------------------------------------------------------------------------

struct VaultDouble::State {
  struct Version {
    Json data;                  // the map
    std::string created_time;
    std::string deletion_time;  // "" = live
    bool destroyed = false;
  };
  struct Secret {
    Json v1;                        // KV v1: the map
    std::vector<Version> versions;  // KV v2: version n at index n-1
  };
  struct Mount {
    int version = 2;
    std::map<std::string, Secret> secrets;  // by path relative to the mount
  };
  struct Token {
    int ttl = 0;
    bool renewable = true;
    bool revoked = false;
    std::string accessor;
  };
  struct Role {
    std::string secret_id;
    int ttl = 0;
    bool renewable = true;
  };

  mutable std::mutex mu;
  mutable std::condition_variable changed;  // a request arrived
  std::map<std::string, std::map<std::string, Mount>> namespaces;  // ns -> mount path ("secret/") -> mount
  std::map<std::string, Token> tokens;
  std::map<std::string, Role> roles;
  std::vector<std::string> denied;
  bool sealed = false;
  bool standby = false;
  bool fail_renewals = false;
  int rate_limited = 0;
  int retry_after = 0;
  int fail_count = 0;
  unsigned fail_status = 500;
  std::vector<std::string> fail_errors;
  int concurrent_writes = 0;
  int fail_writes = 0;
  int malformed = 0;
  int counter = 0;
  bool record = true;
  std::vector<DoubleRequest> requests;

  static std::string NormalizeNs(std::string ns) {
    ns = StripSlashes(std::move(ns));
    return ns.empty() ? "" : ns + "/";
  }
  static std::string NormalizeMount(std::string m) { return StripSlashes(std::move(m)) + "/"; }

  std::string NewToken(int ttl, bool renewable) {
    const std::string t = "hvs.double-token-" + std::to_string(++counter);
    tokens[t] = Token{ttl, renewable, false, "accessor-" + std::to_string(counter)};
    return t;
  }

  Json Envelope(Json data) {
    return Json{{"request_id", "req-" + std::to_string(++counter)},
                {"lease_id", ""},
                {"renewable", false},
                {"lease_duration", 0},
                {"data", std::move(data)},
                {"wrap_info", nullptr},
                {"warnings", nullptr},
                {"auth", nullptr},
                {"mount_type", ""}};
  }

  static DoubleResponse Errors(unsigned status, std::vector<std::string> errors) {
    return JsonResponse(status, Json{{"errors", std::move(errors)}});
  }
  static DoubleResponse NotFound() { return JsonResponse(404, Json{{"errors", Json::array()}}); }
  static DoubleResponse NoContent() { return DoubleResponse{204, {}, ""}; }
  static DoubleResponse Denied() { return Errors(403, {"1 error occurred:\n\t* permission denied\n\n"}); }

  Json AuthBlock(const std::string& token) {
    const Token& t = tokens[token];
    return Json{{"client_token", token},
                {"accessor", t.accessor},
                {"policies", {"default", "keyward"}},
                {"token_policies", {"default", "keyward"}},
                {"metadata", nullptr},
                {"lease_duration", t.ttl},
                {"renewable", t.renewable},
                {"entity_id", ""},
                {"token_type", "service"},
                {"orphan", true}};
  }

  Json VersionMetadata(const Version& v, int n) {
    return Json{{"created_time", v.created_time},
                {"custom_metadata", nullptr},
                {"deletion_time", v.deletion_time},
                {"destroyed", v.destroyed},
                {"version", n}};
  }

  void WriteVersion(Secret& s, Json map) {
    s.versions.push_back(Version{std::move(map), Timestamp(++counter), "", false});
  }

  std::vector<Rewrite> rewrites;

  DoubleResponse Handle(const DoubleRequest& r) {
    DoubleResponse res = Dispatch(r);
    std::lock_guard lock(mu);
    ApplyRewrite(rewrites, r.path, res);
    res.body = SpliceRawNumbers(std::move(res.body));
    return res;
  }

  DoubleResponse Dispatch(const DoubleRequest& r) {
    std::lock_guard lock(mu);
    if (record) requests.push_back(r);
    changed.notify_all();
    if (r.path.compare(0, 4, "/v1/") != 0) return NotFound();
    const std::string path = r.path.substr(4);
    std::string method = r.method == "PUT" ? "POST" : r.method;
    if (method == "GET" && r.query.count("list") != 0 && r.query.at("list") == "true") method = "LIST";

    if (path == "sys/health") return Health(r);
    if (sealed) return Errors(503, {"Vault is sealed"});
    if (rate_limited > 0) {
      --rate_limited;
      DoubleResponse res = Errors(429, {"request path \"" + path + "\": rate limit quota exceeded"});
      res.headers.emplace_back("Retry-After", std::to_string(retry_after));
      return res;
    }
    if (fail_count > 0) {
      --fail_count;
      return Errors(fail_status, fail_errors);
    }
    if (malformed > 0) {
      --malformed;
      return DoubleResponse{200, {}, R"({"data": {"this is": not JSON)"};
    }
    if (path == "auth/approle/login" && method == "POST") return Login(r);

    std::string token = r.Header("x-vault-token");
    if (token.empty() && r.Header("authorization").rfind("Bearer ", 0) == 0) token = r.Header("authorization").substr(7);
    auto tok = tokens.find(token);
    if (tok == tokens.end() || tok->second.revoked) {
      return Errors(403, {"2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"});
    }
    for (const std::string& prefix : denied) {
      if (path.compare(0, prefix.size(), prefix) == 0) return Denied();
    }
    if (fail_writes > 0 && method == "POST" && path.compare(0, 5, "auth/") != 0 && path.compare(0, 4, "sys/") != 0) {
      --fail_writes;
      return Errors(fail_status, fail_errors);
    }
    if (path == "auth/token/lookup-self" && method == "GET") {
      const Token& t = tok->second;
      return JsonResponse(200, Envelope(Json{{"accessor", t.accessor},
                                             {"creation_ttl", t.ttl},
                                             {"display_name", "token"},
                                             {"expire_time", t.ttl == 0 ? Json(nullptr) : Json("2025-01-15T11:00:00Z")},
                                             {"explicit_max_ttl", 0},
                                             {"id", token},
                                             {"policies", {"default", "keyward"}},
                                             {"renewable", t.renewable},
                                             {"ttl", t.ttl},
                                             {"type", "service"}}));
    }
    if (path == "auth/token/renew-self" && method == "POST") {
      if (fail_renewals) return Denied();
      if (!tok->second.renewable) return Errors(400, {"lease is not renewable"});
      Json res = Envelope(nullptr);
      res["auth"] = AuthBlock(token);
      return JsonResponse(200, res);
    }
    const std::string ns = NormalizeNs(r.Header("x-vault-namespace"));
    auto& mounts = namespaces[ns];
    const std::string ui_prefix = "sys/internal/ui/mounts/";
    if (path.compare(0, ui_prefix.size(), ui_prefix) == 0 && method == "GET") {
      const std::string target = path.substr(ui_prefix.size());
      const auto [mount_path, mount] = FindMount(mounts, target);
      if (mount == nullptr) {
        return Denied();  // the server's body (vault-api.md); "preflight capability check" is the CLI's text
      }
      Json options = mount->version == 2 ? Json{{"version", "2"}} : Json(nullptr);
      return JsonResponse(200, Envelope(Json{{"path", mount_path},
                                             {"type", "kv"},
                                             {"description", "key/value secret storage"},
                                             {"options", options}}));
    }
    const auto [mount_path, mount] = FindMount(mounts, path);
    if (mount == nullptr) {
      return Errors(404, {"no handler for route \"" + path + "\". route entry not found."});
    }
    const std::string rel = StripSlashes(path.size() > mount_path.size() ? path.substr(mount_path.size()) : "");
    return mount->version == 1 ? KvV1(*mount, method, rel, r) : KvV2(*mount, method, rel, r);
  }

  static std::pair<std::string, Mount*> FindMount(std::map<std::string, Mount>& mounts, const std::string& path) {
    std::pair<std::string, Mount*> best{"", nullptr};
    const std::string p = StripSlashes(path) + "/";
    for (auto& [mp, m] : mounts) {
      if (p.compare(0, mp.size(), mp) == 0 && mp.size() > best.first.size()) best = {mp, &m};
    }
    return best;
  }

  DoubleResponse Health(const DoubleRequest& r) {
    const Json body{{"initialized", true},
                    {"sealed", sealed},
                    {"standby", standby},
                    {"performance_standby", false},
                    {"replication_performance_mode", "disabled"},
                    {"replication_dr_mode", "disabled"},
                    {"server_time_utc", 1736935200},
                    {"version", "1.15.6"},
                    {"cluster_name", "vault-cluster-double"},
                    {"cluster_id", "00000000-0000-0000-0000-000000000000"}};
    if (sealed) return JsonResponse(503, body);
    const bool standby_ok = r.query.count("standbyok") != 0 && r.query.at("standbyok") == "true";
    if (standby && !standby_ok) return JsonResponse(429, body);
    return JsonResponse(200, body);
  }

  DoubleResponse Login(const DoubleRequest& r) {
    const Json body = Json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("role_id") || !body["role_id"].is_string()) {
      return Errors(400, {"missing role_id"});
    }
    auto role = roles.find(body["role_id"].get<std::string>());
    if (role == roles.end() || !body.contains("secret_id") || !body["secret_id"].is_string() ||
        body["secret_id"].get<std::string>() != role->second.secret_id) {
      return Errors(400, {"invalid role or secret ID"});
    }
    const std::string token = NewToken(role->second.ttl, role->second.renewable);
    Json res = Envelope(nullptr);  // "data": null and a top-level lease_duration of 0, as Vault answers
    res["auth"] = AuthBlock(token);
    res["auth"]["token_policies"] = {"default"};
    return JsonResponse(200, res);
  }

  DoubleResponse KvV1(Mount& m, const std::string& method, const std::string& rel, const DoubleRequest& r) {
    if (method == "LIST") {
      const auto keys = Children(m.secrets, rel);
      if (keys.empty()) return NotFound();
      return JsonResponse(200, Envelope(Json{{"keys", keys}}));
    }
    auto it = m.secrets.find(rel);
    if (method == "GET") {
      if (it == m.secrets.end()) return NotFound();
      Json res = Envelope(it->second.v1);
      res["lease_duration"] = 2764800;  // KV v1 reports its default TTL
      return JsonResponse(200, res);
    }
    if (method == "POST") {
      const Json body = Json::parse(r.body, nullptr, false);
      if (!body.is_object()) return Errors(400, {"failed to parse JSON input"});
      if (rel.empty()) return Errors(405, {"unsupported operation"});
      m.secrets[rel].v1 = body;
      return NoContent();
    }
    if (method == "DELETE") {
      if (it != m.secrets.end()) m.secrets.erase(it);
      return NoContent();
    }
    return Errors(405, {"unsupported operation"});
  }

  DoubleResponse KvV2(Mount& m, const std::string& method, const std::string& rel, const DoubleRequest& r) {
    const std::size_t slash = rel.find('/');
    const std::string kind = rel.substr(0, slash);
    const std::string p = slash == std::string::npos ? "" : rel.substr(slash + 1);
    if (kind == "metadata") {
      if (method == "LIST") {
        const auto keys = Children(m.secrets, p);
        if (keys.empty()) return NotFound();
        return JsonResponse(200, Envelope(Json{{"keys", keys}}));
      }
      if (method == "DELETE") {
        m.secrets.erase(p);
        return NoContent();
      }
      if (method == "GET") {
        auto it = m.secrets.find(p);
        if (it == m.secrets.end()) return NotFound();
        Json versions = Json::object();
        for (std::size_t i = 0; i < it->second.versions.size(); ++i) {
          versions[std::to_string(i + 1)] = VersionMetadata(it->second.versions[i], static_cast<int>(i + 1));
        }
        return JsonResponse(200, Envelope(Json{{"current_version", it->second.versions.size()},
                                               {"versions", versions}}));
      }
      return Errors(405, {"unsupported operation"});
    }
    if (kind == "delete" && method == "POST" && !p.empty()) {
      // Soft-deletes the listed versions: POST /v1/<mount>/delete/<path> {"versions":[n, ...]}.
      const Json body = Json::parse(r.body, nullptr, false);
      if (!body.is_object() || !body.contains("versions") || !body["versions"].is_array()) {
        return Errors(400, {"no versions provided"});
      }
      auto sit = m.secrets.find(p);
      for (const Json& n : body["versions"]) {
        if (sit == m.secrets.end() || !n.is_number_integer()) continue;
        const auto i = n.get<std::int64_t>();
        auto& versions = sit->second.versions;
        if (i >= 1 && i <= static_cast<std::int64_t>(versions.size()) &&
            versions[static_cast<std::size_t>(i - 1)].deletion_time.empty()) {
          versions[static_cast<std::size_t>(i - 1)].deletion_time = Timestamp(++counter);
        }
      }
      return NoContent();
    }
    if (kind != "data" || p.empty()) return NotFound();
    auto it = m.secrets.find(p);
    if (method == "GET") {
      if (it == m.secrets.end() || it->second.versions.empty()) return NotFound();
      auto& versions = it->second.versions;
      std::size_t n = versions.size();
      if (r.query.count("version") != 0) n = static_cast<std::size_t>(std::stoul(r.query.at("version")));
      if (n == 0 || n > versions.size()) return NotFound();
      const Version& v = versions[n - 1];
      const Json meta = VersionMetadata(v, static_cast<int>(n));
      if (!v.deletion_time.empty() || v.destroyed) {
        // Not {"errors":[]}: the whole envelope, with data.data null and the deletion recorded.
        Json res = Envelope(Json{{"data", nullptr}, {"metadata", meta}});
        res["mount_type"] = "kv";
        return JsonResponse(404, res);
      }
      Json res = Envelope(Json{{"data", v.data}, {"metadata", meta}});
      res["mount_type"] = "kv";
      return JsonResponse(200, res);
    }
    if (method == "POST") {
      if (concurrent_writes > 0) {
        --concurrent_writes;
        Secret& s = m.secrets[p];
        Json map = s.versions.empty() || !s.versions.back().deletion_time.empty() ? Json::object()
                                                                                   : s.versions.back().data;
        map["concurrent"] = "another writer";
        WriteVersion(s, std::move(map));
        it = m.secrets.find(p);
      }
      const Json body = Json::parse(r.body, nullptr, false);
      if (!body.is_object() || !body.contains("data") || !body["data"].is_object()) {
        return Errors(400, {"no data provided"});
      }
      const std::size_t current = it == m.secrets.end() ? 0 : it->second.versions.size();
      if (body.contains("options") && body["options"].is_object() && body["options"].contains("cas")) {
        const Json& cas = body["options"]["cas"];
        if (!cas.is_number_integer() || cas.get<std::int64_t>() != static_cast<std::int64_t>(current)) {
          return Errors(400, {"check-and-set parameter did not match the current version"});
        }
      }
      Secret& s = m.secrets[p];
      WriteVersion(s, body["data"]);
      Json res = Envelope(VersionMetadata(s.versions.back(), static_cast<int>(s.versions.size())));
      res["mount_type"] = "kv";
      return JsonResponse(200, res);
    }
    if (method == "DELETE") {
      if (it != m.secrets.end() && !it->second.versions.empty()) {
        it->second.versions.back().deletion_time = Timestamp(++counter);
      }
      return NoContent();
    }
    return Errors(405, {"unsupported operation"});
  }
};

VaultDouble::VaultDouble(DoubleOptions options) : state_(std::make_shared<State>()) {
  server_ = std::make_unique<HttpDouble>([s = state_](const DoubleRequest& r) { return s->Handle(r); },
                                         std::move(options));
}

VaultDouble::~VaultDouble() = default;

void VaultDouble::Mount(const std::string& path, int kv_version, const std::string& ns) {
  std::lock_guard lock(state_->mu);
  state_->namespaces[State::NormalizeNs(ns)][State::NormalizeMount(path)].version = kv_version;
}

std::string VaultDouble::CreateToken(int ttl_seconds, bool renewable) {
  std::lock_guard lock(state_->mu);
  return state_->NewToken(ttl_seconds, renewable);
}

void VaultDouble::RevokeToken(const std::string& token) {
  std::lock_guard lock(state_->mu);
  state_->tokens[token].revoked = true;
}

void VaultDouble::FailRenewals(bool fail) {
  std::lock_guard lock(state_->mu);
  state_->fail_renewals = fail;
}

void VaultDouble::AddAppRole(const std::string& role_id, const std::string& secret_id, int token_ttl_seconds,
                             bool renewable) {
  std::lock_guard lock(state_->mu);
  state_->roles[role_id] = State::Role{secret_id, token_ttl_seconds, renewable};
}

void VaultDouble::Put(const std::string& mount, const std::string& path, const Json& map, const std::string& ns) {
  std::lock_guard lock(state_->mu);
  State::Mount& m = state_->namespaces[State::NormalizeNs(ns)][State::NormalizeMount(mount)];
  State::Secret& s = m.secrets[StripSlashes(path)];
  if (m.version == 1) {
    s.v1 = map;
  } else {
    state_->WriteVersion(s, map);
  }
}

void VaultDouble::SoftDeleteLatest(const std::string& mount, const std::string& path, const std::string& ns) {
  std::lock_guard lock(state_->mu);
  State::Secret& s = state_->namespaces[State::NormalizeNs(ns)][State::NormalizeMount(mount)].secrets[StripSlashes(path)];
  if (!s.versions.empty()) s.versions.back().deletion_time = Timestamp(++state_->counter);
}

void VaultDouble::DenyPath(const std::string& api_path_prefix) {
  std::lock_guard lock(state_->mu);
  state_->denied.push_back(api_path_prefix);
}

void VaultDouble::Seal(bool sealed) {
  std::lock_guard lock(state_->mu);
  state_->sealed = sealed;
}

void VaultDouble::SetStandby(bool standby) {
  std::lock_guard lock(state_->mu);
  state_->standby = standby;
}

void VaultDouble::RateLimitNext(int count, int retry_after_seconds) {
  std::lock_guard lock(state_->mu);
  state_->rate_limited = count;
  state_->retry_after = retry_after_seconds;
}

void VaultDouble::FailNext(int count, unsigned status, const std::vector<std::string>& errors) {
  std::lock_guard lock(state_->mu);
  state_->fail_count = count;
  state_->fail_status = status;
  state_->fail_errors = errors;
}

void VaultDouble::RecordRequests(bool record) {
  std::lock_guard lock(state_->mu);
  state_->record = record;
}

void VaultDouble::MalformNext(int count) {
  std::lock_guard lock(state_->mu);
  state_->malformed = count;
}

void VaultDouble::FailNextWrites(int count, unsigned status, const std::vector<std::string>& errors) {
  std::lock_guard lock(state_->mu);
  state_->fail_writes = count;
  state_->fail_status = status;
  state_->fail_errors = errors;
}

VaultDouble::Json VaultDouble::RawNumber(const std::string& text) { return Json("\x01RAW:" + text + "\x01"); }

void VaultDouble::RewriteNext(const std::string& api_path, const std::string& json_pointer, Json value) {
  std::lock_guard lock(state_->mu);
  state_->rewrites.push_back(Rewrite{"/v1/" + api_path, Json::json_pointer(json_pointer), std::move(value)});
}

void VaultDouble::ConcurrentWriterBeforeNextWrites(int count) {
  std::lock_guard lock(state_->mu);
  state_->concurrent_writes = count;
}

std::optional<VaultDouble::Json> VaultDouble::Get(const std::string& mount, const std::string& path,
                                                  const std::string& ns) const {
  std::lock_guard lock(state_->mu);
  auto nit = state_->namespaces.find(State::NormalizeNs(ns));
  if (nit == state_->namespaces.end()) return std::nullopt;
  auto mit = nit->second.find(State::NormalizeMount(mount));
  if (mit == nit->second.end()) return std::nullopt;
  auto sit = mit->second.secrets.find(StripSlashes(path));
  if (sit == mit->second.secrets.end()) return std::nullopt;
  if (mit->second.version == 1) return sit->second.v1;
  const auto& versions = sit->second.versions;
  if (versions.empty() || !versions.back().deletion_time.empty() || versions.back().destroyed) return std::nullopt;
  return versions.back().data;
}

int VaultDouble::CurrentVersion(const std::string& mount, const std::string& path, const std::string& ns) const {
  std::lock_guard lock(state_->mu);
  auto& m = state_->namespaces[State::NormalizeNs(ns)][State::NormalizeMount(mount)];
  auto it = m.secrets.find(StripSlashes(path));
  return it == m.secrets.end() ? 0 : static_cast<int>(it->second.versions.size());
}

std::vector<std::string> VaultDouble::Log() const {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> out;
  for (const auto& r : state_->requests) {
    const std::string ns = r.Header("x-vault-namespace");
    out.push_back((ns.empty() ? "" : "[" + ns + "] ") + r.method + " " + r.target);
  }
  return out;
}

std::vector<DoubleRequest> VaultDouble::Requests() const {
  std::lock_guard lock(state_->mu);
  return state_->requests;
}

namespace {

int Count(const std::vector<DoubleRequest>& requests, const std::string& method, const std::string& path_prefix) {
  return static_cast<int>(std::count_if(requests.begin(), requests.end(), [&](const DoubleRequest& r) {
    return r.method == method && r.path.compare(0, path_prefix.size(), path_prefix) == 0;
  }));
}

}  // namespace

int VaultDouble::CountRequests(const std::string& method, const std::string& path_prefix) const {
  std::lock_guard lock(state_->mu);
  return Count(state_->requests, method, path_prefix);
}

bool VaultDouble::WaitForRequests(const std::string& method, const std::string& path_prefix, int count,
                                  std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mu);
  return state_->changed.wait_for(lock, timeout, [&] { return Count(state_->requests, method, path_prefix) >= count; });
}

// --- Databricks --------------------------------------------------------------------------------------

namespace {

std::string Fold(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool ValidName(const std::string& s, bool allow_at) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || (allow_at && c == '@');
  });
}

// Base64 with OpenSSL's encoder, independent of the adapter's own codec.
std::string Base64Encode(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(const std::string& text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t len = static_cast<std::size_t>(n);
  if (!text.empty() && text.back() == '=') --len;
  if (text.size() > 1 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

constexpr std::size_t kMaxValueBytes = 128 * 1024;

}  // namespace

struct DatabricksDouble::State {
  struct Scope {
    std::string name;
    std::map<std::string, std::pair<std::string, std::int64_t>> secrets;  // key -> (bytes, ms timestamp)
  };

  mutable std::mutex mu;
  std::set<std::string> tokens;
  std::map<std::string, Scope> scopes;  // by folded name
  std::set<std::string> denied;         // folded scope names
  int rate_limited = 0;
  int retry_after = 0;
  int fail_count = 0;
  unsigned fail_status = 500;
  std::string fail_code;
  std::string fail_message;
  int malformed = 0;
  std::int64_t clock_ms = 1700000000000;
  std::vector<DoubleRequest> requests;

  static DoubleResponse Error(unsigned status, const std::string& code, const std::string& message) {
    return JsonResponse(status, Json{{"error_code", code}, {"message", message}});
  }
  static DoubleResponse Ok(const Json& body = Json::object()) { return JsonResponse(200, body); }
  static DoubleResponse ScopeMissing(const std::string& scope) {
    return Error(404, "RESOURCE_DOES_NOT_EXIST", "Scope " + scope + " does not exist!");
  }

  std::vector<Rewrite> rewrites;

  DoubleResponse Handle(const DoubleRequest& r) {
    DoubleResponse res = Dispatch(r);
    std::lock_guard lock(mu);
    ApplyRewrite(rewrites, r.path, res);
    return res;
  }

  DoubleResponse Dispatch(const DoubleRequest& r) {
    std::lock_guard lock(mu);
    requests.push_back(r);
    if (rate_limited > 0) {
      --rate_limited;
      DoubleResponse res = Error(429, "REQUEST_LIMIT_EXCEEDED", "Too many requests. Please wait a moment and try again.");
      res.headers.emplace_back("Retry-After", std::to_string(retry_after));
      return res;
    }
    if (fail_count > 0) {
      --fail_count;
      return Error(fail_status, fail_code, fail_message);
    }
    if (malformed > 0) {
      --malformed;
      return DoubleResponse{200, {}, R"({"value": "not JSON)"};
    }
    const std::string auth = r.Header("authorization");
    if (auth.rfind("Bearer ", 0) != 0 || tokens.count(auth.substr(7)) == 0) {
      return Error(401, "UNAUTHENTICATED", "Invalid access token.");
    }
    const std::string api = "/api/2.0/secrets/";
    if (r.path.compare(0, api.size(), api) != 0) return NoEndpoint(r);
    const std::string op = r.path.substr(api.size());
    Json body = Json::object();
    if (r.method == "POST") {
      body = Json::parse(r.body, nullptr, false);
      if (!body.is_object()) return Error(400, "MALFORMED_REQUEST", "Invalid JSON given in the body of the request");
    }
    auto field = [&](const char* name) -> std::string {
      if (r.method == "GET") return r.query.count(name) != 0 ? r.query.at(name) : "";
      return body.contains(name) && body[name].is_string() ? body[name].get<std::string>() : "";
    };
    const std::string scope = field("scope");
    const std::string key = field("key");
    if (!scope.empty() && denied.count(Fold(scope)) != 0) {
      return Error(403, "PERMISSION_DENIED", "User does not have permission to access scope " + scope + ".");
    }
    auto sit = scopes.find(Fold(scope));

    if (op == "scopes/list" && r.method == "GET") {
      if (scopes.empty()) return Ok();  // {}: the array is missing, not empty
      Json list = Json::array();
      for (const auto& [folded, s] : scopes) list.push_back(Json{{"name", s.name}, {"backend_type", "DATABRICKS"}});
      return Ok(Json{{"scopes", list}});
    }
    if (op == "scopes/create" && r.method == "POST") {
      if (!ValidName(scope, true)) {
        return Error(400, "INVALID_PARAMETER_VALUE",
                     "Scope name can only contain alphanumeric characters, dashes, underscores, periods and @.");
      }
      if (sit != scopes.end()) return Error(409, "RESOURCE_ALREADY_EXISTS", "Scope " + scope + " already exists!");
      scopes[Fold(scope)].name = scope;
      return Ok();
    }
    if (op == "scopes/delete" && r.method == "POST") {
      if (sit == scopes.end()) return ScopeMissing(scope);
      scopes.erase(sit);
      return Ok();
    }
    if (op == "list" && r.method == "GET") {
      if (sit == scopes.end()) return ScopeMissing(scope);
      if (sit->second.secrets.empty()) return Ok();
      Json list = Json::array();
      for (const auto& [k, v] : sit->second.secrets) list.push_back(Json{{"key", k}, {"last_updated_timestamp", v.second}});
      return Ok(Json{{"secrets", list}});
    }
    if (op == "get" && r.method == "GET") {
      if (sit == scopes.end()) return ScopeMissing(scope);
      auto kit = sit->second.secrets.find(key);
      if (kit == sit->second.secrets.end()) {
        return Error(404, "RESOURCE_DOES_NOT_EXIST", "Failed to get secret " + key + " for scope " + scope + ".");
      }
      return Ok(Json{{"key", key}, {"value", Base64Encode(kit->second.first)}});
    }
    if (op == "put" && r.method == "POST") {
      if (!ValidName(key, false)) {
        return Error(400, "INVALID_PARAMETER_VALUE",
                     "Invalid key name. Key names can only contain alphanumeric characters, dashes, underscores, "
                     "and periods.");
      }
      const bool has_string = body.contains("string_value"), has_bytes = body.contains("bytes_value");
      if (has_string == has_bytes) {
        return Error(400, "INVALID_PARAMETER_VALUE", "Exactly one of string_value or bytes_value must be specified.");
      }
      std::string value;
      if (has_string) {
        if (!body["string_value"].is_string()) return Error(400, "INVALID_PARAMETER_VALUE", "string_value must be a string");
        value = body["string_value"].get<std::string>();
      } else {
        auto decoded = body["bytes_value"].is_string() ? Base64Decode(body["bytes_value"].get<std::string>()) : std::nullopt;
        if (!decoded) return Error(400, "INVALID_PARAMETER_VALUE", "bytes_value is not valid base64");
        value = std::move(*decoded);
      }
      if (value.size() > kMaxValueBytes) {
        return Error(400, "INVALID_PARAMETER_VALUE", "Secret value exceeds the maximum size of 128 KB.");
      }
      if (sit == scopes.end()) return ScopeMissing(scope);
      sit->second.secrets[key] = {std::move(value), clock_ms += 1000};
      return Ok();
    }
    if (op == "delete" && r.method == "POST") {
      if (sit == scopes.end()) return ScopeMissing(scope);
      if (sit->second.secrets.erase(key) == 0) {
        return Error(404, "RESOURCE_DOES_NOT_EXIST", "Secret " + key + " does not exist in scope " + scope + ".");
      }
      return Ok();
    }
    return NoEndpoint(r);
  }

  static DoubleResponse NoEndpoint(const DoubleRequest& r) {
    return Error(404, "ENDPOINT_NOT_FOUND", "No API found for '" + r.method + " " + r.path + "'");
  }
};

DatabricksDouble::DatabricksDouble(DoubleOptions options) : state_(std::make_shared<State>()) {
  server_ = std::make_unique<HttpDouble>([s = state_](const DoubleRequest& r) { return s->Handle(r); },
                                         std::move(options));
}

DatabricksDouble::~DatabricksDouble() = default;

void DatabricksDouble::AddToken(const std::string& token) {
  std::lock_guard lock(state_->mu);
  state_->tokens.insert(token);
}

void DatabricksDouble::CreateScope(const std::string& scope) {
  std::lock_guard lock(state_->mu);
  state_->scopes[Fold(scope)].name = scope;
}

void DatabricksDouble::PutSecret(const std::string& scope, const std::string& key, const std::string& bytes) {
  std::lock_guard lock(state_->mu);
  auto& s = state_->scopes[Fold(scope)];
  if (s.name.empty()) s.name = scope;
  s.secrets[key] = {bytes, state_->clock_ms += 1000};
}

void DatabricksDouble::DenyScope(const std::string& scope) {
  std::lock_guard lock(state_->mu);
  state_->denied.insert(Fold(scope));
}

void DatabricksDouble::RateLimitNext(int count, int retry_after_seconds) {
  std::lock_guard lock(state_->mu);
  state_->rate_limited = count;
  state_->retry_after = retry_after_seconds;
}

void DatabricksDouble::FailNext(int count, unsigned status, const std::string& error_code, const std::string& message) {
  std::lock_guard lock(state_->mu);
  state_->fail_count = count;
  state_->fail_status = status;
  state_->fail_code = error_code;
  state_->fail_message = message;
}

void DatabricksDouble::MalformNext(int count) {
  std::lock_guard lock(state_->mu);
  state_->malformed = count;
}

void DatabricksDouble::RewriteNext(const std::string& path, const std::string& json_pointer, Json value) {
  std::lock_guard lock(state_->mu);
  state_->rewrites.push_back(Rewrite{path, Json::json_pointer(json_pointer), std::move(value)});
}

bool DatabricksDouble::HasScope(const std::string& scope) const {
  std::lock_guard lock(state_->mu);
  return state_->scopes.count(Fold(scope)) != 0;
}

std::optional<std::string> DatabricksDouble::Secret(const std::string& scope, const std::string& key) const {
  std::lock_guard lock(state_->mu);
  auto sit = state_->scopes.find(Fold(scope));
  if (sit == state_->scopes.end()) return std::nullopt;
  auto kit = sit->second.secrets.find(key);
  if (kit == sit->second.secrets.end()) return std::nullopt;
  return kit->second.first;
}

std::vector<DoubleRequest> DatabricksDouble::Requests() const {
  std::lock_guard lock(state_->mu);
  return state_->requests;
}

int DatabricksDouble::CountRequests(const std::string& method, const std::string& path) const {
  std::lock_guard lock(state_->mu);
  return static_cast<int>(std::count_if(state_->requests.begin(), state_->requests.end(),
                                         [&](const DoubleRequest& r) { return r.method == method && r.path == path; }));
}

}  // namespace keyward::doubles
