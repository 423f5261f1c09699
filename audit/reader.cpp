#include "audit/reader.h"

#include <sys/stat.h>

#include "audit/entry.h"

namespace keyward::audit {

Result<std::unique_ptr<AuditReader>> AuditReader::Open(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::NotFound("audit database " + path + " does not exist");
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + " is not a file");
  const bool has_wal = ::stat((path + "-wal").c_str(), &st) == 0;
  // URI parameters need the path %-escaped where it contains '?', '#' or '%'.
  // An absolute path gets an empty authority ("file:///..."): "file://x/..." would name a host "x".
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
  uri += has_wal ? "?mode=ro" : "?immutable=1";
  std::unique_ptr<SQLite::Database> database;
  KEYWARD_RETURN_IF_ERROR(db::Guard(StatusCode::kUnavailable, "cannot open " + path, [&] {
    database = std::make_unique<SQLite::Database>(uri, SQLite::OPEN_READONLY | SQLite::OPEN_URI);
  }));
  std::unique_ptr<AuditReader> r(new AuditReader(path, std::move(database)));
  std::optional<std::string> format, origin;
  const Status meta = db::Guard(StatusCode::kInvalidArgument, path + " is not a keyward audit database", [&] {
    format = db::ReadMeta(*r->db_, "format");
    origin = db::ReadMeta(*r->db_, "origin");
    r->max_seq_ = db::MaxSeq(*r->db_);
  });
  KEYWARD_RETURN_IF_ERROR(meta);
  if (!format || *format != kFormat) {
    return Status::InvalidArgument(path + " is not a " + std::string(kFormat) + " database (format: " +
                                   (format ? *format : std::string("missing")) + ")");
  }
  if (!origin || origin->empty()) return Status::InvalidArgument(path + " has no origin in its meta table");
  r->origin_ = *origin;
  return r;
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
