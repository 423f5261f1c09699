#include "audit/checkpoint.h"

#include <charconv>
#include <cstring>

#include "audit/note.h"

namespace keyward::audit {

std::string Checkpoint::Text() const {
  std::string out = origin;
  out += '\n';
  out += std::to_string(size);
  out += '\n';
  out += Base64Encode(std::span<const std::uint8_t>(root));
  out += '\n';
  for (const std::string& e : extensions) {
    out += e;
    out += '\n';
  }
  return out;
}

Result<Checkpoint> ParseCheckpoint(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    if (eol == std::string_view::npos) return Status::InvalidArgument("checkpoint does not end with a newline");
    lines.push_back(text.substr(0, eol));
    text.remove_prefix(eol + 1);
  }
  if (lines.size() < 3) return Status::InvalidArgument("checkpoint has fewer than three lines");
  Checkpoint c;
  c.origin = std::string(lines[0]);
  if (c.origin.empty()) return Status::InvalidArgument("checkpoint origin (line 1) is empty");
  const std::string_view size = lines[1];
  if (size.empty() || (size.size() > 1 && size[0] == '0') || size.find_first_not_of("0123456789") != std::string_view::npos) {
    return Status::InvalidArgument("checkpoint size (line 2) is not a decimal number without leading zeros");
  }
  const auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), c.size);
  if (ec != std::errc() || end != size.data() + size.size()) {
    return Status::InvalidArgument("checkpoint size (line 2) is out of range");
  }
  auto root = Base64Decode(lines[2]);
  if (!root.has_value() || root->size() != c.root.size()) {
    return Status::InvalidArgument("checkpoint root (line 3) is not the base64 of 32 bytes");
  }
  std::memcpy(c.root.data(), root->data(), c.root.size());
  for (std::size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) return Status::InvalidArgument("checkpoint has an empty extension line");
    c.extensions.emplace_back(lines[i]);
  }
  return c;
}

namespace {

// The end of the signature lines ("— ...\n") that start at `pos` (== pos when there are none), or npos
// when the last of them is still being written (no "\n" yet).
std::size_t SignaturesEnd(std::string_view file, std::size_t pos) {
  while (file.substr(pos, 4) == "\xE2\x80\x94 ") {
    const std::size_t eol = file.find('\n', pos);
    if (eol == std::string_view::npos) return std::string_view::npos;
    pos = eol + 1;
  }
  return pos;
}

}  // namespace

std::vector<std::string> SplitNotes(std::string_view file) {
  // Each note is a text block, a blank line, and signature lines ("— ..."); the export file puts one more
  // blank line after each. A note counts once its last signature line is complete (ends with "\n"): a note
  // cut short anywhere before that is not returned.
  std::vector<std::string> notes;
  std::size_t start = 0;
  while (start < file.size()) {
    const std::size_t blank = file.find("\n\n", start);
    if (blank == std::string_view::npos) break;
    std::size_t pos = SignaturesEnd(file, blank + 2);
    if (pos == std::string_view::npos) return notes;  // a signature line still being written
    if (pos != blank + 2) notes.emplace_back(file.substr(start, pos - start));
    if (pos < file.size() && file[pos] == '\n') ++pos;  // the export file's terminator
    start = pos;
  }
  return notes;
}

std::size_t WholeRecordsPrefix(std::string_view file) {
  std::size_t whole = 0, start = 0;
  while (start < file.size()) {
    const std::size_t blank = file.find("\n\n", start);
    if (blank == std::string_view::npos) break;
    const std::size_t pos = SignaturesEnd(file, blank + 2);
    if (pos == std::string_view::npos) return whole;
    if (pos == blank + 2) {  // a blank line with no signature after it: not a record boundary
      start = pos;
      continue;
    }
    if (pos >= file.size() || file[pos] != '\n') return whole;  // the terminating blank line is missing
    whole = start = pos + 1;
  }
  return whole;
}

}  // namespace keyward::audit
