#include "core/resolver.h"

#include <algorithm>
#include <atomic>
#include <optional>

namespace keyward {
namespace {

std::string Label(const Decision& d) {
  switch (d.basis) {
    case Decision::Basis::kRule: return "rule:" + std::string(d.decided_by);
    case Decision::Basis::kConstraint: return "constraint:" + std::string(d.decided_by);
    case Decision::Basis::kNoMatch: break;
  }
  return "default";
}

// Why: the deciding rule's or constraint's sentence; a default denial says so.
std::string Why(const Decision& d) {
  if (d.basis == Decision::Basis::kNoMatch && d.reason.empty()) return "no rule allows it";
  return std::string(d.reason);
}

bool IsConstraint(const Decision& d, std::string_view name) {
  return d.basis == Decision::Basis::kConstraint && d.decided_by == name;
}

// The Status a denied single-secret operation answers with.
Status DenialStatus(const Decision& d, const SecretRef& ref, std::string_view fabric) {
  const std::string what = FormatSecretRef(ref);
  if (IsConstraint(d, "unknown-fabric")) return Status::NotFound("fabric '" + std::string(fabric) + "' does not exist");
  if (IsConstraint(d, "unknown-provider")) return Status::NotFound("provider '" + ref.provider + "' does not exist");
  if (IsConstraint(d, "invalid-secret-ref")) return Status::InvalidArgument(what + ": " + std::string(d.reason));
  if (IsConstraint(d, "read-only-provider")) {
    return Status::Unimplemented("provider '" + ref.provider + "' is read-only: environment variables cannot be written or deleted");
  }
  const std::string why = Why(d);
  return Status::PermissionDenied(what + " is denied (" + Label(d) + (why.empty() ? "" : ": " + why) + ")");
}

Status AuditFailure(const Status& s) {
  return Status::Unavailable("the audit log could not record the access, so it did not happen: " + s.message());
}

}  // namespace

std::string ErrorReason(const Status& status) { return "error:" + std::string(StatusCodeName(status.code())); }

// A provider's error as the caller gets it, naming what failed. A provider refusing keyward's own
// credentials is not the caller's authentication or permission problem: answered as unavailable (503)
// so that a 401 or 403 always means the caller's credentials or the policy. The audit entry keeps the
// provider's code.
Status ForCaller(const Status& provider_error, const std::string& what) {
  const StatusCode c = provider_error.code();
  if (c == StatusCode::kUnauthenticated || c == StatusCode::kPermissionDenied) {
    return Status::Unavailable(what + ": the provider refused keyward's own credentials (" +
                               std::string(StatusCodeName(c)) + "): " + provider_error.message());
  }
  return provider_error.WithContext(what);
}

Resolver::Resolver(Policy policy, ProviderLookup providers, AuditSink* audit, ResolverObserver* observer)
    : policy_(std::move(policy)), providers_(std::move(providers)), audit_(audit), observer_(observer) {}

AuditRecord Resolver::Record(const RequestContext& ctx, const Authorizer& policy, const std::string& fabric,
                             const SecretRef& ref, Action action) const {
  AuditRecord r;
  r.request_id = ctx.request_id;
  r.principal = ctx.principal;
  r.fabric = fabric;
  r.provider = ref.provider;
  if (auto type = policy.ProviderTypeOf(ref.provider)) r.provider_type = std::string(ProviderTypeName(*type));
  r.scope = ref.scope;
  r.key = ref.key;
  r.action = std::string(ActionName(action));
  r.policy = std::string(policy.version());
  r.peer = ctx.peer;
  return r;
}

// --- resolve ---------------------------------------------------------------------------------------

struct Resolver::ResolveOp {
  RequestContext ctx;
  std::string fabric;
  std::vector<SecretRef> refs;
  std::shared_ptr<const Authorizer> policy;
  std::vector<std::string> labels;  // the deciding rule of each (allowed) ref
  std::vector<std::optional<Result<SecretValue>>> results;
  std::atomic<std::size_t> remaining{0};
  ResolveDone done;
};

void Resolver::Resolve(const RequestContext& ctx, const std::string& fabric, std::vector<SecretRef> refs,
                       ResolveDone done) {
  if (refs.empty()) {
    done(Status::InvalidArgument("no secrets to resolve"), {});
    return;
  }
  auto op = std::make_shared<ResolveOp>();
  op->ctx = ctx;
  op->fabric = fabric;
  op->refs = std::move(refs);
  op->policy = policy_();
  op->done = std::move(done);
  const Authorizer& policy = *op->policy;

  std::vector<Decision> decisions;
  std::vector<DeniedRef> denied;
  for (const SecretRef& ref : op->refs) {
    const Decision d = policy.Decide(AccessRequest{ctx.principal, fabric, ref.provider, ref.scope, ref.key, Action::kResolve});
    if (observer_ != nullptr) observer_->OnDecision(d.effect);
    if (!d.allowed()) denied.push_back(DeniedRef{ref, Label(d), Why(d)});
    op->labels.push_back(Label(d));
    decisions.push_back(d);
  }

  if (!denied.empty()) {
    // All or nothing: nothing is fetched. Every ref is recorded; the allowed ones as denied with the batch.
    std::vector<AuditRecord> records;
    for (std::size_t i = 0; i < op->refs.size(); ++i) {
      AuditRecord r = Record(ctx, policy, fabric, op->refs[i], Action::kResolve);
      r.decision = "deny";
      if (decisions[i].allowed()) {
        r.reason = "batch-denied";
        r.detail = "allowed by " + op->labels[i] + ", not fetched: another secret of the batch was denied";
      } else {
        r.reason = op->labels[i];
        r.detail = Why(decisions[i]);
      }
      records.push_back(std::move(r));
    }
    // The most specific answer: an unknown fabric (404), a malformed ref (400), an unknown provider (404),
    // else the policy's denial (403). `denied` names every denied ref either way.
    Status status;
    const std::size_t n = op->refs.size(), k = denied.size();
    if (IsConstraint(decisions[0], "unknown-fabric")) {
      status = Status::NotFound("fabric '" + fabric + "' does not exist");
    } else if (auto it = std::find_if(decisions.begin(), decisions.end(),
                                      [](const Decision& d) { return IsConstraint(d, "invalid-secret-ref"); });
               it != decisions.end()) {
      status = Status::InvalidArgument(FormatSecretRef(op->refs[static_cast<std::size_t>(it - decisions.begin())]) +
                                       " is malformed for its provider; nothing was fetched");
    } else if (auto u = std::find_if(decisions.begin(), decisions.end(),
                                     [](const Decision& d) { return IsConstraint(d, "unknown-provider"); });
               u != decisions.end()) {
      status = Status::NotFound("provider '" + op->refs[static_cast<std::size_t>(u - decisions.begin())].provider +
                                "' does not exist; nothing was fetched");
    } else {
      status = Status::PermissionDenied(std::to_string(k) + " of " + std::to_string(n) +
                                        (n == 1 ? " secret is" : " secrets are") + " denied; nothing was fetched");
    }
    audit_->Append(std::move(records), [op, denied = std::move(denied), status](Result<SeqRange> r) mutable {
      if (!r.has_value()) return op->done(AuditFailure(r.error()), {});
      op->done(status, std::move(denied));
    });
    return;
  }

  op->results.resize(op->refs.size());
  op->remaining = op->refs.size();
  for (std::size_t i = 0; i < op->refs.size(); ++i) {
    const SecretRef& ref = op->refs[i];
    Provider* provider = providers_(ref.provider);
    if (provider == nullptr) {
      op->results[i] = Status::Unavailable("provider '" + ref.provider + "' is not configured on this server");
      if (--op->remaining == 0) FinishResolve(op);
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    provider->Get(ref.scope, ref.key, ctx.deadline, [this, op, i, start](Result<SecretValue> r) {
      if (observer_ != nullptr) {
        observer_->OnProviderCall(op->refs[i].provider,
                                  std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start),
                                  r.status());
      }
      op->results[i] = std::move(r);
      if (--op->remaining == 0) FinishResolve(op);
    });
  }
}

void Resolver::FinishResolve(std::shared_ptr<ResolveOp> op) {
  const Authorizer& policy = *op->policy;
  std::optional<std::size_t> failed;
  for (std::size_t i = 0; i < op->results.size(); ++i) {
    if (!(*op->results[i]).has_value() && !failed) failed = i;
  }
  std::vector<AuditRecord> records;
  for (std::size_t i = 0; i < op->refs.size(); ++i) {
    AuditRecord r = Record(op->ctx, policy, op->fabric, op->refs[i], Action::kResolve);
    const Result<SecretValue>& result = *op->results[i];
    if (!result.has_value()) {
      r.decision = "error";
      r.reason = ErrorReason(result.error());
      r.detail = result.error().message();
    } else if (failed) {
      r.decision = "error";
      r.reason = "batch-failed";
      r.detail = "fetched but not released: " + FormatSecretRef(op->refs[*failed]) + " failed";
    } else {
      r.decision = "allow";
      r.reason = op->labels[i];
    }
    records.push_back(std::move(r));
  }
  audit_->Append(std::move(records), [op, failed](Result<SeqRange> r) {
    if (!r.has_value()) {
      op->results.clear();  // wipes every fetched value
      return op->done(AuditFailure(r.error()), {});
    }
    if (failed) {
      const Status& s = (*op->results[*failed]).error();
      const Status named = ForCaller(s, FormatSecretRef(op->refs[*failed]));
      op->results.clear();
      return op->done(named, {});
    }
    ResolveResult out;
    out.audit = *r;
    for (std::size_t i = 0; i < op->refs.size(); ++i) {
      out.secrets.push_back(ResolvedSecret{op->refs[i], std::move(*op->results[i]).value()});
    }
    op->done(std::move(out), {});
  });
}

// --- list --------------------------------------------------------------------------------------------

void Resolver::List(const RequestContext& ctx, const std::string& fabric, const std::string& provider_id,
                    const std::string& scope, ListDone done) {
  auto policy = policy_();
  AuditRecord record = Record(ctx, *policy, fabric, SecretRef{provider_id, scope, ""}, Action::kList);
  // The scope first: unless some rule could let this principal list something there, the provider is
  // not asked — its answer (empty, missing, present) would tell what the principal may not know.
  const Decision gate = policy->DecideScope(AccessRequest{ctx.principal, fabric, provider_id, scope, "", Action::kList});
  if (observer_ != nullptr) observer_->OnDecision(gate.effect);
  record.reason = Label(gate);
  const std::string what = provider_id + ":" + scope;
  if (!gate.allowed()) {
    Status refused;
    if (IsConstraint(gate, "invalid-secret-ref")) {
      const auto type = policy->ProviderTypeOf(provider_id);
      refused = type ? ValidateScope(*type, scope) : Status();
      if (refused.ok()) refused = Status::InvalidArgument("scope '" + scope + "' is malformed");
    } else if (IsConstraint(gate, "unknown-fabric") || IsConstraint(gate, "unknown-provider")) {
      refused = DenialStatus(gate, SecretRef{provider_id, scope, ""}, fabric);
    } else {
      const std::string why = Why(gate);
      refused = Status::PermissionDenied("listing " + what + " is denied (" + Label(gate) + (why.empty() ? "" : ": " + why) + ")");
    }
    record.decision = "deny";
    record.detail = refused.code() == StatusCode::kInvalidArgument ? refused.message() : Why(gate);
    audit_->Append({std::move(record)}, [done = std::move(done), refused](Result<SeqRange> r) {
      done(r.has_value() ? refused : AuditFailure(r.error()));
    });
    return;
  }
  Provider* provider = providers_(provider_id);
  if (provider == nullptr) {
    done(Status::Unavailable("provider '" + provider_id + "' is not configured on this server"));
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  provider->List(scope, ctx.deadline,
                 [this, ctx, fabric, provider_id, scope, what, policy, record = std::move(record), done = std::move(done),
                  start](Result<std::vector<ListedName>> listed) mutable {
                   if (observer_ != nullptr) {
                     observer_->OnProviderCall(provider_id,
                                               std::chrono::duration_cast<std::chrono::microseconds>(
                                                   std::chrono::steady_clock::now() - start),
                                               listed.status());
                   }
                   if (!listed.has_value()) {
                     record.decision = "error";
                     record.reason = ErrorReason(listed.error());
                     record.detail = listed.error().message();
                     const Status s = ForCaller(listed.error(), "listing " + what);
                     audit_->Append({std::move(record)}, [done = std::move(done), s](Result<SeqRange> r) {
                       done(r.has_value() ? s : AuditFailure(r.error()));
                     });
                     return;
                   }
                   // Each name filtered by the policy: a key by `list` on it, a sub-scope by whether
                   // something below it may be listed.
                   ListResult result;
                   std::size_t keys = 0, scopes = 0, keys_listed = 0, scopes_listed = 0;
                   for (ListedName& n : *listed) {
                     Decision d;
                     if (n.is_scope) {
                       ++scopes;
                       const std::string child = scope.empty() ? n.name : scope + "/" + n.name;
                       d = policy->DecideScope(AccessRequest{ctx.principal, fabric, provider_id, child, "", Action::kList});
                       scopes_listed += d.allowed() ? 1U : 0U;
                     } else {
                       ++keys;
                       d = policy->Decide(AccessRequest{ctx.principal, fabric, provider_id, scope, n.name, Action::kList});
                       keys_listed += d.allowed() ? 1U : 0U;
                     }
                     if (observer_ != nullptr) observer_->OnDecision(d.effect);
                     if (d.allowed()) result.names.push_back(std::move(n));
                   }
                   record.decision = "allow";
                   record.detail = std::to_string(keys_listed) + " of " + std::to_string(keys) + " keys, " +
                                   std::to_string(scopes_listed) + " of " + std::to_string(scopes) + " scopes listed";
                   audit_->Append({std::move(record)},
                                  [done = std::move(done), result = std::move(result)](Result<SeqRange> r) mutable {
                                    if (!r.has_value()) return done(AuditFailure(r.error()));
                                    result.audit = *r;
                                    done(std::move(result));
                                  });
                 });
}

// --- write, delete -------------------------------------------------------------------------------------

void Resolver::Write(const RequestContext& ctx, const std::string& fabric, SecretRef ref, SecretValue value,
                     WriteDone done) {
  Mutate(ctx, fabric, std::move(ref), Action::kWrite, std::move(value), std::move(done));
}

void Resolver::Delete(const RequestContext& ctx, const std::string& fabric, SecretRef ref, WriteDone done) {
  Mutate(ctx, fabric, std::move(ref), Action::kDelete, std::nullopt, std::move(done));
}

void Resolver::Mutate(const RequestContext& ctx, const std::string& fabric, SecretRef ref, Action action,
                      std::optional<SecretValue> value, WriteDone done) {
  auto policy = policy_();
  const Decision d = policy->Decide(AccessRequest{ctx.principal, fabric, ref.provider, ref.scope, ref.key, action});
  if (observer_ != nullptr) observer_->OnDecision(d.effect);
  AuditRecord record = Record(ctx, *policy, fabric, ref, action);
  record.reason = Label(d);
  if (!d.allowed()) {
    record.decision = "deny";
    record.detail = Why(d);
    const Status s = DenialStatus(d, ref, fabric);
    audit_->Append({std::move(record)}, [done = std::move(done), s](Result<SeqRange> r) {
      done(r.has_value() ? s : AuditFailure(r.error()));
    });
    return;
  }
  Provider* provider = providers_(ref.provider);
  if (provider == nullptr) {
    done(Status::Unavailable("provider '" + ref.provider + "' is not configured on this server"));
    return;
  }
  // The change is recorded before it is made: a change the log could not record must not happen.
  record.decision = "allow";
  AuditRecord error_record = record;
  auto shared_value = std::make_shared<std::optional<SecretValue>>(std::move(value));
  audit_->Append({std::move(record)}, [this, ctx, ref, action, provider, shared_value, policy, error_record,
                                       done = std::move(done)](Result<SeqRange> recorded) mutable {
    if (!recorded.has_value()) return done(AuditFailure(recorded.error()));
    const auto start = std::chrono::steady_clock::now();
    auto finish = [this, ref, error_record, done = std::move(done), first = *recorded, start](Status s) mutable {
      if (observer_ != nullptr) {
        observer_->OnProviderCall(ref.provider,
                                  std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start), s);
      }
      if (s.ok()) return done(WriteResult{first});
      // The provider refused or failed: record that too, then answer with its error.
      error_record.decision = "error";
      error_record.reason = ErrorReason(s);
      error_record.detail = s.message();
      const Status named = ForCaller(s, FormatSecretRef(ref));
      audit_->Append({std::move(error_record)}, [done = std::move(done), named](Result<SeqRange>) { done(named); });
    };
    if (action == Action::kWrite) {
      provider->Put(ref.scope, ref.key, std::move(**shared_value), ctx.deadline, std::move(finish));
    } else {
      provider->Remove(ref.scope, ref.key, ctx.deadline, std::move(finish));
    }
  });
}

}  // namespace keyward
