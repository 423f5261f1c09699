// The offline verifier: recomputes everything an audit database claims and reports every problem.
//
// It reads the database read-only (AuditReader), recomputes the hash chain, the RFC 6962 tree at every
// stored checkpoint, checks the checkpoints' signatures against the trusted keys, and checks each
// checkpoint an auditor kept against the log — a log shorter than a kept checkpoint, or with another root
// at its size, was truncated or rolled back. A single pass; memory does not grow with the log.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "audit/note.h"
#include "core/result.h"

namespace keyward::audit {

enum class ProblemKind {
  kUndecodableEntry,     // the entry bytes are not a canonical keyward-audit/1 entry
  kModifiedEntry,        // the entry no longer hashes to its chain link (the chain value is intact)
  kBrokenChain,          // a stored chain value does not follow from its predecessor
  kMissingEntries,       // sequence numbers are missing (deleted rows), possibly with later rows renumbered
  kReorderedEntry,       // a row holds the entry of another position
  kInsertedEntry,        // rows were inserted and later rows renumbered to make room
  kBadSignature,         // a checkpoint no trusted key signed, or whose trusted signature fails
  kCheckpointMismatch,   // the recomputed tree differs from a stored, signed checkpoint
  kTruncatedOrRolledBack,  // a checkpoint (kept by the auditor, or stored) is beyond the log or disagrees with it
  kCorruptDatabase,        // rows out of seq order, or a file SQLite cannot read to its end: the file itself is damaged
};
std::string_view ProblemKindName(ProblemKind kind);  // "modified-entry", ...

struct Problem {
  ProblemKind kind;
  std::int64_t seq = 0;   // the entry concerned; for checkpoint problems, the checkpoint's tree size
  std::int64_t last = 0;  // for ranges (missing or inserted entries), the last seq; else == seq
  std::string detail;
};

struct VerifyOptions {
  std::vector<VerifierKey> trusted_keys;
  // Checkpoint notes the auditor kept (each a signed note). Notes of other origins are ignored.
  std::vector<std::string> kept_checkpoints;
  // Check entries from..to row by row only. The chain is checked from the stored link of the last row
  // before `from`. The tree is still built from the first row (rows outside the range are hashed as
  // leaves only), and read past `to` up to the first checkpoint at or after it, so that every
  // checkpoint up to that one is compared; later ones are counted as not compared. A checkpoint beyond
  // the end of the log is reported whatever the range.
  std::int64_t from = 1;
  std::int64_t to = INT64_MAX;
  // Called now and then with (entries done, entries in range).
  std::function<void(std::int64_t, std::int64_t)> progress;
};

struct VerifyReport {
  std::string path;
  std::string origin;
  std::vector<Problem> problems;
  std::int64_t entries_checked = 0;
  std::int64_t first_seq = 0, last_seq = 0;
  std::string first_time, last_time;
  int checkpoints_valid = 0, checkpoints_total = 0;  // stored checkpoints
  int kept_valid = 0, kept_total = 0;                 // checkpoints given by the auditor
  int kept_other_origin = 0;
  int checkpoints_not_compared = 0;  // beyond the range (--to), or beyond a part of the file that cannot be read

  bool ok() const { return problems.empty(); }
};

// Verifies one database. Errors are only for a database that cannot be read at all (NotFound,
// InvalidArgument: not an audit database, Unavailable); damage is reported in the report.
Result<VerifyReport> VerifyLog(const std::string& db_path, const VerifyOptions& options);

}  // namespace keyward::audit
