// SQLite plumbing shared by the writer (store.cpp) and the read-only reader (reader.cpp). Internal.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/merkle.h"
#include "core/result.h"

namespace keyward::audit::db {

// The normative schema (docs/audit-format.md).
inline constexpr const char* kSchema =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE entries(seq INTEGER PRIMARY KEY, entry BLOB NOT NULL, chain BLOB NOT NULL);"
    "CREATE TABLE checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL);";

// A meta key beyond the normative "format" and "origin": the compact range at the last checkpoint, kept
// with each checkpoint so that reopening a large log need not rescan it. Verifiers ignore it.
inline constexpr const char* kMetaCheckpointTree = "checkpoint_tree";

// Runs `fn` (which may throw SQLite::Exception) and turns SQLite errors into a Status of `code` whose
// message starts with `what`.
Status Guard(StatusCode code, std::string_view what, const std::function<void()>& fn);

std::optional<std::string> ReadMeta(SQLite::Database& db, const char* key);
std::int64_t MaxSeq(SQLite::Database& db);

struct StoredCheckpoint {
  std::int64_t size = 0;
  std::string note;
};
std::vector<StoredCheckpoint> ReadCheckpoints(SQLite::Database& db);  // ascending size

// Calls fn(seq, entry, chain) for from <= seq <= to, in seq order, until fn returns false. The views
// are valid during the call only.
using RowFn = std::function<bool(std::int64_t, std::string_view, std::string_view)>;
void ForEachRow(SQLite::Database& db, std::int64_t from, std::int64_t to, const RowFn& fn);

// "<size> <hex> <hex> ..." <-> CompactRange.
std::string EncodeRange(const CompactRange& range);
Result<CompactRange> DecodeRange(std::string_view text);

bool ToDigest(std::string_view bytes, Digest* out);

}  // namespace keyward::audit::db
