#include "audit/reader.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "audit/entry.h"

namespace keyward::audit {

namespace {

// Whether a keyward-server holds the log's writer lock (PATH.lock, flock'd for as long as it runs).
bool WriterIsLive(const std::string& path) {
  const int fd = ::open((path + ".lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;  // no lock file: no server ever wrote here, or it was removed with the copy
  const bool live = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return live;
}

}  // namespace

Result<std::unique_ptr<AuditReader>> AuditReader::Open(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::NotFound("audit database " + path + " does not exist");
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + " is not a file");
  const bool has_wal = ::stat((path + "-wal").c_str(), &st) == 0;
  // URI parameters need the path %-escaped where it contains '?', '#' or '%'. An absolute path gets an
  // empty authority ("file:///..."): "file://x/..." would name a host "x".
  std::string uri = path.front() == '/' ? "file://" : "file:";
  for (const char c : path) {
    if (c == '?' || c == '#' || c == '%') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      uri += buf;
    } else {
      uri += c;
    }
  }
  // Without a -wal: immutable, touching nothing at all. With one: read-only, through the -shm index
  // beside it (SQLite creates it if need be). Where that cannot be created (a read-only directory, a
  // read-only copy) and no server is writing the log, the WAL is read without shared memory instead:
  // no locks and an index in the process's own memory (exclusive locking mode), so nothing is created.
  enum class Mode { kImmutable, kShared, kPrivate };
  auto open = [&](Mode mode) -> Result<std::unique_ptr<AuditReader>> {
    const std::string suffix = mode == Mode::kImmutable ? "?immutable=1"
                               : mode == Mode::kShared  ? "?mode=ro"
                                                        : "?mode=ro&vfs=unix-none";
    std::unique_ptr<SQLite::Database> database;
    std::optional<std::string> format, origin;
    std::int64_t max_seq = 0;
    int sqlite_code = 0;
    const Status s = db::Guard(StatusCode::kUnavailable, "cannot read " + path, [&] {
      try {
        database = std::make_unique<SQLite::Database>(uri + suffix, SQLite::OPEN_READONLY | SQLite::OPEN_URI);
        if (mode == Mode::kPrivate) database->exec("PRAGMA locking_mode=EXCLUSIVE");
        format = db::ReadMeta(*database, "format");
        origin = db::ReadMeta(*database, "origin");
        max_seq = db::MaxSeq(*database);
      } catch (const SQLite::Exception& e) {
        sqlite_code = e.getErrorCode();
        throw;
      }
    });
    if (!s.ok()) {
      // SQLITE_CANTOPEN: the file or its -shm cannot be opened; anything else: not a database we know.
      if (sqlite_code == SQLITE_CANTOPEN || sqlite_code == SQLITE_READONLY) return s;
      return Status::InvalidArgument(path + " is not a keyward audit database: " + s.message());
    }
    if (!format || *format != kFormat) {
      return Status::InvalidArgument(path + " is not a " + std::string(kFormat) + " database (format: " +
                                     (format ? *format : std::string("missing")) + ")");
    }
    if (!origin || origin->empty()) return Status::InvalidArgument(path + " has no origin in its meta table");
    std::unique_ptr<AuditReader> r(new AuditReader(path, std::move(database)));
    r->origin_ = *origin;
    r->max_seq_ = max_seq;
    return r;
  };
  if (!has_wal) return open(Mode::kImmutable);
  auto shared = open(Mode::kShared);
  if (shared.has_value() || shared.error().code() != StatusCode::kUnavailable) return shared;
  if (WriterIsLive(path)) {
    return Status::Unavailable(shared.error().message() + " (a keyward-server is writing this log: run keyward-audit "
                               "as a user who may create " + path + "-shm, or verify a copy)");
  }
  auto local = open(Mode::kPrivate);
  if (local.has_value()) return local;
  return Status::Unavailable(shared.error().message() + "; read without shared memory: " + local.error().message());
}

Result<std::vector<db::StoredCheckpoint>> AuditReader::Checkpoints() {
  std::vector<db::StoredCheckpoint> out;
  KEYWARD_RETURN_IF_ERROR(db::Guard(StatusCode::kUnavailable, "reading checkpoints of " + path_,
                                    [&] { out = db::ReadCheckpoints(*db_); }));
  return out;
}

Status AuditReader::ForEach(std::int64_t from, std::int64_t to, const db::RowFn& fn) {
  return db::Guard(StatusCode::kUnavailable, "reading entries of " + path_, [&] { db::ForEachRow(*db_, from, to, fn); });
}

Result<std::optional<std::pair<std::int64_t, std::string>>> AuditReader::LastBefore(std::int64_t seq) {
  std::optional<std::pair<std::int64_t, std::string>> out;
  KEYWARD_RETURN_IF_ERROR(db::Guard(StatusCode::kUnavailable, "reading entries of " + path_, [&] {
    SQLite::Statement q(*db_, "SELECT seq, chain FROM entries WHERE seq < ? ORDER BY seq DESC LIMIT 1");
    q.bind(1, seq);
    if (q.executeStep()) {
      const SQLite::Column chain = q.getColumn(1);
      out.emplace(q.getColumn(0).getInt64(),
                  std::string(static_cast<const char*>(chain.getBlob()), static_cast<std::size_t>(chain.getBytes())));
    }
  }));
  return out;
}

}  // namespace keyward::audit
