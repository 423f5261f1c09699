// VaultCore runs every step of every operation on the runtime's thread, so its token state, its mount
// cache and its queue of operations waiting for a login need no lock. Each operation is a chain of
// HTTP calls written as nested completions.
#include "providers/vault_provider.h"

#include <algorithm>
#include <map>
#include <vector>

#include "core/json.h"
#include "core/secret_ref.h"
#include "core/utf8.h"
#include "providers/adapter_util.h"
#include "providers/secure_json.h"

namespace keyward::providers {

using Clock = std::chrono::steady_clock;
using http::Method;
using http::Response;

namespace {

// The texts of Vault's {"errors":[...]}, with the multierror decoration ("1 error occurred:\n\t* x\n\n")
// taken off and joined by "; ".
std::vector<std::string> VaultErrors(const Json& body) {
  std::vector<std::string> out;
  if (!body.is_object() || !body.contains("errors") || !body["errors"].is_array()) return out;
  for (const Json& e : body["errors"]) {
    if (!e.is_string()) continue;
    const std::string& text = e.get_ref<const std::string&>();
    if (text.find(" occurred:") == std::string::npos) {
      out.push_back(text);
      continue;
    }
    for (std::size_t p = text.find("* "); p != std::string::npos; p = text.find("* ", p + 2)) {
      const std::size_t end = text.find('\n', p);
      out.push_back(text.substr(p + 2, end == std::string::npos ? std::string::npos : end - p - 2));
    }
  }
  return out;
}

std::string Joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += (out.empty() ? "" : "; ") + e;
  return Printable(out, 240);
}

bool Contains(const std::vector<std::string>& errors, std::string_view needle) {
  return std::any_of(errors.begin(), errors.end(), [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

Json ParseOrNull(const Response& r) {
  auto j = ParseJson(r.body.view(), kSecretDocument);
  return j.has_value() ? std::move(*j) : Json();
}

// A 403 that names an invalid (revoked, expired) token rather than a policy denial.
bool NamesInvalidToken(const Response& r) {
  if (r.status != 403) return false;
  WipedJson body(ParseOrNull(r));
  return Contains(VaultErrors(body.get()), "invalid token");
}

// Vault's answer `r` (not 2xx) as a Status.
Status VaultStatus(const Response& r, const std::string& ctx, ServerText text = ServerText::kQuote) {
  WipedJson body(ParseOrNull(r));
  const std::vector<std::string> errors = VaultErrors(body.get());
  const std::string detail = errors.empty()                    ? ""
                             : text == ServerText::kOmit ? " (Vault's error text is left out: the request carried secret values)"
                                                               : ": " + Joined(errors);
  switch (r.status) {
    case 400: return Status::InvalidArgument(ctx + ": Vault rejected the request" + detail);
    case 401: return Status::Unauthenticated(ctx + ": Vault rejected keyward's credentials" + detail);
    case 403:
      if (Contains(errors, "invalid token")) {
        return Status::Unauthenticated(ctx + ": Vault rejected keyward's token as invalid or expired");
      }
      return Status::PermissionDenied(ctx + ": permission denied by Vault");
    case 404: return Status::NotFound(ctx + ": not found");
    case 413: return Status::ResourceExhausted(ctx + ": Vault refused the request as too large");
    case 429:
      return Status::Unavailable(ctx + ": Vault is rate-limiting keyward (429) after " + std::to_string(r.attempts) +
                                 (r.attempts == 1 ? " attempt" : " attempts"));
    case 503:
      if (Contains(errors, "Vault is sealed")) return Status::Unavailable(ctx + ": Vault is sealed");
      return Status::Unavailable(ctx + ": Vault is unavailable (503)" + detail);
    default: break;
  }
  return Status::Unavailable(ctx + ": Vault answered HTTP " + std::to_string(r.status) + detail);
}

// The relative path of `scope` inside the mount at `mount_path` ("secret/"): "team/db".
std::string Relative(const std::string& scope, const std::string& mount_path) {
  const std::string with_slash = scope + "/";
  return with_slash.size() > mount_path.size() ? scope.substr(mount_path.size()) : "";
}

}  // namespace

class VaultCore final : public RemoteCore, public std::enable_shared_from_this<VaultCore> {
 public:
  VaultCore(VaultOptions options, std::unique_ptr<http::Client> client)
      : id_(options.id),
        ns_(options.ns),
        auth_(std::move(options.auth)),
        mount_cache_ttl_(options.mount_cache_ttl),
        clock_(options.clock ? std::move(options.clock) : [] { return Clock::now(); }),
        client_(std::move(client)),
        renew_timer_(client_->runtime()) {
    if (auth_.method == VaultAuthOptions::Method::kToken) token_ = auth_.token.Clone();
  }

  void Shutdown() override {
    stopped_ = true;
    renew_timer_.Cancel();
    client_->Shutdown();
  }
  http::ClientStats stats() const override { return client_->stats(); }

  // --- operations ---

  void Get(const std::string& scope, const std::string& key, Deadline d, Provider::GetDone done) override {
    const std::string ctx = Ctx("get", scope, key);
    if (Status s = ValidateSecretRef(ProviderType::kVault, scope, key); !s.ok()) return done(s.WithContext(ctx));
    auto self = shared_from_this();
    WithMount(scope, d, ctx, [self, scope, key, d, ctx, done](Result<MountInfo> m) {
      if (!m) return done(m.error());
      self->ReadMap(*m, scope, d, ctx, [key, ctx, done](Result<MapRead> r) {
        if (!r) return done(r.error());
        if (!r->exists) return done(MissingSecret(ctx, *r));
        const Json& map = r->map.get();
        auto it = map.find(key);
        if (it == map.end()) return done(Status::NotFound(ctx + ": the secret has no key '" + Printable(key) + "'"));
        if (it->is_string()) return done(SecretValue(it->get_ref<const std::string&>()));
        done(ToJson(*it).ToSecretValue());
      });
    });
  }

  void List(const std::string& scope, Deadline d, Provider::ListDone done) override {
    const std::string ctx = Ctx("list", scope, "");
    if (scope.empty()) {
      return done(Status::InvalidArgument(ctx + ": Vault has no list of scopes here; name a mount or a path"));
    }
    if (Status s = ValidateScope(ProviderType::kVault, scope); !s.ok()) return done(s.WithContext(ctx));
    auto self = shared_from_this();
    WithMount(scope, d, ctx, [self, scope, d, ctx, done](Result<MountInfo> m) {
      if (!m) return done(m.error());
      const std::string rel = Relative(scope, m->path);
      const std::string path = m->path + (m->version == 2 ? "metadata/" : "") + rel;
      self->Send(Method::kGet, path, "list=true", {}, d, std::nullopt, true,
                 [self, m = *m, scope, rel, d, ctx, done](Result<Response> r) {
                   if (!r) return done(TransportError(ctx, r.error()));
                   std::vector<ListedName> names;
                   if (r->status == 200) {
                     WipedJson body(ParseOrNull(*r));
                     const Json& data = body.get().is_object() ? body.get().value("data", Json()) : Json();
                     if (!data.is_object() || !data.contains("keys") || !data["keys"].is_array()) {
                       return done(Malformed(ctx, "a LIST answer without data.keys"));
                     }
                     for (const Json& k : data["keys"]) {
                       if (!k.is_string()) return done(Malformed(ctx, "a non-string in data.keys"));
                       std::string name = k.get<std::string>();
                       if (!name.empty() && name.back() == '/') name.pop_back();
                       if (!name.empty()) names.push_back(ListedName{std::move(name), true});
                     }
                   } else if (r->status != 404) {
                     return done(VaultStatus(*r, ctx));
                   }
                   if (rel.empty()) return done(Sorted(std::move(names)));
                   self->ReadMap(m, scope, d, ctx, [names, done](Result<MapRead> mr) mutable {
                     if (!mr) return done(mr.error());
                     if (mr->exists) {
                       for (auto it = mr->map.get().begin(); it != mr->map.get().end(); ++it) {
                         names.push_back(ListedName{it.key(), false});
                       }
                     }
                     // Nothing stored at or below the path is an empty list, not an error: the resolver
                     // must not be able to tell it from a path whose names the caller may not see.
                     done(Sorted(std::move(names)));
                   });
                 });
    });
  }

  void Put(const std::string& scope, const std::string& key, std::shared_ptr<SecretValue> value, Deadline d,
           Provider::StatusDone done) override {
    const std::string ctx = Ctx("put", scope, key);
    if (Status s = ValidateSecretRef(ProviderType::kVault, scope, key); !s.ok()) return done(s.WithContext(ctx));
    if (!value->is_utf8()) {
      return done(Status::InvalidArgument(ctx + ": Vault stores values as JSON strings, and this value is not "
                                                "valid UTF-8"));
    }
    auto scrubbed = [value, done](Status s) { done(Scrub(std::move(s), value->reveal())); };
    auto self = shared_from_this();
    WithMount(scope, d, ctx, [self, scope, key, value, d, ctx, scrubbed](Result<MountInfo> m) {
      if (!m) return scrubbed(m.error());
      self->Modify(*m, scope, d, ctx, 1, scrubbed, [key, value](Json* map) {
        Json& slot = (*map)[key];
        slot = Json::string_t();
        slot.get_ref<std::string&>().assign(value->reveal().data(), value->size());
        return Status();
      });
    });
  }

  void Remove(const std::string& scope, const std::string& key, Deadline d, Provider::StatusDone done) override {
    const std::string ctx = Ctx("remove", scope, key);
    if (Status s = ValidateSecretRef(ProviderType::kVault, scope, key); !s.ok()) return done(s.WithContext(ctx));
    auto self = shared_from_this();
    WithMount(scope, d, ctx, [self, scope, key, d, ctx, done](Result<MountInfo> m) {
      if (!m) return done(m.error());
      self->Modify(*m, scope, d, ctx, 1, done, [key, ctx](Json* map) {
        if (map->erase(key) == 0) return Status::NotFound(ctx + ": the secret has no key '" + Printable(key) + "'");
        return Status();
      });
    });
  }

  void Health(Deadline d, Provider::StatusDone done) override {
    const std::string ctx = Ctx("health", "", "");
    auto self = shared_from_this();
    Send(Method::kGet, "sys/health", "standbyok=true&perfstandbyok=true", {}, d, std::nullopt, false,
         [self, d, ctx, done](Result<Response> r) {
           if (!r) return done(TransportError(ctx, r.error()));
           switch (r->status) {
             case 200:
             case 429:  // standby
             case 473:  // performance standby
               break;
             case 501: return done(Status::Unavailable(ctx + ": Vault is not initialised"));
             case 503: return done(Status::Unavailable(ctx + ": Vault is sealed"));
             default: return done(VaultStatus(*r, ctx));
           }
           self->EnsureToken(d, [self, d, ctx, done](Status s) {
             if (!s.ok()) return done(s.WithContext(ctx));
             self->Send(Method::kGet, "auth/token/lookup-self", "", {}, d, std::nullopt, true,
                        [ctx, done](Result<Response> lr) {
                          if (!lr) return done(TransportError(ctx, lr.error()));
                          if (lr->status == 403) {
                            return done(Status::Unauthenticated(ctx + ": Vault rejected keyward's token"));
                          }
                          if (lr->status != 200) return done(VaultStatus(*lr, ctx));
                          done(Status());
                        });
           });
         });
  }

 private:
  struct MountInfo {
    std::string path;  // "secret/"
    int version = 2;
    Clock::time_point fetched;
  };
  struct MapRead {
    bool exists = false;
    WipedJson map{Json::object()};
    std::int64_t version = 0;   // KV v2: the current version (also when it is deleted); 0 = none
    std::string deletion_time;  // KV v2: set when the current version is deleted
    bool destroyed = false;
  };
  using Mutation = std::function<Status(Json* map)>;

  std::string Ctx(std::string_view op, std::string_view scope, std::string_view key) const {
    return OpContext(ProviderType::kVault, id_, op, scope, key);
  }

  static Status MissingSecret(const std::string& ctx, const MapRead& r) {
    if (r.destroyed) return Status::NotFound(ctx + ": version " + std::to_string(r.version) + " was destroyed");
    if (!r.deletion_time.empty()) {
      return Status::NotFound(ctx + ": version " + std::to_string(r.version) + " was deleted at " +
                              Printable(r.deletion_time, 40));
    }
    return Status::NotFound(ctx + ": no secret at this path");
  }

  static std::vector<ListedName> Sorted(std::vector<ListedName> names) {
    std::sort(names.begin(), names.end(), [](const ListedName& a, const ListedName& b) {
      return a.name != b.name ? a.name < b.name : a.is_scope < b.is_scope;
    });
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
  }

  // One HTTP call to Vault's API: `path` below /v1/, with the token (when `with_token`) and namespace.
  void Send(Method method, const std::string& path, const std::string& query, SecureString body, Deadline d,
            std::optional<bool> idempotent, bool with_token, http::Client::Done done) {
    http::Request r;
    r.method = method;
    r.target = "/v1/" + http::PercentEncode(path, true) + (query.empty() ? "" : "?" + query);
    if (with_token) r.headers.emplace_back("X-Vault-Token", SecureString(token_.reveal()));
    if (!ns_.empty()) r.headers.emplace_back("X-Vault-Namespace", SecureString(ns_));
    r.body = std::move(body);
    r.idempotent = idempotent;
    // sys/health answers 429 and 503 for standby and sealed: states, not reasons to retry.
    r.retry_on_status = path != "sys/health";
    if (with_token) {
      // A token Vault calls invalid (revoked, or expired early) is not kept until its renewal is due:
      // the next operation logs in again, or reads the token file again, or looks the token up.
      done = [weak = weak_from_this(), done = std::move(done)](Result<Response> res) {
        if (auto self = weak.lock(); self && res && NamesInvalidToken(*res)) {
          self->known_ = false;
          self->token_rejected_ = true;
        }
        done(std::move(res));
      };
    }
    client_->Send(std::move(r), d, std::move(done));
  }

  Status ShuttingDown() const { return Status::Unavailable("Vault provider '" + id_ + "' is shutting down"); }

  // --- authentication ---

  // Calls k(OK) once the token is known and not due for renewal, logging in or renewing first if
  // need be. Concurrent callers share one login or renewal.
  void EnsureToken(Deadline d, std::function<void(Status)> k) {
    if (stopped_) return k(ShuttingDown());
    const bool due = !known_ || (ttl_s_ > 0 && clock_() >= renew_at_);
    if (!due) return k(Status());
    auth_waiters_.push_back(std::move(k));
    if (auth_waiters_.size() > 1) return;  // a refresh is already under way
    const bool approle = auth_.method == VaultAuthOptions::Method::kAppRole;
    if (!known_ && !approle) {
      ReloadTokenFile();  // an agent may have written a new one meanwhile
      // Vault called the token invalid and the file cannot be read: say why rather than send it again.
      if (token_rejected_ && !reload_problem_.empty()) {
        return AuthDone(Status::Unauthenticated("Vault rejected keyward's token, and the token file could not be read "
                                                "again: " + reload_problem_));
      }
    }
    if (!known_) return approle ? Login(d) : Lookup(d);
    if (renewable_) return Renew(d);
    Fallback(d);
  }

  void AuthDone(const Status& s) {
    std::vector<std::function<void(Status)>> waiters;
    waiters.swap(auth_waiters_);
    for (auto& w : waiters) w(s);
  }

  void SetLease(std::int64_t ttl_s, bool renewable) {
    if (stopped_) return;
    const auto now = clock_();
    known_ = true;
    token_rejected_ = false;
    renewable_ = renewable;
    ttl_s_ = std::max<std::int64_t>(ttl_s, 0);
    expires_at_ = now + std::chrono::seconds(ttl_s_);
    renew_at_ = now + std::chrono::milliseconds(ttl_s_ * 2000 / 3);
    ScheduleRenewal();
  }

  // Renews in the background too, so that a token outlives a quiet spell longer than its TTL. (An
  // operation that finds the token due renews it first, whatever the timer does.)
  void ScheduleRenewal() {
    if (ttl_s_ == 0) return renew_timer_.Cancel();
    const auto delay = std::max(renew_at_ - clock_(), Clock::duration::zero());
    renew_timer_.At(Clock::now() + delay, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->EnsureToken(Clock::now() + std::chrono::seconds(30), [](const Status&) {});
    });
  }

  void Login(Deadline d) {
    SecureString text(R"({"role_id":)");
    WriteJsonString(auth_.role_id.reveal(), &text);
    text += R"(,"secret_id":)";
    WriteJsonString(auth_.secret_id.reveal(), &text);
    text += '}';
    auto self = shared_from_this();
    // Not idempotent: a login whose answer was lost may have minted a token and used up a use of the
    // secret ID; the next operation logs in afresh instead.
    Send(Method::kPost, "auth/" + auth_.approle_mount + "/login", "", std::move(text), d, false, false,
         [self](Result<Response> r) {
           if (!r) return self->AuthDone(r.error().WithContext("AppRole login"));
           if (r->status == 400 || r->status == 403) {
             WipedJson body(ParseOrNull(*r));
             return self->AuthDone(Status::Unauthenticated("Vault refused the AppRole login: " +
                                                           Joined(VaultErrors(body.get()))));
           }
           if (r->status != 200) return self->AuthDone(VaultStatus(*r, "AppRole login"));
           WipedJson body(ParseOrNull(*r));
           const Json& auth = body.get().is_object() ? body.get().value("auth", Json()) : Json();
           // The token's TTL is auth.lease_duration; the top-level lease_duration of a login is 0.
           if (!auth.is_object() || !auth.contains("client_token") || !auth["client_token"].is_string() ||
               !auth.contains("lease_duration") || !auth["lease_duration"].is_number_integer()) {
             return self->AuthDone(Malformed("AppRole login", "no auth.client_token or auth.lease_duration"));
           }
           self->token_ = SecretValue(auth["client_token"].get_ref<const std::string&>());
           self->SetLease(auth["lease_duration"].get<std::int64_t>(), BoolMember(auth, "renewable", false));
           self->AuthDone(Status());
         });
  }

  void Lookup(Deadline d) {
    auto self = shared_from_this();
    Send(Method::kGet, "auth/token/lookup-self", "", {}, d, std::nullopt, true, [self](Result<Response> r) {
      if (!r) return self->AuthDone(r.error().WithContext("token lookup"));
      if (r->status == 403) return self->AuthDone(Status::Unauthenticated("Vault rejected keyward's token"));
      if (r->status != 200) return self->AuthDone(VaultStatus(*r, "token lookup"));
      WipedJson body(ParseOrNull(*r));
      const Json& data = body.get().is_object() ? body.get().value("data", Json()) : Json();
      if (!data.is_object() || !data.contains("ttl") || !data["ttl"].is_number_integer()) {
        return self->AuthDone(Malformed("token lookup", "no data.ttl"));
      }
      self->SetLease(data["ttl"].get<std::int64_t>(), BoolMember(data, "renewable", false));
      self->AuthDone(Status());
    });
  }

  void Renew(Deadline d) {
    const std::int64_t requested = ttl_s_;
    SecureString increment = ToJson(Json{{"increment", std::to_string(requested) + "s"}});
    auto self = shared_from_this();
    Send(Method::kPost, "auth/token/renew-self", "", std::move(increment), d, true, true,
         [self, d, requested](Result<Response> r) {
      if (r && r->status == 200) {
        WipedJson body(ParseOrNull(*r));
        const Json& auth = body.get().is_object() ? body.get().value("auth", Json()) : Json();
        if (auth.is_object() && auth.contains("lease_duration") && auth["lease_duration"].is_number_integer()) {
          const std::int64_t granted = auth["lease_duration"].get<std::int64_t>();
          // A grant of 0 is a token at the end of its maximum TTL, not one that never expires; a grant
          // shorter than asked for is capped by that maximum, and renewing again would only shrink it:
          // from then on the fallback (a new login, the token file) takes over.
          if (granted > 0) {
            self->SetLease(granted, BoolMember(auth, "renewable", false) && granted >= requested);
            return self->AuthDone(Status());
          }
        }
      }
      self->Fallback(d);
    });
  }

  // A token read from a file: reads the file again; true (and the token unknown) when it changed.
  bool ReloadTokenFile() {
    if (!auth_.token_source || auth_.token_source->kind != CredentialSource::Kind::kFile) return false;
    auto fresh = auth_.token_source->Load();
    if (!fresh.has_value()) {
      reload_problem_ = fresh.error().message();  // names the file, never its content
      return false;
    }
    reload_problem_.clear();
    if (fresh->reveal() == token_.reveal()) return false;
    token_ = std::move(*fresh);
    known_ = false;
    token_rejected_ = false;
    return true;
  }

  // Renewal failed or is impossible.
  void Fallback(Deadline d) {
    if (stopped_) return AuthDone(ShuttingDown());
    if (auth_.method == VaultAuthOptions::Method::kAppRole) return Login(d);
    if (ReloadTokenFile()) return Lookup(d);
    const auto now = clock_();
    if (ttl_s_ > 0 && now >= expires_at_) {
      known_ = false;
      return AuthDone(Status::Unauthenticated(
          "keyward's Vault token expired and could not be renewed" +
          (reload_problem_.empty() ? std::string() : ", and the token file could not be read again: " + reload_problem_)));
    }
    renew_at_ = now + (expires_at_ - now) / 2;  // try again later; the token still works meanwhile
    ScheduleRenewal();
    AuthDone(Status());
  }

  // --- mounts ---

  // k(the KV mount holding `scope`), after making sure we have a token.
  void WithMount(const std::string& scope, Deadline d, const std::string& ctx, std::function<void(Result<MountInfo>)> k) {
    auto self = shared_from_this();
    EnsureToken(d, [self, scope, d, ctx, k](Status s) {
      if (!s.ok()) return k(s.WithContext(ctx));
      self->ResolveMount(scope, d, ctx, k);
    });
  }

  void ResolveMount(const std::string& scope, Deadline d, const std::string& ctx,
                    std::function<void(Result<MountInfo>)> k) {
    if (stopped_) return k(ShuttingDown());
    const std::string with_slash = scope + "/";
    const auto now = clock_();
    const MountInfo* best = nullptr;
    for (const auto& [path, m] : mounts_) {
      if (with_slash.compare(0, path.size(), path) == 0 && now - m.fetched < mount_cache_ttl_ &&
          (best == nullptr || path.size() > best->path.size())) {
        best = &m;
      }
    }
    if (best != nullptr) return k(*best);
    auto self = shared_from_this();
    Send(Method::kGet, "sys/internal/ui/mounts/" + scope, "", {}, d, std::nullopt, true,
         [self, with_slash, ctx, k](Result<Response> r) {
           if (!r) return k(TransportError(ctx, r.error()));
           if (r->status == 403 && !NamesInvalidToken(*r)) {
             return k(Status::PermissionDenied(ctx + ": no mount for this path is visible to keyward's token"));
           }
           if (r->status != 200) return k(VaultStatus(*r, ctx));
           WipedJson body(ParseOrNull(*r));
           const Json& data = body.get().is_object() ? body.get().value("data", Json()) : Json();
           if (!data.is_object() || !data.contains("path") || !data["path"].is_string() || !data.contains("type") ||
               !data["type"].is_string()) {
             return k(Malformed(ctx, "sys/internal/ui/mounts without data.path and data.type"));
           }
           MountInfo m;
           m.path = data["path"].get<std::string>();
           if (m.path.empty() || m.path.back() != '/' || with_slash.compare(0, m.path.size(), m.path) != 0) {
             return k(Malformed(ctx, "sys/internal/ui/mounts names a mount that does not contain the path"));
           }
           const std::string type = data["type"].get<std::string>();
           if (type != "kv" && type != "generic") {
             return k(Status::InvalidArgument(ctx + ": '" + Printable(m.path) + "' is a " + Printable(type) +
                                              " mount, not a KV secrets engine"));
           }
           const auto options = data.find("options");
           m.version = options != data.end() && StringMember(*options, "version", "") == "2" ? 2 : 1;
           if (self->stopped_) return k(self->ShuttingDown());
           m.fetched = self->clock_();
           self->mounts_[m.path] = m;
           k(m);
         });
  }

  // --- the map at a path ---

  void ReadMap(const MountInfo& m, const std::string& scope, Deadline d, const std::string& ctx,
               std::function<void(Result<MapRead>)> k) {
    const std::string rel = Relative(scope, m.path);
    if (rel.empty()) {
      return k(Status::InvalidArgument(ctx + ": '" + Printable(scope) + "' is the mount itself; secrets live below it"));
    }
    const int version = m.version;
    Send(Method::kGet, m.path + (version == 2 ? "data/" : "") + rel, "", {}, d, std::nullopt, true,
         [version, ctx, k](Result<Response> r) {
           if (!r) return k(TransportError(ctx, r.error()));
           if (r->status != 200 && r->status != 404) return k(VaultStatus(*r, ctx));
           auto parsed = ParseJson(r->body.view(), kSecretMap);  // numbers kept as written, for Get and write-back
           if (!parsed.has_value() && r->status == 200) {
             return k(Malformed(ctx, "the body is not JSON (" + parsed.error().message() + ")"));
           }
           WipedJson body(parsed.has_value() ? std::move(*parsed) : Json());
           MapRead out;
           const Json* data = body.get().is_object() && body.get().contains("data") ? &body.get()["data"] : nullptr;
           if (r->status == 404) {
             // Either {"errors":[]} (nothing there) or, on KV v2, a full body for a deleted version.
             if (version == 2 && data != nullptr && data->is_object() && data->contains("metadata") &&
                 (*data)["metadata"].is_object()) {
               const Json& meta = (*data)["metadata"];
               out.version = IntMember(meta, "version", 0);
               out.deletion_time = StringMember(meta, "deletion_time", "");
               out.destroyed = BoolMember(meta, "destroyed", false);
             }
             return k(std::move(out));
           }
           if (version == 2) {
             if (data == nullptr || !data->is_object() || !data->contains("metadata") ||
                 !(*data)["metadata"].is_object() || !(*data)["metadata"].contains("version") ||
                 !(*data)["metadata"]["version"].is_number_integer()) {
               return k(Malformed(ctx, "a KV v2 read without data.metadata.version"));
             }
             out.version = (*data)["metadata"]["version"].get<std::int64_t>();
             data = data->contains("data") ? &(*data)["data"] : nullptr;
           }
           if (data == nullptr || !data->is_object()) return k(Malformed(ctx, "a read whose data is not a map"));
           out.exists = true;
           out.map.get() = std::move(*data);
           k(std::move(out));
         });
  }

  // Read-modify-write of the map at `scope`: `mutate` changes the map (or refuses with a status); the
  // map is written back with check-and-set on KV v2 and, once it is empty, deleted instead. A
  // check-and-set conflict starts over from the read, once.
  void Modify(const MountInfo& m, const std::string& scope, Deadline d, const std::string& ctx, int attempt,
              Provider::StatusDone done, Mutation mutate) {
    auto self = shared_from_this();
    ReadMap(m, scope, d, ctx, [self, m, scope, d, ctx, attempt, done, mutate](Result<MapRead> r) {
      if (!r) return done(r.error());
      auto read = std::make_shared<MapRead>(std::move(*r));
      const bool existed = read->exists;
      if (Status s = mutate(&read->map.get()); !s.ok()) {
        return done(existed || s.code() != StatusCode::kNotFound ? s : MissingSecret(ctx, *read));
      }
      auto retry = [self, m, scope, d, ctx, attempt, done, mutate](Status s, bool conflict) {
        if (!conflict) return done(s);
        if (attempt == 1) return self->Modify(m, scope, d, ctx, 2, done, mutate);
        done(Status::Aborted(ctx + ": another writer changed the secret between keyward's read and write, twice "
                                   "(check-and-set); nothing was changed"));
      };
      if (read->map.get().empty()) {
        if (!existed) return done(Status());
        return self->DeleteVersion(m, scope, read->version, d, ctx, retry);
      }
      self->WriteMap(m, scope, read->map.get(), read->version, d, ctx, retry);
    });
  }

  void WriteMap(const MountInfo& m, const std::string& scope, const Json& map, std::int64_t cas, Deadline d,
                const std::string& ctx, std::function<void(Status, bool)> k) {
    const std::string rel = Relative(scope, m.path);
    SecureString payload;
    if (m.version == 2) {
      payload += R"({"options":{"cas":)";
      payload += std::to_string(cas);
      payload += R"(},"data":)";
      WriteJson(map, &payload);
      payload += '}';
    } else {
      WriteJson(map, &payload);
    }
    // KV v1 overwrites (idempotent); a KV v2 check-and-set write must not be sent twice.
    Send(Method::kPost, m.path + (m.version == 2 ? "data/" : "") + rel, "", std::move(payload), d, m.version == 1, true,
         [ctx, k](Result<Response> r) {
           if (!r) return k(TransportError(ctx, r.error()), false);
           if (IsSuccess(r->status)) return k(Status(), false);
           WipedJson body(ParseOrNull(*r));
           if (r->status == 400 && Contains(VaultErrors(body.get()), "check-and-set")) return k(Status(), true);
           k(VaultStatus(*r, ctx, ServerText::kOmit), false);  // the payload held the whole map
         });
  }

  // The map became empty: delete the secret. KV v2 soft-deletes exactly the version that was read, so
  // that a newer version written meanwhile survives.
  void DeleteVersion(const MountInfo& m, const std::string& scope, std::int64_t version, Deadline d,
                     const std::string& ctx, std::function<void(Status, bool)> k) {
    const std::string rel = Relative(scope, m.path);
    auto on_done = [ctx, k](Result<Response> r) {
      if (!r) return k(TransportError(ctx, r.error()), false);
      if (IsSuccess(r->status)) return k(Status(), false);
      k(VaultStatus(*r, ctx), false);
    };
    if (m.version == 1) return Send(Method::kDelete, m.path + rel, "", {}, d, std::nullopt, true, on_done);
    SecureString body(R"({"versions":[)" + std::to_string(version) + "]}");
    Send(Method::kPost, m.path + "delete/" + rel, "", std::move(body), d, true, true, on_done);
  }

  const std::string id_;
  const std::string ns_;
  const VaultAuthOptions auth_;
  const std::chrono::seconds mount_cache_ttl_;
  const std::function<Clock::time_point()> clock_;
  std::unique_ptr<http::Client> client_;
  http::IoTimer renew_timer_;  // after client_: it needs the runtime the client holds

  // Set by Shutdown. From then on clock_ is never called (whoever gave it may be gone) and whatever
  // still completes fails with ShuttingDown(). Runtime thread only, like the rest of the state.
  bool stopped_ = false;
  SecretValue token_;
  bool known_ = false;      // TTL and renewability known
  bool token_rejected_ = false;  // Vault called the current token invalid
  std::string reload_problem_;   // why the token file could not be read again ("" when it could)
  bool renewable_ = false;
  std::int64_t ttl_s_ = 0;  // 0 = the token does not expire
  Clock::time_point renew_at_;
  Clock::time_point expires_at_;
  std::vector<std::function<void(Status)>> auth_waiters_;
  std::map<std::string, MountInfo> mounts_;  // by mount path
};

Result<std::unique_ptr<RemoteProvider>> MakeVaultProvider(std::shared_ptr<http::IoRuntime> runtime, VaultOptions options) {
  KEYWARD_ASSIGN_OR_RETURN(auto client, http::Client::Create(runtime, options.origin, options.http));
  std::string id = options.id;
  auto core = std::make_shared<VaultCore>(std::move(options), std::move(client));
  return std::make_unique<RemoteProvider>(std::move(id), ProviderType::kVault, std::move(runtime), std::move(core));
}

}  // namespace keyward::providers
