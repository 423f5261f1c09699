#include "tools/keyward-server/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/objects.h>
#include <sched.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <thread>

#include "audit/note.h"
#include "core/file.h"
#include "core/utf8.h"
#include "policy/loader.h"
#include "providers/environment_provider.h"
#include "providers/http/url.h"

namespace keyward::server {
namespace {

std::string Resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

template <typename Rep, typename Period>
void Millis(SchemaReader& r, const Json& obj, const std::string& ptr, const char* name, std::int64_t min,
            std::int64_t max, std::chrono::duration<Rep, Period>* out) {
  if (auto v = r.Integer(obj, ptr, name, false, min, max)) {
    *out = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(std::chrono::milliseconds(*v));
  }
}

// A member that names a file: a non-empty string, resolved against the configuration's directory.
// "" when absent or invalid (reported).
std::string Path(SchemaReader& r, const Json& obj, const std::string& ptr, const char* name, bool required,
                 const std::string& dir) {
  auto v = r.String(obj, ptr, name, required);
  if (!v) return {};
  if (v->empty()) {
    r.Error(JsonPointerJoin(ptr, name), "empty",
            required ? "expected a path, got an empty string" : "expected a path, got an empty string (leave the field out for none)");
    return {};
  }
  return Resolve(dir, *v);
}

// An IP address literal as the server's listener parses it (Asio's make_address): IPv4 dotted
// decimal, or IPv6, optionally with a %scope.
bool IsIpAddressLiteral(const std::string& s) {
  if (s.find('\0') != std::string::npos) return false;
  in_addr v4{};
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) return true;
  const std::size_t percent = s.find('%');
  if (percent != std::string::npos && (percent + 1 == s.size() || percent > 256)) return false;
  in6_addr v6{};
  return ::inet_pton(AF_INET6, s.substr(0, percent).c_str(), &v6) == 1;
}

bool IsLoopback(const std::string& address) {
  in_addr v4{};
  if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  const std::string bare = address.substr(0, address.find('%'));  // without a zone ("::1%lo")
  if (::inet_pton(AF_INET6, bare.c_str(), &v6) != 1) return false;
  return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);  // ::ffff:127.x
}

bool IsDottedOid(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.' || s.find('.') == std::string_view::npos) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.' ? s[i - 1] == '.' : (s[i] < '0' || s[i] > '9')) return false;
  }
  return true;
}

// Why `id` cannot be a certificate identity as the server spells them (core/http/server.h:
// HttpRequest::client_identities), or "" when it can.
std::string CertificateIdentityProblem(const std::string& id) {
  if (id.empty()) return "a certificate identity must not be empty";
  if (!IsValidUtf8(id)) return "a certificate identity must be valid UTF-8";
  if (HasControlCharacter(id)) {
    return "a certificate identity must not contain control characters (a subject spells them escaped, as "
           "OpenSSL prints it)";
  }
  for (const std::string_view prefix : {"DNS:", "URI:", "email:"}) {
    if (id.compare(0, prefix.size(), prefix) == 0) {
      if (id.size() == prefix.size()) return "'" + id + "' names nothing: write " + std::string(prefix) + " and the name";
      return {};
    }
  }
  // A subject, RFC 2253 as OpenSSL prints it: the first attribute type is the short name OpenSSL
  // prints ("CN", "O", "DC", "emailAddress", ...; case matters) or a dotted OID, then '=' and a value.
  const std::size_t eq = id.find('=');
  if (eq != std::string::npos && eq > 0 && eq + 1 < id.size()) {
    const std::string type = id.substr(0, eq);
    if (IsDottedOid(type) || OBJ_sn2nid(type.c_str()) != NID_undef) return {};
  }
  // Not quoted: what is here may be a credential pasted in the wrong place (a token, a token hash).
  return "this is not a certificate identity: expected a subject in RFC 2253 form, as in "
         "CN=pipeline-etl,O=Example Corp, or a subject alternative name DNS:..., URI:... or email:... (the value is "
         "not repeated here: it may be a credential pasted in the wrong place)";
}

// Where a credential or an id was first seen.
struct FirstSeen {
  std::size_t principal = 0;  // index in "principals"
  std::string pointer;
};

}  // namespace

std::string PrincipalIdProblem(std::string_view id) {
  if (id.empty()) return "a principal id must not be empty";
  if (!policy::PrincipalProblem(id).empty()) {
    return "principal id '" + Printable(id) +
           "' is not valid: a principal id is at most 256 letters, digits, '.', '_', '-', '@', ':', '+' (the "
           "policy's rule for the principals its rules name)";
  }
  if (id.find('*') != std::string_view::npos) {
    return "principal id '" + Printable(id) + "' is not valid: '*' is a wildcard in the policy's rules; a principal id is literal";
  }
  return {};
}

std::string PrincipalEntryLine(std::string_view id, std::string_view token_hash) {
  const Json entry = {{"id", std::string(id)}, {"tokens", Json::array({std::string(token_hash)})}};
  // Serialised member by member so that it reads as people write it ({"id": ..., "tokens": [...]});
  // every key and value is still serialised by nlohmann::json.
  std::string line = "{";
  for (auto it = entry.begin(); it != entry.end(); ++it) {
    if (it != entry.begin()) line += ", ";
    line += Json(it.key()).dump() + ": " + it.value().dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  return line + "}";
}

http::Authenticator::Throttle MakeThrottle(const AuthLimits& limits) {
  http::Authenticator::Throttle t;
  t.max_failures = limits.max_failures;
  t.window = std::chrono::ceil<decltype(t.window)>(limits.failure_window);
  t.block = std::chrono::ceil<decltype(t.block)>(limits.block);
  return t;
}

// An environment provider must not expose a variable that holds another provider's credential (a
// {"env": NAME} reference): whoever may read it would get the Vault or Databricks token itself.
void CheckEnvironmentExposesNoCredential(const Json& providers, SchemaReader& r) {
  struct Held {
    std::string name, provider, pointer;
  };
  std::vector<Held> held;
  for (std::size_t i = 0; i < providers.size(); ++i) {
    const Json& section = providers[i];
    if (!section.is_object() || StringMember(section, "type", "") == "environment") continue;
    const std::string id = StringMember(section, "id", "");
    std::function<void(const Json&, const std::string&)> walk = [&](const Json& j, const std::string& ptr) {
      if (!j.is_object()) return;
      for (const auto& [k, v] : j.items()) {
        if (k == "env" && v.is_string()) {
          held.push_back({v.get<std::string>(), id, JsonPointerJoin(ptr, k)});
        } else {
          walk(v, JsonPointerJoin(ptr, k));
        }
      }
    };
    walk(section, JsonPointerJoin("/providers", i));
  }
  for (std::size_t i = 0; i < providers.size(); ++i) {
    const Json& section = providers[i];
    if (!section.is_object() || StringMember(section, "type", "") != "environment") continue;
    const std::string base = JsonPointerJoin("/providers", i);
    const std::string prefix = StringMember(section, "prefix", "");
    const auto allow = section.find("allow");
    for (const Held& h : held) {
      std::string where;
      if (providers::PrefixExposes(prefix, h.name)) where = base + "/prefix";
      if (allow != section.end() && allow->is_array()) {
        for (std::size_t j = 0; j < allow->size(); ++j) {
          if ((*allow)[j].is_string() && (*allow)[j].get<std::string>() == h.name) where = JsonPointerJoin(base + "/allow", j);
        }
      }
      if (!where.empty()) {
        r.Error(where, "exposes-credential",
                "this environment provider would expose " + h.name + ", which holds the credential of provider '" +
                    h.provider + "' (" + h.pointer + "): anyone allowed to read it would get that credential; "
                    "rename the variable or narrow the prefix");
      }
    }
  }
}

// The address a workspace URL connects to, as one string for comparing: the host without case or a
// trailing dot (an IP literal in its canonical form, an IPv4-mapped IPv6 address as IPv4) and the port
// as a number. The path is left out: two providers on one host and port are taken for one workspace,
// whatever base path each names (so no spelling of a path can make them look apart).
std::string WorkspaceAddress(const http::Origin& origin) {
  std::string host = origin.host;
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!host.empty() && host.back() == '.') host.pop_back();
  char text[INET6_ADDRSTRLEN] = {};
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    if (::inet_ntop(AF_INET, &v4, text, sizeof text) != nullptr) host = text;
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      std::memcpy(&v4, &v6.s6_addr[12], sizeof v4);
      if (::inet_ntop(AF_INET, &v4, text, sizeof text) != nullptr) host = text;
    } else if (::inet_ntop(AF_INET6, &v6, text, sizeof text) != nullptr) {
      host = text;
    }
  }
  std::string port = origin.port;
  unsigned long number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (ec == std::errc() && end == port.data() + port.size()) port = std::to_string(number);
  return host + " port " + port;
}

// One Databricks provider per workspace. The policy protects a managed fabric's scope per provider id
// (no other fabric may use that scope through that provider); a second provider on the same workspace
// would reach the same scope under another id, past that protection. Workspaces are compared by the
// address their URL connects to (WorkspaceAddress): two host names for one workspace cannot be told
// apart here.
void CheckOneProviderPerWorkspace(const Json& providers, SchemaReader& r) {
  std::map<std::string, std::pair<std::string, std::string>> seen;  // workspace address -> (id, pointer)
  for (std::size_t i = 0; i < providers.size(); ++i) {
    const Json& section = providers[i];
    if (!section.is_object() || StringMember(section, "type", "") != "databricks") continue;
    auto origin = http::ParseUrl(StringMember(section, "workspace_url", ""));
    if (!origin.has_value()) continue;  // reported by the provider's own checks
    const std::string ptr = JsonPointerJoin("/providers", i);
    const std::string id = StringMember(section, "id", "");
    if (auto [first, fresh] = seen.emplace(WorkspaceAddress(*origin), std::make_pair(id, ptr)); !fresh) {
      r.Error(ptr + "/workspace_url", "workspace-twice",
              "provider '" + Printable(id) + "' addresses the same Databricks workspace as provider '" +
                  Printable(first->second.first) + "' (" + first->second.second +
                  "): a managed fabric's scope is protected per provider, and a second provider would reach it "
                  "under another id; use one provider per workspace");
    }
  }
}

std::vector<Diagnostic> CrossCheckProviders(const policy::Policy& policy,
                                            const std::map<std::string, ConfiguredProvider>& configured) {
  std::vector<Diagnostic> problems;
  for (const policy::ProviderDef& p : policy.providers) {
    auto it = configured.find(p.id);
    if (it == configured.end()) {
      problems.push_back({Diagnostic::Severity::kError, "/providers", "provider-missing",
                          "the policy's provider '" + p.id + "' is not configured (add a section to \"providers\")"});
    } else if (it->second.type != p.type) {
      problems.push_back({Diagnostic::Severity::kError, JsonPointerJoin("/providers", it->second.index) + "/type",
                          "provider-type",
                          "provider '" + p.id + "' is " + std::string(ProviderTypeName(p.type)) + " in the policy but " +
                              std::string(ProviderTypeName(it->second.type)) + " in the configuration"});
    }
  }
  return problems;
}

int DefaultIoThreads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  const int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                                : static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(cpus - 1, 1, 64);
}

Result<Config> LoadConfig(const std::string& path, std::vector<Diagnostic>* errors) {
  KEYWARD_ASSIGN_OR_RETURN(const std::string text, ReadFile(path, kMaxConfigBytes));
  auto json = ParseJson(text, JsonLimits{.max_depth = 16, .allow_comments = true});
  if (!json.has_value()) {
    errors->push_back(Diagnostic{Diagnostic::Severity::kError, "", "syntax", json.error().message()});
    return Status::InvalidArgument(path + " is not valid JSON: " + json.error().message());
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const std::size_t errors_before = errors->size();
  Config c;
  c.path = path;
  SchemaReader r(errors);
  const Json& root = *json;
  if (r.Object(root, "", {"listen", "tls", "insecure_plaintext", "limits", "audit", "policy", "providers", "principals", "auth"})) {
    // listen
    if (auto it = root.find("listen"); it == root.end()) {
      r.Error("", "missing-field", "missing required field 'listen' (an object with address and port)");
    } else if (r.Object(*it, "/listen", {"address", "port", "io_threads"})) {
      if (auto address = r.String(*it, "/listen", "address", true)) {
        if (!IsIpAddressLiteral(*address)) {
          r.Error("/listen/address", "address",
                  "expected an IP address literal (such as 127.0.0.1, 0.0.0.0 or ::), got '" + Printable(*address) +
                      "'; host names are not resolved");
        }
        c.listen.address = *address;
      }
      c.listen.port = static_cast<std::uint16_t>(r.Integer(*it, "/listen", "port", true, 0, 65535).value_or(0));
      c.listen.io_threads = static_cast<int>(r.Integer(*it, "/listen", "io_threads", false, 1, 64).value_or(DefaultIoThreads()));
    }
    // TLS, or an explicit choice of plaintext
    const bool plaintext = r.Bool(root, "", "insecure_plaintext", false).value_or(false);
    if (auto it = root.find("tls"); it != root.end()) {
      if (plaintext) r.Error("/insecure_plaintext", "conflict", "\"tls\" and \"insecure_plaintext\" exclude each other");
      if (r.Object(*it, "/tls", {"certificate", "private_key", "client_ca"})) {
        c.listen.certificate = Path(r, *it, "/tls", "certificate", true, dir);
        c.listen.private_key = Path(r, *it, "/tls", "private_key", true, dir);
        c.listen.client_ca = Path(r, *it, "/tls", "client_ca", false, dir);
        c.tls = !c.listen.certificate.empty() && !c.listen.private_key.empty();
      }
    } else if (!plaintext) {
      r.Error("", "missing-field",
              "missing 'tls' (certificate and private key); to serve plain HTTP, say so: \"insecure_plaintext\": true");
    } else if (!c.listen.address.empty() && IsIpAddressLiteral(c.listen.address) && !IsLoopback(c.listen.address)) {
      r.Error("/insecure_plaintext", "plaintext-off-loopback",
              "plain HTTP only on a loopback address (127.0.0.0/8, ::1), not " + c.listen.address +
                  ": tokens and secret values would cross the network in the clear; configure \"tls\"");
    }
    // limits
    if (auto it = root.find("limits"); it != root.end() &&
        r.Object(*it, "/limits", {"max_body_bytes", "max_header_bytes", "max_refs_per_request", "max_connections",
                                  "read_timeout_ms", "idle_timeout_ms", "request_timeout_ms", "shutdown_grace_ms"})) {
      const Json& l = *it;
      if (auto v = r.Integer(l, "/limits", "max_body_bytes", false, 256, 16 << 20)) c.listen.max_body_bytes = static_cast<std::size_t>(*v);
      if (auto v = r.Integer(l, "/limits", "max_header_bytes", false, 1024, 1 << 20)) c.listen.max_header_bytes = static_cast<std::size_t>(*v);
      if (auto v = r.Integer(l, "/limits", "max_refs_per_request", false, 1, 10000)) c.api.max_refs = static_cast<std::size_t>(*v);
      if (auto v = r.Integer(l, "/limits", "max_connections", false, 1, 1000000)) c.listen.max_connections = static_cast<std::size_t>(*v);
      Millis(r, l, "/limits", "read_timeout_ms", 10, 3600000, &c.listen.read_timeout);
      Millis(r, l, "/limits", "idle_timeout_ms", 10, 3600000, &c.listen.idle_timeout);
      Millis(r, l, "/limits", "request_timeout_ms", 10, 3600000, &c.api.request_timeout);
      Millis(r, l, "/limits", "shutdown_grace_ms", 0, 3600000, &c.shutdown_grace);
    }
    // audit
    if (auto it = root.find("audit"); it == root.end()) {
      r.Error("", "missing-field", "missing required field 'audit' (database, origin, signing_key)");
    } else if (r.Object(*it, "/audit", {"database", "origin", "signing_key", "checkpoint_interval_ms", "checkpoint_export"})) {
      const Json& a = *it;
      c.audit.path = Path(r, a, "/audit", "database", true, dir);
      if (auto origin = r.String(a, "/audit", "origin", true)) {
        if (Status s = audit::ValidateKeyName(*origin); !s.ok()) {
          const std::size_t must = s.message().find("must");
          r.Error("/audit/origin", "origin",
                  "the origin " + (must == std::string::npos ? s.message() : s.message().substr(must)) +
                      " (it names the log in its checkpoints)");
        }
        c.audit.origin = *origin;
      }
      c.audit.signing_key_path = Path(r, a, "/audit", "signing_key", true, dir);
      c.audit.export_path = Path(r, a, "/audit", "checkpoint_export", false, dir);
      Millis(r, a, "/audit", "checkpoint_interval_ms", 10, 24 * 3600 * 1000, &c.audit.checkpoint_interval);
      c.api.origin = c.audit.origin;
    }
    // policy
    c.policy_path = Path(r, root, "", "policy", true, dir);
    // providers: schema checked here only as an array of objects; each section by providers::MakeProvider
    if (const Json* providers = r.Array(root, "", "providers", true, true)) {
      for (std::size_t i = 0; i < providers->size(); ++i) {
        if (!(*providers)[i].is_object()) {
          r.Error(JsonPointerJoin("/providers", i), "type", "expected an object (a provider section)");
        }
      }
      c.providers = *providers;
      // Files a section names (credential references {"file": ...}, "ca_file") are relative to the
      // configuration too, at whatever depth.
      std::function<void(Json&)> resolve_files = [&](Json& j) {
        if (!j.is_object()) return;
        for (auto& [k, v] : j.items()) {
          if ((k == "file" || k == "ca_file") && v.is_string()) {
            v = Resolve(dir, v.get<std::string>());
          } else {
            resolve_files(v);
          }
        }
      };
      for (Json& section : c.providers) resolve_files(section);
      CheckEnvironmentExposesNoCredential(c.providers, r);
      CheckOneProviderPerWorkspace(c.providers, r);
    }
    // principals: one id per principal, one principal per credential
    if (const Json* principals = r.Array(root, "", "principals", true, true)) {
      std::map<std::string, FirstSeen> ids, hashes, identities;
      auto duplicate = [&](const FirstSeen& first, std::size_t i, const std::string& what) {
        if (first.principal == i) return "this " + what + " is listed twice (also at " + first.pointer + ")";
        return "this " + what + " is listed twice: also for principal '" + Printable(c.principals[first.principal].id) +
               "' at " + first.pointer + "; one credential must identify exactly one principal";
      };
      for (std::size_t i = 0; i < principals->size(); ++i) {
        const std::string ptr = JsonPointerJoin("/principals", i);
        const Json& e = (*principals)[i];
        c.principals.emplace_back();  // kept in step with the indexes, so that duplicates can name theirs
        if (!r.Object(e, ptr, {"id", "tokens", "certificates", "description"})) continue;
        http::PrincipalCredentials& p = c.principals.back();
        if (auto id = r.String(e, ptr, "id", true)) {
          p.id = *id;
          if (std::string problem = PrincipalIdProblem(p.id); !problem.empty()) {
            r.Error(ptr + "/id", "principal-id", std::move(problem));
          } else if (auto [first, fresh] = ids.emplace(p.id, FirstSeen{i, ptr}); !fresh) {
            r.Error(ptr + "/id", "duplicate-id", "duplicate principal id '" + p.id + "' (first at " + first->second.pointer + ")");
          }
        }
        (void)r.String(e, ptr, "description", false);
        if (auto tokens = r.StringArray(e, ptr, "tokens", false, true)) {
          for (std::size_t j = 0; j < tokens->size(); ++j) {
            const std::string tptr = JsonPointerJoin(ptr + "/tokens", j);
            auto h = http::ParseTokenHash((*tokens)[j]);
            if (!h.has_value()) {
              r.Error(tptr, "token", h.error().message() + " (run keyward-server mint-token; never put a token itself here)");
              continue;
            }
            // ParseTokenHash takes lower-case hex only, so equal hashes are equal strings.
            if (auto [first, fresh] = hashes.emplace((*tokens)[j], FirstSeen{i, tptr}); !fresh) {
              r.Error(tptr, "duplicate-credential", duplicate(first->second, i, "token hash"));
              continue;
            }
            p.token_hashes.push_back(*h);
          }
        }
        if (auto certs = r.StringArray(e, ptr, "certificates", false, true)) {
          for (std::size_t j = 0; j < certs->size(); ++j) {
            const std::string cptr = JsonPointerJoin(ptr + "/certificates", j);
            std::string& identity = (*certs)[j];
            if (std::string problem = CertificateIdentityProblem(identity); !problem.empty()) {
              r.Error(cptr, "certificate-identity", std::move(problem));
              continue;
            }
            if (auto [first, fresh] = identities.emplace(identity, FirstSeen{i, cptr}); !fresh) {
              r.Error(cptr, "duplicate-credential", duplicate(first->second, i, "certificate identity"));
              continue;
            }
            p.certificates.push_back(std::move(identity));
          }
        }
        // Entries that are malformed or duplicate have their own errors; this is about listing none.
        auto lists = [&e](const char* member) {
          auto m = e.find(member);
          return m != e.end() && !(m->is_array() && m->empty());
        };
        if (!lists("tokens") && !lists("certificates")) {
          r.Error(ptr, "credentials", "principal '" + Printable(p.id) + "' has neither tokens nor certificates: it could never authenticate");
        } else if (lists("certificates") && c.listen.client_ca.empty()) {
          r.Error(ptr + "/certificates", "certificates-unused",
                  "principal '" + Printable(p.id) + "' lists certificates, but the server asks for none (no tls.client_ca): "
                  "they could never authenticate it; set tls.client_ca, or use tokens");
        }
      }
    }
    // auth
    if (auto it = root.find("auth"); it != root.end() &&
        r.Object(*it, "/auth", {"max_failures", "failure_window_ms", "block_ms"})) {
      if (auto v = r.Integer(*it, "/auth", "max_failures", false, 1, 1000000)) c.auth.max_failures = static_cast<int>(*v);
      Millis(r, *it, "/auth", "failure_window_ms", 1000, 24 * 3600 * 1000, &c.auth.failure_window);
      Millis(r, *it, "/auth", "block_ms", 1000, 24 * 3600 * 1000, &c.auth.block);
    }
  }
  if (r.error_count() > 0) {
    const Diagnostic& first = (*errors)[errors_before];
    return Status::InvalidArgument(std::to_string(r.error_count()) + " error(s) in " + path + "; the first: " +
                                   (first.pointer.empty() ? "(document)" : first.pointer) + ": " + first.message);
  }
  return c;
}

}  // namespace keyward::server
