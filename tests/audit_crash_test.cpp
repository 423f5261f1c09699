// Durability: a writer killed with SIGKILL at random moments loses nothing it acknowledged, leaves a log
// that verifies, and a restarted writer continues it with consistent checkpoints.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <random>
#include <string>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "audit/reader.h"
#include "audit/store.h"
#include "audit/testing/audit_fixture.h"
#include "audit/verifier.h"
#include "core/file.h"
#include "core/testing/status_matchers.h"
#include "tests/support/subprocess.h"

namespace keyward {
namespace {

using ::keyward::audit::testing::AppendAndWait;
using ::keyward::audit::testing::AuditFixture;
using ::keyward::audit::testing::Record;
using ::keyward::testing::Child;
using ::keyward::testing::IsOk;
using ::keyward::testing::ToolPath;

TEST(AuditCrashTest, KilledWriterLosesNothingAcknowledged) {
  AuditFixture f;
  std::mt19937 rng(20261204);
  constexpr int kKills = 20;
  std::int64_t acked_max = 0;
  for (int kill = 0; kill < kKills; ++kill) {
    Child writer = Child::Start({ToolPath("audit_appender"), f.db(), f.origin(), f.key_path(), f.export_path(), "4", "5"});
    // Kill after a random amount of progress, not a random time: each run stops somewhere else in the
    // middle of committing, checkpointing or exporting.
    const int target = std::uniform_int_distribution<int>(5, 400)(rng);
    int acks = 0;
    while (acks < target) {
      auto line = writer.ReadLine(std::chrono::seconds(30));
      ASSERT_TRUE(line.has_value()) << "the writer stopped: " << writer.err();
      long long first = 0, last = 0;
      ASSERT_EQ(std::sscanf(line->c_str(), "ack %lld %lld", &first, &last), 2) << *line;
      ASSERT_EQ(last, first + 1);
      acked_max = std::max<std::int64_t>(acked_max, last);
      ++acks;
    }
    writer.Signal(SIGKILL);
    ASSERT_EQ(writer.Wait(), 128 + SIGKILL);
    // Acknowledgements printed after our last read are durable too; count them.
    while (auto line = writer.ReadLine(std::chrono::milliseconds(0))) {
      long long first = 0, last = 0;
      if (std::sscanf(line->c_str(), "ack %lld %lld", &first, &last) == 2) acked_max = std::max<std::int64_t>(acked_max, last);
    }
    // Every acknowledged entry is there, and the log verifies against every checkpoint exported so far.
    auto reader = audit::AuditReader::Open(f.db());
    ASSERT_THAT(reader, IsOk());
    EXPECT_GE((*reader)->max_seq(), acked_max) << "kill " << kill;
    audit::VerifyOptions o;
    o.trusted_keys = {f.verifier()};
    auto exported = ReadFile(f.export_path(), 1 << 26);
    if (exported.has_value()) o.kept_checkpoints = audit::SplitNotes(*exported);
    auto report = audit::VerifyLog(f.db(), o);
    ASSERT_THAT(report, IsOk());
    ASSERT_TRUE(report->ok()) << "kill " << kill << ": " << audit::ProblemKindName(report->problems[0].kind) << " at "
                              << report->problems[0].seq << ": " << report->problems[0].detail;
    EXPECT_EQ(report->entries_checked, (*reader)->max_seq());
  }
  // A clean restart continues the same log; its next checkpoint is consistent with every earlier one.
  auto log = audit::AuditLog::Open(f.Options());
  ASSERT_THAT(log, IsOk());
  auto next = AppendAndWait(**log, {Record(1)});
  ASSERT_THAT(next, IsOk());
  EXPECT_GT(next->first, acked_max);
  ASSERT_THAT((*log)->Close(), IsOk());
  const auto notes = audit::SplitNotes(*ReadFile(f.export_path(), 1 << 26));
  ASSERT_GE(notes.size(), 2u);
  audit::VerifyOptions o;
  o.trusted_keys = {f.verifier()};
  o.kept_checkpoints = notes;
  auto report = audit::VerifyLog(f.db(), o);
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->kept_valid, static_cast<int>(notes.size()));  // every exported checkpoint is a prefix of the log
}

}  // namespace
}  // namespace keyward
