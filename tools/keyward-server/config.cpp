#include "tools/keyward-server/config.h"

#include <filesystem>
#include <functional>
#include <set>

#include "audit/note.h"
#include "core/file.h"

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

}  // namespace

Result<Config> LoadConfig(const std::string& path, std::vector<Diagnostic>* errors) {
  KEYWARD_ASSIGN_OR_RETURN(const std::string text, ReadFile(path, 4u << 20));
  auto json = ParseJson(text, JsonLimits{.max_depth = 16, .allow_comments = true});
  if (!json.has_value()) {
    errors->push_back(Diagnostic{Diagnostic::Severity::kError, "", "syntax", json.error().message()});
    return Status::InvalidArgument(path + " is not valid JSON: " + json.error().message());
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  Config c;
  c.path = path;
  SchemaReader r(errors);
  const Json& root = *json;
  if (r.Object(root, "", {"listen", "tls", "insecure_plaintext", "limits", "audit", "policy", "providers", "principals", "auth"})) {
    // listen
    if (auto it = root.find("listen"); it == root.end()) {
      r.Error("", "missing-field", "missing required field 'listen' (an object with address and port)");
    } else if (r.Object(*it, "/listen", {"address", "port", "io_threads"})) {
      c.listen.address = r.String(*it, "/listen", "address", true).value_or("");
      c.listen.port = static_cast<std::uint16_t>(r.Integer(*it, "/listen", "port", true, 0, 65535).value_or(0));
      c.listen.io_threads = static_cast<int>(r.Integer(*it, "/listen", "io_threads", false, 1, 64).value_or(2));
    }
    // TLS, or an explicit choice of plaintext
    const bool plaintext = r.Bool(root, "", "insecure_plaintext", false).value_or(false);
    if (auto it = root.find("tls"); it != root.end()) {
      if (plaintext) r.Error("/insecure_plaintext", "conflict", "\"tls\" and \"insecure_plaintext\" exclude each other");
      if (r.Object(*it, "/tls", {"certificate", "private_key", "client_ca"})) {
        c.tls = true;
        c.listen.certificate = Resolve(dir, r.String(*it, "/tls", "certificate", true).value_or(""));
        c.listen.private_key = Resolve(dir, r.String(*it, "/tls", "private_key", true).value_or(""));
        c.listen.client_ca = Resolve(dir, r.String(*it, "/tls", "client_ca", false).value_or(""));
      }
    } else if (!plaintext) {
      r.Error("", "missing-field",
              "missing 'tls' (certificate and private key); to serve plain HTTP, say so: \"insecure_plaintext\": true");
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
      c.audit.path = Resolve(dir, r.String(a, "/audit", "database", true).value_or(""));
      c.audit.origin = r.String(a, "/audit", "origin", true).value_or("");
      if (!c.audit.origin.empty()) {
        if (Status s = audit::ValidateKeyName(c.audit.origin); !s.ok()) {
          r.Error("/audit/origin", "origin", "the origin " + s.message().substr(s.message().find("must")) +
                                                 " (it names the log in its checkpoints)");
        }
      }
      c.audit.signing_key_path = Resolve(dir, r.String(a, "/audit", "signing_key", true).value_or(""));
      c.audit.export_path = Resolve(dir, r.String(a, "/audit", "checkpoint_export", false).value_or(""));
      Millis(r, a, "/audit", "checkpoint_interval_ms", 10, 24 * 3600 * 1000, &c.audit.checkpoint_interval);
      c.api.origin = c.audit.origin;
    }
    // policy
    if (auto p = r.String(root, "", "policy", true)) c.policy_path = Resolve(dir, *p);
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
    }
    // principals
    if (const Json* principals = r.Array(root, "", "principals", true, true)) {
      std::set<std::string> ids, hashes, identities;
      for (std::size_t i = 0; i < principals->size(); ++i) {
        const std::string ptr = JsonPointerJoin("/principals", i);
        const Json& e = (*principals)[i];
        if (!r.Object(e, ptr, {"id", "tokens", "certificates", "description"})) continue;
        http::PrincipalCredentials p;
        p.id = r.String(e, ptr, "id", true).value_or("");
        (void)r.String(e, ptr, "description", false);
        if (!p.id.empty() && !ids.insert(p.id).second) r.Error(ptr + "/id", "duplicate-id", "duplicate principal id '" + p.id + "'");
        if (auto tokens = r.StringArray(e, ptr, "tokens", false, true)) {
          for (std::size_t j = 0; j < tokens->size(); ++j) {
            const std::string tptr = JsonPointerJoin(ptr + "/tokens", j);
            auto h = http::ParseTokenHash((*tokens)[j]);
            if (!h.has_value()) {
              r.Error(tptr, "token", h.error().message() + " (run keyward-server mint-token; never put a token itself here)");
              continue;
            }
            if (!hashes.insert((*tokens)[j]).second) r.Error(tptr, "duplicate-id", "this token hash is listed twice");
            p.token_hashes.push_back(*h);
          }
        }
        if (auto certs = r.StringArray(e, ptr, "certificates", false, true)) {
          for (std::size_t j = 0; j < certs->size(); ++j) {
            if (!identities.insert((*certs)[j]).second) {
              r.Error(JsonPointerJoin(ptr + "/certificates", j), "duplicate-id", "this certificate identity is listed twice");
            }
          }
          p.certificates = std::move(*certs);
        }
        if (p.token_hashes.empty() && p.certificates.empty() && e.is_object()) {
          r.Error(ptr, "credentials", "principal '" + p.id + "' has neither tokens nor certificates: it could never authenticate");
        }
        c.principals.push_back(std::move(p));
      }
    }
    // auth
    if (auto it = root.find("auth"); it != root.end() &&
        r.Object(*it, "/auth", {"max_failures", "failure_window_ms", "block_ms"})) {
      if (auto v = r.Integer(*it, "/auth", "max_failures", false, 1, 1000000)) c.throttle.max_failures = static_cast<int>(*v);
      Millis(r, *it, "/auth", "failure_window_ms", 1000, 24 * 3600 * 1000, &c.throttle.window);
      Millis(r, *it, "/auth", "block_ms", 1000, 24 * 3600 * 1000, &c.throttle.block);
    }
  }
  if (r.error_count() > 0) {
    return Status::InvalidArgument(std::to_string(r.error_count()) + " error(s) in " + path + "; the first: " +
                                   (*errors)[0].pointer + ": " + (*errors)[0].message);
  }
  return c;
}

}  // namespace keyward::server
