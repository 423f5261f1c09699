// AuditReader: read-only access to an audit database, for the auditor's tools.
//
// It never writes the database or its WAL. Without a "-wal" file beside the database it opens it as
// immutable, touching nothing at all (the copied-file case). With a "-wal" file it opens it read-only so
// that committed entries still in the WAL are seen; SQLite then needs the "-shm" index beside it and may
// create that file. Where it cannot (a read-only directory) and no keyward-server holds the log's
// writer lock, the WAL is read with an index in private memory instead (no locks, nothing created).
#pragma once

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "audit/db.h"
#include "core/result.h"

namespace keyward::audit {

class AuditReader {
 public:
  // NotFound (no such file), InvalidArgument (not a keyward-audit/1 database), Unavailable (unreadable).
  static Result<std::unique_ptr<AuditReader>> Open(const std::string& path);

  const std::string& path() const { return path_; }
  const std::string& origin() const { return origin_; }
  std::int64_t max_seq() const { return max_seq_; }

  Result<std::vector<db::StoredCheckpoint>> Checkpoints();
  Status ForEach(std::int64_t from, std::int64_t to, const db::RowFn& fn);
  // The seq and chain value of the last row before `seq`, if there is one.
  Result<std::optional<std::pair<std::int64_t, std::string>>> LastBefore(std::int64_t seq);

 private:
  AuditReader(std::string path, std::unique_ptr<SQLite::Database> database)
      : path_(std::move(path)), db_(std::move(database)) {}

  std::string path_;
  std::unique_ptr<SQLite::Database> db_;
  std::string origin_;
  std::int64_t max_seq_ = 0;
};

}  // namespace keyward::audit
