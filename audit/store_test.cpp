#include "audit/store.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Transaction.h>
#include <sqlite3.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <filesystem>
#include <future>
#include <thread>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/reader.h"
#include "audit/testing/audit_fixture.h"
#include "audit/verifier.h"
#include "core/file.h"
#include "core/testing/status_matchers.h"

namespace keyward::audit {
namespace {

using ::keyward::audit::testing::AppendAndWait;
using ::keyward::audit::testing::AuditFixture;
using ::keyward::audit::testing::Record;
using ::keyward::audit::testing::Sql;
using ::keyward::testing::IsOk;
using ::keyward::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class AuditLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<AuditLog> OpenLog(AuditOptions o) {
    auto log = AuditLog::Open(std::move(o));
    EXPECT_THAT(log, IsOk());
    return log.has_value() ? std::move(*log) : nullptr;
  }
  std::unique_ptr<AuditLog> OpenLog() { return OpenLog(f_.Options()); }

  VerifyReport Verify(std::vector<std::string> kept = {}) {
    VerifyOptions vo;
    vo.trusted_keys = {f_.verifier()};
    vo.kept_checkpoints = std::move(kept);
    auto r = VerifyLog(f_.db(), vo);
    EXPECT_THAT(r, IsOk());
    return r.has_value() ? *r : VerifyReport{};
  }

  // The decoded entries of the log, in order.
  std::vector<Entry> Entries() {
    std::vector<Entry> out;
    auto reader = AuditReader::Open(f_.db());
    EXPECT_THAT(reader, IsOk());
    if (!reader.has_value()) return out;
    EXPECT_THAT((*reader)->ForEach(1, (*reader)->max_seq(), [&](std::int64_t, std::string_view entry, std::string_view) {
      auto e = DecodeEntry(entry);
      EXPECT_THAT(e, IsOk());
      if (e.has_value()) out.push_back(std::move(*e));
      return true;
    }),
                IsOk());
    return out;
  }

  std::vector<std::string> ExportedNotes() {
    auto file = ReadFile(f_.export_path(), 1 << 20);
    return file.has_value() ? SplitNotes(*file) : std::vector<std::string>{};
  }

  AuditFixture f_;
};

TEST_F(AuditLogTest, AppendsGetContiguousSeqsAndTheLogVerifies) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  auto a = AppendAndWait(*log, {Record(1)});
  auto b = AppendAndWait(*log, {Record(2), Record(3), Record(4)});
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->first, 1);
  EXPECT_EQ(a->last, 1);
  EXPECT_EQ(b->first, 2);
  EXPECT_EQ(b->last, 4);
  ASSERT_THAT(log->Close(), IsOk());
  const VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << (r.problems.empty() ? "" : r.problems[0].detail);
  EXPECT_EQ(r.entries_checked, 4);
  EXPECT_EQ(r.checkpoints_valid, 1);  // the final checkpoint written by Close
  EXPECT_EQ(r.first_time, "2026-01-01T00:00:01.000000Z");
}

TEST_F(AuditLogTest, StoredEntriesAreTheRecordsWithSeqAndTime) {
  auto log = OpenLog();
  ASSERT_THAT(AppendAndWait(*log, {Record(7, "write")}), IsOk());
  ASSERT_THAT(log->Close(), IsOk());
  auto reader = AuditReader::Open(f_.db());
  ASSERT_THAT(reader, IsOk());
  EXPECT_EQ((*reader)->origin(), f_.origin());
  int rows = 0;
  ASSERT_THAT((*reader)->ForEach(1, 10, [&](std::int64_t seq, std::string_view entry, std::string_view chain) {
    auto e = DecodeEntry(entry);
    EXPECT_THAT(e, IsOk());
    EXPECT_EQ(e->seq, seq);
    EXPECT_EQ(e->record.key, "password-7");
    EXPECT_EQ(e->record.action, "write");
    EXPECT_EQ(chain.size(), 32u);
    ++rows;
    return true;
  }),
              IsOk());
  EXPECT_EQ(rows, 1);
}

TEST_F(AuditLogTest, ConcurrentProducersAreGroupCommitted) {
  auto o = f_.Options();
  o.busy_timeout = std::chrono::milliseconds(30000);
  auto log = OpenLog(o);
  ASSERT_NE(log, nullptr);
  // Hold the database's write lock from another connection so that the writer's transaction waits; every
  // append made meanwhile must then go into at most one more transaction.
  SQLite::Database blocker(f_.db(), SQLite::OPEN_READWRITE);
  auto tx = std::make_unique<SQLite::Transaction>(blocker, SQLite::TransactionBehavior::IMMEDIATE);
  constexpr int kProducers = 8, kEach = 25;
  std::atomic<int> done{0}, failed{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) {
        log->Append({Record(p * 100 + i)}, [&](Result<SeqRange> r) {
          if (!r.has_value()) ++failed;
          ++done;
        });
      }
    });
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(done.load(), 0);  // nothing completes while the transaction cannot commit
  tx.reset();                 // release the lock (rolls back the empty transaction)
  ASSERT_THAT(log->CheckpointNow(), IsOk());
  EXPECT_EQ(done.load(), kProducers * kEach);
  EXPECT_EQ(failed.load(), 0);
  const AuditStats s = log->Stats();
  EXPECT_EQ(s.committed_entries, static_cast<std::uint64_t>(kProducers * kEach));
  EXPECT_LE(s.batches, 2u) << "200 appends queued behind one lock should commit in at most two transactions";
  ASSERT_THAT(log->Close(), IsOk());
  EXPECT_TRUE(Verify().ok());
}

// Completions run on the writer or on the completion thread (when more is pending), never both at once:
// producers see them in commit order, and CheckpointNow returns only after all of them ran.
TEST_F(AuditLogTest, CompletionsRunInCommitOrder) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  constexpr int kProducers = 4, kEach = 500;
  std::mutex mu;
  std::vector<std::int64_t> firsts;
  std::atomic<int> failed{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) {
        log->Append({Record(p * 1000 + i)}, [&](Result<SeqRange> r) {
          if (!r.has_value()) {
            ++failed;
            return;
          }
          std::lock_guard lk(mu);
          firsts.push_back(r->first);
        });
      }
    });
  }
  for (auto& t : producers) t.join();
  ASSERT_THAT(log->CheckpointNow(), IsOk());
  std::lock_guard lk(mu);
  EXPECT_EQ(failed.load(), 0);
  ASSERT_EQ(firsts.size(), static_cast<std::size_t>(kProducers * kEach));
  for (std::size_t i = 1; i < firsts.size(); ++i) {
    ASSERT_LT(firsts[i - 1], firsts[i]) << "completion " << i << " ran before an earlier commit's";
  }
  EXPECT_GT(log->Stats().batches, 1u);
}

TEST_F(AuditLogTest, AFailedWriteFailsEveryProducerAndTheLogHeals) {
  auto o = f_.Options();
  o.busy_timeout = std::chrono::milliseconds(50);
  o.recovery_probe_interval = std::chrono::hours(1);  // only traffic heals it here
  auto log = OpenLog(o);
  ASSERT_THAT(AppendAndWait(*log, {Record(1)}), IsOk());
  {
    SQLite::Database blocker(f_.db(), SQLite::OPEN_READWRITE);
    SQLite::Transaction tx(blocker, SQLite::TransactionBehavior::IMMEDIATE);
    auto failed = AppendAndWait(*log, {Record(2), Record(3)});
    EXPECT_THAT(failed, StatusIs(StatusCode::kUnavailable, HasSubstr("the write failed")));
    const AuditStats s = log->Stats();
    EXPECT_FALSE(s.healthy);
    EXPECT_EQ(s.failed_batches, 1u);
    EXPECT_THAT(s.last_error, HasSubstr("locked"));
  }
  // The lock is gone: the next append succeeds, and takes the seq the failed one did not use.
  auto next = AppendAndWait(*log, {Record(4)});
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->first, 2);
  EXPECT_TRUE(log->Stats().healthy);
  ASSERT_THAT(log->Close(), IsOk());
  const VerifyReport r = Verify();
  EXPECT_TRUE(r.ok());
  // The outage itself is recorded once writes work again, right after the write that found out.
  EXPECT_EQ(r.entries_checked, 3);
  const auto entries = Entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[2].record.action, "audit.recovered");
  EXPECT_THAT(entries[2].record.detail, HasSubstr("(1 batches refused; first error: the write failed: database is locked)"));
}

// A VFS over SQLite's default one, registered as the default while it lives, that counts for write-ahead
// log files the writes not yet followed by a successful sync. A kill -9 cannot show a missing fsync (the
// kernel still writes what it was given); this can: whatever a callback sees was synced when it ran.
class WalSyncProbe {
 public:
  WalSyncProbe() {
    base_ = sqlite3_vfs_find(nullptr);
    vfs_ = *base_;
    vfs_.zName = "keyward-wal-sync-probe";
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + base_->szOsFile;
    vfs_.pAppData = nullptr;
    vfs_.xOpen = &Open;
    sqlite3_vfs_register(&vfs_, 1);
  }
  ~WalSyncProbe() { sqlite3_vfs_unregister(&vfs_); }
  WalSyncProbe(const WalSyncProbe&) = delete;
  WalSyncProbe& operator=(const WalSyncProbe&) = delete;

  static inline std::atomic<long> wal_writes{0};     // every write to a WAL file
  static inline std::atomic<long> unsynced{0};       // WAL writes since the last WAL sync
  static inline std::atomic<long> wal_syncs{0};

 private:
  struct File {
    sqlite3_file base;
    sqlite3_file* real;
    bool wal;
  };
  static sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }

  static int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
    auto* f = reinterpret_cast<File*>(file);
    f->real = reinterpret_cast<sqlite3_file*>(f + 1);
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    const int rc = base_->xOpen(base_, name, f->real, flags, out_flags);
    f->base.pMethods = f->real->pMethods != nullptr ? &kMethods : nullptr;
    return rc;
  }
  static int Write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
    const int rc = Real(f)->pMethods->xWrite(Real(f), p, n, off);
    if (rc == SQLITE_OK && reinterpret_cast<File*>(f)->wal) {
      ++wal_writes;
      ++unsynced;
    }
    return rc;
  }
  static int Sync(sqlite3_file* f, int flags) {
    const int rc = Real(f)->pMethods->xSync(Real(f), flags);
    if (rc == SQLITE_OK && reinterpret_cast<File*>(f)->wal) {
      unsynced = 0;
      ++wal_syncs;
    }
    return rc;
  }

  static inline sqlite3_vfs* base_ = nullptr;
  sqlite3_vfs vfs_{};
  static inline const sqlite3_io_methods kMethods = {
      3,
      [](sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); },
      [](sqlite3_file* f, void* p, int n, sqlite3_int64 off) { return Real(f)->pMethods->xRead(Real(f), p, n, off); },
      &Write,
      [](sqlite3_file* f, sqlite3_int64 size) { return Real(f)->pMethods->xTruncate(Real(f), size); },
      &Sync,
      [](sqlite3_file* f, sqlite3_int64* size) { return Real(f)->pMethods->xFileSize(Real(f), size); },
      [](sqlite3_file* f, int lock) { return Real(f)->pMethods->xLock(Real(f), lock); },
      [](sqlite3_file* f, int lock) { return Real(f)->pMethods->xUnlock(Real(f), lock); },
      [](sqlite3_file* f, int* out) { return Real(f)->pMethods->xCheckReservedLock(Real(f), out); },
      [](sqlite3_file* f, int op, void* arg) { return Real(f)->pMethods->xFileControl(Real(f), op, arg); },
      [](sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); },
      [](sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); },
      [](sqlite3_file* f, int page, int size, int extend, void volatile** out) {
        return Real(f)->pMethods->xShmMap(Real(f), page, size, extend, out);
      },
      [](sqlite3_file* f, int offset, int n, int flags) { return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags); },
      [](sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); },
      [](sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); },
      [](sqlite3_file* f, sqlite3_int64 off, int n, void** out) { return Real(f)->pMethods->xFetch(Real(f), off, n, out); },
      [](sqlite3_file* f, sqlite3_int64 off, void* p) { return Real(f)->pMethods->xUnfetch(Real(f), off, p); },
  };
};

TEST_F(AuditLogTest, AnAppendCompletesOnlyOnceItsEntriesAreSyncedToDisk) {
  // The log is durable, not just written: the commit fsyncs the WAL (synchronous=FULL) before any
  // producer hears of it. One append at a time, so that no later batch is being written meanwhile.
  WalSyncProbe probe;
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  for (int i = 1; i <= 5; ++i) {
    const long writes_before = WalSyncProbe::wal_writes;
    const long syncs_before = WalSyncProbe::wal_syncs;
    long unsynced_seen = -1, writes_seen = -1, syncs_seen = -1;
    std::promise<Result<SeqRange>> done;
    log->Append({Record(i)}, [&](Result<SeqRange> r) {
      unsynced_seen = WalSyncProbe::unsynced;
      writes_seen = WalSyncProbe::wal_writes;
      syncs_seen = WalSyncProbe::wal_syncs;
      done.set_value(std::move(r));
    });
    ASSERT_THAT(done.get_future().get(), IsOk());
    EXPECT_GT(writes_seen, writes_before) << "append " << i << " wrote nothing to the WAL";
    EXPECT_GT(syncs_seen, syncs_before) << "append " << i;
    EXPECT_EQ(unsynced_seen, 0) << "append " << i << " completed before its WAL frames were synced";
  }
  ASSERT_THAT(log->Close(), IsOk());
  EXPECT_TRUE(Verify().ok());
}

TEST_F(AuditLogTest, TheWalIsCheckpointedInTheBackground) {
  auto log = OpenLog();
  const auto db_bytes = [&] { return std::filesystem::file_size(f_.db()); };
  const auto before = db_bytes();
  // Enough entries for well over 1,000 WAL pages, in batches as producers would send them.
  for (int i = 0; i < 300; ++i) {
    std::vector<AuditRecord> batch;
    for (int j = 0; j < 100; ++j) batch.push_back(Record(i * 100 + j));
    ASSERT_THAT(AppendAndWait(*log, std::move(batch)), IsOk());
  }
  // Waiting for a state (bounded only so that a broken build cannot hang).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (log->Stats().wal_checkpoints == 0 && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
  EXPECT_GE(log->Stats().wal_checkpoints, 1u);
  // Only a checkpoint moves pages from the WAL into the database file, and the writer's connection
  // does not checkpoint by itself: so the file grew while the log was open, through the background one.
  EXPECT_GT(db_bytes(), before + 1024 * 1024);
  ASSERT_THAT(log->Close(), IsOk());
  EXPECT_TRUE(Verify().ok());
}

TEST_F(AuditLogTest, AFailedLogHealsByItselfWithoutTraffic) {
  auto o = f_.Options();
  o.busy_timeout = std::chrono::milliseconds(20);
  o.recovery_probe_interval = std::chrono::milliseconds(10);
  auto log = OpenLog(o);
  ASSERT_THAT(AppendAndWait(*log, {Record(1)}), IsOk());
  {
    SQLite::Database blocker(f_.db(), SQLite::OPEN_READWRITE);
    SQLite::Transaction tx(blocker, SQLite::TransactionBehavior::IMMEDIATE);
    EXPECT_THAT(AppendAndWait(*log, {Record(2)}), StatusIs(StatusCode::kUnavailable));
    EXPECT_FALSE(log->Stats().healthy);
  }
  // No append is made: the writer's own probe must find that the log records again. (Waiting for a
  // state, not for a time: the bound only keeps a broken build from hanging.)
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!log->Stats().healthy && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
  const AuditStats s = log->Stats();
  EXPECT_TRUE(s.healthy);
  EXPECT_EQ(s.size, 2);
  EXPECT_GE(s.failed_batches, 1u);  // the failed append, and any probe that still met the lock
  ASSERT_THAT(log->Close(), IsOk());
  EXPECT_TRUE(Verify().ok());
  const auto entries = Entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].record.action, "audit.recovered");
  EXPECT_EQ(entries[1].record.decision, "allow");
  EXPECT_THAT(entries[1].record.detail, HasSubstr("the audit log could not record from 20"));
}

TEST_F(AuditLogTest, BatchesPreparedOnTopOfAFailedOneFailToo) {
  auto o = f_.Options();
  o.busy_timeout = std::chrono::milliseconds(20);
  o.recovery_probe_interval = std::chrono::hours(1);
  auto log = OpenLog(o);
  ASSERT_THAT(AppendAndWait(*log, {Record(1)}), IsOk());
  constexpr int kAppends = 40;
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, failed = 0;
  {
    SQLite::Database blocker(f_.db(), SQLite::OPEN_READWRITE);
    SQLite::Transaction tx(blocker, SQLite::TransactionBehavior::IMMEDIATE);
    // Many appends at once: the sequencer prepares several batches, each on top of the previous one.
    for (int i = 0; i < kAppends; ++i) {
      log->Append({Record(100 + i), Record(200 + i)}, [&](Result<SeqRange> r) {
        std::lock_guard lk(mu);
        failed += r.has_value() ? 0 : 1;
        ++done;
        cv.notify_one();
      });
    }
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(60), [&] { return done == kAppends; }));
  }
  EXPECT_EQ(failed, kAppends);  // while the lock was held, nothing could be recorded
  // The log continues right after the last committed entry: no gap, no seq used twice.
  auto next = AppendAndWait(*log, {Record(3)});
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->first, 2);
  ASSERT_THAT(log->Close(), IsOk());
  const VerifyReport r = Verify();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.entries_checked, 3);  // and the outage, recorded after it
}

TEST_F(AuditLogTest, DiskFullFailsClosedWithoutAHalfWrittenEntry) {
  auto o = f_.Options();
  o.max_page_count = 12;  // a tiny database: a full disk, as SQLite sees it
  o.recovery_probe_interval = std::chrono::hours(1);
  auto log = OpenLog(o);
  ASSERT_NE(log, nullptr);
  std::int64_t last_ok = 0;
  Status failure;
  for (int i = 0; i < 2000 && failure.ok(); ++i) {
    auto r = AppendAndWait(*log, {Record(i), Record(i + 10000)});
    if (r.has_value()) {
      last_ok = r->last;
    } else {
      failure = r.error();
    }
  }
  ASSERT_FALSE(failure.ok()) << "the size limit was never reached";
  EXPECT_EQ(failure.code(), StatusCode::kUnavailable);
  EXPECT_THAT(failure.message(), HasSubstr("full"));
  (void)log->Close();  // the final checkpoint may or may not still fit; either way nothing is half-written
  // Everything acknowledged is there, nothing else, and the log verifies.
  const VerifyReport r = Verify();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.entries_checked, last_ok);
  // With room again, the log continues.
  auto bigger = f_.Options();
  auto reopened = OpenLog(bigger);
  ASSERT_NE(reopened, nullptr);
  auto r2 = AppendAndWait(*reopened, {Record(1)});
  ASSERT_THAT(r2, IsOk());
  EXPECT_EQ(r2->first, last_ok + 1);
}

TEST_F(AuditLogTest, InvalidUtf8IsRejectedAndNothingIsWritten) {
  auto log = OpenLog();
  AuditRecord bad = Record(1);
  bad.scope = "secret/\xFF";
  EXPECT_THAT(AppendAndWait(*log, {Record(0), bad}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("audit field 'scope' is not valid UTF-8")));
  EXPECT_THAT(AppendAndWait(*log, {}), StatusIs(StatusCode::kInvalidArgument));
  auto ok = AppendAndWait(*log, {Record(2)});
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ(ok->first, 1);  // the rejected append took no seq
}

TEST_F(AuditLogTest, TooMuchPendingIsRefused) {
  auto o = f_.Options();
  o.max_pending_entries = 4;
  o.busy_timeout = std::chrono::milliseconds(30000);
  auto log = OpenLog(o);
  SQLite::Database blocker(f_.db(), SQLite::OPEN_READWRITE);
  auto tx = std::make_unique<SQLite::Transaction>(blocker, SQLite::TransactionBehavior::IMMEDIATE);
  std::atomic<int> ok{0};
  // Two appends of 2 fit in a queue of 4 whether or not the writer has taken the first yet; 5 more never do.
  for (int i = 0; i < 2; ++i) log->Append({Record(i), Record(i)}, [&](Result<SeqRange> r) { ok += r.has_value(); });
  auto refused = AppendAndWait(*log, {Record(9), Record(9), Record(9), Record(9), Record(9)});
  EXPECT_THAT(refused, StatusIs(StatusCode::kResourceExhausted, HasSubstr("waiting to be written")));
  EXPECT_EQ(log->Stats().rejected_appends, 1u);
  tx.reset();
  ASSERT_THAT(log->CheckpointNow(), IsOk());
  EXPECT_EQ(ok.load(), 2);
}

TEST_F(AuditLogTest, ClosedLogRefusesAppends) {
  auto log = OpenLog();
  ASSERT_THAT(log->Close(), IsOk());
  ASSERT_THAT(log->Close(), IsOk());  // idempotent
  EXPECT_THAT(AppendAndWait(*log, {Record(1)}), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("closed")));
  EXPECT_THAT(log->CheckpointNow(), StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(AuditLogTest, CheckpointsAreSignedStoredAndExported) {
  auto log = OpenLog();
  ASSERT_THAT(AppendAndWait(*log, {Record(1), Record(2), Record(3)}), IsOk());
  ASSERT_THAT(log->CheckpointNow(), IsOk());
  const std::string note = log->LatestCheckpoint();
  auto parsed = ParseNote(note);
  ASSERT_THAT(parsed, IsOk());
  const std::vector<VerifierKey> trusted = {f_.verifier()};
  EXPECT_THAT(VerifyNote(*parsed, trusted), IsOk());
  auto cp = ParseCheckpoint(parsed->text);
  ASSERT_THAT(cp, IsOk());
  EXPECT_EQ(cp->origin, f_.origin());
  EXPECT_EQ(cp->size, 3u);
  EXPECT_EQ(log->Stats().checkpoint_size, 3);
  EXPECT_THAT(ExportedNotes(), ::testing::ElementsAre(note));
  // No growth, no new checkpoint.
  ASSERT_THAT(log->CheckpointNow(), IsOk());
  EXPECT_THAT(ExportedNotes(), SizeIs(1));
  ASSERT_THAT(AppendAndWait(*log, {Record(4)}), IsOk());
  ASSERT_THAT(log->Close(), IsOk());
  EXPECT_THAT(ExportedNotes(), SizeIs(2));
  const VerifyReport r = Verify(ExportedNotes());
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.checkpoints_valid, 2);
  EXPECT_EQ(r.kept_valid, 2);
}

TEST_F(AuditLogTest, PeriodicCheckpointsWhileTheLogGrows) {
  auto o = f_.Options();
  o.checkpoint_interval = std::chrono::milliseconds(20);
  auto log = OpenLog(o);
  ASSERT_THAT(AppendAndWait(*log, {Record(1)}), IsOk());
  // Wait (bounded) for the timer to sign a checkpoint; nothing here asserts how long it takes.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (log->Stats().checkpoint_size < 1 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::yield();
  }
  EXPECT_EQ(log->Stats().checkpoint_size, 1);
}

TEST_F(AuditLogTest, ReopenedLogContinuesAndStaysConsistent) {
  std::vector<Digest> leaves;
  {
    auto log = OpenLog();
    ASSERT_THAT(AppendAndWait(*log, {Record(1), Record(2), Record(3)}), IsOk());
    ASSERT_THAT(log->Close(), IsOk());
  }
  const std::string first_note = ExportedNotes().back();
  {
    auto log = OpenLog();
    auto r = AppendAndWait(*log, {Record(4), Record(5)});
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->first, 4);
    ASSERT_THAT(log->Close(), IsOk());
  }
  const std::string second_note = ExportedNotes().back();
  // The second checkpoint extends the first: prove it with a consistency proof over the entries.
  auto reader = AuditReader::Open(f_.db());
  ASSERT_THAT(reader, IsOk());
  ASSERT_THAT((*reader)->ForEach(1, 100, [&](std::int64_t, std::string_view e, std::string_view) {
    leaves.push_back(LeafHash(e));
    return true;
  }),
              IsOk());
  auto c1 = ParseCheckpoint(ParseNote(first_note)->text);
  auto c2 = ParseCheckpoint(ParseNote(second_note)->text);
  ASSERT_THAT(c1, IsOk());
  ASSERT_THAT(c2, IsOk());
  EXPECT_EQ(c1->size, 3u);
  EXPECT_EQ(c2->size, 5u);
  EXPECT_THAT(VerifyConsistency(3, 5, c1->root, c2->root, ConsistencyProof(leaves, 3, 5)), IsOk());
  EXPECT_TRUE(Verify(ExportedNotes()).ok());
}

TEST_F(AuditLogTest, OneWriterPerLog) {
  auto log = OpenLog();
  EXPECT_THAT(AuditLog::Open(f_.Options()), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("one log has one writer")));
  ASSERT_THAT(log->Close(), IsOk());
  EXPECT_THAT(AuditLog::Open(f_.Options()), IsOk());  // released on close
}

TEST_F(AuditLogTest, RefusesAnotherOrigin) {
  ASSERT_THAT(OpenLog()->Close(), IsOk());
  auto o = f_.Options();
  o.origin = "keyward.test/other";
  EXPECT_THAT(AuditLog::Open(o), StatusIs(StatusCode::kFailedPrecondition,
                                          HasSubstr("belongs to origin 'keyward.test/log-1', not 'keyward.test/other'")));
}

TEST_F(AuditLogTest, RefusesAKeyOthersMayRead) {
  ASSERT_EQ(::chmod(f_.key_path().c_str(), 0644), 0);
  EXPECT_THAT(AuditLog::Open(f_.Options()), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("chmod 600")));
}

TEST_F(AuditLogTest, RefusesALogShorterThanItsLastCheckpoint) {
  auto log = OpenLog();
  ASSERT_THAT(AppendAndWait(*log, {Record(1), Record(2), Record(3)}), IsOk());
  ASSERT_THAT(log->Close(), IsOk());
  Sql(f_.db(), "DELETE FROM entries WHERE seq = 3");
  EXPECT_THAT(AuditLog::Open(f_.Options()),
              StatusIs(StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("has 2 entries but its last checkpoint covers 3"), HasSubstr("keyward-audit verify"))));
}

TEST_F(AuditLogTest, RefusesALogWhoseRecentChainIsBroken) {
  auto log = OpenLog();
  ASSERT_THAT(AppendAndWait(*log, {Record(1), Record(2), Record(3)}), IsOk());
  ASSERT_THAT(log->Close(), IsOk());
  Sql(f_.db(), "UPDATE entries SET chain = zeroblob(32) WHERE seq = 2");
  EXPECT_THAT(AuditLog::Open(f_.Options()),
              StatusIs(StatusCode::kFailedPrecondition, AllOf(HasSubstr("chain breaks at seq 2"), HasSubstr("verify"))));
}

TEST_F(AuditLogTest, RefusesEntriesThatDoNotExtendTheSignedTree) {
  auto log = OpenLog();
  ASSERT_THAT(AppendAndWait(*log, {Record(1), Record(2)}), IsOk());
  ASSERT_THAT(log->Close(), IsOk());
  // Rewrite entry 1 and its chain consistently, and drop the cached tree: only the checkpoint can tell.
  Sql(f_.db(), "UPDATE entries SET entry = replace(entry, 'password-1', 'password-X') WHERE seq = 1; "
               "DELETE FROM meta WHERE key = 'checkpoint_tree'");
  {
    SQLite::Database db(f_.db(), SQLite::OPEN_READWRITE);
    Digest chain = kZeroChain;
    for (int seq = 1; seq <= 2; ++seq) {
      SQLite::Statement q(db, "SELECT entry FROM entries WHERE seq = ?");
      q.bind(1, seq);
      ASSERT_TRUE(q.executeStep());
      const std::string e = q.getColumn(0).getString();
      chain = ChainNext(chain, EntryHash(e));
      SQLite::Statement u(db, "UPDATE entries SET chain = ? WHERE seq = ?");
      u.bind(1, chain.data(), 32);
      u.bind(2, seq);
      u.exec();
    }
  }
  EXPECT_THAT(AuditLog::Open(f_.Options()),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("do not have the root of the signed checkpoint")));
}

TEST_F(AuditLogTest, ANoteCutShortAtTheEndOfTheExportFileIsCutOffAndExportedAgain) {
  {
    auto log = OpenLog();
    for (int i = 1; i <= 3; ++i) {
      ASSERT_THAT(AppendAndWait(*log, {Record(i)}), IsOk());
      ASSERT_THAT(log->CheckpointNow(), IsOk());
    }
    ASSERT_THAT(log->Close(), IsOk());
  }
  const std::string whole = *ReadFile(f_.export_path(), 1 << 20);
  ASSERT_THAT(SplitNotes(whole), SizeIs(3));
  // The server died in the middle of appending the note of size 3.
  {
    std::ofstream out(f_.export_path(), std::ios::binary | std::ios::trunc);
    out << whole.substr(0, whole.size() - 40);
  }
  {
    auto log = OpenLog();
    ASSERT_THAT(AppendAndWait(*log, {Record(4)}), IsOk());
    ASSERT_THAT(log->Close(), IsOk());
  }
  const auto notes = ExportedNotes();
  ASSERT_THAT(notes, SizeIs(4));  // 1, 2, 3 exported again, and 4: none glued to a torn one
  std::vector<std::uint64_t> sizes;
  for (const auto& n : notes) sizes.push_back(ParseCheckpoint(ParseNote(n)->text)->size);
  EXPECT_THAT(sizes, ::testing::ElementsAre(1, 2, 3, 4));
  EXPECT_EQ(WholeRecordsPrefix(*ReadFile(f_.export_path(), 1 << 20)), ReadFile(f_.export_path(), 1 << 20)->size());
  const VerifyReport r = Verify(notes);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.kept_valid, 4);
}

TEST_F(AuditLogTest, RefusesARestoredOlderCopyThatTheExportFileContradicts) {
  {
    auto log = OpenLog();
    ASSERT_THAT(AppendAndWait(*log, {Record(1)}), IsOk());
    ASSERT_THAT(log->Close(), IsOk());
  }
  std::filesystem::copy_file(f_.db(), f_.dir() + "/old.db");
  {
    auto log = OpenLog();
    ASSERT_THAT(AppendAndWait(*log, {Record(2), Record(3)}), IsOk());
    ASSERT_THAT(log->Close(), IsOk());
  }
  std::filesystem::copy_file(f_.dir() + "/old.db", f_.db(), std::filesystem::copy_options::overwrite_existing);
  EXPECT_THAT(AuditLog::Open(f_.Options()),
              StatusIs(StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("holds a checkpoint of size 3 but"), HasSubstr("has only 1 entries"),
                             HasSubstr("--checkpoint " + f_.export_path()))));
}

TEST_F(AuditLogTest, RebuildsAMissingTreeState) {
  auto log = OpenLog();
  ASSERT_THAT(AppendAndWait(*log, {Record(1), Record(2), Record(3)}), IsOk());
  ASSERT_THAT(log->Close(), IsOk());
  Sql(f_.db(), "DELETE FROM meta WHERE key = 'checkpoint_tree'");
  std::vector<std::string> messages;
  auto o = f_.Options();
  o.log = [&](const std::string& m) { messages.push_back(m); };
  auto reopened = OpenLog(o);
  ASSERT_NE(reopened, nullptr);
  EXPECT_THAT(messages, ::testing::Contains(HasSubstr("rebuilding the Merkle tree")));
  auto r = AppendAndWait(*reopened, {Record(4)});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->first, 4);
  ASSERT_THAT(reopened->Close(), IsOk());
  EXPECT_TRUE(Verify(ExportedNotes()).ok());
}

TEST_F(AuditLogTest, RefusesADatabaseThatIsNotAnAuditLog) {
  Sql(f_.db(), "CREATE TABLE other(x)");
  EXPECT_THAT(AuditLog::Open(f_.Options()), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("not a keyward audit log")));
}

}  // namespace
}  // namespace keyward::audit
