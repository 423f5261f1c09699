#include "core/resolver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <set>
#include <mutex>
#include <thread>

#include "core/testing/status_matchers.h"

namespace keyward {
namespace {

using ::keyward::testing::IsOk;
using ::keyward::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Everything that happens, in order, across the fakes.
struct Events {
  std::mutex mu;
  std::vector<std::string> log;
  void Add(std::string e) {
    std::lock_guard lk(mu);
    log.push_back(std::move(e));
  }
};

// Allows what `allowed` lists ("fabric provider:scope/key action"), knows fabric "f" and providers
// "vault" (vault) and "env" (environment, read-only).
class FakeAuthorizer : public Authorizer {
 public:
  std::set<std::string> allowed;
  std::set<std::string> listable_scopes;  // "fabric provider:scope": something below it may be listed
  Decision DecideScope(const AccessRequest& r) const override {
    if (r.fabric != "f") return Decision{Effect::kDeny, Decision::Basis::kConstraint, "unknown-fabric", "no such fabric"};
    const auto type = ProviderTypeOf(r.provider);
    if (!type) return Decision{Effect::kDeny, Decision::Basis::kConstraint, "unknown-provider", "no such provider"};
    if (!ValidateScope(*type, r.scope).ok()) {
      return Decision{Effect::kDeny, Decision::Basis::kConstraint, "invalid-secret-ref", "malformed"};
    }
    const std::string key = std::string(r.fabric) + " " + std::string(r.provider) + ":" + std::string(r.scope);
    if (listable_scopes.count(key)) return Decision{Effect::kAllow, Decision::Basis::kRule, "r2", "lists"};
    return Decision{};
  }
  Decision Decide(const AccessRequest& r) const override {
    if (r.fabric != "f") return Decision{Effect::kDeny, Decision::Basis::kConstraint, "unknown-fabric", "no such fabric"};
    if (r.provider != "vault" && r.provider != "env") {
      return Decision{Effect::kDeny, Decision::Basis::kConstraint, "unknown-provider", "no such provider"};
    }
    if (r.provider == "env" && IsMutation(r.action)) {
      return Decision{Effect::kDeny, Decision::Basis::kConstraint, "read-only-provider", "read-only"};
    }
    const std::string key = std::string(r.fabric) + " " + std::string(r.provider) + ":" + std::string(r.scope) + "/" +
                            std::string(r.key) + " " + std::string(ActionName(r.action));
    if (allowed.count(key)) return Decision{Effect::kAllow, Decision::Basis::kRule, "r1", "because"};
    return Decision{};
  }
  std::string_view version() const override { return "v1"; }
  std::vector<FabricInfo> FabricsFor(std::string_view) const override { return {}; }
  std::optional<ProviderType> ProviderTypeOf(std::string_view id) const override {
    if (id == "vault") return ProviderType::kVault;
    if (id == "env") return ProviderType::kEnvironment;
    return std::nullopt;
  }
};

class FakeProvider : public Provider {
 public:
  FakeProvider(std::string id, ProviderType type, Events* events) : id_(std::move(id)), type_(type), events_(events) {}
  std::map<std::string, std::string> data;  // "scope/key" -> value
  std::map<std::string, Status> failures;   // "scope/key" -> error
  bool async = false;
  int calls = 0;

  const std::string& id() const override { return id_; }
  ProviderType type() const override { return type_; }
  void Get(const std::string& scope, const std::string& key, Deadline, GetDone done) override {
    ++calls;
    events_->Add("get " + scope + "/" + key);
    const std::string k = scope + "/" + key;
    Result<SecretValue> r = failures.count(k) ? Result<SecretValue>(failures[k])
                            : data.count(k)   ? Result<SecretValue>(SecretValue(data[k]))
                                              : Result<SecretValue>(Status::NotFound(k));
    if (async) {
      std::thread([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); }).detach();
    } else {
      done(std::move(r));
    }
  }
  void List(const std::string& scope, Deadline, ListDone done) override {
    ++calls;
    std::vector<ListedName> names;
    for (const auto& [k, v] : data) {
      if (k.rfind(scope + "/", 0) == 0) names.push_back({k.substr(scope.size() + 1), false});
    }
    names.push_back({"subdir", true});  // sub-scopes, as providers name them: no trailing '/'
    names.push_back({"private", true});
    done(std::move(names));
  }
  void Put(const std::string& scope, const std::string& key, SecretValue value, Deadline, StatusDone done) override {
    ++calls;
    events_->Add("put " + scope + "/" + key);
    const std::string k = scope + "/" + key;
    if (failures.count(k)) return done(failures[k]);
    data[k] = std::string(value.reveal());
    done(Status());
  }
  void Remove(const std::string& scope, const std::string& key, Deadline, StatusDone done) override {
    ++calls;
    events_->Add("remove " + scope + "/" + key);
    done(data.erase(scope + "/" + key) ? Status() : Status::NotFound(key));
  }
  void Health(Deadline, StatusDone done) override { done(Status()); }

 private:
  std::string id_;
  ProviderType type_;
  Events* events_;
};

class FakeSink : public AuditSink {
 public:
  explicit FakeSink(Events* events) : events_(events) {}
  std::vector<AuditRecord> records;
  bool fail = false;
  std::int64_t next = 1;
  void Append(std::vector<AuditRecord> batch, AppendDone done) override {
    events_->Add("audit " + std::to_string(batch.size()) + " " + batch[0].decision);
    if (fail) return done(Status::Unavailable("disk full"));
    const SeqRange r{next, next + static_cast<std::int64_t>(batch.size()) - 1};
    next = r.last + 1;
    for (auto& b : batch) records.push_back(std::move(b));
    done(r);
  }

 private:
  Events* events_;
};

class ResolverTest : public ::testing::Test {
 protected:
  ResolverTest() {
    vault_.data = {{"secret/app/a", "value-a"}, {"secret/app/b", "value-b"}, {"secret/app/c", "value-c"}};
    env_.data = {{"/HOME", "/root"}};
    policy_->allowed = {"f vault:secret/app/a resolve", "f vault:secret/app/b resolve", "f vault:secret/app/a write",
                        "f vault:secret/app/a delete", "f vault:secret/app/a list", "f vault:secret/app/c list",
                        "f vault:secret/app/c resolve"};
    policy_->listable_scopes = {"f vault:secret/app", "f vault:secret/app/subdir"};
  }
  Resolver MakeResolver() {
    return Resolver([this] { return std::shared_ptr<const Authorizer>(policy_); },
                    [this](std::string_view id) -> Provider* {
                      if (id == "vault") return &vault_;
                      if (id == "env") return &env_;
                      return nullptr;
                    },
                    &sink_, nullptr);
  }
  RequestContext Ctx() { return RequestContext{"req-1", "alice", "127.0.0.1:1", std::chrono::steady_clock::now()}; }

  Events events_;
  std::shared_ptr<FakeAuthorizer> policy_ = std::make_shared<FakeAuthorizer>();
  FakeProvider vault_{"vault", ProviderType::kVault, &events_};
  FakeProvider env_{"env", ProviderType::kEnvironment, &events_};
  FakeSink sink_{&events_};
};

struct ResolveOutcome {
  std::optional<Result<ResolveResult>> result;
  std::vector<DeniedRef> denied;
};

ResolveOutcome RunResolve(Resolver& r, const RequestContext& ctx, std::vector<SecretRef> refs) {
  ResolveOutcome out;
  std::mutex mu;
  std::condition_variable cv;
  r.Resolve(ctx, "f", std::move(refs), [&](Result<ResolveResult> res, std::vector<DeniedRef> denied) {
    std::lock_guard lk(mu);
    out.result = std::move(res);
    out.denied = std::move(denied);
    cv.notify_one();
  });
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return out.result.has_value(); });
  return out;
}

TEST_F(ResolverTest, AllowedBatchIsFetchedRecordedThenReleased) {
  Resolver r = MakeResolver();
  auto out = RunResolve(r, Ctx(), {{"vault", "secret/app", "a"}, {"vault", "secret/app", "b"}});
  ASSERT_THAT(*out.result, IsOk());
  ASSERT_EQ((*out.result)->secrets.size(), 2u);
  EXPECT_EQ((*out.result)->secrets[0].value.reveal(), "value-a");
  EXPECT_EQ((*out.result)->secrets[1].ref.key, "b");
  EXPECT_EQ((*out.result)->audit.first, 1);
  EXPECT_EQ((*out.result)->audit.last, 2);
  EXPECT_THAT(events_.log, ElementsAre("get secret/app/a", "get secret/app/b", "audit 2 allow"));
  ASSERT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(sink_.records[0].reason, "rule:r1");
  EXPECT_EQ(sink_.records[0].provider_type, "vault");
  EXPECT_EQ(sink_.records[0].policy, "v1");
  EXPECT_EQ(sink_.records[0].principal, "alice");
  EXPECT_EQ(sink_.records[0].request_id, "req-1");
}

TEST_F(ResolverTest, AnyDeniedRefDeniesTheBatchAndNothingIsFetched) {
  Resolver r = MakeResolver();
  auto out = RunResolve(r, Ctx(), {{"vault", "secret/app", "a"}, {"vault", "secret/app", "z"}});
  EXPECT_THAT(*out.result, StatusIs(StatusCode::kPermissionDenied, HasSubstr("1 of 2 secrets are denied")));
  ASSERT_EQ(out.denied.size(), 1u);
  EXPECT_EQ(out.denied[0].ref.key, "z");
  EXPECT_EQ(out.denied[0].decided_by, "default");
  EXPECT_EQ(out.denied[0].reason, "no rule allows it");
  EXPECT_EQ(vault_.calls, 0);
  ASSERT_EQ(sink_.records.size(), 2u);  // every ref is recorded
  EXPECT_EQ(sink_.records[0].decision, "deny");
  EXPECT_EQ(sink_.records[0].reason, "batch-denied");
  EXPECT_EQ(sink_.records[1].reason, "default");
  EXPECT_EQ(sink_.records[1].detail, "no rule allows it");
}

TEST_F(ResolverTest, UnknownFabricIsNotFound) {
  Resolver r = MakeResolver();
  ResolveOutcome out;
  r.Resolve(Ctx(), "nope", {{"vault", "secret/app", "a"}}, [&](Result<ResolveResult> res, std::vector<DeniedRef> d) {
    out.result = std::move(res);
    out.denied = std::move(d);
  });
  EXPECT_THAT(*out.result, StatusIs(StatusCode::kNotFound, HasSubstr("fabric 'nope' does not exist")));
  EXPECT_EQ(sink_.records.size(), 1u);
}

TEST_F(ResolverTest, ProviderFailureFailsTheBatchNamingTheRef) {
  vault_.failures["secret/app/b"] = Status::NotFound("no such key");
  Resolver r = MakeResolver();
  auto out = RunResolve(r, Ctx(), {{"vault", "secret/app", "a"}, {"vault", "secret/app", "b"}});
  EXPECT_THAT(*out.result, StatusIs(StatusCode::kNotFound, HasSubstr("vault:secret/app/b: no such key")));
  ASSERT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(sink_.records[0].decision, "error");
  EXPECT_EQ(sink_.records[0].reason, "batch-failed");
  EXPECT_EQ(sink_.records[1].reason, "error:not_found");
}

TEST_F(ResolverTest, AProviderRefusingKeywardIsNotTheCallersAuthProblem) {
  // keyward's own token at Vault expired, or lacks a Vault policy: the caller must not get a 401/403,
  // which would say its own credentials or the keyward policy are at fault.
  vault_.failures["secret/app/a"] = Status::Unauthenticated("token expired");
  vault_.failures["secret/app/b"] = Status::PermissionDenied("vault said no");
  Resolver r = MakeResolver();
  auto a = RunResolve(r, Ctx(), {{"vault", "secret/app", "a"}});
  EXPECT_THAT(*a.result, StatusIs(StatusCode::kUnavailable,
                                  HasSubstr("vault:secret/app/a: the provider refused keyward's own credentials "
                                            "(unauthenticated): token expired")));
  auto b = RunResolve(r, Ctx(), {{"vault", "secret/app", "b"}});
  EXPECT_THAT(*b.result, StatusIs(StatusCode::kUnavailable, HasSubstr("(permission_denied): vault said no")));
  ASSERT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(sink_.records[0].reason, "error:unauthenticated");  // the record keeps the provider's code
  EXPECT_EQ(sink_.records[1].reason, "error:permission_denied");
}

TEST_F(ResolverTest, NoValueLeavesWhenTheLogCannotRecord) {
  sink_.fail = true;
  Resolver r = MakeResolver();
  auto out = RunResolve(r, Ctx(), {{"vault", "secret/app", "a"}});
  EXPECT_THAT(*out.result, StatusIs(StatusCode::kUnavailable, HasSubstr("could not record the access")));
}

TEST_F(ResolverTest, AsyncProvidersCompleteOnTheirOwnThreads) {
  vault_.async = true;
  Resolver r = MakeResolver();
  for (int i = 0; i < 50; ++i) {
    auto out = RunResolve(r, Ctx(), {{"vault", "secret/app", "a"}, {"vault", "secret/app", "b"}, {"vault", "secret/app", "c"}});
    ASSERT_THAT(*out.result, IsOk());
    EXPECT_EQ((*out.result)->secrets[2].value.reveal(), "value-c");
  }
}

TEST_F(ResolverTest, WriteIsRecordedBeforeItIsMade) {
  Resolver r = MakeResolver();
  std::optional<Result<WriteResult>> result;
  r.Write(Ctx(), "f", {"vault", "secret/app", "a"}, SecretValue("new"), [&](Result<WriteResult> w) { result = std::move(w); });
  ASSERT_THAT(*result, IsOk());
  EXPECT_THAT(events_.log, ElementsAre("audit 1 allow", "put secret/app/a"));
  EXPECT_EQ(vault_.data["secret/app/a"], "new");
}

TEST_F(ResolverTest, AWriteTheLogCannotRecordDoesNotHappen) {
  sink_.fail = true;
  Resolver r = MakeResolver();
  std::optional<Result<WriteResult>> result;
  r.Write(Ctx(), "f", {"vault", "secret/app", "a"}, SecretValue("new"), [&](Result<WriteResult> w) { result = std::move(w); });
  EXPECT_THAT(*result, StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(vault_.calls, 0);
  EXPECT_EQ(vault_.data["secret/app/a"], "value-a");
}

TEST_F(ResolverTest, AFailedWriteIsRecordedTwice) {
  vault_.failures["secret/app/a"] = Status::Aborted("cas mismatch");
  Resolver r = MakeResolver();
  std::optional<Result<WriteResult>> result;
  r.Write(Ctx(), "f", {"vault", "secret/app", "a"}, SecretValue("new"), [&](Result<WriteResult> w) { result = std::move(w); });
  EXPECT_THAT(*result, StatusIs(StatusCode::kAborted, HasSubstr("vault:secret/app/a")));
  ASSERT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(sink_.records[0].decision, "allow");
  EXPECT_EQ(sink_.records[1].decision, "error");
  EXPECT_EQ(sink_.records[1].reason, "error:aborted");
}

TEST_F(ResolverTest, DeniedAndReadOnlyMutations) {
  Resolver r = MakeResolver();
  std::optional<Result<WriteResult>> a, b;
  r.Delete(Ctx(), "f", {"vault", "secret/app", "b"}, [&](Result<WriteResult> w) { a = std::move(w); });
  EXPECT_THAT(*a, StatusIs(StatusCode::kPermissionDenied, HasSubstr("(default: no rule allows it)")));
  r.Write(Ctx(), "f", {"env", "", "HOME"}, SecretValue("x"), [&](Result<WriteResult> w) { b = std::move(w); });
  EXPECT_THAT(*b, StatusIs(StatusCode::kUnimplemented, HasSubstr("read-only")));
  EXPECT_EQ(vault_.calls + env_.calls, 0);
  ASSERT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(sink_.records[1].reason, "constraint:read-only-provider");
}

TEST_F(ResolverTest, ListReturnsOnlyPermittedKeysAndScopes) {
  Resolver r = MakeResolver();
  std::optional<Result<ListResult>> out;
  r.List(Ctx(), "f", "vault", "secret/app", [&](Result<ListResult> l) { out = std::move(l); });
  ASSERT_THAT(*out, IsOk());
  std::vector<std::string> names;
  for (const auto& n : (*out)->names) names.push_back(n.name + (n.is_scope ? "/" : ""));
  // b is not listable; of the sub-scopes only "subdir" has something listable below it.
  EXPECT_THAT(names, ElementsAre("a", "c", "subdir/"));
  ASSERT_EQ(sink_.records.size(), 1u);
  EXPECT_EQ(sink_.records[0].action, "list");
  EXPECT_EQ(sink_.records[0].decision, "allow");
  EXPECT_EQ(sink_.records[0].reason, "rule:r2");
  EXPECT_EQ(sink_.records[0].detail, "2 of 3 keys, 1 of 2 scopes listed");
}

TEST_F(ResolverTest, ListWhereNothingMayBeListedNeverAsksTheProvider) {
  Resolver r = MakeResolver();
  std::optional<Result<ListResult>> out;
  // "secret/other" may or may not exist: the answer must not depend on it.
  r.List(Ctx(), "f", "vault", "secret/other", [&](Result<ListResult> l) { out = std::move(l); });
  EXPECT_THAT(*out, StatusIs(StatusCode::kPermissionDenied, HasSubstr("listing vault:secret/other is denied (default")));
  EXPECT_EQ(vault_.calls, 0);
  ASSERT_EQ(sink_.records.size(), 1u);
  EXPECT_EQ(sink_.records[0].decision, "deny");
  EXPECT_EQ(sink_.records[0].reason, "default");
}

TEST_F(ResolverTest, ListRefusals) {
  Resolver r = MakeResolver();
  std::optional<Result<ListResult>> bad_scope, unknown, fabric;
  r.List(Ctx(), "f", "vault", "/secret", [&](Result<ListResult> l) { bad_scope = std::move(l); });
  EXPECT_THAT(*bad_scope, StatusIs(StatusCode::kInvalidArgument, HasSubstr("must not start with '/'")));
  r.List(Ctx(), "f", "nope", "x", [&](Result<ListResult> l) { unknown = std::move(l); });
  EXPECT_THAT(*unknown, StatusIs(StatusCode::kNotFound, HasSubstr("provider 'nope' does not exist")));
  r.List(Ctx(), "g", "vault", "secret/app", [&](Result<ListResult> l) { fabric = std::move(l); });
  EXPECT_THAT(*fabric, StatusIs(StatusCode::kNotFound, HasSubstr("fabric 'g' does not exist")));
  EXPECT_EQ(vault_.calls, 0);
  ASSERT_EQ(sink_.records.size(), 3u);
  EXPECT_EQ(sink_.records[0].reason, "constraint:invalid-secret-ref");
}

TEST_F(ResolverTest, EmptyBatch) {
  Resolver r = MakeResolver();
  auto out = RunResolve(r, Ctx(), {});
  EXPECT_THAT(*out.result, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(sink_.records, IsEmpty());
}

}  // namespace
}  // namespace keyward
