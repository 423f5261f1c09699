#include "providers/remote_provider.h"

#include <future>

namespace keyward::providers {

RemoteProvider::RemoteProvider(std::string id, ProviderType type, std::shared_ptr<http::IoRuntime> runtime,
                               std::shared_ptr<RemoteCore> core)
    : id_(std::move(id)), type_(type), runtime_(std::move(runtime)), core_(std::move(core)) {}

RemoteProvider::~RemoteProvider() {
  // The core shuts down on its own thread, and the destructor waits: once the provider is gone, no
  // completion still in flight calls anything it was given (a test's clock, say).
  if (runtime_->RunningInThisThread()) {
    core_->Shutdown();
    return;
  }
  std::promise<void> shut;
  runtime_->Post([&] {
    core_->Shutdown();
    shut.set_value();
  });
  shut.get_future().wait();
}

void RemoteProvider::Get(const std::string& scope, const std::string& key, Deadline deadline, GetDone done) {
  runtime_->Post([core = core_, scope, key, deadline, done = CompletionGuard<Result<SecretValue>>(std::move(done))] {
    core->Get(scope, key, deadline, done);
  });
}

void RemoteProvider::List(const std::string& scope, Deadline deadline, ListDone done) {
  runtime_->Post([core = core_, scope, deadline, done = CompletionGuard<Result<std::vector<ListedName>>>(std::move(done))] {
    core->List(scope, deadline, done);
  });
}

void RemoteProvider::Put(const std::string& scope, const std::string& key, SecretValue value, Deadline deadline,
                         StatusDone done) {
  // Move-only, and std::function copies what it holds: share it.
  auto v = std::make_shared<SecretValue>(std::move(value));
  runtime_->Post([core = core_, scope, key, v, deadline, done = CompletionGuard<Status>(std::move(done))] {
    core->Put(scope, key, v, deadline, done);
  });
}

void RemoteProvider::Remove(const std::string& scope, const std::string& key, Deadline deadline, StatusDone done) {
  runtime_->Post([core = core_, scope, key, deadline, done = CompletionGuard<Status>(std::move(done))] {
    core->Remove(scope, key, deadline, done);
  });
}

void RemoteProvider::Health(Deadline deadline, StatusDone done) {
  runtime_->Post([core = core_, deadline, done = CompletionGuard<Status>(std::move(done))] { core->Health(deadline, done); });
}

}  // namespace keyward::providers
