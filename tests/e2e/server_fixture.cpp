#include "tests/e2e/server_fixture.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "audit/reader.h"
#include "core/base64.h"
#include "core/file.h"
#include "core/http/auth.h"

namespace keyward::e2e {
namespace {

// The policy the scenarios run under; tests may replace it.
constexpr const char* kPolicy = R"({
  "format": "keyward-policy/1",
  "providers": [
    {"id": "vault", "type": "vault"},
    {"id": "dbx", "type": "databricks"},
    {"id": "dbx-trial", "type": "databricks"},
    {"id": "env", "type": "environment"}
  ],
  "fabrics": [
    {"id": "prod", "kind": "databricks", "providers": ["vault", "dbx", "env"]},
    {"id": "emr", "kind": "emr", "providers": ["vault", "env"]},
    {"id": "trial-a", "kind": "databricks", "managed": true, "scope": "trial-a", "providers": ["dbx-trial"]},
    {"id": "trial-b", "kind": "databricks", "managed": true, "scope": "trial-b", "providers": ["dbx-trial"]}
  ],
  "rules": [
    {"id": "etl-reads", "effect": "allow", "principals": ["etl"], "fabrics": ["prod", "emr"],
     "providers": ["vault"], "secrets": ["secret/etl/*"], "actions": ["resolve", "list"]},
    {"id": "etl-env", "effect": "allow", "principals": ["etl"], "fabrics": ["*"],
     "providers": ["env"], "secrets": ["E2E_*"], "actions": ["resolve", "list"]},
    {"id": "etl-sales", "effect": "allow", "principals": ["etl"], "fabrics": ["prod"],
     "providers": ["dbx"], "secrets": ["sales/*"], "actions": ["resolve"]},
    {"id": "admin-manages", "effect": "allow", "principals": ["admin"], "fabrics": ["prod", "emr"],
     "providers": ["vault", "dbx", "env"], "secrets": ["secret/app/*", "admin-scope/*", "E2E_*"], "actions": ["*"]},
    {"id": "trial-a-own", "effect": "allow", "principals": ["trial-a-user"], "fabrics": ["trial-a"],
     "providers": ["dbx-trial"], "secrets": ["*"], "actions": ["*"]},
    {"id": "no-forbidden", "effect": "deny", "principals": ["*"], "fabrics": ["*"],
     "providers": ["vault"], "secrets": ["secret/etl/forbidden*"], "actions": ["*"]}
  ]
})";

std::string Read(const std::string& path) {
  auto r = ReadFile(path, std::size_t{1} << 30);
  return r.has_value() ? *r : std::string();
}

}  // namespace

ServerFixture::ServerFixture()
    : vault_(std::make_unique<doubles::VaultDouble>()),
      databricks_(std::make_unique<doubles::DatabricksDouble>()),
      trial_workspace_(std::make_unique<doubles::DatabricksDouble>()) {
  // Secret values: distinctive, so that finding one anywhere is proof of a leak.
  secrets_ = {"VAULT-ETL-DB-9f3a1c77", "VAULT-ETL-API-41d0be23", "VAULT-FORBIDDEN-0c1e55aa", "VAULT-APP-7d2e9b01",
              "DBX-SALES-b81c44e0",    "DBX-TRIAL-A-5e6f7a8b",   "DBX-TRIAL-B-13579bdf",     "ENV-E2E-2468ace0"};
  vault_->Mount("secret/", 2);
  const std::string vault_token = vault_->CreateToken(0);
  vault_->Put("secret/", "etl", {{"db_password", secrets_[0]}, {"api_key", secrets_[1]}, {"forbidden_root", secrets_[2]}});
  vault_->Put("secret/", "app", {{"token", secrets_[3]}});
  databricks_->AddToken("dbx-pat-e2e");
  databricks_->CreateScope("sales");
  databricks_->PutSecret("sales", "salesforce", secrets_[4]);
  // The trial fabrics' workspace is another one: one provider per workspace.
  trial_workspace_->AddToken("dbx-pat-e2e");
  trial_workspace_->CreateScope("trial-a");
  trial_workspace_->PutSecret("trial-a", "k", secrets_[5]);
  trial_workspace_->CreateScope("trial-b");
  trial_workspace_->PutSecret("trial-b", "k", secrets_[6]);

  // Signing key, tokens, credentials as files the configuration names.
  const auto keygen = testing::Run({testing::ToolPath("keyward-audit"), "keygen", "--out", dir() + "/audit", "--name", "keyward.e2e/log"});
  if (keygen.exit_code != 0) {
    std::fprintf(stderr, "fixture: keygen failed: %s\n", keygen.err.c_str());
    std::abort();
  }
  vault_token_ = vault_token;
  dir_.Write("vault-token", vault_token);
  dir_.Write("dbx-token", "dbx-pat-e2e");
  Json principals = Json::array();
  for (const std::string p : {"etl", "admin", "trial-a-user", "other"}) {
    tokens_[p] = http::MintToken();
    principals.push_back({{"id", p}, {"tokens", {http::TokenHashString(tokens_[p])}}});
  }
  config_ = {
      {"listen", {{"address", "127.0.0.1"}, {"port", 0}, {"io_threads", 2}}},
      {"insecure_plaintext", true},
      {"limits", {{"request_timeout_ms", 3000}, {"shutdown_grace_ms", 10000}}},
      {"audit", {{"database", "audit.db"}, {"origin", "keyward.e2e/log"}, {"signing_key", "audit.key"},
                 {"checkpoint_interval_ms", 200}, {"checkpoint_export", "checkpoints.notes"}}},
      {"policy", "policy.json"},
      {"providers",
       Json::array({{{"id", "vault"}, {"type", "vault"}, {"address", vault_->url()}, {"allow_plain_http", true},
                     {"auth", {{"method", "token"}, {"token", {{"file", "vault-token"}}}}},
                     {"http", {{"retry", {{"max_attempts", 1}}}}}},
                    {{"id", "dbx"}, {"type", "databricks"}, {"workspace_url", databricks_->url()}, {"allow_plain_http", true},
                     {"token", {{"file", "dbx-token"}}}},
                    {{"id", "dbx-trial"}, {"type", "databricks"}, {"workspace_url", trial_workspace_->url()},
                     {"allow_plain_http", true}, {"token", {{"file", "dbx-token"}}}},
                    {{"id", "env"}, {"type", "environment"}, {"prefix", "E2E_"}}})},
      {"principals", std::move(principals)},
      {"auth", {{"max_failures", 5}, {"failure_window_ms", 60000}, {"block_ms", 60000}}}};
  policy_ = kPolicy;
  db_path_ = dir() + "/audit.db";
}

void ServerFixture::SetDatabasePath(const std::string& path) {
  db_path_ = path;
  config_["audit"]["database"] = path;
}

ServerFixture::~ServerFixture() {
  if (server_) Stop(SIGKILL);
}

void ServerFixture::WritePolicy(const std::string& text) const { dir_.Write("policy.json", text); }

void ServerFixture::Start() {
  dir_.Write("config.json", config_.dump(2));
  WritePolicy(policy_);
  testing::RunOptions o;
  o.env["E2E_DB_PASSWORD"] = secrets_[7];
  server_.emplace(testing::Child::Start({testing::ToolPath("keyward-server"), "--config", dir() + "/config.json"}, o));
  // The server logs "listening on 127.0.0.1:<port>" once it accepts connections.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string err = server_->err();
    const std::size_t at = err.find("listening on 127.0.0.1:");
    if (at != std::string::npos) {
      port_ = static_cast<std::uint16_t>(std::stoi(err.substr(at + 23)));
      return;
    }
    (void)server_->ReadLine(std::chrono::milliseconds(50));  // also notices an early exit
    if (server_->pid() > 0 && ::kill(server_->pid(), 0) != 0) break;
  }
  std::fprintf(stderr, "fixture: the server did not start:\n%s\n", server_->err().c_str());
  std::abort();
}

void ServerFixture::Signal(int sig) { server_->Signal(sig); }

bool ServerFixture::WaitForLog(const std::string& text) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (server_->err().find(text) != std::string::npos) return true;
    (void)server_->ReadLine(std::chrono::milliseconds(20));
  }
  return false;
}

const std::string& ServerFixture::server_stderr() {
  if (server_) stderr_ = server_->err();
  return stderr_;
}

int ServerFixture::Stop(int sig) {
  server_->Signal(sig);
  const int code = server_->Wait();
  stdout_ += server_->out();
  stderr_ += server_->err();
  server_.reset();
  return code;
}

testing::HttpReply ServerFixture::Call(const std::string& principal, const std::string& method, const std::string& target,
                                       const std::string& body) {
  auto headers = principal.empty() ? std::vector<std::pair<std::string, std::string>>{} : Auth(principal);
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  auto r = testing::Http(port_, method, target, headers, body);
  if (!r.has_value()) {
    testing::HttpReply failed;
    failed.status = -1;
    failed.body = r.error().ToString();
    return failed;
  }
  return *r;
}

std::vector<audit::Entry> ServerFixture::AuditEntries() const {
  std::vector<audit::Entry> out;
  auto reader = audit::AuditReader::Open(db());
  if (!reader.has_value()) {
    ADD_FAILURE() << reader.error().ToString();
    return out;
  }
  const Status s = (*reader)->ForEach(1, (*reader)->max_seq(), [&](std::int64_t, std::string_view entry, std::string_view) {
    auto e = audit::DecodeEntry(entry);
    if (!e.has_value()) {
      ADD_FAILURE() << e.error().ToString();
      return false;
    }
    out.push_back(std::move(*e));
    return true;
  });
  if (!s.ok()) ADD_FAILURE() << s.ToString();
  return out;
}

std::string ServerFixture::VerifyAndScan() {
  std::string problems;
  std::string metrics;  // what a scraper got: values and credentials must not be there either
  if (server_) {
    metrics = Call("", "GET", "/metrics").body;
    const int code = Stop(SIGTERM);
    if (code != 0) problems += "the server exited with " + std::to_string(code) + "\n";
  }
  const auto verify = testing::Run({testing::ToolPath("keyward-audit"), "verify", db(), "--key", dir() + "/audit.pub",
                                    "--checkpoint", export_file()});
  if (verify.exit_code != 0) problems += "keyward-audit verify failed:\n" + verify.out + verify.err;
  const std::vector<std::pair<std::string, std::string>> written = {
      {"audit.db", Read(db())},
      {"audit.db-wal", Read(db() + "-wal")},
      {"checkpoints.notes", Read(export_file())},
      {"stdout", stdout_},
      {"stderr", stderr_},
      {"/metrics", metrics}};
  // Each value as itself and as base64 (Databricks answers carry values in base64; a log line quoting
  // a provider's answer would hold them so), and every credential: the callers' bearer tokens and the
  // providers' tokens.
  std::vector<std::pair<std::string, std::string>> needles;  // (what, bytes)
  for (const std::string& secret : secrets_) {
    needles.emplace_back("the secret value " + secret, secret);
    std::string encoded;
    Base64Append(secret, &encoded);
    while (!encoded.empty() && encoded.back() == '=') encoded.pop_back();
    needles.emplace_back("the secret value " + secret + " in base64", encoded);
  }
  for (const auto& [principal, token] : tokens_) needles.emplace_back("the bearer token of " + principal, token);
  needles.emplace_back("the Vault token", vault_token_);
  needles.emplace_back("the Databricks token", "dbx-pat-e2e");
  for (const auto& [name, bytes] : written) {
    for (const auto& [what, needle] : needles) {
      if (bytes.find(needle) != std::string::npos) problems += what + " appears in " + name + "\n";
    }
  }
  return problems;
}

}  // namespace keyward::e2e
