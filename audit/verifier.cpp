#include "audit/verifier.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/merkle.h"
#include "audit/reader.h"

namespace keyward::audit {
namespace {

// One row as the verifier sees it.
struct Row {
  std::int64_t seq = 0;
  std::string entry;
  bool chain_ok = false;  // the chain blob is 32 bytes
  Digest chain{};
  bool decodable = false;
  std::string decode_error;
  std::int64_t embedded = 0;  // the entry's own seq
  std::string time;
  Digest entry_hash{};
};

// A checkpoint to compare with the recomputed tree.
struct Expectation {
  Checkpoint checkpoint;
  bool kept = false;  // from the auditor (else stored in the database)
};

class Verifier {
 public:
  explicit Verifier(VerifyReport* report) : report_(report) {}

  // The next row, to be filled in place: its buffers keep their capacity from row to row, so the hot
  // loop does not allocate.
  Row& Slot() { return ring_[(count_) % 3]; }

  // Takes the row filled in Slot(). Each row is decided once the row after it is known.
  void Push() {
    ++count_;
    if (count_ >= 2) Process(At(count_ - 2), count_ >= 3 ? &At(count_ - 3) : nullptr, &At(count_ - 1));
  }

  void Finish() {
    if (count_ >= 1) Process(At(count_ - 1), count_ >= 2 ? &At(count_ - 2) : nullptr, nullptr);
  }

  void SetChainBefore(Digest chain, std::int64_t seq) {
    base_chain_ = chain;
    recomputed_ = chain;
    base_seq_ = seq;
  }
  void ExpectCheckpoints(std::vector<Expectation> e) {
    for (Expectation& x : e) expectations_.emplace(x.checkpoint.size, std::move(x));
  }
  const CompactRange& tree() const { return tree_; }
  std::multimap<std::uint64_t, Expectation>& expectations() { return expectations_; }

  // The tree over every row read, in order, whether or not it is in the range checked row by row: a
  // checkpoint commits to all the entries before it.
  void AddLeaf(std::string_view entry) {
    tree_.Append(LeafHash(entry));
    auto [lo, hi] = expectations_.equal_range(tree_.size());
    if (lo != hi) {
      const Digest root = tree_.Root();
      for (auto it = lo; it != hi; ++it) Compare(it->second, root);
      expectations_.erase(lo, hi);
    }
  }

 private:
  void Report(ProblemKind kind, std::int64_t seq, std::int64_t last, std::string detail) {
    report_->problems.push_back(Problem{kind, seq, last, std::move(detail)});
  }

  // Decides about `row`, knowing the row before it (null for the first) and the one after (null for the last).
  void Process(Row& row, Row* prev, Row* next) {
    ++report_->entries_checked;
    if (report_->first_seq == 0) report_->first_seq = row.seq;
    report_->last_seq = row.seq;
    if (row.decodable) {
      if (report_->first_time.empty()) report_->first_time = row.time;
      report_->last_time = row.time;
    }
    const std::int64_t expected_seq = prev ? prev->seq + 1 : base_seq_ + 1;
    bool gap = false;
    if (row.seq < expected_seq) {
      // An INTEGER PRIMARY KEY scan is in seq order on any sound file; out of order, the b-tree is broken
      // (a file cut short or overwritten), and gaps or reorderings computed from it would mislead.
      gap = true;
      Report(ProblemKind::kCorruptDatabase, row.seq, row.seq,
             "row " + std::to_string(row.seq) + " comes after row " + std::to_string(expected_seq - 1) +
                 ": the database file is damaged (sqlite3 FILE 'PRAGMA integrity_check' says where)");
    } else if (row.seq != expected_seq) {
      gap = true;
      Report(ProblemKind::kMissingEntries, expected_seq, row.seq - 1,
             "rows " + std::to_string(expected_seq) + ".." + std::to_string(row.seq - 1) + " are missing");
    }
    bool flagged = false;  // this row's own damage is reported; its chain mismatch is a consequence
    bool chain_value_suspect = false;  // this row's stored chain value may itself be displaced
    if (!row.decodable) {
      flagged = true;
      Report(ProblemKind::kUndecodableEntry, row.seq, row.seq, row.decode_error);
    } else if (const std::int64_t d = row.seq - row.embedded; d != 0) {
      const bool shift_continues = next && next->decodable && next->seq - next->embedded == d;
      if (shift_ == d) {
        // inside a shifted run reported already: rows moved with their chain values, links hold
      } else if (shift_continues) {
        flagged = chain_value_suspect = true;
        shift_ = d;
        if (d > 0) {
          Report(ProblemKind::kInsertedEntry, row.seq - d, row.seq - 1,
                 std::to_string(d) + " row(s) inserted before seq " + std::to_string(row.seq) +
                     "; from there on each row holds the entry of the position " + std::to_string(d) + " before it");
        } else {
          Report(ProblemKind::kMissingEntries, row.embedded + d, row.embedded - 1,
                 std::to_string(-d) + " entr" + (d == -1 ? "y" : "ies") + " removed before seq " +
                     std::to_string(row.seq) + " and the later rows renumbered to hide the gap");
        }
      } else {
        flagged = chain_value_suspect = true;
        Report(ProblemKind::kReorderedEntry, row.seq, row.seq,
               "row " + std::to_string(row.seq) + " holds the entry of seq " + std::to_string(row.embedded));
      }
    }
    if (row.decodable && row.seq == row.embedded) shift_ = 0;

    // The chain link into this row. It holds when the stored chain value follows from the previous
    // row's stored value or from its recomputed one (the value it should have had, when that row's
    // link failed): so a damaged row does not make the next one look damaged too, and each row is
    // judged on its own.
    const bool have_prev_chain = prev ? prev->chain_ok : true;
    const Digest prev_stored = prev ? prev->chain : base_chain_;
    const Digest via_recomputed = ChainNext(recomputed_, row.entry_hash);
    bool holds = row.chain_ok && via_recomputed == row.chain;
    if (row.chain_ok && !holds && have_prev_chain && prev_stored != recomputed_) {  // else the same hash again
      holds = ChainNext(prev_stored, row.entry_hash) == row.chain;
    }
    if (!row.chain_ok) {
      Report(ProblemKind::kBrokenChain, row.seq, row.seq, "the stored chain value is not 32 bytes");
    } else if (!holds && !(gap || flagged || prev_chain_suspect_)) {
      if (next && next->chain_ok && ChainNext(via_recomputed, next->entry_hash) == next->chain) {
        Report(ProblemKind::kBrokenChain, row.seq, row.seq,
               "the stored chain value was changed: it does not follow from seq " + std::to_string(row.seq - 1) +
                   ", and seq " + std::to_string(row.seq + 1) + " follows from the correct value");
      } else if (next && next->chain_ok && ChainNext(row.chain, next->entry_hash) == next->chain) {
        Report(ProblemKind::kModifiedEntry, row.seq, row.seq,
               "the entry does not hash to its chain link; the chain continues from the stored value");
      } else if (!next) {
        Report(ProblemKind::kModifiedEntry, row.seq, row.seq,
               "the last entry, or its chain value, was changed: it does not follow from seq " +
                   std::to_string(row.seq - 1));
      } else {
        Report(ProblemKind::kBrokenChain, row.seq, row.seq,
               "neither the entry nor the chain value follows from seq " + std::to_string(row.seq - 1) +
                   " (the next row does not follow from either: it is damaged too)");
      }
    }
    recomputed_ = holds ? row.chain : via_recomputed;
    prev_chain_suspect_ = chain_value_suspect;
  }


  void Compare(const Expectation& e, const Digest& root) {
    const auto size = static_cast<std::int64_t>(e.checkpoint.size);
    if (root == e.checkpoint.root) {
      if (e.kept) {
        ++report_->kept_valid;
      } else {
        ++report_->checkpoints_valid;
      }
      return;
    }
    if (e.kept) {
      Report(ProblemKind::kTruncatedOrRolledBack, size, size,
             "the log's tree at size " + std::to_string(size) +
                 " is not the one the kept checkpoint commits to: the log was rewritten or rolled back");
    } else {
      Report(ProblemKind::kCheckpointMismatch, size, size,
             "the entries up to size " + std::to_string(size) + " do not have the root of the signed checkpoint");
    }
  }

  Row& At(std::uint64_t i) { return ring_[i % 3]; }

  VerifyReport* report_;
  std::array<Row, 3> ring_;
  std::uint64_t count_ = 0;  // rows pushed
  std::int64_t shift_ = 0;
  bool prev_chain_suspect_ = false;  // the previous row was displaced (reordered, inserted, shifted)
  Digest recomputed_ = kZeroChain;    // the chain value the previous row should have
  Digest base_chain_ = kZeroChain;
  std::int64_t base_seq_ = 0;
  CompactRange tree_;
  std::multimap<std::uint64_t, Expectation> expectations_;
};

}  // namespace

std::string_view ProblemKindName(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::kUndecodableEntry: return "undecodable-entry";
    case ProblemKind::kModifiedEntry: return "modified-entry";
    case ProblemKind::kBrokenChain: return "broken-chain";
    case ProblemKind::kMissingEntries: return "missing-entries";
    case ProblemKind::kReorderedEntry: return "reordered-entry";
    case ProblemKind::kInsertedEntry: return "inserted-entry";
    case ProblemKind::kBadSignature: return "bad-signature";
    case ProblemKind::kCheckpointMismatch: return "checkpoint-mismatch";
    case ProblemKind::kTruncatedOrRolledBack: return "truncated-or-rolled-back";
    case ProblemKind::kCorruptDatabase: return "corrupt-database";
  }
  return "unknown";
}

Result<VerifyReport> VerifyLog(const std::string& db_path, const VerifyOptions& options) {
  KEYWARD_ASSIGN_OR_RETURN(auto reader, AuditReader::Open(db_path));
  VerifyReport report;
  report.path = db_path;
  report.origin = reader->origin();
  Verifier v(&report);

  // Checkpoints: stored ones must be signed by a trusted key and name this log; kept ones likewise.
  std::vector<Expectation> expectations;
  KEYWARD_ASSIGN_OR_RETURN(const auto stored, reader->Checkpoints());
  report.checkpoints_total = static_cast<int>(stored.size());
  for (const db::StoredCheckpoint& sc : stored) {
    auto note = ParseNote(sc.note);
    auto cp = note.has_value() ? ParseCheckpoint(note->text) : Result<Checkpoint>(note.error());
    if (!cp.has_value()) {
      report.problems.push_back({ProblemKind::kBadSignature, sc.size, sc.size, "the stored checkpoint is malformed: " + cp.error().message()});
      continue;
    }
    if (auto signers = VerifyNote(*note, options.trusted_keys); !signers.has_value()) {
      report.problems.push_back({ProblemKind::kBadSignature, sc.size, sc.size, "stored checkpoint: " + signers.error().message()});
      continue;
    }
    if (cp->origin != reader->origin() || static_cast<std::int64_t>(cp->size) != sc.size) {
      report.problems.push_back({ProblemKind::kBadSignature, sc.size, sc.size,
                                 "the stored checkpoint names origin '" + cp->origin + "' and size " +
                                     std::to_string(cp->size) + " in a row of size " + std::to_string(sc.size)});
      continue;
    }
    expectations.push_back({*cp, false});
  }
  for (const std::string& text : options.kept_checkpoints) {
    auto note = ParseNote(text);
    auto cp = note.has_value() ? ParseCheckpoint(note->text) : Result<Checkpoint>(note.error());
    if (cp.has_value() && cp->origin != reader->origin()) {
      ++report.kept_other_origin;
      continue;
    }
    ++report.kept_total;
    if (!cp.has_value()) {
      report.problems.push_back({ProblemKind::kBadSignature, 0, 0, "a kept checkpoint is malformed: " + cp.error().message()});
      continue;
    }
    const auto size = static_cast<std::int64_t>(cp->size);
    if (auto signers = VerifyNote(*note, options.trusted_keys); !signers.has_value()) {
      report.problems.push_back({ProblemKind::kBadSignature, size, size, "kept checkpoint: " + signers.error().message()});
      continue;
    }
    expectations.push_back({*cp, true});
  }

  const std::int64_t from = std::max<std::int64_t>(1, options.from);
  const std::int64_t max_seq = reader->max_seq();
  const std::int64_t to = std::min(options.to, max_seq);
  for (const Expectation& e : expectations) {
    if (e.checkpoint.size != 0) continue;
    if (e.checkpoint.root == EmptyRoot()) {
      ++(e.kept ? report.kept_valid : report.checkpoints_valid);
    } else {
      report.problems.push_back({e.kept ? ProblemKind::kTruncatedOrRolledBack : ProblemKind::kCheckpointMismatch, 0, 0,
                                 "a checkpoint of size 0 must have the empty root"});
    }
  }
  std::erase_if(expectations, [](const Expectation& e) { return e.checkpoint.size == 0; });
  // A checkpoint commits to every entry up to its size, so the tree is built from the first row
  // whatever the range: rows before `from` and after `to` are read and hashed as leaves only, after
  // `to` up to the first checkpoint that covers the range (the one that would reveal a rewrite inside
  // it). Checkpoints beyond that one are not compared, and the report says so.
  const bool trees = !expectations.empty();
  v.ExpectCheckpoints(std::move(expectations));
  if (!trees && from > 1) {
    KEYWARD_ASSIGN_OR_RETURN(const auto before, reader->LastBefore(from));
    if (before.has_value()) {
      Digest d{};
      if (db::ToDigest(before->second, &d)) v.SetChainBefore(d, before->first);
    }
  }
  const std::int64_t walk_from = trees ? 1 : from;
  const std::int64_t total = trees ? max_seq : (to >= from ? to - from + 1 : 0);
  std::uint64_t covering_size = 0;  // after `to`: the size of the checkpoint that covers the range
  bool stopped_early = false;
  std::int64_t next_seq = walk_from;
  Status walk = reader->ForEach(walk_from, max_seq, [&](std::int64_t seq, std::string_view entry, std::string_view chain) {
    next_seq = seq + 1;
    if (options.progress && (seq & 0xFFFF) == 0) options.progress(seq - walk_from + 1, total);
    if (seq < from) {
      Digest d{};
      if (db::ToDigest(chain, &d)) v.SetChainBefore(d, seq);
      v.AddLeaf(entry);
      return true;
    }
    if (seq > to) {
      if (covering_size == 0) {
        const auto it = v.expectations().lower_bound(v.tree().size() + 1);
        if (it == v.expectations().end()) {
          stopped_early = true;
          return false;
        }
        covering_size = it->first;
      }
      v.AddLeaf(entry);
      if (v.tree().size() >= covering_size) {
        stopped_early = seq < max_seq;
        return false;
      }
      return true;
    }
    Row& row = v.Slot();
    row.seq = seq;
    row.entry.assign(entry);
    row.chain_ok = db::ToDigest(chain, &row.chain);
    std::string_view time;
    if (Status s = ScanEntry(entry, &row.embedded, &time); s.ok()) {
      row.decodable = true;
      row.time.assign(time);
      row.decode_error.clear();
    } else {
      row.decodable = false;
      row.decode_error = s.message();
    }
    row.entry_hash = EntryHash(entry);
    if (trees) v.AddLeaf(entry);
    v.Push();
    return true;
  });
  v.Finish();
  if (!walk.ok()) {
    // The rows read so far are verified and reported; the rest of the file cannot be read.
    report.problems.push_back({ProblemKind::kCorruptDatabase, next_seq, next_seq,
                               "the database cannot be read after seq " + std::to_string(next_seq - 1) + ": " +
                                   walk.message() + " (sqlite3 FILE 'PRAGMA integrity_check' says where)"});
  }
  if (options.progress) options.progress(total, total);

  // Whatever checkpoint is left was for a size the walk did not reach.
  for (auto& [size, e] : v.expectations()) {
    const auto s = static_cast<std::int64_t>(size);
    if (!walk.ok() || (stopped_early && s <= max_seq)) {
      ++report.checkpoints_not_compared;
      continue;
    }
    report.problems.push_back({ProblemKind::kTruncatedOrRolledBack, s, s,
                               std::string(e.kept ? "a kept" : "a stored") + " checkpoint covers " + std::to_string(size) +
                                   " entries but the log has only " + std::to_string(v.tree().size()) +
                                   ": entries were cut off or an older copy restored"});
  }
  // By seq; at one seq, the row's own problems before those of the checkpoint of that size.
  const auto about_a_checkpoint = [](const Problem& p) {
    return p.kind == ProblemKind::kBadSignature || p.kind == ProblemKind::kCheckpointMismatch ||
           p.kind == ProblemKind::kTruncatedOrRolledBack;
  };
  std::stable_sort(report.problems.begin(), report.problems.end(), [&](const Problem& a, const Problem& b) {
    if (a.seq != b.seq) return a.seq < b.seq;
    return !about_a_checkpoint(a) && about_a_checkpoint(b);
  });
  return report;
}

}  // namespace keyward::audit
