// Resolver: decides, fetches, records, and only then answers (DESIGN.md §3).
//
// For each operation the Resolver takes one snapshot of the policy (so a whole batch is decided under
// one policy version), asks the Authorizer, calls providers, and hands one audit entry per secret to the
// AuditSink. Ordering, which is what "fail closed" means here:
//   resolve  decide every ref; if any is denied, fetch nothing. Otherwise fetch all refs concurrently;
//            then record every ref; values are released only once the records are durable. If the log
//            cannot record, the answer is Unavailable and every fetched value is wiped.
//   write,   decide; record the allowed change durably BEFORE calling the provider (a change the log
//   delete   could not record does not happen); a provider failure is recorded as a second entry.
//   list     decide per name; record one entry for the listing; names only, never values.
// Every operation is asynchronous: `done` is called exactly once, from a provider's or the audit log's
// thread (or inline for immediate failures); it must not block.
//
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/audit_sink.h"
#include "core/authorizer.h"
#include "core/provider.h"
#include "core/result.h"
#include "core/secret_ref.h"
#include "core/secret_value.h"

namespace keyward {

// Who asks, from where, under which request id.
struct RequestContext {
  std::string request_id;
  std::string principal;
  std::string peer;
  Deadline deadline;
};

struct ResolvedSecret {
  SecretRef ref;
  SecretValue value;
};

struct ResolveResult {
  std::vector<ResolvedSecret> secrets;  // in the order of the request
  SeqRange audit;
};

// A ref the policy denied, and why ("rule:...", "constraint:...", "default").
struct DeniedRef {
  SecretRef ref;
  std::string decided_by;
  std::string reason;
};

struct ListResult {
  std::vector<ListedName> names;  // only those this principal may list: keys, and sub-scopes (is_scope)
  SeqRange audit;
};

struct WriteResult {
  SeqRange audit;
};

// Counters the endpoint exports as metrics: decisions by outcome and provider latency.
class ResolverObserver {
 public:
  virtual ~ResolverObserver() = default;
  virtual void OnDecision(Effect effect) = 0;
  virtual void OnProviderCall(const std::string& provider, std::chrono::microseconds latency, const Status& status) = 0;
};

class Resolver {
 public:
  using Policy = std::function<std::shared_ptr<const Authorizer>()>;
  using ProviderLookup = std::function<Provider*(std::string_view id)>;

  // REQUIRES: every argument outlives the Resolver; `observer` may be null.
  Resolver(Policy policy, ProviderLookup providers, AuditSink* audit, ResolverObserver* observer);

  // Errors: PermissionDenied when any ref is denied (then `denied` lists each, and nothing was fetched);
  // the mapped provider error naming the first failed ref; Unavailable when the log cannot record.
  // InvalidArgument for an empty batch.
  using ResolveDone = std::function<void(Result<ResolveResult>, std::vector<DeniedRef> denied)>;
  void Resolve(const RequestContext& ctx, const std::string& fabric, std::vector<SecretRef> refs, ResolveDone done);

  // Names in provider `provider`'s `scope` that the principal may list on `fabric`: the keys it may list
  // there, and the sub-scopes below which it may list something. The provider is asked only when the
  // policy lets the principal list something in or below `scope` (Authorizer::DecideScope); otherwise
  // PermissionDenied (or NotFound / InvalidArgument for an unknown fabric or provider, a bad scope).
  // One audit entry either way: allow with the counts listed, deny, or the provider's error.
  using ListDone = std::function<void(Result<ListResult>)>;
  void List(const RequestContext& ctx, const std::string& fabric, const std::string& provider, const std::string& scope,
            ListDone done);

  using WriteDone = std::function<void(Result<WriteResult>)>;
  void Write(const RequestContext& ctx, const std::string& fabric, SecretRef ref, SecretValue value, WriteDone done);
  void Delete(const RequestContext& ctx, const std::string& fabric, SecretRef ref, WriteDone done);

 private:
  struct ResolveOp;
  AuditRecord Record(const RequestContext& ctx, const Authorizer& policy, const std::string& fabric,
                     const SecretRef& ref, Action action) const;
  void FinishResolve(std::shared_ptr<ResolveOp> op);
  void Mutate(const RequestContext& ctx, const std::string& fabric, SecretRef ref, Action action,
              std::optional<SecretValue> value, WriteDone done);

  Policy policy_;
  ProviderLookup providers_;
  AuditSink* audit_;
  ResolverObserver* observer_;
};

// "error:<status code name>".
std::string ErrorReason(const Status& status);

}  // namespace keyward
