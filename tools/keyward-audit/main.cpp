// keyward-audit: the auditor's tool. Verifies keyward audit logs offline — on a copy, with no server and
// no secrets — and shows, exports and proves their entries. Links keyward::audit only.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/reader.h"
#include "audit/verifier.h"
#include "core/file.h"
#include "core/json.h"
#include "core/utf8.h"
#include "tools/cli.h"

namespace po = boost::program_options;
using keyward::Json;
using keyward::Result;
using keyward::Status;
using keyward::cli::kExitFailed;
using keyward::cli::kExitOk;
using keyward::cli::kExitUsage;
namespace audit = keyward::audit;

namespace {

constexpr const char* kProgram = "keyward-audit";

constexpr const char* kOverview = R"(keyward-audit — verify keyward audit logs offline, and show, export and prove their entries

Usage:
  keyward-audit keygen --out PREFIX --name NAME
  keyward-audit verify DB... --key PUBFILE [--key PUBFILE]... [--checkpoint NOTEFILE]... [--from SEQ] [--to SEQ] [--json]
  keyward-audit show DB [--from SEQ] [--to SEQ] [--principal P] [--fabric F] [--key K] [--decision D] [--json]
  keyward-audit export DB --format jsonl
  keyward-audit checkpoint DB
  keyward-audit prove DB --seq N [--size M]
  keyward-audit prove DB --from-size A --size B
  keyward-audit check-proof PROOFFILE --key PUBFILE [--key PUBFILE]... [--checkpoint NOTEFILE]...
  keyward-audit COMMAND --help
  keyward-audit --version

Commands:
  keygen       Create an Ed25519 signing key: PREFIX.key (mode 0600, for the server) and PREFIX.pub (the
               verifier key, for auditors). NAME is the key's name, usually the log's origin.
  verify       Recompute the hash chain, the Merkle tree at every stored checkpoint and the checkpoints'
               signatures, and check every checkpoint you kept (--checkpoint: a note file, or the server's
               export file) against the log. Reports every problem with its seq and kind, then a summary.
  show         Print entries as a table, optionally filtered.
  export       Print one JSON object per entry, with its seq and chain hash (for SIEM ingestion).
  checkpoint   Print the latest signed checkpoint stored in the log.
  prove        Print an RFC 6962 inclusion proof of entry N in the tree of size M (default: the latest
               checkpoint), or a consistency proof between two tree sizes, as JSON.
  check-proof  Verify a proof printed by prove against a signed checkpoint and trusted keys, without the log.

Databases are opened read-only and never changed. A copied database works without its -wal file,
and with it in a read-only directory.

Exit codes:
  0  everything verified (verify, check-proof) / the command succeeded
  1  a problem was found: the log is damaged, or the proof does not verify
  2  usage error, or a file that cannot be read
  3  internal error (a bug: please report it)
)";

std::string Quote(const std::string& s) { return keyward::Printable(s, 200); }

// Trusted keys from --key files: each file holds one or more verifier-key lines.
Result<std::vector<audit::VerifierKey>> LoadKeys(const std::vector<std::string>& files) {
  std::vector<audit::VerifierKey> keys;
  for (const std::string& f : files) {
    KEYWARD_ASSIGN_OR_RETURN(const std::string text, keyward::ReadFile(f, 1 << 20));
    std::size_t start = 0;
    int in_file = 0;
    while (start < text.size()) {
      std::size_t eol = text.find('\n', start);
      if (eol == std::string::npos) eol = text.size();
      const std::string line = text.substr(start, eol - start);
      start = eol + 1;
      if (line.empty() || line[0] == '#') continue;
      auto key = audit::ParseVerifierKey(line);
      if (!key.has_value()) return key.error().WithContext(f);
      keys.push_back(*key);
      ++in_file;
    }
    if (in_file == 0) return Status::InvalidArgument(f + " holds no verifier key");
  }
  return keys;
}

Result<std::vector<std::string>> LoadNotes(const std::vector<std::string>& files) {
  std::vector<std::string> notes;
  for (const std::string& f : files) {
    KEYWARD_ASSIGN_OR_RETURN(const std::string text, keyward::ReadFile(f, std::size_t{1} << 30));
    const auto in_file = audit::SplitNotes(text);
    if (in_file.empty()) return Status::InvalidArgument(f + " holds no complete signed note");
    // Every byte must belong to a note (each optionally followed by the blank line an export file puts
    // after it): a damaged or cut-short note is evidence that cannot be checked, never something to skip.
    std::size_t pos = 0;
    for (const std::string& n : in_file) {
      const std::size_t at = text.find(n, pos);
      if (at != pos) {
        return Status::InvalidArgument(f + ": bytes " + std::to_string(pos) + ".." + std::to_string(at) +
                                       " are not a whole signed note (damaged?); a checkpoint you kept must be checked, "
                                       "not skipped");
      }
      pos += n.size();
      if (pos < text.size() && text[pos] == '\n') ++pos;
    }
    if (text.find_first_not_of(" \t\r\n", pos) != std::string::npos) {
      return Status::InvalidArgument(f + ": the last " + std::to_string(text.size() - pos) +
                                     " bytes are not a whole signed note (cut short while the server wrote it, or "
                                     "damaged); remove them if they are a partial note, or use a later copy");
    }
    notes.insert(notes.end(), in_file.begin(), in_file.end());
  }
  return notes;
}

int Fail(const Status& s) {
  std::cerr << kProgram << ": " << s.message() << "\n";
  return kExitUsage;
}

void PrintJson(const Json& j) { std::cout << j.dump(2, ' ', false, Json::error_handler_t::replace) << "\n"; }

// --- keygen --------------------------------------------------------------------------------------

int Keygen(const std::vector<std::string>& args) {
  keyward::cli::CommandLine cl(kProgram, false);
  cl.visible.add_options()("out", po::value<std::string>()->required(), "PREFIX: writes PREFIX.key and PREFIX.pub")(
      "name", po::value<std::string>()->required(), "the key's name, e.g. the log origin keyward.example.com/prod-1");
  int code = kExitOk;
  if (!cl.Parse(args, "Usage: keyward-audit keygen --out PREFIX --name NAME", &code)) return code;
  const std::string prefix = cl.Get<std::string>("out");
  auto key = audit::SigningKey::Generate(cl.Get<std::string>("name"));
  if (!key.has_value()) return Fail(key.error());
  if (Status s = key->Save(prefix + ".key"); !s.ok()) return Fail(s);
  const std::string pub = key->verifier().ToString() + "\n";
  FILE* f = std::fopen((prefix + ".pub").c_str(), "wx");
  if (f == nullptr || std::fwrite(pub.data(), 1, pub.size(), f) != pub.size() || std::fclose(f) != 0) {
    return Fail(Status::Unavailable("cannot write " + prefix + ".pub (it must not exist yet)"));
  }
  std::cout << "wrote " << prefix << ".key (signing key, mode 0600: give it to keyward-server only)\n"
            << "wrote " << prefix << ".pub (verifier key: give it to auditors)\n"
            << pub;
  return kExitOk;
}

// --- verify --------------------------------------------------------------------------------------

Json ReportJson(const audit::VerifyReport& r) {
  Json problems = Json::array();
  for (const audit::Problem& p : r.problems) {
    problems.push_back({{"kind", audit::ProblemKindName(p.kind)}, {"seq", p.seq}, {"last", p.last}, {"detail", p.detail}});
  }
  return {{"path", r.path},
          {"origin", r.origin},
          {"ok", r.ok()},
          {"problems", std::move(problems)},
          {"entries_checked", r.entries_checked},
          {"first_seq", r.first_seq},
          {"last_seq", r.last_seq},
          {"first_time", r.first_time},
          {"last_time", r.last_time},
          {"checkpoints", {{"valid", r.checkpoints_valid}, {"total", r.checkpoints_total}}},
          {"kept_checkpoints", {{"valid", r.kept_valid}, {"total", r.kept_total}, {"other_origin", r.kept_other_origin}}},
          {"checkpoints_not_compared", r.checkpoints_not_compared}};
}

void PrintReport(const audit::VerifyReport& r) {
  std::cout << r.path << " (origin " << Quote(r.origin) << ")\n";
  for (const audit::Problem& p : r.problems) {
    const bool checkpoint = p.kind == audit::ProblemKind::kBadSignature ||
                            p.kind == audit::ProblemKind::kCheckpointMismatch ||
                            p.kind == audit::ProblemKind::kTruncatedOrRolledBack;
    std::cout << "  PROBLEM " << audit::ProblemKindName(p.kind) << (checkpoint ? " at size " : " at seq ") << p.seq;
    if (p.last != p.seq) std::cout << ".." << p.last;
    std::cout << ": " << Quote(p.detail) << "\n";
  }
  std::cout << "  entries checked  " << r.entries_checked;
  if (r.entries_checked > 0) std::cout << " (seq " << r.first_seq << ".." << r.last_seq << ")";
  std::cout << "\n";
  if (!r.first_time.empty()) std::cout << "  time range       " << r.first_time << " .. " << r.last_time << "\n";
  std::cout << "  checkpoints      " << r.checkpoints_valid << "/" << r.checkpoints_total << " valid\n";
  std::cout << "  kept checkpoints " << r.kept_valid << "/" << r.kept_total << " valid";
  if (r.kept_other_origin > 0) std::cout << " (" << r.kept_other_origin << " of other logs ignored)";
  std::cout << "\n";
  if (r.checkpoints_not_compared > 0) {
    const bool unreadable_tail = std::any_of(r.problems.begin(), r.problems.end(), [](const audit::Problem& p) {
      return p.kind == audit::ProblemKind::kCorruptDatabase;
    });
    std::cout << "  not compared     " << r.checkpoints_not_compared << " checkpoint(s) "
              << (unreadable_tail ? "beyond the part of the file that could be read\n"
                                  : "after --to (verify without --to to compare them)\n");
  }
  if (r.ok()) {
    std::cout << "  OK\n";
  } else {
    std::cout << "  FAILED: " << r.problems.size() << (r.problems.size() == 1 ? " problem" : " problems") << "\n";
  }
}

int Verify(const std::vector<std::string>& args) {
  keyward::cli::CommandLine cl(kProgram, true);
  cl.visible.add_options()("key", po::value<std::vector<std::string>>()->required(),
                           "a trusted verifier key file (.pub); repeat --key for each key (key rotation)")(
      "checkpoint", po::value<std::vector<std::string>>(),
      "a checkpoint file you kept (note files or export files); repeat --checkpoint for each")(
      "from", po::value<std::int64_t>(), "first seq to check row by row (the tree is still built from seq 1)")(
      "to", po::value<std::int64_t>(),
      "last seq to check row by row (rows after it are read up to the first checkpoint that covers it; later "
      "checkpoints are not compared)");
  cl.hidden.add_options()("db", po::value<std::vector<std::string>>()->required(), "audit database(s)");
  cl.positional.add("db", -1);
  int code = kExitOk;
  if (!cl.Parse(args,
                "Usage: keyward-audit verify DB... --key PUBFILE [--key PUBFILE]... [--checkpoint NOTEFILE]... "
                "[--from SEQ] [--to SEQ] [--json]",
                &code)) {
    return code;
  }
  auto keys = LoadKeys(cl.Get<std::vector<std::string>>("key"));
  if (!keys.has_value()) return Fail(keys.error());
  audit::VerifyOptions o;
  o.trusted_keys = *keys;
  if (cl.Has("checkpoint")) {
    auto notes = LoadNotes(cl.Get<std::vector<std::string>>("checkpoint"));
    if (!notes.has_value()) return Fail(notes.error());
    o.kept_checkpoints = std::move(*notes);
  }
  if (cl.Has("from")) o.from = cl.Get<std::int64_t>("from");
  if (cl.Has("to")) o.to = cl.Get<std::int64_t>("to");
  if (o.from < 1 || o.to < o.from) return Fail(Status::InvalidArgument("--from must be >= 1 and --to >= --from"));
  const bool tty = ::isatty(2) == 1 && !cl.json();
  o.progress = [tty](std::int64_t done, std::int64_t total) {
    if (!tty || total < 200000) return;
    const int width = 40;
    const int filled = static_cast<int>(static_cast<double>(width) * static_cast<double>(done) / static_cast<double>(total));
    std::fprintf(stderr, "\r  [%.*s%*s] %lld/%lld", filled, "========================================", width - filled, "",
                 static_cast<long long>(done), static_cast<long long>(total));
    if (done == total) std::fprintf(stderr, "\n");
  };

  Json logs = Json::array();
  std::set<std::string> origins;
  int failed = 0, unreadable = 0;
  const auto dbs = cl.Get<std::vector<std::string>>("db");
  for (const std::string& db : dbs) {
    auto report = audit::VerifyLog(db, o);
    if (!report.has_value()) {
      ++unreadable;
      if (cl.json()) {
        logs.push_back({{"path", db}, {"ok", false}, {"error", report.error().message()}});
      } else {
        std::cout << db << "\n  ERROR " << report.error().message() << "\n";
      }
      continue;
    }
    origins.insert(report->origin);
    failed += report->ok() ? 0 : 1;
    if (cl.json()) {
      logs.push_back(ReportJson(*report));
    } else {
      PrintReport(*report);
    }
  }
  // A kept checkpoint is evidence about some log: one that names none of the logs verified is a problem
  // (the database's origin, which is not signed, was changed, or the wrong database was given), never
  // something to skip quietly.
  Json unmatched = Json::array();
  for (const std::string& text : o.kept_checkpoints) {
    auto note = audit::ParseNote(text);
    auto cp = note.has_value() ? audit::ParseCheckpoint(note->text) : Result<audit::Checkpoint>(note.error());
    if (!cp.has_value() || origins.contains(cp->origin)) continue;  // a malformed one is reported per log
    unmatched.push_back({{"origin", cp->origin}, {"size", cp->size}});
    if (!cl.json()) {
      std::cout << "PROBLEM a kept checkpoint of origin " << Quote(cp->origin) << " at size " << cp->size
                << " matches none of the logs verified: the wrong database was given, or its origin was changed\n";
    }
  }
  const bool all_ok = failed == 0 && unreadable == 0 && unmatched.empty();
  if (cl.json()) {
    PrintJson({{"ok", all_ok}, {"logs", std::move(logs)}, {"unmatched_kept_checkpoints", std::move(unmatched)}});
  } else if (dbs.size() > 1) {
    std::cout << dbs.size() << " logs: " << dbs.size() - static_cast<std::size_t>(failed + unreadable) << " OK, " << failed
              << " FAILED, " << unreadable << " unreadable\n";
  }
  if (unreadable > 0) return kExitUsage;
  return all_ok ? kExitOk : kExitFailed;
}

// --- show, export, checkpoint ----------------------------------------------------------------------

Result<std::unique_ptr<audit::AuditReader>> OpenDb(const std::string& path) { return audit::AuditReader::Open(path); }

struct Range {
  std::int64_t from = 1, to = INT64_MAX;
};

int Show(const std::vector<std::string>& args) {
  keyward::cli::CommandLine cl(kProgram, true);
  cl.visible.add_options()("from", po::value<std::int64_t>(), "first seq")("to", po::value<std::int64_t>(), "last seq")(
      "principal", po::value<std::string>(), "only this principal")("fabric", po::value<std::string>(), "only this fabric")(
      "key", po::value<std::string>(), "only this key")("decision", po::value<std::string>(), "only allow, deny or error");
  cl.hidden.add_options()("db", po::value<std::string>()->required(), "audit database");
  cl.positional.add("db", 1);
  int code = kExitOk;
  if (!cl.Parse(args,
                "Usage: keyward-audit show DB [--from SEQ] [--to SEQ] [--principal P] [--fabric F] [--key K] "
                "[--decision D] [--json]",
                &code)) {
    return code;
  }
  auto reader = OpenDb(cl.Get<std::string>("db"));
  if (!reader.has_value()) return Fail(reader.error());
  auto filter = [&](const char* name, const std::string& value) {
    return !cl.Has(name) || cl.Get<std::string>(name) == value;
  };
  if (cl.Has("decision")) {
    const std::string d = cl.Get<std::string>("decision");
    if (d != "allow" && d != "deny" && d != "error") {
      std::cerr << kProgram << ": --decision is allow, deny or error, not '" << Quote(d) << "'\n";
      return kExitUsage;
    }
  }
  Json rows = Json::array();
  // One row: fixed columns (wide enough for every action keyward records), no trailing blanks.
  auto row = [](const std::string& seq, const std::string& time, const std::string& principal, const std::string& fabric,
                const std::string& action, const std::string& decision, const std::string& secret,
                const std::string& reason) {
    std::string out;
    for (const auto& [text, width] : {std::pair{&seq, 8u}, {&time, 27u}, {&principal, 20u}, {&fabric, 16u},
                                      {&action, 15u}, {&decision, 8u}, {&secret, 40u}, {&reason, 0u}}) {
      out += *text;  // whole, however long (a Vault path may be a kilobyte): no fixed buffer to cut it
      if (text->size() < width) out.append(width - text->size(), ' ');
      out += ' ';
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    std::printf("%s\n", out.c_str());
  };
  if (!cl.json()) row("SEQ", "TIME", "PRINCIPAL", "FABRIC", "ACTION", "DECISION", "SECRET", "REASON");
  Status s = (*reader)->ForEach(cl.Has("from") ? cl.Get<std::int64_t>("from") : 1,
                                cl.Has("to") ? cl.Get<std::int64_t>("to") : INT64_MAX,
                                [&](std::int64_t seq, std::string_view bytes, std::string_view) {
                                  auto e = audit::DecodeEntry(bytes);
                                  if (!e.has_value()) {
                                    if (cl.json()) {
                                      rows.push_back({{"seq", seq}, {"undecodable", e.error().message()}});
                                    } else {
                                      std::printf("%-8lld (undecodable: %s)\n", static_cast<long long>(seq),
                                                  e.error().message().c_str());
                                    }
                                    return true;
                                  }
                                  const keyward::AuditRecord& r = e->record;
                                  if (!filter("principal", r.principal) || !filter("fabric", r.fabric) ||
                                      !filter("key", r.key) || !filter("decision", r.decision)) {
                                    return true;
                                  }
                                  const std::string secret =
                                      r.provider.empty() ? "" : r.provider + ":" + (r.scope.empty() ? "" : r.scope + "/") + r.key;
                                  if (cl.json()) {
                                    rows.push_back(*keyward::ParseJson(bytes));
                                  } else {
                                    row(std::to_string(seq), e->time, Quote(r.principal), Quote(r.fabric),
                                        Quote(r.action), Quote(r.decision), Quote(secret), Quote(r.reason));
                                  }
                                  return true;
                                });
  if (!s.ok()) return Fail(s);
  if (cl.json()) PrintJson(rows);
  std::fflush(stdout);
  return kExitOk;
}

int Export(const std::vector<std::string>& args) {
  keyward::cli::CommandLine cl(kProgram, false);
  cl.visible.add_options()("format", po::value<std::string>()->default_value("jsonl"), "jsonl (the only format)");
  cl.hidden.add_options()("db", po::value<std::string>()->required(), "audit database");
  cl.positional.add("db", 1);
  int code = kExitOk;
  if (!cl.Parse(args, "Usage: keyward-audit export DB --format jsonl", &code)) return code;
  if (cl.Get<std::string>("format") != "jsonl") return Fail(Status::InvalidArgument("--format must be jsonl"));
  auto reader = OpenDb(cl.Get<std::string>("db"));
  if (!reader.has_value()) return Fail(reader.error());
  const std::string origin = (*reader)->origin();
  Status s = (*reader)->ForEach(1, INT64_MAX, [&](std::int64_t seq, std::string_view bytes, std::string_view chain) {
    Json line;
    auto parsed = keyward::ParseJson(bytes);
    if (parsed.has_value() && parsed->is_object() && audit::DecodeEntry(bytes).has_value()) {
      line = std::move(*parsed);
    } else {
      line = {{"undecodable", true},
              {"entry_base64", audit::Base64Encode(std::span<const std::uint8_t>(
                                   reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()))}};
    }
    line["seq"] = seq;
    line["origin"] = origin;
    line["chain"] = keyward::ToHex(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(chain.data()), chain.size()));
    std::cout << line.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
    return true;
  });
  if (!s.ok()) return Fail(s);
  return kExitOk;
}

int LatestCheckpoint(const std::vector<std::string>& args) {
  keyward::cli::CommandLine cl(kProgram, false);
  cl.hidden.add_options()("db", po::value<std::string>()->required(), "audit database");
  cl.positional.add("db", 1);
  int code = kExitOk;
  if (!cl.Parse(args, "Usage: keyward-audit checkpoint DB", &code)) return code;
  auto reader = OpenDb(cl.Get<std::string>("db"));
  if (!reader.has_value()) return Fail(reader.error());
  auto cps = (*reader)->Checkpoints();
  if (!cps.has_value()) return Fail(cps.error());
  if (cps->empty()) return Fail(Status::NotFound(cl.Get<std::string>("db") + " has no checkpoint yet"));
  std::cout << cps->back().note;
  return kExitOk;
}

// --- prove, check-proof --------------------------------------------------------------------------

std::string Hex(const keyward::Digest& d) { return keyward::ToHex(d); }

Json HexList(const std::vector<keyward::Digest>& ds) {
  Json a = Json::array();
  for (const auto& d : ds) a.push_back(Hex(d));
  return a;
}

int Prove(const std::vector<std::string>& args) {
  keyward::cli::CommandLine cl(kProgram, false);
  cl.visible.add_options()("seq", po::value<std::int64_t>(), "the entry to prove (inclusion proof)")(
      "size", po::value<std::int64_t>(), "the tree size (default: the latest checkpoint's)")(
      "from-size", po::value<std::int64_t>(), "the older tree size (consistency proof)");
  cl.hidden.add_options()("db", po::value<std::string>()->required(), "audit database");
  cl.positional.add("db", 1);
  int code = kExitOk;
  const char* usage = "Usage: keyward-audit prove DB --seq N [--size M]\n       keyward-audit prove DB --from-size A --size B";
  if (!cl.Parse(args, usage, &code)) return code;
  if (cl.Has("seq") == cl.Has("from-size")) {
    std::cerr << kProgram << ": give --seq (inclusion) or --from-size (consistency)\n" << usage << "\n";
    return kExitUsage;
  }
  auto reader = OpenDb(cl.Get<std::string>("db"));
  if (!reader.has_value()) return Fail(reader.error());
  auto cps = (*reader)->Checkpoints();
  if (!cps.has_value()) return Fail(cps.error());
  auto note_at = [&](std::int64_t size) -> std::string {
    for (const auto& c : *cps) {
      if (c.size == size) return c.note;
    }
    return {};
  };
  std::int64_t size = 0;
  if (cl.Has("size")) {
    size = cl.Get<std::int64_t>("size");
  } else if (!cps->empty()) {
    size = cps->back().size;
  } else {
    return Fail(Status::NotFound("the log has no checkpoint: give --size"));
  }
  if (size < 1 || size > (*reader)->max_seq()) {
    return Fail(Status::InvalidArgument("--size must be between 1 and the log's size " + std::to_string((*reader)->max_seq())));
  }
  std::vector<keyward::Digest> leaves;
  std::string entry;
  const std::int64_t seq = cl.Has("seq") ? cl.Get<std::int64_t>("seq") : 0;
  Status s = (*reader)->ForEach(1, size, [&](std::int64_t row, std::string_view bytes, std::string_view) {
    if (row != static_cast<std::int64_t>(leaves.size()) + 1) return false;
    leaves.push_back(audit::LeafHash(bytes));
    if (row == seq) entry.assign(bytes);
    return true;
  });
  if (!s.ok()) return Fail(s);
  if (static_cast<std::int64_t>(leaves.size()) != size) {
    return Fail(Status::DataLoss("the log has a gap before seq " + std::to_string(leaves.size() + 1) +
                                 "; run keyward-audit verify"));
  }
  const auto usize = static_cast<std::uint64_t>(size);
  Json out = {{"origin", (*reader)->origin()}, {"tree_size", size}, {"root", Hex(audit::MerkleRoot(leaves))}};
  out["checkpoint"] = note_at(size);
  if (cl.Has("seq")) {
    if (seq < 1 || seq > size) return Fail(Status::InvalidArgument("--seq must be between 1 and --size"));
    const auto index = static_cast<std::uint64_t>(seq - 1);
    out["type"] = "inclusion";
    out["seq"] = seq;
    out["index"] = index;
    out["entry"] = entry;
    out["leaf_hash"] = Hex(leaves[index]);
    out["proof"] = HexList(audit::InclusionProof(leaves, index, usize));
  } else {
    const std::int64_t old_size = cl.Get<std::int64_t>("from-size");
    if (old_size < 1 || old_size > size) return Fail(Status::InvalidArgument("--from-size must be between 1 and --size"));
    out["type"] = "consistency";
    out["old_size"] = old_size;
    out["old_root"] = Hex(audit::MerkleRoot(std::span<const keyward::Digest>(leaves).subspan(0, static_cast<std::size_t>(old_size))));
    out["old_checkpoint"] = note_at(old_size);
    out["proof"] = HexList(audit::ConsistencyProof(leaves, static_cast<std::uint64_t>(old_size), usize));
  }
  PrintJson(out);
  return kExitOk;
}

Result<keyward::Digest> ParseHexDigest(const Json& j, const char* what) {
  if (!j.is_string() || j.get<std::string>().size() != 64) {
    return Status::InvalidArgument(std::string(what) + " is not 64 hex digits");
  }
  const std::string h = j.get<std::string>();
  keyward::Digest d{};
  for (std::size_t i = 0; i < 32; ++i) {
    const std::string byte = h.substr(2 * i, 2);
    if (byte.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return Status::InvalidArgument(std::string(what) + " is not lower-case hex");
    }
    d[i] = static_cast<std::uint8_t>(std::stoi(byte, nullptr, 16));
  }
  return d;
}

// Finds a signed checkpoint of `size` and `origin` among `notes` that a trusted key signed.
Result<audit::Checkpoint> TrustedCheckpoint(const std::vector<std::string>& notes, const std::string& origin,
                                            std::uint64_t size, const std::vector<audit::VerifierKey>& keys) {
  std::string why = "no checkpoint of size " + std::to_string(size) + " for origin " + origin + " was given";
  for (const std::string& n : notes) {
    auto note = audit::ParseNote(n);
    if (!note.has_value()) continue;
    auto cp = audit::ParseCheckpoint(note->text);
    if (!cp.has_value() || cp->origin != origin || cp->size != size) continue;
    auto signers = audit::VerifyNote(*note, keys);
    if (!signers.has_value()) {
      why = "the checkpoint of size " + std::to_string(size) + ": " + signers.error().message();
      continue;
    }
    return *cp;
  }
  return Status::DataLoss(why);
}

int CheckProof(const std::vector<std::string>& args) {
  keyward::cli::CommandLine cl(kProgram, false);
  cl.visible.add_options()("key", po::value<std::vector<std::string>>()->required(),
                           "a trusted verifier key file; repeat --key for each key")(
      "checkpoint", po::value<std::vector<std::string>>(),
      "a signed checkpoint file to check against (default: the ones inside the proof); repeat for each");
  cl.hidden.add_options()("proof", po::value<std::string>()->required(), "proof file printed by prove");
  cl.positional.add("proof", 1);
  int code = kExitOk;
  if (!cl.Parse(args, "Usage: keyward-audit check-proof PROOFFILE --key PUBFILE [--key PUBFILE]... [--checkpoint NOTEFILE]...",
                &code)) {
    return code;
  }
  auto keys = LoadKeys(cl.Get<std::vector<std::string>>("key"));
  if (!keys.has_value()) return Fail(keys.error());
  auto text = keyward::ReadFile(cl.Get<std::string>("proof"), 64 << 20);
  if (!text.has_value()) return Fail(text.error());
  auto proof = keyward::ParseJson(*text);
  if (!proof.has_value() || !proof->is_object()) {
    return Fail(Status::InvalidArgument("the proof file is not a JSON object printed by keyward-audit prove"));
  }
  std::vector<std::string> notes;
  if (cl.Has("checkpoint")) {
    auto loaded = LoadNotes(cl.Get<std::vector<std::string>>("checkpoint"));
    if (!loaded.has_value()) return Fail(loaded.error());
    notes = std::move(*loaded);
  } else {
    for (const char* k : {"checkpoint", "old_checkpoint"}) {
      if (proof->contains(k) && (*proof)[k].is_string() && !(*proof)[k].get<std::string>().empty()) {
        notes.push_back((*proof)[k].get<std::string>());
      }
    }
  }
  auto bad = [](const std::string& why) {
    std::cout << "INVALID: " << why << "\n";
    return kExitFailed;
  };
  try {
    const std::string type = proof->at("type").get<std::string>();
    const std::string origin = proof->at("origin").get<std::string>();
    const auto size = proof->at("tree_size").get<std::uint64_t>();
    std::vector<keyward::Digest> path;
    for (const Json& h : proof->at("proof")) {
      auto d = ParseHexDigest(h, "a proof hash");
      if (!d.has_value()) return Fail(d.error());
      path.push_back(*d);
    }
    auto cp = TrustedCheckpoint(notes, origin, size, *keys);
    if (!cp.has_value()) return bad(cp.error().message());
    if (type == "inclusion") {
      const auto index = proof->at("index").get<std::uint64_t>();
      const std::string entry = proof->at("entry").get<std::string>();
      const Status s = audit::VerifyInclusion(index, size, audit::LeafHash(entry), path, cp->root);
      if (!s.ok()) return bad(s.message());
      auto decoded = audit::DecodeEntry(entry);
      std::cout << "VALID: entry " << index + 1 << " is in the log " << Quote(origin) << " of size " << size
                << ", as a checkpoint signed by a trusted key commits\n";
      if (decoded.has_value()) {
        const auto& r = decoded->record;
        std::cout << "  " << decoded->time << " " << Quote(r.principal) << " " << Quote(r.action) << " "
                  << Quote(r.provider) << ":" << Quote(r.scope) << "/" << Quote(r.key) << " -> " << Quote(r.decision) << "\n";
      }
      return kExitOk;
    }
    if (type == "consistency") {
      const auto old_size = proof->at("old_size").get<std::uint64_t>();
      auto old_cp = TrustedCheckpoint(notes, origin, old_size, *keys);
      if (!old_cp.has_value()) return bad(old_cp.error().message());
      const Status s = audit::VerifyConsistency(old_size, size, old_cp->root, cp->root, path);
      if (!s.ok()) return bad(s.message());
      std::cout << "VALID: the log " << Quote(origin) << " of size " << size << " extends its checkpoint of size "
                << old_size << "\n";
      return kExitOk;
    }
    return Fail(Status::InvalidArgument("unknown proof type '" + Quote(type) + "'"));
  } catch (const Json::exception&) {
    return Fail(Status::InvalidArgument("the proof file lacks a field or has one of the wrong type"));
  }
}

}  // namespace

int main(int argc, char** argv) {
  return keyward::cli::RunSubcommands(argc, argv, kProgram, KEYWARD_VERSION, kOverview,
                                      {{"keygen", Keygen},
                                       {"verify", Verify},
                                       {"show", Show},
                                       {"export", Export},
                                       {"checkpoint", LatestCheckpoint},
                                       {"prove", Prove},
                                       {"check-proof", CheckProof}});
}
