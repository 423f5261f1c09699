// One test per kind of damage, each asserting the exact kind and seq the verifier reports.
#include "audit/verifier.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <SQLiteCpp/Database.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/store.h"
#include "audit/testing/audit_fixture.h"
#include "core/file.h"
#include "core/testing/status_matchers.h"

namespace keyward::audit {

void PrintTo(const Problem& p, std::ostream* os) {
  *os << ProblemKindName(p.kind) << "@" << p.seq << (p.last != p.seq ? ".." + std::to_string(p.last) : "") << " ("
      << p.detail << ")";
}

namespace {

using ::keyward::audit::testing::AppendAndWait;
using ::keyward::audit::testing::AuditFixture;
using ::keyward::audit::testing::Record;
using ::keyward::audit::testing::Sql;
using ::keyward::testing::IsOk;
using ::keyward::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;

::testing::Matcher<Problem> P(ProblemKind kind, std::int64_t seq, std::int64_t last) {
  return AllOf(Field("kind", &Problem::kind, kind), Field("seq", &Problem::seq, seq), Field("last", &Problem::last, last));
}
::testing::Matcher<Problem> P(ProblemKind kind, std::int64_t seq) { return P(kind, seq, seq); }

// A log of 20 entries with stored checkpoints at 5, 10, 15 and 20, closed.
class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(20); }

  void Build(int n) {
    auto log = AuditLog::Open(f_.Options());
    ASSERT_THAT(log, IsOk());
    for (int i = 1; i <= n; ++i) {
      ASSERT_THAT(AppendAndWait(**log, {Record(i)}), IsOk());
      if (i % 5 == 0) {
        ASSERT_THAT((*log)->CheckpointNow(), IsOk());
      }
    }
    ASSERT_THAT((*log)->Close(), IsOk());
  }

  VerifyReport Verify(std::vector<std::string> kept = {}, std::vector<VerifierKey> keys = {}) {
    VerifyOptions o;
    o.trusted_keys = keys.empty() ? std::vector<VerifierKey>{f_.verifier()} : keys;
    o.kept_checkpoints = std::move(kept);
    auto r = VerifyLog(f_.db(), o);
    EXPECT_THAT(r, IsOk());
    return r.has_value() ? *r : VerifyReport{};
  }

  std::vector<std::string> Exported() { return SplitNotes(*ReadFile(f_.export_path(), 1 << 20)); }

  // Verifies seqs from..to row by row.
  VerifyReport VerifyRange(std::int64_t from, std::int64_t to, std::vector<std::string> kept = {}) {
    VerifyOptions o;
    o.trusted_keys = {f_.verifier()};
    o.kept_checkpoints = std::move(kept);
    o.from = from;
    o.to = to;
    auto r = VerifyLog(f_.db(), o);
    EXPECT_THAT(r, IsOk());
    return r.has_value() ? *r : VerifyReport{};
  }

  std::string Entry(std::int64_t seq) {
    SQLite::Database db(f_.db());
    SQLite::Statement q(db, "SELECT entry FROM entries WHERE seq = ?");
    q.bind(1, seq);
    EXPECT_TRUE(q.executeStep());
    return q.getColumn(0).getString();
  }
  void SetEntry(std::int64_t seq, const std::string& entry) {
    SQLite::Database db(f_.db(), SQLite::OPEN_READWRITE);
    SQLite::Statement u(db, "UPDATE entries SET entry = ? WHERE seq = ?");
    u.bind(1, entry.data(), static_cast<int>(entry.size()));
    u.bind(2, seq);
    u.exec();
  }

  AuditFixture f_;
};

TEST_F(VerifierTest, IntactLogVerifies) {
  const VerifyReport r = Verify(Exported());
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_EQ(r.entries_checked, 20);
  EXPECT_EQ(r.first_seq, 1);
  EXPECT_EQ(r.last_seq, 20);
  EXPECT_EQ(r.checkpoints_valid, 4);
  EXPECT_EQ(r.checkpoints_total, 4);
  EXPECT_EQ(r.kept_valid, 4);
  EXPECT_EQ(r.origin, f_.origin());
  EXPECT_EQ(r.first_time, "2026-01-01T00:00:01.000000Z");
}

TEST_F(VerifierTest, ChangedByteInAnEntry) {
  std::string e = Entry(7);
  e.replace(e.find("password-7"), 10, "password-8");
  SetEntry(7, e);
  EXPECT_THAT(Verify().problems,
              ElementsAre(P(ProblemKind::kModifiedEntry, 7), P(ProblemKind::kCheckpointMismatch, 10),
                          P(ProblemKind::kCheckpointMismatch, 15), P(ProblemKind::kCheckpointMismatch, 20)));
}

TEST_F(VerifierTest, DeletedMiddleRow) {
  Sql(f_.db(), "DELETE FROM entries WHERE seq = 7");
  EXPECT_THAT(Verify().problems,
              ElementsAre(P(ProblemKind::kMissingEntries, 7), P(ProblemKind::kCheckpointMismatch, 10),
                          P(ProblemKind::kCheckpointMismatch, 15),
                          P(ProblemKind::kTruncatedOrRolledBack, 20)));  // 19 rows: the tree never reaches 20
}

TEST_F(VerifierTest, SwappedRows) {
  Sql(f_.db(),
      "UPDATE entries SET seq = -1 WHERE seq = 7; UPDATE entries SET seq = 7 WHERE seq = 8; "
      "UPDATE entries SET seq = 8 WHERE seq = -1;");
  EXPECT_THAT(Verify().problems,
              ElementsAre(P(ProblemKind::kReorderedEntry, 7), P(ProblemKind::kReorderedEntry, 8),
                          P(ProblemKind::kCheckpointMismatch, 10), P(ProblemKind::kCheckpointMismatch, 15),
                          P(ProblemKind::kCheckpointMismatch, 20)));
}

TEST_F(VerifierTest, InsertedRowWithLaterRowsRenumbered) {
  Sql(f_.db(),
      "UPDATE entries SET seq = -seq WHERE seq >= 7; UPDATE entries SET seq = 1 - seq WHERE seq < 0;");
  std::string forged = Entry(6);
  forged.replace(forged.find("\"seq\":6"), 7, "\"seq\":7");
  {
    SQLite::Database db(f_.db(), SQLite::OPEN_READWRITE);
    SQLite::Statement ins(db, "INSERT INTO entries(seq, entry, chain) VALUES(7, ?, zeroblob(32))");
    ins.bind(1, forged.data(), static_cast<int>(forged.size()));
    ins.exec();
  }
  const auto problems = Verify().problems;
  EXPECT_THAT(problems, Contains(P(ProblemKind::kInsertedEntry, 7)));
  EXPECT_THAT(problems, ::testing::Not(Contains(Field("kind", &Problem::kind, ProblemKind::kReorderedEntry))));
}

TEST_F(VerifierTest, RemovedRowWithLaterRowsRenumbered) {
  Sql(f_.db(), "DELETE FROM entries WHERE seq = 7; UPDATE entries SET seq = seq - 1 WHERE seq > 7;");
  const auto problems = Verify().problems;
  EXPECT_THAT(problems, Contains(P(ProblemKind::kMissingEntries, 7)));
  EXPECT_THAT(problems, ::testing::Not(Contains(Field("kind", &Problem::kind, ProblemKind::kReorderedEntry))));
}

TEST_F(VerifierTest, ChangedChainValue) {
  Sql(f_.db(), "UPDATE entries SET chain = zeroblob(32) WHERE seq = 7");
  // The Merkle tree is over the entries, which are intact: only the chain is wrong.
  EXPECT_THAT(Verify().problems, ElementsAre(P(ProblemKind::kBrokenChain, 7)));
}

TEST_F(VerifierTest, TwoNeighbouringChainValuesChanged) {
  Sql(f_.db(), "UPDATE entries SET chain = zeroblob(32) WHERE seq IN (7, 8)");
  // Row 7 cannot be told apart (row 8 follows from neither of its values); row 8 is judged on its own
  // against row 7's recomputed value, and row 9, intact, is not reported.
  EXPECT_THAT(Verify().problems, ElementsAre(P(ProblemKind::kBrokenChain, 7), P(ProblemKind::kBrokenChain, 8)));
}

TEST_F(VerifierTest, AChangedChainValueDoesNotHideAModifiedEntryAfterIt) {
  std::string e = Entry(8);
  e.replace(e.find("password-8"), 10, "password-X");
  SetEntry(8, e);
  for (const char* damage : {"zeroblob(32)", "x'00'"}) {  // a wrong value, and one that is not 32 bytes
    Sql(f_.db(), std::string("UPDATE entries SET chain = ") + damage + " WHERE seq = 7");
    EXPECT_THAT(Verify().problems,
                ElementsAre(P(ProblemKind::kBrokenChain, 7), P(ProblemKind::kModifiedEntry, 8),
                            P(ProblemKind::kCheckpointMismatch, 10), P(ProblemKind::kCheckpointMismatch, 15),
                            P(ProblemKind::kCheckpointMismatch, 20)))
        << damage;
  }
}

TEST_F(VerifierTest, TruncatedTailIsCaughtByTheStoredCheckpoint) {
  Sql(f_.db(), "DELETE FROM entries WHERE seq > 17");
  EXPECT_THAT(Verify().problems, ElementsAre(P(ProblemKind::kTruncatedOrRolledBack, 20)));
}

TEST_F(VerifierTest, TruncatedTailWithCheckpointsRemovedNeedsAKeptCheckpoint) {
  const auto kept = Exported();
  Sql(f_.db(), "DELETE FROM entries WHERE seq > 17; DELETE FROM checkpoints WHERE size > 17;");
  // Without a checkpoint kept elsewhere, a cut-off tail cannot be seen: the security model says so.
  EXPECT_THAT(Verify().problems, IsEmpty());
  EXPECT_THAT(Verify(kept).problems, ElementsAre(P(ProblemKind::kTruncatedOrRolledBack, 20)));
}

TEST_F(VerifierTest, OlderCopyRestoredOverANewerOne) {
  const std::string old_copy = f_.dir() + "/old.db";
  std::filesystem::copy_file(f_.db(), old_copy);
  {
    auto log = AuditLog::Open(f_.Options());
    ASSERT_THAT(log, IsOk());
    for (int i = 21; i <= 25; ++i) ASSERT_THAT(AppendAndWait(**log, {Record(i)}), IsOk());
    ASSERT_THAT((*log)->Close(), IsOk());
  }
  const auto kept = Exported();  // the auditor kept the checkpoint of size 25
  std::filesystem::copy_file(old_copy, f_.db(), std::filesystem::copy_options::overwrite_existing);
  EXPECT_THAT(Verify().problems, IsEmpty());  // internally consistent: only the kept checkpoint can tell
  EXPECT_THAT(Verify(kept).problems, ElementsAre(P(ProblemKind::kTruncatedOrRolledBack, 25)));
}

TEST_F(VerifierTest, RolledBackAndRegrownLogDisagreesWithAKeptCheckpoint) {
  const std::string old_copy = f_.dir() + "/old.db";
  std::filesystem::copy_file(f_.db(), old_copy);
  {
    auto log = AuditLog::Open(f_.Options());
    ASSERT_THAT(AppendAndWait(**log, {Record(21)}), IsOk());
    ASSERT_THAT((*log)->Close(), IsOk());
  }
  const auto kept = Exported();
  // Restore the old copy and regrow it with a different entry 21, behind the export file's back.
  std::filesystem::copy_file(old_copy, f_.db(), std::filesystem::copy_options::overwrite_existing);
  auto o = f_.Options();
  o.export_path = f_.dir() + "/elsewhere.notes";
  {
    auto log = AuditLog::Open(o);
    ASSERT_THAT(log, IsOk());
    ASSERT_THAT(AppendAndWait(**log, {Record(99)}), IsOk());
    ASSERT_THAT((*log)->Close(), IsOk());
  }
  EXPECT_THAT(Verify(kept).problems, ElementsAre(P(ProblemKind::kTruncatedOrRolledBack, 21)));
}

TEST_F(VerifierTest, WalDeletedBeforeCheckpointing) {
  // A second session writes entries that live only in the WAL while the server runs; a copy of the main
  // file alone (the WAL lost) is an older log, and the exported checkpoint shows it.
  auto log = AuditLog::Open(f_.Options());
  ASSERT_THAT(log, IsOk());
  for (int i = 21; i <= 24; ++i) ASSERT_THAT(AppendAndWait(**log, {Record(i)}), IsOk());
  ASSERT_THAT((*log)->CheckpointNow(), IsOk());
  const std::string copy = f_.dir() + "/copy.db";
  std::filesystem::copy_file(f_.db(), copy);  // the main file only: no -wal beside the copy
  const auto kept = Exported();
  VerifyOptions o;
  o.trusted_keys = {f_.verifier()};
  o.kept_checkpoints = kept;
  auto r = VerifyLog(copy, o);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->entries_checked, 20);
  EXPECT_THAT(r->problems, ElementsAre(P(ProblemKind::kTruncatedOrRolledBack, 24)));
  EXPECT_FALSE(std::filesystem::exists(copy + "-wal"));  // opened immutable: nothing created beside it
  EXPECT_FALSE(std::filesystem::exists(copy + "-shm"));
  ASSERT_THAT((*log)->Close(), IsOk());
}

TEST_F(VerifierTest, ACopyWithItsWalIsReadInADirectoryWhereNothingCanBeCreated) {
  // An auditor's copy of the database and its -wal in a read-only directory: SQLite's shared-memory
  // index (-shm) cannot be created there. Root may write anywhere, so then the check runs in a child
  // that has become "nobody".
  auto log = AuditLog::Open(f_.Options());
  ASSERT_THAT(log, IsOk());
  for (int i = 21; i <= 24; ++i) ASSERT_THAT(AppendAndWait(**log, {Record(i)}), IsOk());
  char tmpl[] = "/tmp/keyward-ro-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::filesystem::copy_file(f_.db(), dir + "/audit.db");
  std::filesystem::copy_file(f_.db() + "-wal", dir + "/audit.db-wal");
  ASSERT_THAT((*log)->Close(), IsOk());
  ::chmod((dir + "/audit.db").c_str(), 0644);
  ::chmod((dir + "/audit.db-wal").c_str(), 0644);
  ::chmod(dir.c_str(), 0555);
  VerifyOptions o;
  o.trusted_keys = {f_.verifier()};
  o.kept_checkpoints = Exported();
  // 0: verified, 24 entries, no problem; 1: a problem; 2: could not be read; 3: wrong count.
  auto check = [&]() -> int {
    auto r = VerifyLog(dir + "/audit.db", o);
    if (!r.has_value()) return 2;
    if (!r->problems.empty()) return 1;
    return r->entries_checked == 24 ? 0 : 3;  // the four entries only in the WAL included
  };
  int outcome = 0;
  if (::geteuid() == 0) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(4);
      ::_exit(check());
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    outcome = WEXITSTATUS(status);
  } else {
    outcome = check();
  }
  EXPECT_EQ(outcome, 0);
  EXPECT_FALSE(std::filesystem::exists(dir + "/audit.db-shm"));
  ::chmod(dir.c_str(), 0755);
  std::filesystem::remove_all(dir);
}

TEST_F(VerifierTest, AlteredCheckpointSignature) {
  Sql(f_.db(), "UPDATE checkpoints SET note = replace(note, substr(note, length(note) - 10, 4), 'AAAA') WHERE size = 10");
  EXPECT_THAT(Verify().problems, ElementsAre(P(ProblemKind::kBadSignature, 10)));
}

TEST_F(VerifierTest, CheckpointSignedOnlyByAnUnknownKey) {
  auto other = SigningKey::Generate(f_.origin());
  ASSERT_THAT(other, IsOk());
  SQLite::Database db(f_.db(), SQLite::OPEN_READWRITE);
  SQLite::Statement q(db, "SELECT note FROM checkpoints WHERE size = 15");
  ASSERT_TRUE(q.executeStep());
  const std::string text = ParseNote(q.getColumn(0).getString())->text;
  q.reset();
  SQLite::Statement u(db, "UPDATE checkpoints SET note = ? WHERE size = 15");
  u.bind(1, *SignNote(text, *other));
  u.exec();
  const auto problems = Verify().problems;
  ASSERT_THAT(problems, ElementsAre(P(ProblemKind::kBadSignature, 15)));
  EXPECT_THAT(problems[0].detail, ::testing::HasSubstr("no trusted key signed"));
  // Trusting the other key too (key rotation) makes it valid again.
  EXPECT_THAT(Verify({}, {f_.verifier(), other->verifier()}).problems, IsEmpty());
}

TEST_F(VerifierTest, KeptCheckpointOfAnotherLogIsIgnored) {
  AuditFixture other("keyward.test/other");
  {
    auto log = AuditLog::Open(other.Options());
    ASSERT_THAT(AppendAndWait(**log, {Record(1)}), IsOk());
    ASSERT_THAT((*log)->Close(), IsOk());
  }
  const auto kept = SplitNotes(*ReadFile(other.export_path(), 1 << 20));
  const VerifyReport r = Verify(kept);
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_EQ(r.kept_other_origin, 1);
}

TEST_F(VerifierTest, RangeVerificationChecksRowsInTheRangeAndTheCheckpointsThatCoverThem) {
  std::string e = Entry(12);
  e.replace(e.find("password-12"), 11, "password-99");
  SetEntry(12, e);
  VerifyReport r = VerifyRange(11, 13);
  EXPECT_EQ(r.entries_checked, 3);
  // Rows 14 and 15 are read as leaves so that checkpoint 15, the first to cover the range, is compared;
  // checkpoint 20 is not.
  EXPECT_THAT(r.problems, ElementsAre(P(ProblemKind::kModifiedEntry, 12), P(ProblemKind::kCheckpointMismatch, 15)));
  EXPECT_EQ(r.checkpoints_valid, 2);
  EXPECT_EQ(r.checkpoints_not_compared, 1);
  // Entry 12 is before this range, but every checkpoint from 15 on commits to it.
  r = VerifyRange(13, 20);
  EXPECT_EQ(r.entries_checked, 8);
  EXPECT_THAT(r.problems, ElementsAre(P(ProblemKind::kCheckpointMismatch, 15), P(ProblemKind::kCheckpointMismatch, 20)));
}

TEST_F(VerifierTest, RangeEndingBeforeARewriteWithARecomputedChainStillSeesIt) {
  // Entry 12 changed and every later chain value recomputed: the chain holds, only checkpoints tell.
  std::string e = Entry(12);
  e.replace(e.find("password-12"), 11, "password-99");
  SetEntry(12, e);
  {
    SQLite::Database db(f_.db(), SQLite::OPEN_READWRITE);
    SQLite::Statement q(db, "SELECT chain FROM entries WHERE seq = 11");
    ASSERT_TRUE(q.executeStep());
    Digest chain{};
    std::memcpy(chain.data(), q.getColumn(0).getBlob(), chain.size());
    q.reset();
    for (int seq = 12; seq <= 20; ++seq) {
      chain = ChainNext(chain, EntryHash(Entry(seq)));
      SQLite::Statement u(db, "UPDATE entries SET chain = ? WHERE seq = ?");
      u.bind(1, chain.data(), static_cast<int>(chain.size()));
      u.bind(2, seq);
      u.exec();
    }
  }
  EXPECT_THAT(VerifyRange(1, 12).problems, ElementsAre(P(ProblemKind::kCheckpointMismatch, 15)));
  EXPECT_THAT(VerifyRange(11, 12).problems, ElementsAre(P(ProblemKind::kCheckpointMismatch, 15)));
}

TEST_F(VerifierTest, RangeStillReportsACheckpointBeyondTheEndOfTheLog) {
  const auto kept = Exported();
  Sql(f_.db(), "DELETE FROM entries WHERE seq > 17; DELETE FROM checkpoints WHERE size > 17;");
  for (const auto& [from, to] : {std::pair<std::int64_t, std::int64_t>{1, 4}, {2, INT64_MAX}, {16, 17}}) {
    EXPECT_THAT(VerifyRange(from, to, kept).problems, ElementsAre(P(ProblemKind::kTruncatedOrRolledBack, 20)))
        << from << ".." << to;
  }
}

TEST_F(VerifierTest, RangeAfterAMissingRowReportsThatRowOnly) {
  Sql(f_.db(), "DELETE FROM entries WHERE seq = 10");
  // The tree misses a leaf from 10 on: checkpoint 10 (read before the range) and the first one
  // covering the range (15, reached at seq 16) do not match.
  EXPECT_THAT(VerifyRange(11, 12).problems,
              ElementsAre(P(ProblemKind::kMissingEntries, 10), P(ProblemKind::kCheckpointMismatch, 10),
                          P(ProblemKind::kCheckpointMismatch, 15)));
  // Without checkpoints to compare, the chain's starting point is still the last row before the range.
  Sql(f_.db(), "DELETE FROM checkpoints");
  EXPECT_THAT(VerifyRange(11, 12).problems, ElementsAre(P(ProblemKind::kMissingEntries, 10)));
}

TEST_F(VerifierTest, StoredCheckpointInAnotherSizesRowIsABadSignature) {
  Sql(f_.db(), "UPDATE checkpoints SET size = 12 WHERE size = 10");
  EXPECT_THAT(Verify().problems, ElementsAre(P(ProblemKind::kBadSignature, 12)));
}

TEST_F(VerifierTest, AFileUnreadableHalfwayKeepsWhatWasFoundAndReportsTheRest) {
  Build(400);  // entries 21..420 (Record(1..400)): many pages
  std::string e = Entry(3);
  e.replace(e.find("password-3"), 10, "password-9");
  SetEntry(3, e);
  // Make the b-tree page holding entry 300 unreadable: its page-type byte becomes invalid.
  std::string bytes = *ReadFile(f_.db(), 64 << 20);
  const std::size_t page_size = 4096;
  const std::size_t at = bytes.find("password-300\"");
  ASSERT_NE(at, std::string::npos);
  bytes[at / page_size * page_size] = '\x7f';
  {
    std::ofstream out(f_.db(), std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good());
  }
  VerifyOptions o;
  o.trusted_keys = {f_.verifier()};
  auto r = VerifyLog(f_.db(), o);
  ASSERT_THAT(r, IsOk());  // damage, not an unreadable file: reported, exit 1
  ASSERT_GE(r->problems.size(), 2u);
  EXPECT_THAT(r->problems[0], P(ProblemKind::kModifiedEntry, 3));
  EXPECT_EQ(r->problems.back().kind, ProblemKind::kCorruptDatabase);
  EXPECT_GT(r->problems.back().seq, 5);
  EXPECT_LE(r->problems.back().seq, 320);  // "password-300" is entry 320
  EXPECT_GT(r->checkpoints_not_compared, 0);
}

TEST_F(VerifierTest, AnAbsolutePathWithALeadingDoubleSlashOpens) {
  ASSERT_EQ(f_.db().front(), '/');
  VerifyOptions o;
  o.trusted_keys = {f_.verifier()};
  auto r = VerifyLog("/" + f_.db(), o);  // "//tmp/...": not a URI authority
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->problems, IsEmpty());
  EXPECT_EQ(r->entries_checked, 20);
}

TEST_F(VerifierTest, UnreadableDatabases) {
  VerifyOptions o;
  EXPECT_THAT(VerifyLog(f_.dir() + "/nope.db", o), StatusIs(StatusCode::kNotFound));
  Sql(f_.dir() + "/other.db", "CREATE TABLE t(x)");
  EXPECT_THAT(VerifyLog(f_.dir() + "/other.db", o), StatusIs(StatusCode::kInvalidArgument));
}

// Every single-bit flip of every entry and chain value of a small log is reported at its seq.
class BitFlipTest : public VerifierTest {
 protected:
  void SetUp() override { Build(3); }
};

TEST_F(BitFlipTest, EveryBitOfEveryEntry) {
  SQLite::Database db(f_.db(), SQLite::OPEN_READWRITE);
  db.exec("PRAGMA synchronous=OFF");
  VerifyOptions o;
  o.trusted_keys = {f_.verifier()};
  int flips = 0;
  for (std::int64_t seq = 1; seq <= 3; ++seq) {
    const std::string original = Entry(seq);
    for (std::size_t byte = 0; byte < original.size(); ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string flipped = original;
        flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
        SQLite::Statement u(db, "UPDATE entries SET entry = ? WHERE seq = ?");
        u.bind(1, flipped.data(), static_cast<int>(flipped.size()));
        u.bind(2, seq);
        u.exec();
        auto r = VerifyLog(f_.db(), o);
        ASSERT_THAT(r, IsOk());
        ASSERT_FALSE(r->problems.empty()) << "seq " << seq << " byte " << byte << " bit " << bit;
        const Problem& p = r->problems.front();
        EXPECT_EQ(p.seq, seq) << "byte " << byte << " bit " << bit;
        EXPECT_TRUE(p.kind == ProblemKind::kModifiedEntry || p.kind == ProblemKind::kUndecodableEntry ||
                    p.kind == ProblemKind::kReorderedEntry)
            << ProblemKindName(p.kind) << " at seq " << seq << " byte " << byte << " bit " << bit;
        ++flips;
      }
    }
    SetEntry(seq, original);
  }
  EXPECT_GT(flips, 3 * 8 * 300);
}

TEST_F(BitFlipTest, EveryBitOfEveryChainValue) {
  SQLite::Database db(f_.db(), SQLite::OPEN_READWRITE);
  db.exec("PRAGMA synchronous=OFF");
  VerifyOptions o;
  o.trusted_keys = {f_.verifier()};
  for (std::int64_t seq = 1; seq <= 3; ++seq) {
    for (int bit = 0; bit < 256; ++bit) {
      db.exec("UPDATE entries SET chain = (SELECT chain FROM entries WHERE seq = " + std::to_string(seq) +
              ") WHERE seq = " + std::to_string(seq));
      SQLite::Statement q(db, "SELECT chain FROM entries WHERE seq = ?");
      q.bind(1, seq);
      ASSERT_TRUE(q.executeStep());
      std::string chain = q.getColumn(0).getString();
      q.reset();
      chain[static_cast<std::size_t>(bit / 8)] = static_cast<char>(chain[static_cast<std::size_t>(bit / 8)] ^ (1 << (bit % 8)));
      SQLite::Statement u(db, "UPDATE entries SET chain = ? WHERE seq = ?");
      u.bind(1, chain.data(), 32);
      u.bind(2, seq);
      u.exec();
      auto r = VerifyLog(f_.db(), o);
      ASSERT_THAT(r, IsOk());
      ASSERT_THAT(r->problems, ::testing::SizeIs(1)) << "seq " << seq << " bit " << bit;
      EXPECT_EQ(r->problems[0].seq, seq);
      // The last row has no successor to tell a changed chain value from a changed entry.
      EXPECT_EQ(r->problems[0].kind, seq < 3 ? ProblemKind::kBrokenChain : ProblemKind::kModifiedEntry);
      chain[static_cast<std::size_t>(bit / 8)] = static_cast<char>(chain[static_cast<std::size_t>(bit / 8)] ^ (1 << (bit % 8)));
      u.reset();
      u.bind(1, chain.data(), 32);
      u.bind(2, seq);
      u.exec();
    }
  }
  EXPECT_THAT(Verify().problems, IsEmpty());
}

}  // namespace
}  // namespace keyward::audit
