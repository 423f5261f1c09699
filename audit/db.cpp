#include "audit/db.h"

#include <SQLiteCpp/Exception.h>

#include <charconv>
#include <cstring>

namespace keyward::audit::db {

Status Guard(StatusCode code, std::string_view what, const std::function<void()>& fn) {
  try {
    fn();
    return Status();
  } catch (const SQLite::Exception& e) {
    return Status(code, std::string(what) + ": " + e.what());
  }
}

std::optional<std::string> ReadMeta(SQLite::Database& db, const char* key) {
  SQLite::Statement q(db, "SELECT value FROM meta WHERE key = ?");
  q.bind(1, key);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

std::int64_t MaxSeq(SQLite::Database& db) {
  SQLite::Statement q(db, "SELECT max(seq) FROM entries");
  q.executeStep();
  return q.getColumn(0).isNull() ? 0 : q.getColumn(0).getInt64();
}

std::vector<StoredCheckpoint> ReadCheckpoints(SQLite::Database& db) {
  std::vector<StoredCheckpoint> out;
  SQLite::Statement q(db, "SELECT size, note FROM checkpoints ORDER BY size");
  while (q.executeStep()) out.push_back(StoredCheckpoint{q.getColumn(0).getInt64(), q.getColumn(1).getString()});
  return out;
}

void ForEachRow(SQLite::Database& db, std::int64_t from, std::int64_t to, const RowFn& fn) {
  SQLite::Statement q(db, "SELECT seq, entry, chain FROM entries WHERE seq >= ? AND seq <= ? ORDER BY seq");
  q.bind(1, from);
  q.bind(2, to);
  while (q.executeStep()) {
    const SQLite::Column entry = q.getColumn(1);
    const SQLite::Column chain = q.getColumn(2);
    const std::string_view e(static_cast<const char*>(entry.getBlob()), static_cast<std::size_t>(entry.getBytes()));
    const std::string_view c(static_cast<const char*>(chain.getBlob()), static_cast<std::size_t>(chain.getBytes()));
    if (!fn(q.getColumn(0).getInt64(), e, c)) break;
  }
}

std::string EncodeRange(const CompactRange& range) {
  std::string out = std::to_string(range.size());
  for (const Digest& d : range.hashes()) {
    out += ' ';
    out += ToHex(d);
  }
  return out;
}

Result<CompactRange> DecodeRange(std::string_view text) {
  const std::size_t sp = text.find(' ');
  const std::string_view size_text = text.substr(0, sp);
  std::uint64_t size = 0;
  const auto [end, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size);
  if (ec != std::errc() || end != size_text.data() + size_text.size()) {
    return Status::DataLoss("stored tree state has no valid size");
  }
  std::vector<Digest> hashes;
  std::string_view rest = sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1);
  while (!rest.empty()) {
    const std::string_view hex = rest.substr(0, 64);
    if (hex.size() != 64) return Status::DataLoss("stored tree state has a short hash");
    Digest d{};
    for (std::size_t i = 0; i < 32; ++i) {
      unsigned v = 0;
      const auto [p, e2] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
      if (e2 != std::errc() || p != hex.data() + 2 * i + 2) return Status::DataLoss("stored tree state is not hex");
      d[i] = static_cast<std::uint8_t>(v);
    }
    hashes.push_back(d);
    rest.remove_prefix(std::min<std::size_t>(rest.size(), 65));
  }
  return CompactRange::FromHashes(size, std::move(hashes));
}

bool ToDigest(std::string_view bytes, Digest* out) {
  if (bytes.size() != out->size()) return false;
  std::memcpy(out->data(), bytes.data(), out->size());
  return true;
}

}  // namespace keyward::audit::db
