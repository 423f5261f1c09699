// Fuzzes the offline audit verifier (audit/verifier.h) with damaged databases.
//
// Once per process: a real AuditLog (audit/store.h) writes a small log — 24 entries, signed checkpoints
// at 5, 10, 16 and, on Close, 24, with an export file — under a fixed key and clock, so the database is
// the same bytes in every run and corpus inputs keep their meaning. Per input: a fresh copy of it, damaged
// by a sequence of operations the input describes (SQL on rows, chains, checkpoints and meta; then raw
// byte overwrites or truncation of the file), verified with and without the exported checkpoints and
// over a sub-range.
//
// Invariants:
//   - VerifyLog never crashes; its errors are only NotFound / InvalidArgument / Unavailable, and when the
//     damage was done through SQL alone and left meta intact it always returns a report, never an error.
//   - With the exported checkpoints (kept elsewhere): if any entry row (seq >= 1: its bytes, its chain
//     value, or its presence) differs from the original, the report is not OK.
//   - Without them: the same, whenever the stored checkpoints are the original ones.
//   - A stored checkpoint whose (size, signed text) was not among the originals makes the report not OK.
//   - A changed origin or format is never OK.
//   - Reports are well-formed: problems sorted by seq, seq <= last, known kinds, counts consistent,
//     entries_checked == the rows in range (when SQLite's quick_check finds the file consistent).
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <fcntl.h>
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/note.h"
#include "audit/store.h"
#include "audit/verifier.h"
#include "core/file.h"
#include "tests/fuzz/fuzz_check.h"

namespace keyward::audit {
namespace {

constexpr int kEntries = 24;
constexpr const char* kOrigin = "keyward.fuzz/log-1";

struct Row {
  std::string entry;
  std::string chain;
  friend bool operator==(const Row&, const Row&) = default;
};

// What a database holds, as read back through SQLite.
struct Snapshot {
  std::map<std::int64_t, Row> rows;                 // seq >= 1 only: the verifier reads nothing below
  std::set<std::pair<std::int64_t, std::string>> checkpoints;  // (size, signed text), or the whole note when malformed
  std::map<std::string, std::string> meta;
  bool consistent = false;  // SQLite's quick_check passes: the b-trees agree with themselves
};

struct Original {
  std::string dir;
  std::string db_bytes;
  Snapshot snapshot;
  VerifierKey key;
  std::vector<std::string> exported;  // the checkpoint notes of the export file
};
Original* original = nullptr;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "audit_verifier_fuzzer setup: %s\n", what.c_str());
  std::abort();
}

std::string SignedText(const std::string& note) {
  auto parsed = ParseNote(note);
  return parsed.has_value() ? parsed->text : note;
}

std::optional<Snapshot> Read(const std::string& path) {
  try {
    SQLite::Database db("file:" + path + "?immutable=1", SQLite::OPEN_READONLY | SQLite::OPEN_URI);
    Snapshot s;
    SQLite::Statement rows(db, "SELECT seq, entry, chain FROM entries WHERE seq >= 1 ORDER BY seq");
    while (rows.executeStep()) {
      const SQLite::Column e = rows.getColumn(1);
      const SQLite::Column c = rows.getColumn(2);
      Row r;
      r.entry.assign(static_cast<const char*>(e.getBlob()), static_cast<std::size_t>(e.getBytes()));
      r.chain.assign(static_cast<const char*>(c.getBlob()), static_cast<std::size_t>(c.getBytes()));
      s.rows.emplace(rows.getColumn(0).getInt64(), std::move(r));
    }
    SQLite::Statement cps(db, "SELECT size, note FROM checkpoints");
    while (cps.executeStep()) s.checkpoints.emplace(cps.getColumn(0).getInt64(), SignedText(cps.getColumn(1).getString()));
    s.consistent = db.execAndGet("PRAGMA quick_check").getString() == "ok";
    SQLite::Statement meta(db, "SELECT key, value FROM meta");
    while (meta.executeStep()) s.meta.emplace(meta.getColumn(0).getString(), meta.getColumn(1).getString());
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

AuditRecord SampleRecord(int i) {
  AuditRecord r;
  r.request_id = "req-" + std::to_string(i);
  r.principal = i % 3 == 0 ? "pipeline-etl-daily" : "alice";
  r.fabric = "emr-etl";
  r.provider = i % 2 ? "vault" : "dbx";
  r.provider_type = i % 2 ? "vault" : "databricks";
  r.scope = i % 2 ? "secret/data-eng/snowflake" : "sales";
  r.key = i % 5 == 0 ? "cl\xc3\xa9-\xe2\x82\xac-" + std::to_string(i) : "password-" + std::to_string(i);
  r.action = i % 7 == 0 ? "write" : "resolve";
  r.decision = i % 4 == 0 ? "deny" : "allow";
  r.reason = i % 4 == 0 ? "default" : "rule:etl-reads-snowflake";
  r.policy = "e2da45173e969115bb7b88af01dfe75e7c3f413ea44bef00ee73a7fb4378f574";
  r.peer = "10.1.2.3:4000" + std::to_string(i % 10);
  r.detail = i % 6 == 0 ? std::string("tab\there \"quoted\" \\ \x01 nl\n") : "";
  return r;
}

void AppendAndWait(AuditLog& log, AuditRecord r) {
  auto done = std::make_shared<std::promise<bool>>();
  auto finished = done->get_future();
  log.Append({std::move(r)}, [done](Result<SeqRange> s) { done->set_value(s.has_value()); });
  if (finished.wait_for(std::chrono::seconds(30)) != std::future_status::ready) Die("an append never completed");
  if (!finished.get()) Die("an append failed");
}

void BuildOriginal() {
  original = new Original;
  const char* base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string templ = std::string(base) + "/keyward-audit-fuzz-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) Die("mkdtemp");
  original->dir = templ;
  std::atexit([] { std::filesystem::remove_all(original->dir); });
  const std::string db = templ + "/original.db";

  std::array<std::uint8_t, 32> seed{};
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i * 7 + 1);
  auto key = SigningKey::FromSeed(kOrigin, seed);
  if (!key.has_value() || !key->Save(templ + "/audit.key").ok()) Die("signing key");
  original->key = key->verifier();

  AuditOptions o;
  o.path = db;
  o.origin = kOrigin;
  o.signing_key_path = templ + "/audit.key";
  o.export_path = templ + "/checkpoints.notes";
  o.checkpoint_interval = std::chrono::hours(24);
  auto clock = std::make_shared<std::atomic<std::int64_t>>(1767225600000000);  // 2026-01-01T00:00:00Z
  o.now_micros = [clock] { return clock->fetch_add(1234567); };
  o.log = [](const std::string&) {};
  {
    auto log = AuditLog::Open(o);
    if (!log.has_value()) Die("open: " + log.error().ToString());
    for (int i = 1; i <= kEntries; ++i) {
      AppendAndWait(**log, SampleRecord(i));
      if (i == 5 || i == 10 || i == 16) {
        if (!(*log)->CheckpointNow().ok()) Die("checkpoint");
      }
    }
    if (!(*log)->Close().ok()) Die("close");
  }
  if (std::filesystem::exists(db + "-wal")) Die("the closed log left a -wal file");
  auto bytes = ReadFile(db, 1 << 24);
  auto notes = ReadFile(o.export_path, 1 << 20);
  if (!bytes.has_value() || !notes.has_value()) Die("reading the log back");
  original->db_bytes = *bytes;
  original->exported = SplitNotes(*notes);
  auto snapshot = Read(db);
  if (!snapshot || snapshot->rows.size() != kEntries || snapshot->checkpoints.size() != 4) Die("unexpected original");
  original->snapshot = std::move(*snapshot);

  // The original verifies, with and without the kept checkpoints.
  VerifyOptions vo;
  vo.trusted_keys = {original->key};
  vo.kept_checkpoints = original->exported;
  auto report = VerifyLog(db, vo);
  if (!report.has_value() || !report->ok() || report->kept_valid != 4 || report->checkpoints_valid != 4) {
    Die("the original log does not verify");
  }
}

void WriteFile(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) Die("cannot write " + path);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) Die("short write");
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

// --- damage ---------------------------------------------------------------------------------------

std::int64_t PickSeq(FuzzedDataProvider& in) {
  // Mostly existing rows; sometimes the edges.
  return in.ConsumeIntegralInRange<std::int64_t>(-1, kEntries + 2);
}

std::string Column(SQLite::Database& db, const char* table, const char* column, const char* key_column, std::int64_t key) {
  SQLite::Statement q(db, std::string("SELECT ") + column + " FROM " + table + " WHERE " + key_column + " = ?");
  q.bind(1, key);
  if (!q.executeStep()) return "";
  const SQLite::Column c = q.getColumn(0);
  return std::string(static_cast<const char*>(c.getBlob()), static_cast<std::size_t>(c.getBytes()));
}

void SetBlob(SQLite::Database& db, const char* table, const char* column, const char* key_column, std::int64_t key,
             const std::string& value, bool as_text) {
  SQLite::Statement u(db, std::string("UPDATE ") + table + " SET " + column + " = ? WHERE " + key_column + " = ?");
  if (as_text) {
    u.bind(1, value);
  } else {
    u.bind(1, value.data(), static_cast<int>(value.size()));
  }
  u.bind(2, key);
  u.exec();
}

std::string Flip(std::string s, FuzzedDataProvider& in) {
  if (s.empty()) return std::string(1, static_cast<char>(in.ConsumeIntegral<std::uint8_t>()));
  const std::size_t at = in.ConsumeIntegralInRange<std::size_t>(0, s.size() - 1);
  auto x = in.ConsumeIntegral<std::uint8_t>();
  if (x == 0) x = 1;
  s[at] = static_cast<char>(static_cast<std::uint8_t>(s[at]) ^ x);
  return s;
}

// Applies SQL damage. Returns true when meta was touched.
bool DamageWithSql(const std::string& path, FuzzedDataProvider& in) {
  bool meta = false;
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  db.exec("PRAGMA synchronous=OFF");
  const int ops = in.ConsumeIntegralInRange(0, 6);
  for (int i = 0; i < ops && in.remaining_bytes() > 0; ++i) {
    const std::int64_t seq = PickSeq(in);
    switch (in.ConsumeIntegralInRange(0, 14)) {
      case 0:  // flip a byte of an entry
        SetBlob(db, "entries", "entry", "seq", seq, Flip(Column(db, "entries", "entry", "seq", seq), in), in.ConsumeBool());
        break;
      case 1:  // replace an entry with the input's bytes
        SetBlob(db, "entries", "entry", "seq", seq, in.ConsumeRandomLengthString(600), in.ConsumeBool());
        break;
      case 2:  // flip a byte of a chain value
        SetBlob(db, "entries", "chain", "seq", seq, Flip(Column(db, "entries", "chain", "seq", seq), in), false);
        break;
      case 3:  // a chain value of another length
        SetBlob(db, "entries", "chain", "seq", seq, in.ConsumeRandomLengthString(40), in.ConsumeBool());
        break;
      case 4: {  // delete a row
        SQLite::Statement d(db, "DELETE FROM entries WHERE seq = ?");
        d.bind(1, seq);
        d.exec();
        break;
      }
      case 5: {  // copy a row (entry and chain) to another seq
        SQLite::Statement c(db, "INSERT OR REPLACE INTO entries(seq, entry, chain) SELECT ?, entry, chain FROM entries WHERE seq = ?");
        c.bind(1, PickSeq(in));
        c.bind(2, seq);
        c.exec();
        break;
      }
      case 6: {  // renumber a row
        SQLite::Statement r(db, "UPDATE OR REPLACE entries SET seq = ? WHERE seq = ?");
        r.bind(1, PickSeq(in));
        r.bind(2, seq);
        r.exec();
        break;
      }
      case 7: {  // renumber every row from seq on by +/- d (hiding a gap, making room)
        const std::int64_t d = in.ConsumeIntegralInRange<std::int64_t>(-2, 2);
        db.exec("CREATE TEMP TABLE IF NOT EXISTS moved(seq INTEGER PRIMARY KEY, entry BLOB, chain BLOB)");
        db.exec("DELETE FROM moved");
        SQLite::Statement m(db, "INSERT INTO moved SELECT seq + ?, entry, chain FROM entries WHERE seq >= ?");
        m.bind(1, d);
        m.bind(2, seq);
        m.exec();
        SQLite::Statement del(db, "DELETE FROM entries WHERE seq >= ?");
        del.bind(1, seq);
        del.exec();
        db.exec("INSERT OR REPLACE INTO entries SELECT * FROM moved");
        break;
      }
      case 8: {  // swap two entries (chain values stay)
        const std::int64_t other = PickSeq(in);
        const std::string a = Column(db, "entries", "entry", "seq", seq), b = Column(db, "entries", "entry", "seq", other);
        SetBlob(db, "entries", "entry", "seq", seq, b, false);
        SetBlob(db, "entries", "entry", "seq", other, a, false);
        break;
      }
      case 9: {  // flip a byte of a checkpoint note
        const std::int64_t size = in.PickValueInArray<std::int64_t>({5, 10, 16, 24, 0});
        SetBlob(db, "checkpoints", "note", "size", size, Flip(Column(db, "checkpoints", "note", "size", size), in), true);
        break;
      }
      case 10: {  // delete a checkpoint, or move it to another size
        const std::int64_t size = in.PickValueInArray<std::int64_t>({5, 10, 16, 24});
        if (in.ConsumeBool()) {
          SQLite::Statement d(db, "DELETE FROM checkpoints WHERE size = ?");
          d.bind(1, size);
          d.exec();
        } else {
          SQLite::Statement u(db, "UPDATE OR REPLACE checkpoints SET size = ? WHERE size = ?");
          u.bind(1, PickSeq(in));
          u.bind(2, size);
          u.exec();
        }
        break;
      }
      case 11: {  // a checkpoint of the input's text
        SQLite::Statement c(db, "INSERT OR REPLACE INTO checkpoints(size, note) VALUES (?, ?)");
        c.bind(1, PickSeq(in));
        c.bind(2, in.ConsumeRandomLengthString(300));
        c.exec();
        break;
      }
      case 12: {  // meta
        meta = true;
        SQLite::Statement u(db, "UPDATE meta SET value = ? WHERE key = ?");
        u.bind(1, in.ConsumeRandomLengthString(40));
        u.bind(2, in.PickValueInArray<std::string>({"format", "origin", "created", "checkpoint_tree"}));
        u.exec();
        break;
      }
      case 13: {  // an entry of the input's bytes with a chain copied from another row
        SQLite::Statement c(db, "INSERT OR REPLACE INTO entries(seq, entry, chain) SELECT ?, ?, chain FROM entries WHERE seq = ?");
        c.bind(1, PickSeq(in));
        c.bind(2, in.ConsumeRandomLengthString(600));
        c.bind(3, seq);
        c.exec();
        break;
      }
      case 14: {  // a value of another type in a column
        SQLite::Statement u(db, in.ConsumeBool() ? "UPDATE entries SET entry = ? WHERE seq = ?"
                                                  : "UPDATE entries SET chain = ? WHERE seq = ?");
        u.bind(1, in.ConsumeIntegral<std::int64_t>());
        u.bind(2, seq);
        u.exec();
        break;
      }
    }
  }
  return meta;
}

// Raw damage to the file: overwrite some bytes, or cut it short. Returns true when the file changed.
bool DamageBytes(const std::string& path, FuzzedDataProvider& in) {
  const int ops = in.ConsumeIntegralInRange(0, 3);
  if (ops == 0) return false;
  auto bytes = ReadFile(path, 1 << 24);
  if (!bytes.has_value()) Die("reading the copy");
  std::string b = std::move(*bytes);
  for (int i = 0; i < ops && in.remaining_bytes() > 0 && !b.empty(); ++i) {
    if (in.ConsumeIntegralInRange(0, 7) == 0) {
      b.resize(in.ConsumeIntegralInRange<std::size_t>(0, b.size()));
      continue;
    }
    const std::size_t at = in.ConsumeIntegralInRange<std::size_t>(0, b.size() - 1);
    const std::string with = in.ConsumeRandomLengthString(16);
    for (std::size_t j = 0; j < with.size() && at + j < b.size(); ++j) b[at + j] = with[j];
  }
  WriteFile(path, b);
  return true;
}

// --- checks ---------------------------------------------------------------------------------------

// rows_in_range < 0: the file is corrupt below the schema (SQLite's quick_check fails): a scan and
// max(seq) may then disagree, and rows may come back out of order (finding F2: the verifier then reported
// ranges such as missing-entries 19..-1; it now reports corrupt-database). Every problem is well-formed
// whatever the file; the counts and the order of problems are checked on consistent files only.
void CheckWellFormed(const VerifyReport& r, std::int64_t rows_in_range) {
  FUZZ_CHECK(r.checkpoints_valid <= r.checkpoints_total && r.kept_valid <= r.kept_total, "inconsistent counts");
  FUZZ_CHECK(!r.ok() || r.kept_valid == r.kept_total, "OK, but %d of %d kept checkpoints valid", r.kept_valid, r.kept_total);
  for (std::size_t i = 0; i < r.problems.size(); ++i) {
    const Problem& p = r.problems[i];
    FUZZ_CHECK(ProblemKindName(p.kind) != "unknown", "a problem of unknown kind");
    FUZZ_CHECK(p.seq <= p.last, "problem %s: seq %lld > last %lld", std::string(ProblemKindName(p.kind)).c_str(),
               static_cast<long long>(p.seq), static_cast<long long>(p.last));
    FUZZ_CHECK(!p.detail.empty(), "a problem without detail");
    if (i > 0 && rows_in_range >= 0) FUZZ_CHECK(r.problems[i - 1].seq <= p.seq, "problems are not sorted by seq");
  }
  if (rows_in_range < 0) return;
  FUZZ_CHECK(r.entries_checked == rows_in_range, "entries_checked %lld, but %lld rows in range",
             static_cast<long long>(r.entries_checked), static_cast<long long>(rows_in_range));
  FUZZ_CHECK(r.first_seq <= r.last_seq, "first_seq > last_seq");
}

std::string Describe(const VerifyReport& r) {
  std::string out = std::to_string(r.entries_checked) + " entries, checkpoints " + std::to_string(r.checkpoints_valid) +
                    "/" + std::to_string(r.checkpoints_total) + ", kept " + std::to_string(r.kept_valid) + "/" +
                    std::to_string(r.kept_total) + ", problems:";
  for (const Problem& p : r.problems) {
    out += "\n    " + std::string(ProblemKindName(p.kind)) + "@" + std::to_string(p.seq) + ".." + std::to_string(p.last) +
           ": " + p.detail;
  }
  return out;
}

std::string DiffRows(const Snapshot& now) {
  std::string out;
  for (const auto& [seq, row] : original->snapshot.rows) {
    auto it = now.rows.find(seq);
    if (it == now.rows.end()) {
      out += " -" + std::to_string(seq);
    } else if (!(it->second == row)) {
      out += " ~" + std::to_string(seq);
    }
  }
  for (const auto& [seq, row] : now.rows) {
    if (!original->snapshot.rows.count(seq)) out += " +" + std::to_string(seq);
  }
  return out;
}

}  // namespace
}  // namespace keyward::audit

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  keyward::audit::BuildOriginal();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keyward;
  using namespace keyward::audit;
  FuzzedDataProvider in(data, size);
  const std::string path = original->dir + "/work.db";
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  WriteFile(path, original->db_bytes);

  bool meta_touched = false;
  try {
    meta_touched = DamageWithSql(path, in);
  } catch (const SQLite::Exception&) {
    // A statement the damage made impossible (a constraint): keep what was done before it.
  }
  FUZZ_CHECK(!std::filesystem::exists(path + "-wal"), "the damaging connection left a -wal file");
  const bool raw = DamageBytes(path, in);

  const std::optional<Snapshot> now = Read(path);
  const bool rows_differ = now && now->rows != original->snapshot.rows;
  bool unknown_checkpoint = false;
  if (now) {
    for (const auto& cp : now->checkpoints) unknown_checkpoint = unknown_checkpoint || !original->snapshot.checkpoints.count(cp);
  }
  const bool checkpoints_intact = now && now->checkpoints == original->snapshot.checkpoints;
  const bool meta_changed = now && (now->meta.count("format") == 0 || now->meta.count("origin") == 0 ||
                                    now->meta.at("format") != original->snapshot.meta.at("format") ||
                                    now->meta.at("origin") != original->snapshot.meta.at("origin"));

  for (const bool with_kept : {true, false}) {
    VerifyOptions o;
    o.trusted_keys = {original->key};
    if (with_kept) o.kept_checkpoints = original->exported;
    Result<VerifyReport> r = VerifyLog(path, o);
    if (!r.has_value()) {
      const StatusCode c = r.error().code();
      FUZZ_CHECK(c == StatusCode::kNotFound || c == StatusCode::kInvalidArgument || c == StatusCode::kUnavailable,
                 "VerifyLog: %s", r.error().ToString().c_str());
      FUZZ_CHECK(raw || meta_touched, "VerifyLog gave up on a database damaged through SQL only: %s",
                 r.error().ToString().c_str());
      continue;
    }
    if (now) CheckWellFormed(*r, now->consistent ? static_cast<std::int64_t>(now->rows.size()) : -1);
    if (!r->ok()) continue;
    const std::string report = Describe(*r);
    FUZZ_CHECK(!meta_changed, "OK for a database whose format or origin changed: %s", report.c_str());
    FUZZ_CHECK(!unknown_checkpoint, "OK with a stored checkpoint that was never signed: %s", report.c_str());
    if (with_kept || checkpoints_intact) {
      FUZZ_CHECK(!rows_differ, "OK for a database whose entries differ (%s)%s: %s", DiffRows(*now).c_str(),
                 with_kept ? " against the kept checkpoints" : "", report.c_str());
    }
  }

  // A sub-range: only that it holds together.
  VerifyOptions o;
  o.trusted_keys = {original->key};
  o.from = in.ConsumeIntegralInRange<std::int64_t>(-1, kEntries + 2);
  o.to = in.ConsumeIntegralInRange<std::int64_t>(-1, kEntries + 2);
  Result<VerifyReport> r = VerifyLog(path, o);
  if (r.has_value() && now) {
    std::int64_t in_range = 0;
    const auto max_seq = now->rows.empty() ? 0 : now->rows.rbegin()->first;
    for (const auto& [seq, row] : now->rows) in_range += seq >= std::max<std::int64_t>(1, o.from) && seq <= std::min(o.to, max_seq);
    CheckWellFormed(*r, now->consistent ? in_range : -1);
  }
  return 0;
}
