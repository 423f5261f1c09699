// C2SP tlog-checkpoint bodies (c2sp.org/tlog-checkpoint) and the checkpoint export file.
//
//   <origin>\n<tree size in decimal>\n<base64 of the RFC 6962 root>\n[extension lines]
//
// The export file is a sequence of signed notes, each followed by one extra blank line ("\n"). A note
// is complete only once that terminator is there: a reader ignores a final note without it (it is
// being written, or a crash cut it short).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/sha256.h"

namespace keyward::audit {

struct Checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  Digest root{};
  std::vector<std::string> extensions;

  std::string Text() const;
  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// Parses a checkpoint body (the text of a signed note). InvalidArgument says which line is wrong.
Result<Checkpoint> ParseCheckpoint(std::string_view text);

// Splits an export file (or any file of concatenated notes separated by blank lines) into complete notes.
// A single note without the trailing blank line is accepted too, so a file holding one note works.
std::vector<std::string> SplitNotes(std::string_view file);
// The length of the longest prefix of an export file made of whole records (a note and the blank line
// after it). Anything after it is a record cut short, by a crash in the middle of an append.
std::size_t WholeRecordsPrefix(std::string_view file);

}  // namespace keyward::audit
