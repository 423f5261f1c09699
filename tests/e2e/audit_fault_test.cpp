// keyward-server when its audit database cannot be written (issue 6, "Audit store faults"): locked by
// another process, made read-only, disk full. For each fault, with the server running: resolves, writes
// and lists are answered 503 `unavailable` with no value in the body, the server stays up, /readyz says
// 503 with the audit check failing; when the fault clears the server heals by itself — /readyz turns 200
// with no request that writes, because the log records the outage (`audit.recovered`) on its own — and
// then serves again. No entry is lost or half-written: every 200's `audit.first_seq..last_seq` entries
// are in the log with the principal and key of their request, no refused request left an entry, and
// `keyward-audit verify` passes.
//
// How each fault is made, and why that way (the test runs as root in CI):
// - locked: the test opens the database with SQLite and holds BEGIN IMMEDIATE (or EXCLUSIVE) — the
//   server's own BEGIN IMMEDIATE then waits its busy timeout (2 s) and fails with SQLITE_BUSY.
// - read-only: chmod 0444 is no fault for a running server. SQLite keeps the database and its -wal open
//   (read-write descriptors opened at start), and permissions are checked only when a file is opened —
//   besides, root bypasses them. What does take effect on open descriptors is the immutable attribute
//   (chattr +i, FS_IOC_SETFLAGS): on ext4 (and filesystems that, like it, check it on every write) a
//   write to an immutable file fails with EPERM even through a descriptor opened before. The test sets
//   it on the database and its -wal (SQLite commits into the -wal; the database file alone would only
//   fail checkpoints, which SQLite ignores), after checking on a scratch file that the filesystem
//   really refuses such writes; otherwise (tmpfs, no CAP_LINUX_IMMUTABLE) the test is skipped.
// - disk full: the configuration does not expose SQLite's max_page_count (AuditOptions::max_page_count),
//   so the database is put on a small tmpfs mounted for the test, which is then filled with a file
//   until ENOSPC; deleting the file clears the fault. Without the privilege to mount, skipped.
#include <SQLiteCpp/Database.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <future>
#include <set>

#include "tests/e2e/e2e_util.h"
#include "tests/e2e/server_fixture.h"

namespace keyward::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Sets or clears the immutable attribute of `path`. The errno of the failure, or 0.
int SetImmutable(const std::string& path, bool on) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return errno;
  int flags = 0;
  int err = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
    err = errno;
  } else {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    if (::ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) err = errno;
  }
  ::close(fd);
  return err;
}

// Why an immutable attribute set on a file would not make writes through a descriptor opened before
// fail in `dir` ("" when it does).
std::string ImmutableDoesNotBlockOpenWriters(const std::string& dir) {
  const std::string probe = dir + "/immutable-probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return std::string("cannot create a probe file: ") + std::strerror(errno);
  std::string why;
  if (const int err = SetImmutable(probe, true); err != 0) {
    why = std::string("cannot set the immutable attribute (chattr +i): ") + std::strerror(err);
  } else {
    if (::write(fd, "x", 1) == 1) why = "this filesystem lets a descriptor opened before chattr +i write on";
    (void)SetImmutable(probe, false);
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return why;
}

class AuditFaultTest : public ::testing::Test {
 protected:
  struct Acknowledged {  // a request answered 200, and what its entries must say
    std::string request_id, principal, provider, scope, key, action;
    std::int64_t first_seq = 0, last_seq = 0;
  };

  void TearDown() override {
    if (IsSkipped()) return;
    // Nothing acknowledged is missing or different, and nothing refused was recorded.
    CheckAcknowledgedAndRefused();
    const std::string problems = f_.VerifyAndScan();
    EXPECT_EQ(problems, "") << f_.server_stderr();
  }

  static std::string ResolveRequest() {
    return ResolveBody("prod",
                       {Ref("vault", "secret/etl", "db_password"), Ref("env", "", "E2E_DB_PASSWORD")});
  }

  // Notes what a resolve reply acknowledged (its entries, checked at the end) or refused.
  void Note(const testing::HttpReply& r) {
    if (r.status != 200) {
      refused_.insert(r.Header("x-request-id"));
      return;
    }
    const Json b = Body(r);
    if (!b.is_object() || !b.contains("audit") || !b["audit"]["first_seq"].is_number_integer() ||
        !b["audit"]["last_seq"].is_number_integer()) {
      ADD_FAILURE() << "a resolve answered 200 without its audit range: " << r.body;
      return;
    }
    const auto first = b["audit"]["first_seq"].get<std::int64_t>();
    acknowledged_.push_back(
        {r.Header("x-request-id"), "etl", "vault", "secret/etl", "db_password", "resolve", first, first});
    acknowledged_.push_back(
        {r.Header("x-request-id"), "etl", "env", "", "E2E_DB_PASSWORD", "resolve", first + 1, first + 1});
    EXPECT_EQ(b["audit"]["last_seq"].get<std::int64_t>(), first + 1);
  }

  testing::HttpReply Resolve() {
    const auto r = f_.Call("etl", "POST", "/v1/resolve", ResolveRequest());
    Note(r);
    return r;
  }

  // While the log cannot write: every operation that must be recorded is refused with 503, without a
  // value; the server is alive; /readyz names the failing audit check. (The requests are concurrent:
  // each failed attempt at the lock waits the server's busy timeout.)
  void ExpectFailClosed(const std::string& error_text) {
    const int vault_writes = f_.vault().CountRequests("POST", "/v1/secret/data/app");
    auto call = [&](const std::string& principal, const std::string& method, const std::string& target,
                    const std::string& body) {
      return std::async(std::launch::async, [=, this] { return f_.Call(principal, method, target, body); });
    };
    f_.AddSecretValue("FAULT-WRITE-77aa11");  // the refused write's value: searched for like the others
    auto resolve1 = call("etl", "POST", "/v1/resolve", ResolveRequest());
    auto resolve2 = call("etl", "POST", "/v1/resolve", ResolveRequest());
    // A write is recorded before it happens: refused, and the provider never called.
    auto write = call("admin", "PUT", "/v1/fabrics/prod/secrets/vault/secret/app/fault",
                      R"({"value":"FAULT-WRITE-77aa11"})");
    auto list = call("etl", "GET", "/v1/fabrics/prod/secrets?provider=vault&scope=secret/etl", "");
    for (auto* f : {&resolve1, &resolve2, &write, &list}) {
      const testing::HttpReply r = f->get();
      if (f == &resolve1 || f == &resolve2) {
        Note(r);
      } else if (r.status != 200) {
        refused_.insert(r.Header("x-request-id"));
      }
      EXPECT_EQ(r.status, 503) << r.body;
      EXPECT_EQ(ErrorCode(r), "unavailable");
      EXPECT_THAT(ErrorMessage(r),
                  StartsWith("the audit log could not record the access, so it did not happen: "));
      EXPECT_THAT(ErrorMessage(r), HasSubstr(error_text));
      for (const std::string& v : f_.secret_values()) EXPECT_THAT(r.body, Not(HasSubstr(v)));
    }
    EXPECT_EQ(f_.vault().CountRequests("POST", "/v1/secret/data/app"), vault_writes);
    // Alive, and not ready: the audit check says why.
    EXPECT_EQ(f_.Call("", "GET", "/healthz").status, 200);
    const auto ready = f_.Call("", "GET", "/readyz");
    EXPECT_EQ(ready.status, 503) << ready.body;
    EXPECT_EQ(Body(ready)["ready"], false);
    ASSERT_TRUE(Body(ready)["checks"]["audit"].is_string()) << ready.body;
    EXPECT_THAT(Body(ready)["checks"]["audit"].get<std::string>(),
                StartsWith("the audit log cannot write: "));
    EXPECT_THAT(Body(ready)["checks"]["audit"].get<std::string>(), HasSubstr(error_text));
    EXPECT_EQ(Body(ready)["checks"]["policy"], "ok");
    EXPECT_EQ(Body(ready)["checks"]["providers"]["vault"], "ok");  // it is the log, not a provider
  }

  // Once the fault is gone: /readyz turns 200 by itself (polling it records nothing), the outage is in
  // the log as audit.recovered after the entries written before it, and requests are served again.
  void ExpectRecovery(std::int64_t size_before_fault) {
    ASSERT_TRUE(WaitFor([&] { return f_.Call("", "GET", "/readyz").status == 200; }))
        << "the server did not recover by itself:\n"
        << f_.server_stderr();
    const auto entries = f_.AuditEntries();
    std::vector<const audit::Entry*> recovered;
    for (const auto& e : entries) {
      if (e.record.action == "audit.recovered") recovered.push_back(&e);
    }
    ASSERT_EQ(recovered.size(), 1u) << "one outage, one audit.recovered entry";
    EXPECT_EQ(recovered[0]->seq, size_before_fault + 1) << "nothing was written during the outage";
    EXPECT_EQ(recovered[0]->record.decision, "allow");
    EXPECT_THAT(recovered[0]->record.detail, StartsWith("the audit log could not record from "));
    EXPECT_THAT(recovered[0]->record.detail, HasSubstr("batches refused; first error: "));
    const auto r = Resolve();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Body(r)["secrets"][0]["value"], f_.secret_values()[0]);
    EXPECT_EQ(Body(r)["audit"]["first_seq"], size_before_fault + 2);
  }

  void CheckAcknowledgedAndRefused() {
    const auto entries = f_.AuditEntries();
    for (const Acknowledged& a : acknowledged_) {
      SCOPED_TRACE("request " + a.request_id + ", seq " + std::to_string(a.first_seq));
      ASSERT_LE(a.last_seq, static_cast<std::int64_t>(entries.size())) << "an acknowledged entry is missing";
      const audit::Entry& e = entries[static_cast<std::size_t>(a.first_seq - 1)];
      EXPECT_EQ(e.seq, a.first_seq);
      EXPECT_EQ(e.record.request_id, a.request_id);
      EXPECT_EQ(e.record.principal, a.principal);
      EXPECT_EQ(e.record.provider, a.provider);
      EXPECT_EQ(e.record.scope, a.scope);
      EXPECT_EQ(e.record.key, a.key);
      EXPECT_EQ(e.record.action, a.action);
      EXPECT_EQ(e.record.decision, "allow");
    }
    for (const auto& e : entries)
      EXPECT_EQ(refused_.count(e.record.request_id), 0u) << "seq " << e.seq << " of a refused request";
  }

  // The log's size now (the server is running: read beside it).
  std::int64_t LogSize() { return static_cast<std::int64_t>(f_.AuditEntries().size()); }

  ServerFixture f_;
  std::vector<Acknowledged> acknowledged_;
  std::set<std::string> refused_;
};

// Another process holds the write lock (BEGIN IMMEDIATE or BEGIN EXCLUSIVE; in WAL mode both block
// writers only). Released, the server records again within its next retry.
class AuditLockTest : public AuditFaultTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(AuditLockTest, DatabaseLockedByAnotherProcess) {
  f_.Start();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Resolve().status, 200);
  const std::int64_t size = LogSize();
  {
    SQLite::Database db(f_.db(), SQLite::OPEN_READWRITE);
    db.exec(GetParam());
    ExpectFailClosed("database is locked");
    db.exec("ROLLBACK");
  }
  ExpectRecovery(size);
}

INSTANTIATE_TEST_SUITE_P(Locks, AuditLockTest, ::testing::Values("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           return std::string(p.param).substr(6);
                         });

// A stop the log cannot record is not a clean stop: exit 3, said on stderr, and the log still verifies.
TEST_F(AuditFaultTest, AStopTheLogCannotRecordExitsWith3) {
  f_.Start();
  ASSERT_EQ(Resolve().status, 200);
  SQLite::Database db(f_.db(), SQLite::OPEN_READWRITE);
  db.exec("BEGIN IMMEDIATE");
  EXPECT_EQ(f_.Stop(), 3);
  db.exec("ROLLBACK");
  EXPECT_THAT(f_.server_stderr(), HasSubstr("cannot record the stop in the audit log: "));
  for (const auto& e : f_.AuditEntries()) EXPECT_NE(e.record.action, "server.stop") << "seq " << e.seq;
  // The next server continues the log, and stops cleanly (its final checkpoint is the first exported).
  f_.Start();
  EXPECT_EQ(f_.Stop(), 0);
}

// The database and its -wal made immutable under the running server (see the top of the file for why
// not chmod): every write fails; the attribute removed, the log heals.
TEST_F(AuditFaultTest, DatabaseMadeReadOnly) {
  if (const std::string why = ImmutableDoesNotBlockOpenWriters(f_.dir()); !why.empty()) {
    GTEST_SKIP() << "cannot make the database read-only under the running server here: " << why;
  }
  f_.Start();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Resolve().status, 200);
  const std::int64_t size = LogSize();
  struct Immutable {  // cleared whatever happens: the temporary directory must be removable
    std::vector<std::string> paths;
    ~Immutable() {
      for (const auto& p : paths) (void)SetImmutable(p, false);
    }
  } immutable;
  for (const std::string& p : {f_.db(), f_.db() + "-wal"}) {
    ASSERT_EQ(SetImmutable(p, true), 0) << p;
    immutable.paths.push_back(p);
  }
  ExpectFailClosed("disk I/O error");
  for (const auto& p : immutable.paths) ASSERT_EQ(SetImmutable(p, false), 0) << p;
  immutable.paths.clear();
  ExpectRecovery(size);
}

// A tmpfs for the database, filled up under the running server.
class AuditDiskFullTest : public AuditFaultTest {
 protected:
  void SetUp() override {
    mount_point_ = f_.dir() + "/small-fs";
    ASSERT_EQ(::mkdir(mount_point_.c_str(), 0700), 0);
    if (::mount("keyward-test", mount_point_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0700") !=
        0) {
      GTEST_SKIP()
          << "cannot mount a tmpfs to fill (" << std::strerror(errno)
          << "), and the configuration does not expose the audit database's max_page_count: disk full is not "
             "simulated here";
    }
    mounted_ = true;
    f_.SetDatabasePath(mount_point_ + "/audit.db");
  }
  void TearDown() override {
    AuditFaultTest::TearDown();  // stops the server and verifies the log while it is still mounted
    if (mounted_) {
      EXPECT_EQ(::umount2(mount_point_.c_str(), MNT_DETACH), 0) << std::strerror(errno);
    }
  }

  // Fills the filesystem; the file's path.
  std::string Fill() {
    const std::string path = mount_point_ + "/filler";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    const std::string chunk(4096, 'f');
    for (;;) {
      const ssize_t w = ::write(fd, chunk.data(), chunk.size());
      if (w <= 0) {
        EXPECT_EQ(errno, ENOSPC);
        break;
      }
    }
    ::close(fd);
    struct statvfs st {};
    ::statvfs(mount_point_.c_str(), &st);
    EXPECT_EQ(st.f_bavail, 0u) << "the filesystem is not full";
    return path;
  }

  std::string mount_point_;
  bool mounted_ = false;
};

TEST_F(AuditDiskFullTest, DiskFull) {
  f_.Start();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Resolve().status, 200);
  const std::int64_t size = LogSize();
  const std::string filler = Fill();
  ExpectFailClosed("database or disk is full");
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  ExpectRecovery(size);
}

}  // namespace
}  // namespace keyward::e2e
