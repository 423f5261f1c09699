// Helpers for tests of the audit log: a signing key on disk, options, blocking appends, direct SQL.
#pragma once

#include <future>
#include <string>
#include <vector>

#include "audit/note.h"
#include "audit/store.h"
#include "core/audit_sink.h"
#include "tests/support/subprocess.h"

namespace keyward::audit::testing {

// A fresh directory with a signing key (mode 0600) named after the origin.
class AuditFixture {
 public:
  explicit AuditFixture(std::string origin = "keyward.test/log-1");

  const std::string& dir() const { return dir_.path(); }
  std::string db() const { return dir_.path() + "/audit.db"; }
  std::string key_path() const { return dir_.path() + "/audit.key"; }
  std::string export_path() const { return dir_.path() + "/checkpoints.notes"; }
  const VerifierKey& verifier() const { return verifier_; }
  const std::string& origin() const { return origin_; }

  // Options for a log in this directory: long checkpoint interval (tests checkpoint explicitly), a clock
  // that ticks one second per call from 2026-01-01.
  AuditOptions Options() const;

 private:
  keyward::testing::TempDir dir_;
  std::string origin_;
  VerifierKey verifier_;
};

AuditRecord Record(int n, std::string action = "resolve");

// Appends and waits for the completion. Not for use on the writer thread.
Result<SeqRange> AppendAndWait(AuditSink& sink, std::vector<AuditRecord> records);

// Runs SQL against a database from a separate connection (for tampering and locking).
void Sql(const std::string& db_path, const std::string& sql);

}  // namespace keyward::audit::testing
