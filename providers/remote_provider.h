// RemoteProvider: the Provider of every adapter that talks to a remote API (Vault, Databricks).
//
// It hands each operation to the adapter's core on the IoRuntime's thread and returns at once, so
// `done` is never called inside the call, and the core — its token, its caches — is only ever touched
// by that one thread and needs no lock. Destroying the provider shuts its HTTP client down: operations
// still in flight fail with kUnavailable.
//
// Thread-safety: all public methods may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/provider.h"
#include "providers/http/client.h"

namespace keyward::providers {

// An adapter's operations; each is called on the runtime's thread and calls its callback there.
class RemoteCore {
 public:
  virtual ~RemoteCore() = default;
  virtual void Get(const std::string& scope, const std::string& key, Deadline d, Provider::GetDone done) = 0;
  virtual void List(const std::string& scope, Deadline d, Provider::ListDone done) = 0;
  virtual void Put(const std::string& scope, const std::string& key, std::shared_ptr<SecretValue> value, Deadline d,
                   Provider::StatusDone done) = 0;
  virtual void Remove(const std::string& scope, const std::string& key, Deadline d, Provider::StatusDone done) = 0;
  virtual void Health(Deadline d, Provider::StatusDone done) = 0;
  // Called on the runtime's thread. Afterwards the core calls nothing its options gave it; operations
  // still in flight complete with an error.
  virtual void Shutdown() = 0;
  virtual http::ClientStats stats() const = 0;
};

// A completion callback that is called exactly once: with the first result given to it, or, when the
// last copy is destroyed without one (a handler that threw, a path that dropped its callback), with
// Internal, so that the caller — who records the outcome in the audit log — always hears back.
template <typename T>
class CompletionGuard {
 public:
  explicit CompletionGuard(std::function<void(T)> done) : state_(std::make_shared<State>(std::move(done))) {}
  void operator()(T value) const {
    if (state_->called) return;
    state_->called = true;
    auto done = std::move(state_->done);
    done(std::move(value));
  }

 private:
  struct State {
    explicit State(std::function<void(T)> d) : done(std::move(d)) {}
    ~State() {
      if (!called && done) done(T(Status::Internal("the provider's operation ended without a result (a defect in keyward)")));
    }
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    std::function<void(T)> done;
    bool called = false;
  };
  std::shared_ptr<State> state_;
};

class RemoteProvider final : public Provider {
 public:
  RemoteProvider(std::string id, ProviderType type, std::shared_ptr<http::IoRuntime> runtime,
                 std::shared_ptr<RemoteCore> core);
  ~RemoteProvider() override;
  RemoteProvider(const RemoteProvider&) = delete;
  RemoteProvider& operator=(const RemoteProvider&) = delete;

  const std::string& id() const override { return id_; }
  ProviderType type() const override { return type_; }

  void Get(const std::string& scope, const std::string& key, Deadline deadline, GetDone done) override;
  void List(const std::string& scope, Deadline deadline, ListDone done) override;
  void Put(const std::string& scope, const std::string& key, SecretValue value, Deadline deadline,
           StatusDone done) override;
  void Remove(const std::string& scope, const std::string& key, Deadline deadline, StatusDone done) override;
  void Health(Deadline deadline, StatusDone done) override;

  // Connections opened and reused so far (tests and benchmarks).
  http::ClientStats http_stats() const { return core_->stats(); }

 private:
  const std::string id_;
  const ProviderType type_;
  std::shared_ptr<http::IoRuntime> runtime_;
  std::shared_ptr<RemoteCore> core_;
};

}  // namespace keyward::providers
