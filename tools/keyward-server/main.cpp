// keyward-server: resolves secrets for pipelines under policy, recording every access. See --help.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <exception>
#include <filesystem>
#include <future>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "audit/entry.h"
#include "audit/store.h"
#include "core/http/api.h"
#include "core/http/auth.h"
#include "core/http/metrics.h"
#include "core/http/server.h"
#include "core/resolver.h"
#include "policy/lint.h"
#include "policy/loader.h"
#include "policy/policy_store.h"
#include "providers/factory.h"
#include "providers/http/runtime.h"
#include "tools/cli.h"
#include "tools/keyward-server/config.h"
#include "tools/keyward-server/preflight.h"

namespace po = boost::program_options;
using keyward::Diagnostic;
using keyward::Result;
using keyward::Status;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitInvalid = 1;   // invalid configuration or policy
constexpr int kExitUsage = 2;     // usage error, or a file that cannot be read
constexpr int kExitStart = 3;     // could not start: port in use, audit log refuses, ...
constexpr int kExitInternal = 4;  // a bug

constexpr const char* kOverview = R"(keyward-server — resolve secrets for Spark pipelines under policy, recording every access

Usage:
  keyward-server --config FILE [--check]
  keyward-server mint-token --principal ID
  keyward-server --help | --version

  --config FILE   the server configuration (docs/config.md)
  --check         validate the configuration (and load the TLS and signing key files it names), the
                  policy and the provider sections, then exit
  mint-token      create a bearer token for a principal: the token is printed once; put the printed
                  hash (never the token) in the configuration

Signals: SIGTERM or SIGINT stop the server gracefully (in-flight requests finish, a final checkpoint is
signed); SIGHUP reloads the policy (a policy that does not load leaves the current one in force).
Both outcomes of a reload are logged and recorded in the audit log.

Exit codes:
  0  stopped cleanly (or --check found no problem)
  1  the configuration or the policy is invalid
  2  usage error, or a file that cannot be read
  3  could not start or run: the port is taken, the audit log refuses to open, ...
  4  internal error (a bug: please report it)
)";

void Log(const std::string& message) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::fprintf(stderr, "%s keyward-server: %s\n", ts, message.c_str());
}

void PrintDiagnostics(const std::string& file, const std::vector<Diagnostic>& diags) {
  for (const Diagnostic& d : diags) std::fprintf(stderr, "%s: %s\n", file.c_str(), d.ToString().c_str());
}

// The audit log's size on disk: the database and its WAL.
unsigned long long AuditBytes(const std::string& path) {
  std::error_code ec;
  unsigned long long total = 0;
  for (const std::string& p : {path, path + "-wal"}) {
    const auto n = std::filesystem::file_size(p, ec);
    if (!ec) total += n;
  }
  return total;
}

std::string AuditMetrics(const keyward::audit::AuditStats& s, const std::string& path) {
  std::string out;
  char line[1024];
  std::snprintf(line, sizeof line,
                "# HELP keyward_audit_bytes Size of the audit log on disk (database and WAL).\n"
                "# TYPE keyward_audit_bytes gauge\nkeyward_audit_bytes %llu\n"
                "# HELP keyward_audit_wal_checkpoints_total Background WAL checkpoints completed.\n"
                "# TYPE keyward_audit_wal_checkpoints_total counter\nkeyward_audit_wal_checkpoints_total %llu\n",
                AuditBytes(path), static_cast<unsigned long long>(s.wal_checkpoints));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP keyward_audit_entries Entries in the audit log.\n# TYPE keyward_audit_entries gauge\n"
                "keyward_audit_entries %lld\n"
                "# HELP keyward_audit_checkpoint_size Size of the latest signed checkpoint.\n"
                "# TYPE keyward_audit_checkpoint_size gauge\nkeyward_audit_checkpoint_size %lld\n"
                "# HELP keyward_audit_healthy 1 when the last write succeeded.\n# TYPE keyward_audit_healthy gauge\n"
                "keyward_audit_healthy %d\n",
                static_cast<long long>(s.size), static_cast<long long>(s.checkpoint_size), s.healthy ? 1 : 0);
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP keyward_audit_failed_batches_total Transactions that failed.\n"
                "# TYPE keyward_audit_failed_batches_total counter\nkeyward_audit_failed_batches_total %llu\n"
                "# HELP keyward_audit_rejected_appends_total Appends refused for lack of room.\n"
                "# TYPE keyward_audit_rejected_appends_total counter\nkeyward_audit_rejected_appends_total %llu\n",
                static_cast<unsigned long long>(s.failed_batches), static_cast<unsigned long long>(s.rejected_appends));
  out += line;
  out += "# HELP keyward_audit_batch_size Entries per committed transaction.\n# TYPE keyward_audit_batch_size histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < s.batch_size_buckets.size(); ++i) {
    cumulative += s.batch_size_buckets[i];
    if (i + 1 < s.batch_size_buckets.size()) {
      std::snprintf(line, sizeof line, "keyward_audit_batch_size_bucket{le=\"%llu\"} %llu\n", 1ull << i,
                    static_cast<unsigned long long>(cumulative));
    } else {
      std::snprintf(line, sizeof line, "keyward_audit_batch_size_bucket{le=\"+Inf\"} %llu\n", static_cast<unsigned long long>(cumulative));
    }
    out += line;
  }
  std::snprintf(line, sizeof line, "keyward_audit_batch_size_sum %llu\nkeyward_audit_batch_size_count %llu\n",
                static_cast<unsigned long long>(s.committed_entries), static_cast<unsigned long long>(s.batches));
  out += line;
  out += "# HELP keyward_audit_commit_duration_seconds Time to commit (and fsync) a transaction.\n"
         "# TYPE keyward_audit_commit_duration_seconds histogram\n";
  cumulative = 0;
  for (std::size_t i = 0; i < s.commit_latency_buckets.size(); ++i) {
    cumulative += s.commit_latency_buckets[i];
    if (i < std::size(keyward::audit::kCommitLatencyBucketsUs)) {
      std::snprintf(line, sizeof line, "keyward_audit_commit_duration_seconds_bucket{le=\"%g\"} %llu\n",
                    static_cast<double>(keyward::audit::kCommitLatencyBucketsUs[i]) / 1e6, static_cast<unsigned long long>(cumulative));
    } else {
      std::snprintf(line, sizeof line, "keyward_audit_commit_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                    static_cast<unsigned long long>(cumulative));
    }
    out += line;
  }
  std::snprintf(line, sizeof line, "keyward_audit_commit_duration_seconds_sum %.6f\nkeyward_audit_commit_duration_seconds_count %llu\n",
                s.commit_latency_sum_us / 1e6, static_cast<unsigned long long>(s.batches));
  out += line;
  return out;
}

// Records a server event and waits until it is durable.
Status RecordEvent(keyward::AuditSink& audit, const std::string& action, const std::string& decision,
                   const std::string& policy_version, const std::string& detail) {
  keyward::AuditRecord r;
  r.action = action;
  r.decision = decision;
  r.policy = policy_version;
  r.detail = detail;
  std::promise<Status> p;
  auto f = p.get_future();
  audit.Append({std::move(r)}, [&p](Result<keyward::SeqRange> res) { p.set_value(res.status()); });
  return f.get();
}

int MintToken(const std::vector<std::string>& args) {
  keyward::cli::CommandLine cl("keyward-server", false);
  cl.visible.add_options()("principal", po::value<std::string>()->required(), "the principal the token authenticates");
  int code = kExitOk;
  if (!cl.Parse(args, "Usage: keyward-server mint-token --principal ID", &code)) return code;
  const std::string principal = cl.Get<std::string>("principal");
  if (const std::string problem = keyward::server::PrincipalIdProblem(principal); !problem.empty()) {
    std::cerr << "keyward-server: --principal: " << problem << "\nUsage: keyward-server mint-token --principal ID\n";
    return kExitUsage;
  }
  const std::string token = keyward::http::MintToken();
  std::cout << "token (shown once; give it to the pipeline, e.g. as KEYWARD_TOKEN):\n  " << token << "\n\n"
            << "add to \"principals\" in the server configuration (the hash, never the token):\n"
            << "  " << keyward::server::PrincipalEntryLine(principal, keyward::http::TokenHashString(token)) << "\n";
  return kExitOk;
}

int Serve(const std::string& config_path, bool check_only) {
  // Signals are taken by sigwait in this thread; every thread started from here on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::vector<Diagnostic> diags;
  auto config = keyward::server::LoadConfig(config_path, &diags);
  if (!config.has_value()) {
    if (diags.empty()) {
      std::fprintf(stderr, "keyward-server: %s\n", config.error().message().c_str());
      return kExitUsage;
    }
    PrintDiagnostics(config_path, diags);
    return kExitInvalid;
  }
  if (!keyward::server::Preflight(*config, &diags).ok()) {
    PrintDiagnostics(config_path, diags);
    return kExitInvalid;
  }
  std::vector<Diagnostic> policy_diags;
  auto policy = keyward::policy::LoadPolicyFile(config->policy_path, &policy_diags);
  if (!policy.has_value()) {
    if (policy_diags.empty()) {
      std::fprintf(stderr, "keyward-server: policy: %s\n", policy.error().message().c_str());
      return kExitUsage;
    }
    PrintDiagnostics(config->policy_path, policy_diags);
    return kExitInvalid;
  }
  for (const Diagnostic& w : keyward::policy::Lint(*policy)) {
    std::fprintf(stderr, "%s: %s\n", config->policy_path.c_str(), w.ToString().c_str());
  }

  auto runtime = keyward::http::IoRuntime::Start();
  std::vector<std::unique_ptr<keyward::Provider>> providers;
  std::map<std::string, keyward::server::ConfiguredProvider> configured;
  std::vector<Diagnostic> provider_diags;
  bool providers_ok = true;
  for (std::size_t i = 0; i < config->providers.size(); ++i) {
    keyward::providers::ProviderContext ctx;
    ctx.pointer = keyward::JsonPointerJoin("/providers", i);
    ctx.runtime = runtime;
    auto p = keyward::providers::MakeProvider(config->providers[i], ctx, &provider_diags);
    if (!p.has_value()) {
      providers_ok = false;
      continue;
    }
    if (configured.count((*p)->id())) {
      provider_diags.push_back({Diagnostic::Severity::kError, ctx.pointer + "/id", "duplicate-id",
                                "provider '" + (*p)->id() + "' is configured twice"});
      providers_ok = false;
      continue;
    }
    configured[(*p)->id()] = {(*p)->type(), i};
    providers.push_back(std::move(*p));
  }
  if (!providers_ok || !provider_diags.empty()) {
    PrintDiagnostics(config_path, provider_diags);
    return kExitInvalid;
  }
  if (auto problems = keyward::server::CrossCheckProviders(*policy, configured); !problems.empty()) {
    PrintDiagnostics(config_path, problems);
    return kExitInvalid;
  }
  const std::string version = policy->version;
  auto store = std::make_shared<keyward::policy::PolicyStore>(keyward::policy::CompiledPolicy::Compile(std::move(*policy)));
  if (check_only) {
    std::printf("%s: valid — listening on %s:%u (%s), %s, %s; policy %s version %s\n", config_path.c_str(),
                config->listen.address.c_str(), config->listen.port, config->tls ? "TLS" : "plain HTTP",
                keyward::cli::Counted(providers.size(), "provider").c_str(),
                keyward::cli::Counted(config->principals.size(), "principal").c_str(), config->policy_path.c_str(),
                version.c_str());
    return kExitOk;
  }

  config->audit.log = [](const std::string& m) { Log("audit log: " + m); };
  auto audit = keyward::audit::AuditLog::Open(config->audit);
  if (!audit.has_value()) {
    Log("cannot open the audit log: " + audit.error().message());
    return kExitStart;
  }
  keyward::audit::AuditLog& log = **audit;
  if (Status s = RecordEvent(log, "server.start", "allow", version, std::string("keyward-server ") + KEYWARD_VERSION); !s.ok()) {
    Log("cannot record the start in the audit log: " + s.message());
    return kExitStart;
  }

  std::map<std::string, keyward::Provider*> by_id;
  std::vector<keyward::Provider*> all;
  for (auto& p : providers) {
    by_id[p->id()] = p.get();
    all.push_back(p.get());
  }
  keyward::http::Metrics metrics([&log, path = config->audit.path] { return AuditMetrics(log.Stats(), path); });
  auto current_policy = [store]() -> std::shared_ptr<const keyward::Authorizer> { return store->Current(); };
  keyward::Resolver resolver(
      current_policy,
      [&by_id](std::string_view id) -> keyward::Provider* {
        auto it = by_id.find(std::string(id));
        return it == by_id.end() ? nullptr : it->second;
      },
      &log, &metrics);
  keyward::http::Authenticator auth(config->principals, keyward::server::MakeThrottle(config->auth));
  keyward::http::ApiDeps deps;
  deps.resolver = &resolver;
  deps.auth = &auth;
  deps.metrics = &metrics;
  deps.audit = &log;
  deps.policy = current_policy;
  deps.latest_checkpoint = [&log] { return log.LatestCheckpoint(); };
  deps.audit_health = [&log]() -> Status {
    const auto s = log.Stats();
    return s.healthy ? Status() : Status::Unavailable("the audit log cannot write: " + s.last_error);
  };
  deps.providers = all;
  keyward::http::Api api(config->api, deps);
  auto server = keyward::http::HttpServer::Start(config->listen, &api);
  if (!server.has_value()) {
    Log(server.error().message());
    (void)RecordEvent(log, "server.stop", "error", version, "could not listen: " + server.error().message());
    (void)log.Close();
    return kExitStart;
  }
  Log("listening on " + config->listen.address + ":" + std::to_string((*server)->port()) + (config->tls ? " (TLS)" : " (plain HTTP)") +
      " with " + std::to_string(config->listen.io_threads) + (config->listen.io_threads == 1 ? " I/O thread" : " I/O threads") +
      "; audit log " + config->audit.path + " (origin " + config->audit.origin + "); policy version " + version);
  if (!config->tls) Log("warning: serving plain HTTP: tokens and secret values cross the network in the clear");
  if ((*server)->max_connections() < config->listen.max_connections) {
    Log("warning: limits.max_connections " + std::to_string(config->listen.max_connections) + " lowered to " +
        std::to_string((*server)->max_connections()) + " by the open-file limit (ulimit -n; LimitNOFILE= under systemd)");
  }

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      std::vector<Diagnostic> d;
      auto next = keyward::policy::LoadPolicyFile(config->policy_path, &d);
      std::vector<Diagnostic> problems;
      if (next.has_value()) problems = keyward::server::CrossCheckProviders(*next, configured);
      const std::string old_version(store->Current()->version());
      if (!next.has_value() || !problems.empty()) {
        const std::string why = next.has_value() ? problems.front().pointer + ": " + problems.front().message
                                                 : next.error().message();
        Log("policy reload failed, keeping version " + old_version + ": " + why);
        for (const Diagnostic& x : d) Log("  " + x.ToString());
        for (const Diagnostic& x : problems) Log("  " + x.ToString());
        (void)RecordEvent(log, "policy.reload", "error", old_version, why);
        continue;
      }
      const std::string new_version = next->version;
      store->Replace(keyward::policy::CompiledPolicy::Compile(std::move(*next)));
      Log("policy reloaded: version " + old_version + " -> " + new_version);
      (void)RecordEvent(log, "policy.reload", "allow", new_version, "previous version " + old_version);
      continue;
    }
    Log(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ": stopping");
    break;
  }
  (*server)->Shutdown(config->shutdown_grace);
  const std::string final_version(store->Current()->version());
  const Status stop_recorded = RecordEvent(log, "server.stop", "allow", final_version, "graceful shutdown");
  if (!stop_recorded.ok()) Log("cannot record the stop in the audit log: " + stop_recorded.message());
  const Status closed = log.Close();
  if (!closed.ok()) Log("closing the audit log: " + closed.message());
  Log("stopped; the log has " + std::to_string(log.Stats().size) + " entries, the last checkpoint covers " +
      std::to_string(log.Stats().checkpoint_size));
  // Order matters: the providers' thread and the audit writer are done before the server's I/O context
  // is destroyed, so that no late completion reaches it.
  providers.clear();
  runtime.reset();
  server->reset();
  return closed.ok() && stop_recorded.ok() ? kExitOk : kExitStart;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "mint-token") return MintToken({args.begin() + 1, args.end()});
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << kOverview;
    return kExitOk;
  }
  if (!args.empty() && args[0] == "--version") {
    std::cout << "keyward-server " << KEYWARD_VERSION << "\n";
    return kExitOk;
  }
  keyward::cli::CommandLine cl("keyward-server", false);
  cl.visible.add_options()("config", po::value<std::string>()->required(), "the server configuration")(
      "check", "validate the configuration and the policy, then exit");
  int code = kExitOk;
  if (!cl.Parse(args, "Usage: keyward-server --config FILE [--check]", &code)) return code;
  return Serve(cl.Get<std::string>("config"), cl.Has("check"));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "keyward-server: internal error (please report): %s\n", e.what());
    return kExitInternal;
  }
}
