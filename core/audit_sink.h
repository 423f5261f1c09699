// AuditSink: the port through which the Resolver records every access before answering.
//
// Implemented by audit::AuditLog. The sink assigns each record its sequence number and time, and calls
// `done` only once the records are durable — or with an error, in which case the caller must refuse
// the access (fail closed).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"

namespace keyward {

// One audited event. It names keys, never values: there is no field that could carry a value, and
// nothing derived from one may be put in any field. Every field must be valid UTF-8.
struct AuditRecord {
  std::string request_id;     // the request's id ("" for server events)
  std::string principal;      // who asked ("" when unauthenticated or for server events)
  std::string fabric;
  std::string provider;       // provider instance id
  std::string provider_type;  // "databricks", "vault", "environment" (or "")
  std::string scope;
  std::string key;
  std::string action;    // resolve, list, write, delete; authenticate; server.start, server.stop, policy.reload, ...
  std::string decision;  // allow, deny or error
  std::string reason;    // rule:<id>, constraint:<name>, default, or error:<status code>
  std::string policy;    // version of the policy that decided
  std::string peer;      // the client's address
  std::string detail;    // optional human detail (never a value)
};

// The sequence numbers given to one Append: contiguous, first <= last.
struct SeqRange {
  std::int64_t first = 0;
  std::int64_t last = 0;
};

class AuditSink {
 public:
  virtual ~AuditSink() = default;

  using AppendDone = std::function<void(Result<SeqRange>)>;

  // Records `records` (at least one) with contiguous sequence numbers. `done` is called exactly once: on a
  // thread of the sink after the transaction holding them is durable (or failed), or inline, before
  // Append returns, when the records are rejected outright. It must not block. Never blocks the caller. Errors: InvalidArgument (a field is not valid UTF-8; nothing is written),
  // ResourceExhausted (too much pending), Unavailable (the log cannot write: disk full, read-only, locked),
  // FailedPrecondition (the log is closed).
  virtual void Append(std::vector<AuditRecord> records, AppendDone done) = 0;
};

}  // namespace keyward
