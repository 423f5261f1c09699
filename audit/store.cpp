#include "audit/store.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "audit/checkpoint.h"
#include "audit/db.h"
#include "audit/entry.h"
#include "core/file.h"

namespace keyward::audit {
namespace {

constexpr std::int64_t kMinChainCheckOnOpen = 1000;
constexpr std::size_t kBatchBuckets = 14;  // 1, 2, 4, ..., 4096, +Inf
constexpr std::size_t kLatencyBuckets = std::size(kCommitLatencyBucketsUs) + 1;

std::int64_t SystemMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string VerifyHint(const AuditOptions& o) {
  std::string hint = " Do not append to this log until it has been examined: run `keyward-audit verify " + o.path +
                     " --key <its .pub file>";
  if (!o.export_path.empty()) hint += " --checkpoint " + o.export_path;
  return hint + "`.";
}

}  // namespace

AuditLog::AuditLog(AuditOptions options) : options_(std::move(options)) {
  if (!options_.now_micros) options_.now_micros = SystemMicros;
  if (!options_.log) {
    options_.log = [](const std::string& m) { std::fprintf(stderr, "keyward audit: %s\n", m.c_str()); };
  }
  stats_.batch_size_buckets.assign(kBatchBuckets, 0);
  stats_.commit_latency_buckets.assign(kLatencyBuckets, 0);
}

AuditLog::~AuditLog() { (void)Close(); }

void AuditLog::Log(const std::string& message) const { options_.log(message); }

Result<std::unique_ptr<AuditLog>> AuditLog::Open(AuditOptions options) {
  if (options.origin.empty()) return Status::InvalidArgument("the audit log needs an origin");
  if (options.path.empty()) return Status::InvalidArgument("the audit log needs a database path");
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(options)));
  auto key = SigningKey::Load(log->options_.signing_key_path);
  if (!key.has_value()) return key.error();
  log->key_.emplace(std::move(*key));
  KEYWARD_RETURN_IF_ERROR(log->OpenDatabase());
  KEYWARD_RETURN_IF_ERROR(log->CheckConsistency());
  KEYWARD_RETURN_IF_ERROR(log->CheckExportFile());
  if (Status s = log->ExportCheckpoints(); !s.ok()) log->Log(s.message());
  KEYWARD_RETURN_IF_ERROR(db::Guard(StatusCode::kUnavailable, "preparing statements", [&] {
    log->insert_ = std::make_unique<SQLite::Statement>(*log->db_, "INSERT INTO entries(seq, entry, chain) VALUES(?, ?, ?)");
  }));
  log->next_checkpoint_ = std::chrono::steady_clock::now() + log->options_.checkpoint_interval;
  log->stats_.size = log->head_.size;
  log->stats_.checkpoint_size = log->checkpoint_size_;
  sqlite3_wal_hook(log->db_->getHandle(), &AuditLog::OnWalCommit, log.get());  // replaces auto-checkpointing
  log->writer_ = std::thread([raw = log.get()] { raw->WriterLoop(); });
  log->completer_ = std::thread([raw = log.get()] { raw->CompleterLoop(); });
  log->checkpointer_ = std::thread([raw = log.get()] { raw->CheckpointerLoop(); });
  return log;
}

Status AuditLog::OpenDatabase() {
  const std::string& path = options_.path;
  // One writer per log: a second keyward-server on the same database would fork its chain.
  const std::string lock_path = path + ".lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return Status::Unavailable("cannot open " + lock_path + ": " + std::strerror(errno));
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return Status::FailedPrecondition("another process is writing the audit log " + path + " (" + lock_path +
                                      " is locked); one log has one writer");
  }
  // The lock lives as long as the process holds the descriptor; it is released when the log closes it or
  // the process dies.
  lock_fd_ = lock_fd;

  return db::Guard(StatusCode::kUnavailable, "cannot open the audit log " + path, [&] {
    db_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db_->setBusyTimeout(static_cast<int>(options_.busy_timeout.count()));
    {
      // (Statements are scoped: one left stepped on a row would block the COMMIT below.)
      SQLite::Statement wal(*db_, "PRAGMA journal_mode=WAL");
      wal.executeStep();
      if (wal.getColumn(0).getString() != "wal") throw SQLite::Exception("the database cannot use WAL mode");
    }
    db_->exec("PRAGMA synchronous=FULL");
    if (options_.max_page_count > 0) {
      db_->exec("PRAGMA max_page_count=" + std::to_string(options_.max_page_count));
    }
    int table_count = 0;
    {
      SQLite::Statement tables(*db_, "SELECT count(*) FROM sqlite_master WHERE type = 'table'");
      tables.executeStep();
      table_count = tables.getColumn(0).getInt();
    }
    if (table_count == 0) {
      SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
      db_->exec(db::kSchema);
      SQLite::Statement meta(*db_, "INSERT INTO meta(key, value) VALUES(?, ?)");
      for (const auto& [k, v] : {std::pair<std::string, std::string>{"format", std::string(kFormat)},
                                 {"origin", options_.origin},
                                 {"created", FormatTime(options_.now_micros())}}) {
        meta.bind(1, k);
        meta.bind(2, v);
        meta.exec();
        meta.reset();
      }
      tx.commit();
    }
  });
}

Status AuditLog::CheckConsistency() {
  std::optional<std::string> format, origin, checkpoint_tree;
  std::vector<db::StoredCheckpoint> checkpoints;
  std::int64_t n = 0;
  KEYWARD_RETURN_IF_ERROR(db::Guard(StatusCode::kFailedPrecondition,
                                    options_.path + " is not a keyward audit log", [&] {
                                      format = db::ReadMeta(*db_, "format");
                                      origin = db::ReadMeta(*db_, "origin");
                                      checkpoint_tree = db::ReadMeta(*db_, db::kMetaCheckpointTree);
                                      checkpoints = db::ReadCheckpoints(*db_);
                                      n = db::MaxSeq(*db_);
                                    }));
  if (!format || *format != kFormat) {
    return Status::FailedPrecondition(options_.path + " is not a " + std::string(kFormat) + " database (format: " +
                                      (format ? *format : "missing") + ")");
  }
  if (!origin || *origin != options_.origin) {
    return Status::FailedPrecondition("the audit log " + options_.path + " belongs to origin '" +
                                      (origin ? *origin : "") + "', not '" + options_.origin + "'");
  }

  std::int64_t trusted_size = 0;
  CompactRange trusted_tree;
  Digest trusted_chain = kZeroChain;
  if (!checkpoints.empty()) {
    const db::StoredCheckpoint& last = checkpoints.back();
    auto note = ParseNote(last.note);
    auto cp = note.has_value() ? ParseCheckpoint(note->text) : Result<Checkpoint>(note.error());
    if (!cp.has_value()) {
      return Status::FailedPrecondition("the last checkpoint (size " + std::to_string(last.size) + ") of " +
                                        options_.path + " is malformed: " + cp.error().message() + "." + VerifyHint(options_));
    }
    if (cp->origin != options_.origin || static_cast<std::int64_t>(cp->size) != last.size) {
      return Status::FailedPrecondition("the last checkpoint of " + options_.path +
                                        " names another origin or size than its row." + VerifyHint(options_));
    }
    if (n < last.size) {
      return Status::FailedPrecondition("the audit log " + options_.path + " has " + std::to_string(n) +
                                        " entries but its last checkpoint covers " + std::to_string(last.size) +
                                        ": entries were removed or an older copy of the database was restored." +
                                        VerifyHint(options_));
    }
    // The tree at the checkpoint: the stored state, trusted only because its root is the signed one.
    auto stored = checkpoint_tree ? db::DecodeRange(*checkpoint_tree) : Result<CompactRange>(Status::NotFound(""));
    if (stored.has_value() && static_cast<std::int64_t>(stored->size()) == last.size && stored->Root() == cp->root) {
      trusted_tree = std::move(*stored);
    } else {
      Log("rebuilding the Merkle tree of " + options_.path + " from its entries (no usable stored state)");
      Head rebuilt;
      KEYWARD_RETURN_IF_ERROR(LoadHead(0, CompactRange(), kZeroChain, &rebuilt, false));
      CompactRange at_checkpoint;
      Status walk = db::Guard(StatusCode::kUnavailable, "reading entries", [&] {
        db::ForEachRow(*db_, 1, last.size, [&](std::int64_t, std::string_view e, std::string_view) {
          at_checkpoint.Append(LeafHash(e));
          return true;
        });
      });
      KEYWARD_RETURN_IF_ERROR(walk);
      if (at_checkpoint.Root() != cp->root) {
        return Status::FailedPrecondition("the entries of " + options_.path + " up to size " + std::to_string(last.size) +
                                          " do not have the root of the signed checkpoint at that size: the log was "
                                          "modified." + VerifyHint(options_));
      }
      trusted_tree = std::move(at_checkpoint);
    }
    trusted_size = last.size;
    if (trusted_size > 0) {
      Status read = db::Guard(StatusCode::kUnavailable, "reading entries", [&] {
        db::ForEachRow(*db_, trusted_size, trusted_size, [&](std::int64_t, std::string_view, std::string_view c) {
          if (!db::ToDigest(c, &trusted_chain)) throw SQLite::Exception("a stored chain value is not 32 bytes");
          return false;
        });
      });
      KEYWARD_RETURN_IF_ERROR(read);
    }
    checkpoint_size_ = last.size;
    latest_note_ = last.note;
  }
  // Everything after the last checkpoint must chain and extend its tree.
  KEYWARD_RETURN_IF_ERROR(LoadHead(trusted_size, trusted_tree, trusted_chain, &head_, true));
  // And the chain of the last entries must check even when a checkpoint covers them.
  const std::int64_t from = std::max<std::int64_t>(1, head_.size - kMinChainCheckOnOpen + 1);
  if (from <= trusted_size) {
    Digest prev = kZeroChain;  // chain[0], or the stored link before `from`
    std::int64_t expected = from;
    Status s = db::Guard(StatusCode::kUnavailable, "reading entries", [&] {
      db::ForEachRow(*db_, from - 1, trusted_size, [&](std::int64_t seq, std::string_view e, std::string_view c) {
        Digest stored{};
        if (seq == from - 1) {
          if (!db::ToDigest(c, &prev)) throw SQLite::Exception("chain value at seq " + std::to_string(seq) + " is not 32 bytes");
          return true;
        }
        if (seq != expected || !db::ToDigest(c, &stored) || ChainNext(prev, EntryHash(e)) != stored) {
          throw SQLite::Exception("the hash chain breaks at seq " + std::to_string(seq));
        }
        prev = stored;
        ++expected;
        return true;
      });
    });
    if (!s.ok()) return Status::FailedPrecondition(s.message() + "." + VerifyHint(options_));
  }
  return Status();
}

Status AuditLog::LoadHead(std::int64_t trusted_size, const CompactRange& trusted_tree, Digest trusted_chain, Head* head,
                          bool fail_closed) {
  Head h;
  h.size = trusted_size;
  h.chain = trusted_chain;
  h.tree = trusted_tree;
  std::string problem;
  Status s = db::Guard(StatusCode::kUnavailable, "reading entries of " + options_.path, [&] {
    db::ForEachRow(*db_, trusted_size + 1, INT64_MAX, [&](std::int64_t seq, std::string_view e, std::string_view c) {
      Digest stored{};
      if (seq != h.size + 1) {
        problem = "entries " + std::to_string(h.size + 1) + ".." + std::to_string(seq - 1) + " are missing";
      } else if (!db::ToDigest(c, &stored)) {
        problem = "the chain value at seq " + std::to_string(seq) + " is not 32 bytes";
      } else if (ChainNext(h.chain, EntryHash(e)) != stored) {
        problem = "the hash chain breaks at seq " + std::to_string(seq);
      }
      if (!problem.empty()) return false;
      h.chain = stored;
      h.tree.Append(LeafHash(e));
      ++h.size;
      return true;
    });
  });
  KEYWARD_RETURN_IF_ERROR(s);
  if (!problem.empty()) {
    const std::string msg = "the audit log " + options_.path + " cannot be appended to: " + problem + ".";
    return fail_closed ? Status::FailedPrecondition(msg + VerifyHint(options_)) : Status::DataLoss(msg);
  }
  *head = std::move(h);
  return Status();
}

Status AuditLog::CheckExportFile() {
  if (options_.export_path.empty()) return Status();
  auto file = ReadFile(options_.export_path, std::size_t{1} << 30);
  if (!file.has_value()) {
    if (file.error().code() == StatusCode::kNotFound) return Status();  // created on the first checkpoint
    return Status::FailedPrecondition("cannot read the checkpoint export file: " + file.error().message());
  }
  // A crash in the middle of an append leaves a record cut short at the end. Appending after it would
  // glue the next note onto it, and that note would be lost to every reader: cut it off first (the
  // notes it held are exported again below, from the database).
  if (const std::size_t whole = WholeRecordsPrefix(*file); whole < file->size()) {
    if (::truncate(options_.export_path.c_str(), static_cast<off_t>(whole)) != 0) {
      return Status::FailedPrecondition("cannot cut the partial note off the end of the checkpoint export file " +
                                        options_.export_path + ": " + std::strerror(errno));
    }
    if (const int fd = ::open(options_.export_path.c_str(), O_WRONLY | O_CLOEXEC); fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
    Log("the checkpoint export file " + options_.export_path + " ended in " + std::to_string(file->size() - whole) +
        " bytes of a note cut short (the server stopped while appending it); they were cut off, and the notes are "
        "exported again");
    file->resize(whole);
  }
  std::optional<Checkpoint> newest;
  std::string newest_note;
  for (const std::string& note_text : SplitNotes(*file)) {
    auto note = ParseNote(note_text);
    if (!note.has_value()) continue;
    auto cp = ParseCheckpoint(note->text);
    if (!cp.has_value() || cp->origin != options_.origin) continue;
    if (!newest || cp->size > newest->size) {
      newest = *cp;
      newest_note = note_text;
    }
  }
  if (!newest) return Status();
  const auto size = static_cast<std::int64_t>(newest->size);
  if (size > head_.size) {
    return Status::FailedPrecondition("the checkpoint export file " + options_.export_path + " holds a checkpoint of size " +
                                      std::to_string(size) + " but " + options_.path + " has only " +
                                      std::to_string(head_.size) +
                                      " entries: the database was truncated or an older copy restored." + VerifyHint(options_));
  }
  std::optional<std::string> stored;
  KEYWARD_RETURN_IF_ERROR(db::Guard(StatusCode::kUnavailable, "reading checkpoints", [&] {
    SQLite::Statement q(*db_, "SELECT note FROM checkpoints WHERE size = ?");
    q.bind(1, size);
    if (q.executeStep()) stored = q.getColumn(0).getString();
  }));
  auto stored_cp = stored ? ParseNote(*stored) : Result<SignedNote>(Status::NotFound(""));
  auto stored_body = stored_cp.has_value() ? ParseCheckpoint(stored_cp->text) : Result<Checkpoint>(Status::NotFound(""));
  if (!stored_body.has_value() || stored_body->root != newest->root) {
    return Status::FailedPrecondition("the checkpoint export file " + options_.export_path + " holds a checkpoint of size " +
                                      std::to_string(size) + " that " + options_.path +
                                      " does not match: the database was replaced or rolled back." + VerifyHint(options_));
  }
  exported_size_ = size;
  return Status();
}

Status AuditLog::ExportCheckpoints() {
  if (options_.export_path.empty()) return Status();
  std::vector<db::StoredCheckpoint> fresh;
  KEYWARD_RETURN_IF_ERROR(db::Guard(StatusCode::kUnavailable, "reading checkpoints", [&] {
    SQLite::Statement q(*db_, "SELECT size, note FROM checkpoints WHERE size > ? ORDER BY size");
    q.bind(1, exported_size_);
    while (q.executeStep()) fresh.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString()});
  }));
  if (fresh.empty()) return Status();
  const int fd = ::open(options_.export_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable("cannot open the checkpoint export file " + options_.export_path + ": " + std::strerror(errno));
  Status result;
  for (const db::StoredCheckpoint& c : fresh) {
    // One write per note, and the blank line that completes it last: a reader never takes a torn note for
    // a whole one. A failed write is cut back off so that the next note does not start inside it.
    struct stat st {};
    ::fstat(fd, &st);
    const std::string record = c.note + "\n";
    std::size_t done = 0;
    while (done < record.size()) {
      const ssize_t w = ::write(fd, record.data() + done, record.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      done += static_cast<std::size_t>(w);
    }
    if (done != record.size() || ::fdatasync(fd) != 0) {
      const int err = errno;
      if (::ftruncate(fd, st.st_size) != 0) {
        Log("cannot cut a torn checkpoint off " + options_.export_path + ": " + std::strerror(errno));
      }
      result = Status::Unavailable("cannot append to the checkpoint export file " + options_.export_path + ": " +
                                   std::strerror(err));
      break;
    }
    exported_size_ = c.size;
  }
  ::close(fd);
  return result;
}

void AuditLog::Append(std::vector<AuditRecord> records, AppendDone done) {
  if (records.empty()) {
    done(Status::InvalidArgument("nothing to append"));
    return;
  }
  // Validate and encode here, on the producer's thread: the writer only adds seq and time.
  std::vector<std::string> prefixes;
  prefixes.reserve(records.size());
  for (const AuditRecord& r : records) {
    if (Status s = ValidateRecord(r); !s.ok()) {
      done(std::move(s));
      return;
    }
    std::string& p = prefixes.emplace_back();
    p.reserve(512);
    EncodeRecordPrefix(r, &p);
  }
  records.clear();
  std::unique_lock lk(mu_);
  if (closing_ || closed_) {
    lk.unlock();
    done(Status::FailedPrecondition("the audit log is closed"));
    return;
  }
  if (pending_entries_ + prefixes.size() > options_.max_pending_entries) {
    ++stats_.rejected_appends;
    lk.unlock();
    done(Status::ResourceExhausted("the audit log has " + std::to_string(options_.max_pending_entries) +
                                   " entries waiting to be written; refusing more"));
    return;
  }
  pending_entries_ += prefixes.size();
  ++appends_submitted_;
  pending_.push_back(Pending{std::move(prefixes), std::move(done)});
  lk.unlock();
  cv_.notify_one();
}

void AuditLog::WriterLoop() {
  for (;;) {
    std::vector<Pending> batch;
    bool checkpoint = false, exit = false;
    std::uint64_t requests_seen = 0;
    {
      std::unique_lock lk(mu_);
      const auto wake = outage_ ? std::min(next_checkpoint_, next_probe_) : next_checkpoint_;
      cv_.wait_until(lk, wake, [&] {
        return !pending_.empty() || closing_ || checkpoints_requested_ > checkpoints_served_;
      });
      std::size_t entries = 0;
      while (!pending_.empty() &&
             (batch.empty() || entries + pending_.front().prefixes.size() <= options_.max_batch_entries)) {
        entries += pending_.front().prefixes.size();
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
      pending_entries_ -= entries;
      // A requested checkpoint covers every Append made before the request: only once pending is drained.
      const bool drained = pending_.empty();
      requests_seen = checkpoints_requested_;
      checkpoint = (std::chrono::steady_clock::now() >= next_checkpoint_) ||
                   (drained && (checkpoints_requested_ > checkpoints_served_ || closing_));
      exit = closing_ && drained;
    }
    if (outage_ && std::chrono::steady_clock::now() >= next_probe_) {
      // Retry by writing the outage into the log, ahead of whatever is pending.
      batch.insert(batch.begin(), RecoveryEntry());
      next_probe_ = std::chrono::steady_clock::now() + options_.recovery_probe_interval;
    }
    if (!batch.empty()) Deliver(CommitBatch(batch));
    if (checkpoint) {
      Status s;
      if (head_.size > checkpoint_size_) s = WriteCheckpoint();
      if (Status e = ExportCheckpoints(); !e.ok()) {
        Log(e.message());
        if (s.ok()) s = e;
      }
      next_checkpoint_ = std::chrono::steady_clock::now() + options_.checkpoint_interval;
      Completion marker;
      {
        std::lock_guard lk(mu_);
        if (pending_.empty() || exit) {
          checkpoints_served_ = std::max(checkpoints_served_, requests_seen);
          marker.checkpoints_done = checkpoints_served_;
        }
        last_checkpoint_status_ = s;
      }
      // Through the completions, so that CheckpointNow returns only after the callbacks of every entry
      // the checkpoint covers have run.
      if (marker.checkpoints_done > 0) Deliver(std::move(marker));
    }
    if (exit) break;
  }
  {
    std::lock_guard lk(completion_mu_);
    writer_exited_ = true;
  }
  completion_cv_.notify_one();
}

void AuditLog::Deliver(Completion c) {
  bool more_pending;
  {
    std::lock_guard lk(mu_);
    more_pending = !pending_.empty();
  }
  {
    std::lock_guard lk(completion_mu_);
    // Only the writer queues: an idle completer with an empty queue cannot start meanwhile, so running
    // here keeps the commit order.
    if (more_pending || completer_busy_ || !completions_.empty()) {
      completions_.push_back(std::move(c));
      completion_cv_.notify_one();
      return;
    }
  }
  RunCompletion(c);
}

void AuditLog::RunCompletion(Completion& c) {
  if (c.checkpoints_done > 0) {
    {
      std::lock_guard lk(mu_);
      checkpoints_done_ = std::max(checkpoints_done_, c.checkpoints_done);
    }
    done_cv_.notify_all();
    return;
  }
  for (std::size_t i = 0; i < c.batch.size(); ++i) {
    if (c.failure.ok()) {
      c.batch[i].done(c.ranges[i]);
    } else {
      c.batch[i].done(c.failure);
    }
  }
}

void AuditLog::CompleterLoop() {
  for (;;) {
    std::deque<Completion> work;
    {
      std::unique_lock lk(completion_mu_);
      completer_busy_ = false;
      completion_cv_.wait(lk, [&] { return !completions_.empty() || writer_exited_; });
      if (completions_.empty()) return;  // the writer is gone and everything is delivered
      work.swap(completions_);
      completer_busy_ = true;
    }
    for (Completion& c : work) RunCompletion(c);
    // `work` (the producers' callbacks and encodings) is freed here, off the writer's thread.
  }
}

AuditLog::Pending AuditLog::RecoveryEntry() const {
  AuditRecord r;
  r.action = "audit.recovered";
  r.decision = "allow";
  r.detail = "the audit log could not record from " + outage_->since + " (" + std::to_string(outage_->failed_batches) +
             " batches refused; first error: " + outage_->first_error + ")";
  Pending p;
  if (!ValidateRecord(r).ok()) r.detail = "the audit log could not record from " + outage_->since;
  EncodeRecordPrefix(r, &p.prefixes.emplace_back());
  p.done = [](const Result<SeqRange>&) {};
  p.recovery = true;
  return p;
}

AuditLog::Completion AuditLog::CommitBatch(std::vector<Pending>& batch) {
  auto fail_all = [&](const Status& s) {
    {
      std::lock_guard lk(mu_);
      ++stats_.failed_batches;
      stats_.healthy = false;
      stats_.last_error = s.message();
    }
    if (!outage_) {
      outage_ = Outage{FormatTime(options_.now_micros()), s.message(), 0};
      next_probe_ = std::chrono::steady_clock::now() + options_.recovery_probe_interval;
    }
    ++outage_->failed_batches;
    Completion c;
    c.batch = std::move(batch);
    c.failure = s;
    return c;
  };
  if (needs_resync_) {
    if (Status s = Resync(); !s.ok()) {
      return fail_all(Status::Unavailable("the audit log cannot record: " + s.message()));
    }
  }
  Head next = head_;
  const std::string time = FormatTime(options_.now_micros());
  // The batch's entries back to back in one buffer: each is its producer's prefix plus seq and time.
  std::size_t count = 0, bytes = 0;
  for (const Pending& p : batch) {
    count += p.prefixes.size();
    for (const std::string& prefix : p.prefixes) bytes += prefix.size() + 64;
  }
  std::string buffer;
  buffer.reserve(bytes);
  std::vector<std::size_t> ends;
  ends.reserve(count);
  std::vector<Digest> chains;
  chains.reserve(count);
  std::vector<SeqRange> ranges;
  for (const Pending& p : batch) {
    ranges.push_back(SeqRange{next.size + 1, next.size + static_cast<std::int64_t>(p.prefixes.size())});
    for (const std::string& prefix : p.prefixes) {
      const std::size_t start = buffer.size();
      buffer += prefix;
      AppendSeqAndTime(++next.size, time, &buffer);
      const std::string_view entry(buffer.data() + start, buffer.size() - start);
      next.chain = ChainNext(next.chain, EntryHash(entry));
      next.tree.Append(LeafHash(entry));
      chains.push_back(next.chain);
      ends.push_back(buffer.size());
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Status s = db::Guard(StatusCode::kUnavailable, "the write failed", [&] {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    std::size_t start = 0;
    for (std::size_t i = 0; i < ends.size(); ++i) {
      insert_->bind(1, head_.size + 1 + static_cast<std::int64_t>(i));
      insert_->bindNoCopy(2, buffer.data() + start, static_cast<int>(ends[i] - start));
      insert_->bindNoCopy(3, chains[i].data(), static_cast<int>(chains[i].size()));
      insert_->exec();
      insert_->reset();
      start = ends[i];
    }
    tx.commit();
  });
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
  if (!s.ok()) {
    insert_->tryReset();
    needs_resync_ = true;  // SQLite may have committed after all (an fsync error, say): look before the next batch
    Log(s.message());
    return fail_all(s);
  }
  head_ = std::move(next);
  if (outage_) {
    if (batch.front().recovery) {
      Log("the audit log records again (" + std::to_string(outage_->failed_batches) + " batches were refused)");
      outage_.reset();
    } else {
      next_probe_ = std::chrono::steady_clock::now();  // writes work again: record the outage next
    }
  }
  {
    std::lock_guard lk(mu_);
    ++stats_.batches;
    stats_.committed_entries += count;
    stats_.size = head_.size;
    stats_.healthy = true;
    const std::size_t b = std::min<std::size_t>(kBatchBuckets - 1, std::bit_width(count - 1));
    ++stats_.batch_size_buckets[b];
    std::size_t l = 0;
    while (l < std::size(kCommitLatencyBucketsUs) && micros > kCommitLatencyBucketsUs[l]) ++l;
    ++stats_.commit_latency_buckets[l];
    stats_.commit_latency_sum_us += static_cast<double>(micros);
  }
  Completion c;
  c.batch = std::move(batch);
  c.ranges = std::move(ranges);
  return c;
}

Status AuditLog::Resync() {
  std::int64_t n = 0;
  KEYWARD_RETURN_IF_ERROR(db::Guard(StatusCode::kUnavailable, "reading the audit log", [&] { n = db::MaxSeq(*db_); }));
  if (n == head_.size) {
    needs_resync_ = false;
    return Status();
  }
  if (n < head_.size) {
    return Status::DataLoss("the audit log " + options_.path + " lost entries while open (it has " + std::to_string(n) +
                            ", it had " + std::to_string(head_.size) + ")");
  }
  // A write reported as failed had in fact been committed: adopt it, after checking that it chains.
  Head adopted;
  KEYWARD_RETURN_IF_ERROR(LoadHead(head_.size, head_.tree, head_.chain, &adopted, false));
  Log("adopted " + std::to_string(adopted.size - head_.size) +
      " entries that SQLite committed although their write reported an error");
  head_ = std::move(adopted);
  needs_resync_ = false;
  return Status();
}

Status AuditLog::WriteCheckpoint() {
  const Checkpoint c{options_.origin, static_cast<std::uint64_t>(head_.size), head_.tree.Root(), {}};
  KEYWARD_ASSIGN_OR_RETURN(const std::string note, SignNote(c.Text(), *key_));
  Status s = db::Guard(StatusCode::kUnavailable, "cannot store a checkpoint", [&] {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement ins(*db_, "INSERT INTO checkpoints(size, note) VALUES(?, ?)");
    ins.bind(1, head_.size);
    ins.bind(2, note);
    ins.exec();
    SQLite::Statement meta(*db_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
    meta.bind(1, db::kMetaCheckpointTree);
    meta.bind(2, db::EncodeRange(head_.tree));
    meta.exec();
    tx.commit();
  });
  if (!s.ok()) {
    Log(s.message());
    return s;
  }
  checkpoint_size_ = head_.size;
  std::lock_guard lk(mu_);
  latest_note_ = note;
  stats_.checkpoint_size = checkpoint_size_;
  return Status();
}

Status AuditLog::CheckpointNow() {
  std::unique_lock lk(mu_);
  if (closing_ || closed_) return Status::FailedPrecondition("the audit log is closed");
  const std::uint64_t target = ++checkpoints_requested_;
  cv_.notify_one();
  done_cv_.wait(lk, [&] { return checkpoints_done_ >= target || closed_; });
  if (checkpoints_done_ < target) return Status::FailedPrecondition("the audit log closed before the checkpoint");
  return last_checkpoint_status_;
}

int AuditLog::OnWalCommit(void* self, sqlite3*, const char*, int wal_pages) {
  auto* log = static_cast<AuditLog*>(self);
  if (wal_pages >= kWalCheckpointPages) {
    {
      std::lock_guard lk(log->mu_);
      log->wal_checkpoint_wanted_ = true;
    }
    log->checkpointer_cv_.notify_one();
  }
  return SQLITE_OK;
}

void AuditLog::CheckpointerLoop() {
  std::unique_ptr<SQLite::Database> db;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      checkpointer_cv_.wait(lk, [&] { return wal_checkpoint_wanted_ || closing_; });
      if (closing_) return;  // the writer's connection checkpoints when it closes
      wal_checkpoint_wanted_ = false;
    }
    // PASSIVE: copies what it can without blocking the writer or readers. A failure loses nothing (the
    // WAL stays, durable); the next request retries.
    const Status s = db::Guard(StatusCode::kUnavailable, "WAL checkpoint", [&] {
      if (!db) {
        db = std::make_unique<SQLite::Database>(options_.path, SQLite::OPEN_READWRITE);
        db->setBusyTimeout(static_cast<int>(options_.busy_timeout.count()));
      }
      db->exec("PRAGMA wal_checkpoint(PASSIVE)");
    });
    if (!s.ok()) {
      Log(s.message());
      db.reset();
    } else {
      std::lock_guard lk(mu_);
      ++stats_.wal_checkpoints;
    }
  }
}

Status AuditLog::Close() {
  std::lock_guard close_lock(close_mu_);
  {
    std::lock_guard lk(mu_);
    if (closed_) return last_checkpoint_status_;
    closing_ = true;
  }
  cv_.notify_one();
  checkpointer_cv_.notify_one();
  if (writer_.joinable()) writer_.join();
  if (completer_.joinable()) completer_.join();
  if (checkpointer_.joinable()) checkpointer_.join();
  Status s;
  {
    std::lock_guard lk(mu_);
    closed_ = true;
    s = last_checkpoint_status_;
  }
  done_cv_.notify_all();
  insert_.reset();
  db_.reset();
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
  return s;
}

AuditStats AuditLog::Stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

std::string AuditLog::LatestCheckpoint() const {
  std::lock_guard lk(mu_);
  return latest_note_;
}

}  // namespace keyward::audit
