// AuditLog: the durable, hash-chained, Merkle-checkpointed audit log (docs/audit-format.md).
//
// One writer thread owns the only SQLite connection (WAL, synchronous=FULL). Producers call Append from
// any thread; it never blocks. The writer gathers every pending Append into one BEGIN IMMEDIATE
// transaction (group commit), and calls each producer's completion only after that transaction is
// durable — or with an error when it failed, in which case nothing of that batch is in the log and the
// producer must refuse the access it was recording (fail closed). The log heals by itself: the next
// batch tries again, and a failure that happened after SQLite had in fact committed is detected and
// adopted.
//
// Every `checkpoint_interval` while the log grows, and on Close, the writer signs a C2SP checkpoint
// with the Ed25519 key, stores it in the `checkpoints` table and appends it to the export file. It never
// signs a checkpoint inconsistent with an earlier one: Open refuses a database that is shorter than its
// last checkpoint (or than the export file's), whose recent entries do not chain, or whose tree does not
// extend its last checkpoint, naming the problem and the `keyward-audit verify` command to run.
//
// Completions are called in the order the batches committed, on the writer thread when nothing else is
// waiting for it, otherwise on the log's completion thread, so that the writer can start the next batch
// while the callbacks of the last one run (and free what their producers allocated).
//
// Thread-safety: all public methods may be called from any thread. Completions must not block (post to
// your own executor).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/merkle.h"
#include "audit/note.h"
#include "core/audit_sink.h"

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

struct sqlite3;

namespace keyward::audit {

struct AuditOptions {
  std::string path;              // the SQLite database; created when missing
  std::string origin;            // the log's identity; must match an existing database's
  std::string signing_key_path;  // Ed25519 key file, mode 0600
  std::string export_path;       // checkpoint export file ("" = none)
  std::chrono::milliseconds checkpoint_interval{10000};
  std::size_t max_batch_entries = 4096;      // a larger single Append is still committed whole
  std::size_t max_pending_entries = 200000;  // beyond this, Append fails with ResourceExhausted
  std::int64_t max_page_count = 0;           // > 0: cap the database at this many pages (size limit)
  std::chrono::milliseconds busy_timeout{2000};
  // After a failed write, the writer retries by itself this often, with an "audit.recovered" entry that
  // records the outage in the log: so the log heals (and /readyz clears) without waiting for traffic.
  std::chrono::milliseconds recovery_probe_interval{1000};
  // The clock for entry times, in microseconds since the Unix epoch. Default: the system clock.
  std::function<std::int64_t()> now_micros;
  // Where operational messages go (failures, recovery). Default: standard error. Never given a value.
  std::function<void(const std::string&)> log;
};

// Counters and gauges for /metrics and /readyz.
struct AuditStats {
  std::int64_t size = 0;             // entries in the log
  std::int64_t checkpoint_size = 0;  // size of the latest signed checkpoint
  bool healthy = true;               // false after a failed write, until one succeeds (a probe's included)
  std::string last_error;
  std::uint64_t batches = 0, committed_entries = 0, failed_batches = 0, rejected_appends = 0;
  std::uint64_t wal_checkpoints = 0;  // background WAL checkpoints completed
  // Histograms: entries per batch (buckets 1, 2, 4, ... 4096, +Inf) and commit latency in microseconds
  // (buckets 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, +Inf).
  std::vector<std::uint64_t> batch_size_buckets;
  std::vector<std::uint64_t> commit_latency_buckets;
  double commit_latency_sum_us = 0;
};
inline constexpr std::int64_t kCommitLatencyBucketsUs[] = {100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000};

class AuditLog final : public AuditSink {
 public:
  // Opens (or creates) the log and starts the writer. Errors: FailedPrecondition for a database that must
  // not be appended to (wrong origin or format, shorter than a checkpoint, broken chain, tree that does not
  // extend its last checkpoint), with the message naming the problem and the verify command;
  // FailedPrecondition / NotFound for the signing key; Unavailable for I/O errors.
  static Result<std::unique_ptr<AuditLog>> Open(AuditOptions options);

  ~AuditLog() override;  // Close()s if still open
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void Append(std::vector<AuditRecord> records, AppendDone done) override;

  // Blocks until every Append made before the call has completed and a checkpoint covering them is signed,
  // stored and exported (no new checkpoint when the log has not grown). Not for I/O threads.
  Status CheckpointNow();
  // Stops accepting appends, commits what is pending, writes a final checkpoint and closes the database.
  // Blocks. Idempotent.
  Status Close();

  AuditStats Stats() const;
  // The latest signed checkpoint note ("" before the first).
  std::string LatestCheckpoint() const;
  const std::string& origin() const { return options_.origin; }

 private:
  struct Pending {
    std::vector<std::string> prefixes;  // each record's canonical encoding up to its seq (EncodeRecordPrefix)
    AppendDone done;
    bool recovery = false;  // the writer's own "audit.recovered" entry
  };
  struct Outage {  // writes have been failing since...
    std::string since;  // RFC 3339 time of the first failure
    std::string first_error;
    std::uint64_t failed_batches = 0;
  };
  // A committed (or failed) batch's callbacks, or a checkpoint marker, delivered in commit order.
  struct Completion {
    std::vector<Pending> batch;
    std::vector<SeqRange> ranges;  // one per Pending when the batch committed
    Status failure;                // else why none of it is in the log
    std::uint64_t checkpoints_done = 0;  // a marker: CheckpointNow calls up to this one may return
  };
  struct Head {  // the log's state after its last committed entry
    std::int64_t size = 0;
    Digest chain = kZeroChain;
    CompactRange tree;
  };

  explicit AuditLog(AuditOptions options);
  Status OpenDatabase();
  Status CheckConsistency();
  // Reads the entries after `trusted_size`, checking that they are contiguous and chain, and extends the
  // trusted state over them into *head. A problem is FailedPrecondition (with the verify hint) when
  // `fail_closed`, else DataLoss.
  Status LoadHead(std::int64_t trusted_size, const CompactRange& trusted_tree, Digest trusted_chain, Head* head,
                  bool fail_closed);
  Status CheckExportFile();
  void WriterLoop();
  Completion CommitBatch(std::vector<Pending>& batch);
  // Runs `c` on the writer when the completion thread is idle and nothing is pending, else queues it there.
  void Deliver(Completion c);
  void RunCompletion(Completion& c);
  void CompleterLoop();
  Pending RecoveryEntry() const;
  void CheckpointerLoop();
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int wal_pages);
  Status WriteCheckpoint();
  Status ExportCheckpoints();
  Status Resync();
  void Log(const std::string& message) const;

  AuditOptions options_;
  std::optional<SigningKey> key_;
  std::unique_ptr<SQLite::Database> db_;
  std::unique_ptr<SQLite::Statement> insert_;

  // Writer-thread state.
  Head head_;
  std::int64_t checkpoint_size_ = 0;
  std::int64_t exported_size_ = 0;
  bool needs_resync_ = false;
  std::chrono::steady_clock::time_point next_checkpoint_;
  std::optional<Outage> outage_;
  std::chrono::steady_clock::time_point next_probe_;

  int lock_fd_ = -1;       // flock()ed: one writer per log
  std::mutex close_mu_;    // serialises Close()
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> pending_;
  std::size_t pending_entries_ = 0;
  std::uint64_t appends_submitted_ = 0;  // Append calls accepted into pending_
  std::uint64_t checkpoints_requested_ = 0, checkpoints_done_ = 0;
  std::uint64_t checkpoints_served_ = 0;  // requests the writer has signed a checkpoint for
  Status last_checkpoint_status_;
  std::condition_variable done_cv_;
  bool closing_ = false;
  bool closed_ = false;
  AuditStats stats_;
  std::string latest_note_;
  std::thread writer_;
  // The completion thread and its queue (guarded by completion_mu_, never held while calling back).
  std::thread completer_;
  std::mutex completion_mu_;
  std::condition_variable completion_cv_;
  std::deque<Completion> completions_;
  bool completer_busy_ = false;
  bool writer_exited_ = false;
  // WAL checkpoints (copying the WAL back into the database, with its own fsync) run on their own
  // thread and connection, so that a commit never waits for one: the writer's connection does not
  // checkpoint by itself, and asks for one once the WAL holds kWalCheckpointPages pages.
  static constexpr int kWalCheckpointPages = 1000;
  std::thread checkpointer_;
  std::condition_variable checkpointer_cv_;
  bool wal_checkpoint_wanted_ = false;  // guarded by mu_
};

}  // namespace keyward::audit
