// End-to-end fixture: the built keyward-server on an ephemeral loopback port, with the Vault and
// Databricks test doubles and the server's environment as providers, a realistic policy, and tokens for
// a few principals. After a scenario, the log must verify with the built keyward-audit, and no secret
// value used may appear in any byte the server wrote (database, -wal, export file, stdout, stderr).
#pragma once

#include <csignal>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/entry.h"
#include "core/json.h"
#include "tests/doubles/databricks_double.h"
#include "tests/doubles/vault_double.h"
#include "tests/support/http_client.h"
#include "tests/support/subprocess.h"

namespace keyward::e2e {

class ServerFixture {
 public:
  ServerFixture();
  ~ServerFixture();

  // Secret values the doubles and the environment hold. Every one is searched for afterwards.
  const std::vector<std::string>& secret_values() const { return secrets_; }
  // A value the test sends itself (a write): searched for too.
  void AddSecretValue(const std::string& v) { secrets_.push_back(v); }

  // The configuration as it will be written; tests may change it before Start().
  Json& config() { return config_; }
  // The policy document (JSON text with comments allowed) as it will be written.
  std::string& policy() { return policy_; }
  void WritePolicy(const std::string& text) const;

  // Starts the server and waits (bounded) until it listens. REQUIRES: not running. May be called again
  // after Stop() — also after Kill() — to restart the server on the same directory and log (it listens
  // on a new ephemeral port: read port() again).
  void Start();
  // Sends `sig` (default SIGTERM) and waits for the exit code.
  int Stop(int sig = SIGTERM);
  // Kills the server with SIGKILL (no shutdown at all, as a crash) and waits for it: 128 + 9 expected.
  int Kill() { return Stop(SIGKILL); }
  void Signal(int sig);
  // Waits (bounded) until the server's stderr contains `text`; false on timeout.
  bool WaitForLog(const std::string& text);
  bool running() const { return server_.has_value(); }
  // The server's process id. REQUIRES: running().
  pid_t pid() const { return server_->pid(); }

  std::uint16_t port() const { return port_; }
  const std::string& token(const std::string& principal) const { return tokens_.at(principal); }
  std::vector<std::pair<std::string, std::string>> Auth(const std::string& principal) const {
    return {{"Authorization", "Bearer " + token(principal)}};
  }
  // One request as `principal` (empty: unauthenticated).
  testing::HttpReply Call(const std::string& principal, const std::string& method, const std::string& target,
                          const std::string& body = "");

  doubles::VaultDouble& vault() { return *vault_; }
  doubles::DatabricksDouble& databricks() { return *databricks_; }
  const std::string& dir() const { return dir_.path(); }
  std::string db() const { return db_path_; }
  // Puts the audit database at `path` (absolute) instead of dir()/audit.db, e.g. on another filesystem.
  // REQUIRES: not started yet.
  void SetDatabasePath(const std::string& path);
  std::string export_file() const { return dir_.path() + "/checkpoints.notes"; }
  const std::string& server_stderr();

  // The log's entries so far, decoded (read beside the running server, as an auditor would).
  std::vector<audit::Entry> AuditEntries() const;

  // Stops the server if running (reading /metrics first), then runs `keyward-audit verify` (with the
  // export file as kept checkpoints) and searches every byte the server wrote — the audit database and
  // its WAL, the export file, stdout, stderr, /metrics — for every secret value (as itself and in
  // base64) and every credential (bearer tokens, provider tokens). Returns problems ("" if none).
  std::string VerifyAndScan();

 private:
  testing::TempDir dir_;
  std::unique_ptr<doubles::VaultDouble> vault_;
  std::unique_ptr<doubles::DatabricksDouble> databricks_;
  std::unique_ptr<doubles::DatabricksDouble> trial_workspace_;  // dbx-trial's
  std::map<std::string, std::string> tokens_;
  std::vector<std::string> secrets_;
  std::string vault_token_;
  Json config_;
  std::string policy_;
  std::optional<testing::Child> server_;
  std::string stdout_, stderr_;  // of every run so far
  std::uint16_t port_ = 0;
  std::string db_path_;
};

}  // namespace keyward::e2e
