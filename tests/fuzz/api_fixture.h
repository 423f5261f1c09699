// The in-process HTTP API for the api and resolve harnesses: keyward::http::Api with real parts — a
// CompiledPolicy from a fixed policy, the Resolver, the Authenticator with known tokens, Metrics — and
// synchronous in-memory fakes for the providers (holding known secret values) and the audit sink, so
// that every request is answered before Api::Handle returns.
//
// Check() is the oracle both harnesses share; see the comment on it.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit_sink.h"
#include "core/http/server.h"
#include "core/provider.h"
#include "policy/compiled.h"

namespace keyward::fuzz {

inline constexpr std::string_view kAliceToken = "kw_alice0alice0alice0alice0alice0alice0alice00";
inline constexpr std::string_view kBobToken = "kw_bob0bob0bob0bob0bob0bob0bob0bob0bob0bob0bob";

// A provider that keeps "scope/key" -> value in memory and answers inline.
class MemoryProvider final : public Provider {
 public:
  MemoryProvider(std::string id, ProviderType type, std::map<std::string, std::string> data);
  const std::string& id() const override { return id_; }
  ProviderType type() const override { return type_; }
  void Get(const std::string& scope, const std::string& key, Deadline, GetDone done) override;
  void List(const std::string& scope, Deadline, ListDone done) override;
  void Put(const std::string& scope, const std::string& key, SecretValue value, Deadline, StatusDone done) override;
  void Remove(const std::string& scope, const std::string& key, Deadline, StatusDone done) override;
  void Health(Deadline, StatusDone done) override;

  int puts = 0, removes = 0;
  const std::map<std::string, std::string>& data() const { return data_; }

 private:
  std::string id_;
  ProviderType type_;
  std::map<std::string, std::string> data_;
};

// Records in memory, refusing what the real log refuses (audit::ValidateRecord) or everything when down.
class MemorySink final : public AuditSink {
 public:
  void Append(std::vector<AuditRecord> records, AppendDone done) override;
  bool down = false;
  std::vector<AuditRecord> records;

 private:
  std::int64_t next_ = 1;
};

struct Exchange {
  http::HttpRequest request;
  bool sink_down = false;
};

// Splits a fuzz input into a request:
//   line 1             METHOD SP TARGET
//   following lines    name: value          (until an empty line; names are lower-cased)
//   the rest           the body
// The pseudo-headers "x-fuzz-peer", "x-fuzz-cert" (a client certificate identity) and
// "x-fuzz-sink: down" set the peer, the identities and the audit sink's state and are removed; "@ALICE"
// and "@BOB" in header values become those principals' tokens. Bytes Boost.Beast's parser would refuse
// (controls in the target or a header value, non-token characters in the method or a header name) are
// dropped: the Api only ever sees what Beast let through.
Exchange ParseExchange(std::string_view input);

// Builds everything for one request (nothing is shared between inputs but the compiled policy), hands
// the request to Api::Handle and checks:
//   - `respond` was called exactly once, before Handle returned;
//   - the status is one the API documents, never 500 (the handler's last-resort catch: a bug);
//   - one X-Request-Id header; JSON bodies parse; errors are {"error":{code,message,request_id}} with the
//     code that maps onto the status and the same request id; a 405 has an Allow header;
//   - no secret value (the providers', or the one a PUT sends) appears in any response or audit record
//     unless the request carried it itself, except values in the 200 answer of POST /v1/resolve, which
//     are exactly the providers' values of the refs asked for and is marked sensitive;
//   - with the audit sink down, no resolve, list, write or delete succeeds and no provider is written to;
//     a 200 resolve, write or delete has its audit records.
void Check(const Exchange& exchange, std::string_view raw_input);

}  // namespace keyward::fuzz
