// Turning the providers' callbacks into values a test can assert on: each helper starts an operation
// and waits for its completion — bounded, so that a lost callback fails the test instead of hanging it.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/provider.h"
#include "providers/http/client.h"

namespace keyward::testing {

inline constexpr std::chrono::seconds kCallbackTimeout{60};

inline Deadline In(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }
inline Deadline Soon() { return In(std::chrono::seconds(10)); }

// Calls start(callback) and waits for the callback's argument.
template <typename T, typename Start>
T Await(Start&& start) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  start([promise](T value) { promise->set_value(std::move(value)); });
  if (future.wait_for(kCallbackTimeout) != std::future_status::ready) {
    if constexpr (std::is_same_v<T, Status>) {
      return Status::Internal("the test gave up waiting for the completion callback");
    } else {
      return T(Status::Internal("the test gave up waiting for the completion callback"));
    }
  }
  return future.get();
}

inline Result<http::Response> SendAndWait(http::Client& client, http::Request request, Deadline deadline) {
  return Await<Result<http::Response>>(
      [&](auto done) { client.Send(std::move(request), deadline, std::move(done)); });
}

inline Result<SecretValue> GetAndWait(Provider& p, const std::string& scope, const std::string& key,
                                      Deadline deadline = Soon()) {
  return Await<Result<SecretValue>>([&](auto done) { p.Get(scope, key, deadline, std::move(done)); });
}

inline Result<std::vector<ListedName>> ListAndWait(Provider& p, const std::string& scope, Deadline deadline = Soon()) {
  return Await<Result<std::vector<ListedName>>>([&](auto done) { p.List(scope, deadline, std::move(done)); });
}

inline Status PutAndWait(Provider& p, const std::string& scope, const std::string& key, std::string_view value,
                         Deadline deadline = Soon()) {
  return Await<Status>([&](auto done) { p.Put(scope, key, SecretValue(value), deadline, std::move(done)); });
}

inline Status RemoveAndWait(Provider& p, const std::string& scope, const std::string& key, Deadline deadline = Soon()) {
  return Await<Status>([&](auto done) { p.Remove(scope, key, deadline, std::move(done)); });
}

inline Status HealthAndWait(Provider& p, Deadline deadline = Soon()) {
  return Await<Status>([&](auto done) { p.Health(deadline, std::move(done)); });
}

// Starts `n` gets at once, then waits for them all.
inline std::vector<Result<SecretValue>> GetManyAndWait(Provider& p, const std::string& scope, const std::string& key,
                                                       int n) {
  std::vector<std::future<Result<SecretValue>>> futures;
  for (int i = 0; i < n; ++i) {
    auto promise = std::make_shared<std::promise<Result<SecretValue>>>();
    futures.push_back(promise->get_future());
    p.Get(scope, key, Soon(), [promise](Result<SecretValue> v) { promise->set_value(std::move(v)); });
  }
  std::vector<Result<SecretValue>> out;
  for (auto& f : futures) {
    if (f.wait_for(kCallbackTimeout) != std::future_status::ready) {
      out.emplace_back(Status::Internal("the test gave up waiting for the completion callback"));
    } else {
      out.push_back(f.get());
    }
  }
  return out;
}

// A listing as (name, is_scope) pairs, for ElementsAre.
inline std::vector<std::pair<std::string, bool>> Names(const std::vector<ListedName>& names) {
  std::vector<std::pair<std::string, bool>> out;
  for (const auto& n : names) out.emplace_back(n.name, n.is_scope);
  return out;
}

}  // namespace keyward::testing
