// keyward-audit, run as an auditor would: the built binary, its output and its exit codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "audit/checkpoint.h"
#include "audit/store.h"
#include "audit/testing/audit_fixture.h"
#include "core/file.h"
#include "core/json.h"
#include "core/sha256.h"
#include "core/testing/status_matchers.h"
#include "tests/support/subprocess.h"

namespace keyward {
namespace {

using ::keyward::audit::testing::AppendAndWait;
using ::keyward::audit::testing::AuditFixture;
using ::keyward::audit::testing::Record;
using ::keyward::audit::testing::Sql;
using ::keyward::testing::IsOk;
using ::keyward::testing::ProcessResult;
using ::keyward::testing::ToolPath;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

ProcessResult Audit(std::vector<std::string> args) {
  args.insert(args.begin(), ToolPath("keyward-audit"));
  return ::keyward::testing::Run(args);
}

Json ParseOut(const ProcessResult& r) {
  auto j = ParseJson(r.out);
  EXPECT_TRUE(j.has_value()) << r.out;
  return j.has_value() ? *j : Json();
}

// A log of 6 entries (checkpoints at 3 and 6) and the auditor's .pub file.
class AuditCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = audit::AuditLog::Open(f_.Options());
    ASSERT_THAT(log, IsOk());
    for (int i = 1; i <= 6; ++i) {
      AuditRecord r = Record(i, i % 2 ? "resolve" : "list");
      r.principal = i <= 3 ? "pipeline-etl" : "admin-alice";
      r.decision = i == 5 ? "deny" : "allow";
      ASSERT_THAT(AppendAndWait(**log, {r}), IsOk());
      if (i == 3) {
        ASSERT_THAT((*log)->CheckpointNow(), IsOk());
      }
    }
    ASSERT_THAT((*log)->Close(), IsOk());
    pub_ = f_.dir() + "/audit.pub";
    std::FILE* f = std::fopen(pub_.c_str(), "w");
    std::fputs((f_.verifier().ToString() + "\n").c_str(), f);
    std::fclose(f);
  }
  AuditFixture f_;
  std::string pub_;
};

TEST(AuditCliKeygen, WritesAPrivateKeyAndAVerifierKey) {
  ::keyward::testing::TempDir dir;
  const std::string prefix = dir.path() + "/prod";
  const auto r = Audit({"keygen", "--out", prefix, "--name", "keyward.example.com/prod-1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(::stat((prefix + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto pub = ReadFile(prefix + ".pub", 4096);
  ASSERT_THAT(pub, IsOk());
  EXPECT_THAT(*pub, ContainsRegex("^keyward.example.com/prod-1\\+[0-9a-f]{8}\\+[A-Za-z0-9+/]{44}\n$"));
  EXPECT_THAT(r.out, HasSubstr("mode 0600"));
  const auto again = Audit({"keygen", "--out", prefix, "--name", "keyward.example.com/prod-1"});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.err, HasSubstr("never overwrites"));
  const auto bad = Audit({"keygen", "--out", dir.path() + "/x", "--name", "has space"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("spaces"));
}

TEST_F(AuditCliTest, VerifyIntactLog) {
  const auto r = Audit({"verify", f_.db(), "--key", pub_, "--checkpoint", f_.export_path()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("(origin keyward.test/log-1)"));
  EXPECT_THAT(r.out, HasSubstr("entries checked  6 (seq 1..6)"));
  EXPECT_THAT(r.out, HasSubstr("time range       2026-01-01T00:00:01.000000Z .. "));
  EXPECT_THAT(r.out, HasSubstr("checkpoints      2/2 valid"));
  EXPECT_THAT(r.out, HasSubstr("kept checkpoints 2/2 valid"));
  EXPECT_THAT(r.out, HasSubstr("  OK\n"));
}

TEST_F(AuditCliTest, VerifyReportsEveryProblemAndExitsOne) {
  Sql(f_.db(), "UPDATE entries SET entry = replace(entry, 'password-2', 'password-9') WHERE seq = 2; "
               "UPDATE entries SET chain = zeroblob(32) WHERE seq = 5;");
  const auto r = Audit({"verify", f_.db(), "--key", pub_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("PROBLEM modified-entry at seq 2: "));
  EXPECT_THAT(r.out, HasSubstr("PROBLEM checkpoint-mismatch at size 3: "));
  EXPECT_THAT(r.out, HasSubstr("PROBLEM broken-chain at seq 5: "));
  EXPECT_THAT(r.out, HasSubstr("FAILED: 4 problems"));  // and the mismatch at 6
}

TEST_F(AuditCliTest, VerifyJson) {
  Sql(f_.db(), "DELETE FROM entries WHERE seq = 4");
  const auto r = Audit({"verify", f_.db(), "--key", pub_, "--json"});
  EXPECT_EQ(r.exit_code, 1);
  const Json j = ParseOut(r);
  EXPECT_EQ(j["ok"], false);
  ASSERT_EQ(j["logs"].size(), 1u);
  const Json& log = j["logs"][0];
  EXPECT_EQ(log["origin"], "keyward.test/log-1");
  EXPECT_EQ(log["problems"][0]["kind"], "missing-entries");
  EXPECT_EQ(log["problems"][0]["seq"], 4);
  EXPECT_EQ(log["entries_checked"], 5);
  EXPECT_EQ(log["checkpoints"]["total"], 2);
}

TEST_F(AuditCliTest, VerifySeveralLogsInOneRun) {
  AuditFixture second("keyward.test/log-2");
  {
    auto log = audit::AuditLog::Open(second.Options());
    ASSERT_THAT(AppendAndWait(**log, {Record(1)}), IsOk());
    ASSERT_THAT((*log)->Close(), IsOk());
  }
  const std::string pub2 = second.dir() + "/audit.pub";
  std::FILE* f = std::fopen(pub2.c_str(), "w");
  std::fputs((second.verifier().ToString() + "\n").c_str(), f);
  std::fclose(f);
  const auto ok = Audit({"verify", f_.db(), second.db(), "--key", pub_, "--key", pub2, "--checkpoint",
                         f_.export_path(), "--checkpoint", second.export_path()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_THAT(ok.out, HasSubstr("2 logs: 2 OK, 0 FAILED, 0 unreadable"));
  Sql(second.db(), "UPDATE entries SET chain = zeroblob(32) WHERE seq = 1");
  const auto one_bad = Audit({"verify", f_.db(), second.db(), "--key", pub_, "--key", pub2});
  EXPECT_EQ(one_bad.exit_code, 1);
  EXPECT_THAT(one_bad.out, HasSubstr("2 logs: 1 OK, 1 FAILED, 0 unreadable"));
}

TEST_F(AuditCliTest, AKeptCheckpointThatNamesNoLogGivenIsAProblem) {
  // The origin in meta is not signed: changed, with the tail and the stored checkpoints removed, the
  // auditor's kept checkpoints must not be skipped as "of another log".
  Sql(f_.db(),
      "DELETE FROM entries WHERE seq > 4; DELETE FROM checkpoints; "
      "UPDATE meta SET value = 'keyward.test/renamed' WHERE key = 'origin'");
  const auto r = Audit({"verify", f_.db(), "--key", pub_, "--checkpoint", f_.export_path()});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("PROBLEM a kept checkpoint of origin " + f_.origin() + " at size 6 matches none of the logs verified"));
  const auto j = Audit({"verify", f_.db(), "--key", pub_, "--checkpoint", f_.export_path(), "--json"});
  EXPECT_EQ(j.exit_code, 1);
  const Json out = ParseOut(j);
  EXPECT_FALSE(out.at("ok").get<bool>());
  ASSERT_EQ(out.at("unmatched_kept_checkpoints").size(), 2u);  // sizes 3 and 6
  EXPECT_EQ(out.at("unmatched_kept_checkpoints")[1].at("size").get<int>(), 6);
}

TEST_F(AuditCliTest, VerifyToSaysWhichCheckpointsItDidNotCompare) {
  const auto r = Audit({"verify", f_.db(), "--key", pub_, "--to", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("checkpoints      1/2 valid"));
  EXPECT_THAT(r.out, HasSubstr("not compared     1 checkpoint(s) after --to (verify without --to to compare them)"));
}

TEST_F(AuditCliTest, VerifyWithAnUntrustedKeyReportsBadSignatures) {
  ::keyward::testing::TempDir dir;
  ASSERT_EQ(Audit({"keygen", "--out", dir.path() + "/other", "--name", "keyward.test/log-1"}).exit_code, 0);
  const auto r = Audit({"verify", f_.db(), "--key", dir.path() + "/other.pub"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("PROBLEM bad-signature at size 3: stored checkpoint: no trusted key signed the note"));
  EXPECT_THAT(r.out, HasSubstr("checkpoints      0/2 valid"));
}

TEST_F(AuditCliTest, VerifyUsageAndUnreadableFiles) {
  EXPECT_EQ(Audit({"verify", f_.db()}).exit_code, 2);  // --key is required
  const auto missing = Audit({"verify", f_.dir() + "/nope.db", "--key", pub_});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.out, HasSubstr("ERROR audit database"));
  ::keyward::testing::TempDir dir;
  const auto badkey = Audit({"verify", f_.db(), "--key", dir.Write("bad.pub", "hello\n")});
  EXPECT_EQ(badkey.exit_code, 2);
  EXPECT_THAT(badkey.err, HasSubstr("bad.pub: not a verifier key"));
  EXPECT_EQ(Audit({"verify", f_.db(), "--key", f_.db()}).exit_code, 2);  // a binary file
  EXPECT_EQ(Audit({"verify", f_.db(), "--key", pub_, "--from", "5", "--to", "2"}).exit_code, 2);
}

TEST_F(AuditCliTest, AKeptCheckpointFileWithADamagedOrCutShortNoteIsRefused) {
  const std::string exported = *ReadFile(f_.export_path(), 1 << 20);  // notes of sizes 3 and 6
  ::keyward::testing::TempDir dir;
  // The first note's signature line damaged: without it the note is not a note, and it must not
  // silently drop out of the check.
  std::string damaged = exported;
  damaged.replace(damaged.find("\xE2\x80\x94 "), 4, "-- ");
  const auto r = Audit({"verify", f_.db(), "--key", pub_, "--checkpoint", dir.Write("damaged.notes", damaged)});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("damaged.notes: bytes 0.."));
  EXPECT_THAT(r.err, HasSubstr("are not a whole signed note"));
  // The second note cut short (a copy taken while the server was appending it).
  const auto cut = Audit({"verify", f_.db(), "--key", pub_, "--checkpoint",
                          dir.Write("cut.notes", exported.substr(0, exported.size() - 30))});
  EXPECT_EQ(cut.exit_code, 2);
  EXPECT_THAT(cut.err, HasSubstr("cut.notes: the last"));
  // Whole notes, with or without the blank line after each, are fine.
  const auto notes = audit::SplitNotes(exported);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(Audit({"verify", f_.db(), "--key", pub_, "--checkpoint", dir.Write("bare.notes", notes[0] + notes[1])}).exit_code, 0);
  EXPECT_EQ(Audit({"verify", f_.db(), "--key", pub_, "--checkpoint", f_.export_path()}).exit_code, 0);
}

TEST_F(AuditCliTest, VerifyNeverChangesTheDatabase) {
  // A copy without its -wal: opened immutable, so nothing at all may appear or change beside it.
  const std::string copy = f_.dir() + "/copy.db";
  std::filesystem::copy_file(f_.db(), copy);
  const auto before = Sha256(*ReadFile(copy, 1 << 24));
  EXPECT_EQ(Audit({"verify", copy, "--key", pub_}).exit_code, 0);
  EXPECT_EQ(Audit({"show", copy}).exit_code, 0);
  EXPECT_EQ(Sha256(*ReadFile(copy, 1 << 24)), before);
  EXPECT_FALSE(std::filesystem::exists(copy + "-wal"));
  EXPECT_FALSE(std::filesystem::exists(copy + "-shm"));
}

TEST_F(AuditCliTest, ShowFiltersEntries) {
  const auto all = Audit({"show", f_.db()});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_THAT(all.out, ContainsRegex("SEQ +TIME +PRINCIPAL +FABRIC +ACTION +DECISION +SECRET +REASON"));
  EXPECT_THAT(all.out, ContainsRegex("\n1 +2026-01-01T00:00:01.000000Z +pipeline-etl +emr-etl +resolve +allow +"
                                     "vault:secret/data-eng/snowflake/password-1 +rule:etl-reads-snowflake\n"));
  const auto admin = Audit({"show", f_.db(), "--principal", "admin-alice", "--json"});
  ASSERT_EQ(admin.exit_code, 0);
  EXPECT_EQ(ParseOut(admin).size(), 3u);
  const auto denied = Audit({"show", f_.db(), "--decision", "deny", "--json"});
  const Json d = ParseOut(denied);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0]["seq"], 5);
  const auto range = Audit({"show", f_.db(), "--from", "2", "--to", "3", "--json"});
  EXPECT_EQ(ParseOut(range).size(), 2u);
  // Columns line up whatever the action (the longest keyward records, audit.recovered, fits), and no
  // row ends in blanks.
  const std::size_t decision_at = all.out.find("DECISION");
  ASSERT_NE(decision_at, std::string::npos);
  std::size_t start = 0, rows = 0;
  for (std::size_t nl; (nl = all.out.find('\n', start)) != std::string::npos; start = nl + 1, ++rows) {
    const std::string line = all.out.substr(start, nl - start);
    EXPECT_NE(line.back(), ' ') << line;
    if (rows > 0) {
      EXPECT_THAT(line.substr(decision_at, 5), ::testing::AnyOf("allow", "deny ", "error")) << line;
    }
  }
  EXPECT_GT(rows, 1u);
  // A decision that is not one is a usage error, not an empty table.
  const auto bad = Audit({"show", f_.db(), "--decision", "Deny"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--decision is allow, deny or error, not 'Deny'"));
}

TEST_F(AuditCliTest, ExportJsonLines) {
  const auto r = Audit({"export", f_.db(), "--format", "jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int lines = 0;
  std::size_t start = 0;
  while (start < r.out.size()) {
    const std::size_t eol = r.out.find('\n', start);
    auto j = ParseJson(r.out.substr(start, eol - start));
    ASSERT_TRUE(j.has_value());
    ++lines;
    EXPECT_EQ((*j)["seq"], lines);
    EXPECT_EQ((*j)["origin"], "keyward.test/log-1");
    EXPECT_EQ((*j)["chain"].get<std::string>().size(), 64u);
    EXPECT_EQ((*j)["key"], "password-" + std::to_string(lines));
    start = eol + 1;
  }
  EXPECT_EQ(lines, 6);
  EXPECT_EQ(Audit({"export", f_.db(), "--format", "csv"}).exit_code, 2);
}

TEST_F(AuditCliTest, LatestCheckpoint) {
  const auto r = Audit({"checkpoint", f_.db()});
  ASSERT_EQ(r.exit_code, 0);
  const auto notes = audit::SplitNotes(*ReadFile(f_.export_path(), 1 << 20));
  ASSERT_FALSE(notes.empty());
  EXPECT_EQ(r.out, notes.back());
  EXPECT_THAT(r.out, ::testing::StartsWith("keyward.test/log-1\n6\n"));
}

TEST_F(AuditCliTest, InclusionProofChecksWithoutTheLog) {
  const auto proof = Audit({"prove", f_.db(), "--seq", "4"});
  ASSERT_EQ(proof.exit_code, 0) << proof.err;
  const Json p = ParseOut(proof);
  EXPECT_EQ(p["type"], "inclusion");
  EXPECT_EQ(p["tree_size"], 6);  // the latest checkpoint
  EXPECT_EQ(p["index"], 3);
  ::keyward::testing::TempDir dir;
  const std::string file = dir.Write("proof.json", proof.out);
  const auto ok = Audit({"check-proof", file, "--key", pub_});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("VALID: entry 4 is in the log keyward.test/log-1 of size 6"));
  EXPECT_THAT(ok.out, HasSubstr("admin-alice list vault:secret/data-eng/snowflake/password-4 -> allow"));
  // An altered entry, or an altered proof, does not check.
  Json forged = p;
  std::string e = forged["entry"];
  e.replace(e.find("password-4"), 10, "password-7");
  forged["entry"] = e;
  const auto bad = Audit({"check-proof", dir.Write("forged.json", forged.dump()), "--key", pub_});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.out, HasSubstr("INVALID: the inclusion proof does not lead to the root"));
  Json cut = p;
  cut["proof"].erase(cut["proof"].size() - 1);
  EXPECT_EQ(Audit({"check-proof", dir.Write("cut.json", cut.dump()), "--key", pub_}).exit_code, 1);
  // Against an explicitly given checkpoint, and against one a trusted key did not sign.
  EXPECT_EQ(Audit({"check-proof", file, "--key", pub_, "--checkpoint", f_.export_path()}).exit_code, 0);
  ASSERT_EQ(Audit({"keygen", "--out", dir.path() + "/other", "--name", "x"}).exit_code, 0);
  const auto untrusted = Audit({"check-proof", file, "--key", dir.path() + "/other.pub"});
  EXPECT_EQ(untrusted.exit_code, 1);
  EXPECT_THAT(untrusted.out, HasSubstr("no trusted key signed"));
}

TEST_F(AuditCliTest, ConsistencyProofChecks) {
  const auto proof = Audit({"prove", f_.db(), "--from-size", "3", "--size", "6"});
  ASSERT_EQ(proof.exit_code, 0) << proof.err;
  ::keyward::testing::TempDir dir;
  const std::string file = dir.Write("proof.json", proof.out);
  const auto ok = Audit({"check-proof", file, "--key", pub_});
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_THAT(ok.out, HasSubstr("VALID: the log keyward.test/log-1 of size 6 extends its checkpoint of size 3"));
  Json p = ParseOut(proof);
  p["proof"][0] = std::string(64, '0');
  EXPECT_EQ(Audit({"check-proof", dir.Write("bad.json", p.dump()), "--key", pub_}).exit_code, 1);
}

TEST_F(AuditCliTest, ProveUsageErrors) {
  EXPECT_EQ(Audit({"prove", f_.db()}).exit_code, 2);
  EXPECT_EQ(Audit({"prove", f_.db(), "--seq", "9"}).exit_code, 2);
  EXPECT_EQ(Audit({"prove", f_.db(), "--seq", "2", "--size", "99"}).exit_code, 2);
  ::keyward::testing::TempDir dir;
  EXPECT_EQ(Audit({"check-proof", dir.Write("x.json", "[1,2]"), "--key", pub_}).exit_code, 2);
}

TEST(AuditCli, HelpAndUnknownCommands) {
  const auto help = Audit({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("keyward-audit verify DB... --key PUBFILE [--key PUBFILE]... [--checkpoint NOTEFILE]..."));
  EXPECT_THAT(help.out, Not(HasSubstr("--verbose")));  // verify has no quiet mode to leave
  EXPECT_THAT(help.out, HasSubstr("Exit codes:"));
  EXPECT_EQ(Audit({}).exit_code, 2);
  EXPECT_EQ(Audit({"frob"}).exit_code, 2);
  EXPECT_THAT(Audit({"--version"}).out, ContainsRegex("^keyward-audit [0-9.]+\n$"));
}

}  // namespace
}  // namespace keyward
