// Provider: the port through which the Resolver reaches a secret store (Databricks Secrets, Vault,
// environment variables). Implemented in providers/; the Resolver knows only this interface.
//
// Every operation is asynchronous: it returns at once and calls `done` exactly once, later, from a
// thread owned by the provider (never from inside the call itself for network providers; local
// providers such as the environment may complete inline). `done` must not block: callers on an Asio
// executor post the result back to it. No operation blocks the calling thread on network I/O.
//
// Errors are Statuses with these codes, and no other:
//   kNotFound           the scope or key does not exist
//   kPermissionDenied   the provider refused our credentials for this secret
//   kUnauthenticated    the provider rejected our credentials altogether
//   kUnavailable        the provider is down, sealed, rate-limiting past our retries, or answered garbage
//   kDeadlineExceeded   the deadline passed before an answer
//   kInvalidArgument    scope or key are malformed for this provider (checked before any call)
//   kUnimplemented      the operation does not exist here (writing to a read-only provider)
//   kAborted            a concurrent writer won (Vault KV v2 check-and-set), after our one retry
//   kResourceExhausted  a provider limit (value size, number of secrets)
// Messages name the provider, scope and key; they NEVER contain a secret value or a credential.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/secret_value.h"
#include "core/vocabulary.h"

namespace keyward {

using Deadline = std::chrono::steady_clock::time_point;

// One name in a listing: a key of the scope, or (Vault) a sub-path that can be listed in turn.
struct ListedName {
  std::string name;
  bool is_scope = false;  // a sub-path ("dir/" in Vault) or, when listing scopes, a scope
  friend bool operator==(const ListedName&, const ListedName&) = default;
};

class Provider {
 public:
  virtual ~Provider() = default;

  virtual const std::string& id() const = 0;
  virtual ProviderType type() const = 0;

  using GetDone = std::function<void(Result<SecretValue>)>;
  using ListDone = std::function<void(Result<std::vector<ListedName>>)>;
  using StatusDone = std::function<void(Status)>;

  // The value of `key` in `scope`.
  virtual void Get(const std::string& scope, const std::string& key, Deadline deadline, GetDone done) = 0;
  // The names in `scope`: keys (and, for Vault, sub-paths). An empty scope lists the scopes themselves
  // where the provider has them (Databricks) and is kInvalidArgument where it does not (Vault).
  virtual void List(const std::string& scope, Deadline deadline, ListDone done) = 0;
  // Creates or replaces `key` in `scope`. Creates the scope when the provider needs that (Databricks).
  virtual void Put(const std::string& scope, const std::string& key, SecretValue value, Deadline deadline,
                   StatusDone done) = 0;
  // Removes `key` from `scope`. kNotFound when it is not there.
  virtual void Remove(const std::string& scope, const std::string& key, Deadline deadline, StatusDone done) = 0;
  // OK when the provider is reachable and our credentials work.
  virtual void Health(Deadline deadline, StatusDone done) = 0;
};

}  // namespace keyward
