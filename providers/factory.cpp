#include "providers/factory.h"

#include <optional>

#include "core/file.h"
#include "core/secret_ref.h"
#include "core/utf8.h"
#include "providers/credential.h"
#include "providers/databricks_provider.h"
#include "providers/environment_provider.h"
#include "providers/vault_provider.h"

namespace keyward::providers {
namespace {

constexpr std::size_t kMaxIdLength = 128;

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

std::string Quote(std::string_view s) { return "'" + Printable(s) + "'"; }

// Provider ids, as the policy names them: a letter or digit, then letters, digits, '.', '_', '-'.
bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength || !IsAlnum(id[0])) return false;
  for (const char c : id) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

bool IsEnvName(std::string_view name) {
  return ValidateSecretRef(ProviderType::kEnvironment, "", name).ok();
}

// Reads one section. Every problem goes to the SchemaReader; the caller checks its count.
class SectionReader {
 public:
  SectionReader(const Json& section, std::string base, std::vector<Diagnostic>* errors)
      : section_(section), base_(std::move(base)), r_(errors) {}

  std::size_t error_count() const { return r_.error_count(); }
  std::string Ptr(std::string_view path) const { return base_ + std::string(path); }

  // "id" and "type" of any section; false when the section is not an object.
  bool Header(std::string* id, std::optional<ProviderType>* type) {
    if (!section_.is_object()) {
      r_.Error(base_, "type", "expected an object, got " + std::string(JsonTypeName(section_)));
      return false;
    }
    if (auto v = r_.String(section_, base_, "id", true)) {
      if (!IsValidId(*v)) {
        r_.Error(Ptr("/id"), "id",
                 "provider id " + Quote(*v) + " is not valid: expected a letter or digit, then letters, digits, '.', "
                 "'_', '-' (at most 128)");
      }
      *id = *v;
    }
    if (auto v = r_.String(section_, base_, "type", true)) {
      *type = ParseProviderType(*v);
      if (!*type) r_.Error(Ptr("/type"), "enum", "expected \"vault\", \"databricks\" or \"environment\", got " + Quote(*v));
    }
    return true;
  }

  void Known(std::initializer_list<std::string_view> fields) { r_.Object(section_, base_, fields); }

  std::optional<EnvironmentOptions> Environment(const std::string& id) {
    Known({"id", "type", "description", "allow", "prefix"});
    (void)r_.String(section_, base_, "description", false);
    EnvironmentOptions o;
    o.id = id;
    if (auto allow = r_.StringArray(section_, base_, "allow", false, true)) {
      for (std::size_t i = 0; i < allow->size(); ++i) {
        if (!IsEnvName((*allow)[i])) {
          r_.Error(JsonPointerJoin(Ptr("/allow"), i), "env-name",
                   "environment variable name " + Quote((*allow)[i]) + " is not valid: expected [A-Za-z_][A-Za-z0-9_]*");
        }
      }
      o.allow = std::move(*allow);
    }
    if (auto prefix = r_.String(section_, base_, "prefix", false)) {
      if (!IsEnvName(*prefix)) {
        r_.Error(Ptr("/prefix"), "env-name", "prefix " + Quote(*prefix) + " is not valid: expected [A-Za-z_][A-Za-z0-9_]*");
      }
      o.prefix = std::move(*prefix);
    }
    if (o.allow.empty() && o.prefix.empty() && section_.find("allow") == section_.end() &&
        section_.find("prefix") == section_.end()) {
      r_.Error(base_, "missing-field",
               "an environment provider needs \"allow\" (variable names) or \"prefix\": it never exposes the whole "
               "environment");
    }
    return o;
  }

  // The "address"/"workspace_url", "tls", "allow_plain_http" and "http" members common to network adapters.
  http::Origin Origin(std::string_view url_field, http::ClientOptions* http) {
    http::Origin origin;
    const bool plain_ok = r_.Bool(section_, base_, "allow_plain_http", false).value_or(false);
    http->allow_plain_http = plain_ok;
    if (auto url = r_.String(section_, base_, url_field, true)) {
      const std::string ptr = Ptr("/" + std::string(url_field));
      auto o = http::ParseUrl(*url);
      if (!o.has_value()) {
        r_.Error(ptr, "url", o.error().message());
      } else if (!o->tls && !plain_ok) {
        r_.Error(ptr, "plain-http",
                 "plain HTTP sends credentials and secrets in the clear; use https://, or set \"allow_plain_http\": "
                 "true where that is acceptable (a test set-up on loopback)");
      } else {
        origin = *o;
      }
    }
    if (auto it = section_.find("tls"); it != section_.end()) {
      const std::string ptr = Ptr("/tls");
      if (r_.Object(*it, ptr, {"ca_file"})) {
        if (auto ca = r_.String(*it, ptr, "ca_file", false)) {
          if (auto content = ReadFile(*ca, 4u << 20); !content.has_value()) {
            r_.Error(ptr + "/ca_file", "file", content.error().message());
          } else if (content->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
            r_.Error(ptr + "/ca_file", "file", "CA file " + Quote(*ca) + " holds no PEM certificate");
          }
          http->ca_file = *ca;
        }
      }
    }
    if (auto it = section_.find("http"); it != section_.end()) {
      const std::string ptr = Ptr("/http");
      if (r_.Object(*it, ptr, {"connect_timeout_ms", "max_response_bytes", "max_connections", "idle_timeout_ms", "retry"})) {
        if (auto v = r_.Integer(*it, ptr, "connect_timeout_ms", false, 1, 600000)) http->connect_timeout = http::Millis(*v);
        if (auto v = r_.Integer(*it, ptr, "max_response_bytes", false, 1024, 64 << 20)) {
          http->max_response_bytes = static_cast<std::size_t>(*v);
        }
        if (auto v = r_.Integer(*it, ptr, "max_connections", false, 1, 1024)) {
          http->max_connections = static_cast<std::size_t>(*v);
        }
        if (auto v = r_.Integer(*it, ptr, "idle_timeout_ms", false, 0, 3600000)) http->idle_timeout = http::Millis(*v);
        if (auto rt = it->find("retry"); rt != it->end()) {
          const std::string rptr = ptr + "/retry";
          if (r_.Object(*rt, rptr, {"max_attempts", "initial_backoff_ms", "max_backoff_ms"})) {
            if (auto v = r_.Integer(*rt, rptr, "max_attempts", false, 1, 10)) http->retry.max_attempts = static_cast<int>(*v);
            if (auto v = r_.Integer(*rt, rptr, "initial_backoff_ms", false, 0, 60000)) {
              http->retry.initial_backoff = http::Millis(*v);
            }
            if (auto v = r_.Integer(*rt, rptr, "max_backoff_ms", false, 0, 600000)) {
              http->retry.max_backoff = http::Millis(*v);
            }
          }
        }
      }
    }
    return origin;
  }

  // A credential reference at `obj`/`name`: {"env": "NAME"} or {"file": "/path"}. Never echoes an
  // inline value: it may be a real credential.
  std::optional<CredentialSource> Credential(const Json& obj, const std::string& obj_ptr, std::string_view name,
                                             bool required) {
    const std::string ptr = JsonPointerJoin(obj_ptr, name);
    auto it = obj.find(name);
    if (it == obj.end()) {
      if (required) {
        r_.Error(obj_ptr, "missing-field",
                 "missing required field '" + std::string(name) + "' ({\"env\": \"VARIABLE\"} or {\"file\": \"/path\"})");
      }
      return std::nullopt;
    }
    if (!it->is_object()) {
      r_.Error(ptr, "inline-credential",
               "credentials never go in the configuration: name where to read this one, {\"env\": \"VARIABLE\"} or "
               "{\"file\": \"/path\"} (got " + std::string(JsonTypeName(*it)) + ")");
      return std::nullopt;
    }
    if (!r_.Object(*it, ptr, {"env", "file"})) return std::nullopt;
    const auto env = r_.String(*it, ptr, "env", false);
    const auto file = r_.String(*it, ptr, "file", false);
    if (env.has_value() == file.has_value()) {
      if (it->find("env") == it->end() && it->find("file") == it->end()) {
        r_.Error(ptr, "credential", "expected exactly one of \"env\" and \"file\"");
      } else if (env && file) {
        r_.Error(ptr, "credential", "expected exactly one of \"env\" and \"file\", not both");
      }
      return std::nullopt;
    }
    if (env && !IsEnvName(*env)) {
      // Not quoted: what is not a variable name here may be a credential pasted in the wrong place.
      r_.Error(ptr + "/env", "env-name", "not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
      return std::nullopt;
    }
    if (file && file->empty()) {
      r_.Error(ptr + "/file", "credential", "the file name is empty");
      return std::nullopt;
    }
    return env ? CredentialSource{CredentialSource::Kind::kEnv, *env}
               : CredentialSource{CredentialSource::Kind::kFile, *file};
  }

  // Reads a credential the schema named; problems are reported at its pointer.
  SecretValue Load(const CredentialSource& source, const std::string& ptr) {
    auto v = source.Load();
    if (!v.has_value()) {
      r_.Error(ptr + (source.kind == CredentialSource::Kind::kEnv ? "/env" : "/file"), "credential", v.error().message());
      return SecretValue();
    }
    return std::move(*v);
  }

  std::optional<VaultOptions> Vault(const std::string& id) {
    Known({"id", "type", "description", "address", "namespace", "auth", "tls", "allow_plain_http", "http",
           "mount_cache_seconds"});
    (void)r_.String(section_, base_, "description", false);
    VaultOptions o;
    o.id = id;
    o.origin = Origin("address", &o.http);
    if (auto ns = r_.String(section_, base_, "namespace", false)) {
      std::string trimmed = *ns;
      while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
      if (!trimmed.empty() && !ValidateScope(ProviderType::kVault, trimmed).ok()) {
        r_.Error(Ptr("/namespace"), "namespace",
                 "namespace " + Quote(*ns) + " is not valid: non-empty '/'-separated segments, no '.' or '..'");
      }
      o.ns = trimmed.empty() ? "" : trimmed + "/";
    }
    if (auto v = r_.Integer(section_, base_, "mount_cache_seconds", false, 0, 86400)) {
      o.mount_cache_ttl = std::chrono::seconds(*v);
    }
    auto it = section_.find("auth");
    if (it == section_.end()) {
      r_.Error(base_, "missing-field", "missing required field 'auth' (an object)");
      return o;
    }
    const std::string ptr = Ptr("/auth");
    if (!r_.Object(*it, ptr, {"method", "token", "role_id", "secret_id", "mount"})) return o;
    const auto method = r_.String(*it, ptr, "method", true);
    if (!method) return o;
    auto not_for = [&](std::string_view field, std::string_view other) {
      if (it->find(field) != it->end()) {
        r_.Error(JsonPointerJoin(ptr, field), "unknown-field",
                 "'" + std::string(field) + "' belongs to method \"" + std::string(other) + "\"");
      }
    };
    if (*method == "token") {
      o.auth.method = VaultAuthOptions::Method::kToken;
      not_for("role_id", "approle");
      not_for("secret_id", "approle");
      not_for("mount", "approle");
      if (auto src = Credential(*it, ptr, "token", true)) {
        o.auth.token = Load(*src, ptr + "/token");
        o.auth.token_source = *src;
      }
    } else if (*method == "approle") {
      o.auth.method = VaultAuthOptions::Method::kAppRole;
      not_for("token", "token");
      const auto role = Credential(*it, ptr, "role_id", true);
      const auto secret = Credential(*it, ptr, "secret_id", true);
      if (auto mount = r_.String(*it, ptr, "mount", false)) {
        if (!ValidateScope(ProviderType::kVault, *mount).ok()) {
          r_.Error(ptr + "/mount", "mount", "auth mount " + Quote(*mount) + " is not a valid path");
        }
        o.auth.approle_mount = *mount;
      }
      if (role) o.auth.role_id = Load(*role, ptr + "/role_id");
      if (secret) o.auth.secret_id = Load(*secret, ptr + "/secret_id");
    } else {
      r_.Error(ptr + "/method", "enum", "expected \"token\" or \"approle\", got " + Quote(*method));
    }
    return o;
  }

  std::optional<DatabricksOptions> Databricks(const std::string& id) {
    Known({"id", "type", "description", "workspace_url", "token", "tls", "allow_plain_http", "http"});
    (void)r_.String(section_, base_, "description", false);
    DatabricksOptions o;
    o.id = id;
    o.origin = Origin("workspace_url", &o.http);
    if (auto src = Credential(section_, base_, "token", true)) {
      o.token = Load(*src, Ptr("/token"));
    }
    return o;
  }

 private:
  const Json& section_;
  const std::string base_;
  SchemaReader r_;
};

}  // namespace

Result<std::unique_ptr<Provider>> MakeProvider(const Json& section, const ProviderContext& context,
                                               std::vector<Diagnostic>* errors) {
  const std::size_t before = errors->size();
  SectionReader reader(section, context.pointer, errors);
  auto fail = [&]() -> Status {
    const std::size_t n = errors->size() - before;
    return Status::InvalidArgument(std::to_string(n) + (n == 1 ? " problem" : " problems") +
                                   " in the provider section at " + (context.pointer.empty() ? "/" : context.pointer) +
                                   "; the first: " + (*errors)[before].ToString());
  };
  std::string id;
  std::optional<ProviderType> type;
  if (!reader.Header(&id, &type) || !type) return fail();
  auto runtime = [&] { return context.runtime ? context.runtime : http::IoRuntime::Start(); };
  switch (*type) {
    case ProviderType::kEnvironment: {
      auto o = reader.Environment(id);
      if (reader.error_count() > 0) return fail();
      return std::unique_ptr<Provider>(std::make_unique<EnvironmentProvider>(std::move(*o)));
    }
    case ProviderType::kVault: {
      auto o = reader.Vault(id);
      if (reader.error_count() > 0) return fail();
      o->clock = context.clock;
      auto p = MakeVaultProvider(runtime(), std::move(*o));
      if (!p.has_value()) return p.error().WithContext("provider " + Quote(id));
      return std::unique_ptr<Provider>(std::move(*p));
    }
    case ProviderType::kDatabricks: {
      auto o = reader.Databricks(id);
      if (reader.error_count() > 0) return fail();
      auto p = MakeDatabricksProvider(runtime(), std::move(*o));
      if (!p.has_value()) return p.error().WithContext("provider " + Quote(id));
      return std::unique_ptr<Provider>(std::move(*p));
    }
  }
  return Status::Internal("unknown provider type");
}

}  // namespace keyward::providers
