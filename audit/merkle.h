// Hashing for the audit log: the row hash chain, and the RFC 6962 Merkle tree over the same entries.
//
//   entry hash  SHA-256(entry)
//   chain[n]    SHA-256(chain[n-1] || SHA-256(entry[n])), chain[0] = 32 zero bytes
//   leaf hash   SHA-256(0x00 || entry)
//   node hash   SHA-256(0x01 || left || right)
//   MTH({})     SHA-256("")
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/sha256.h"

namespace keyward::audit {

inline constexpr Digest kZeroChain{};

Digest EntryHash(std::string_view entry);
Digest ChainNext(const Digest& previous_chain, const Digest& entry_hash);
Digest LeafHash(std::string_view entry);
Digest NodeHash(const Digest& left, const Digest& right);
Digest EmptyRoot();

// The state of an RFC 6962 tree of `size` leaves as the roots of its perfect subtrees, left to right
// (one per set bit of size, largest first). Appending costs O(log n) at worst and O(1) amortised; the
// root costs O(log n). It is small enough to persist, so reopening a log need not rescan it.
class CompactRange {
 public:
  CompactRange() = default;
  // REQUIRES: hashes.size() == popcount(size). InvalidArgument otherwise.
  static Result<CompactRange> FromHashes(std::uint64_t size, std::vector<Digest> hashes);

  void Append(const Digest& leaf_hash);
  Digest Root() const;
  std::uint64_t size() const { return size_; }
  const std::vector<Digest>& hashes() const { return hashes_; }

  friend bool operator==(const CompactRange&, const CompactRange&) = default;

 private:
  std::uint64_t size_ = 0;
  std::vector<Digest> hashes_;
};

// The root of the tree over `leaf_hashes` (RFC 6962 MTH).
Digest MerkleRoot(std::span<const Digest> leaf_hashes);

// RFC 6962 §2.1.1 PATH(index, D[n]) over the first `size` leaves. REQUIRES: index < size <= leaf_hashes.size().
std::vector<Digest> InclusionProof(std::span<const Digest> leaf_hashes, std::uint64_t index, std::uint64_t size);
// RFC 6962 §2.1.2 PROOF(old_size, D[size]). REQUIRES: 0 < old_size <= size <= leaf_hashes.size().
std::vector<Digest> ConsistencyProof(std::span<const Digest> leaf_hashes, std::uint64_t old_size, std::uint64_t size);

// RFC 9162 §2.1.3.2: OK when `proof` shows the leaf with `leaf_hash` at `index` in the tree of `size`
// leaves with `root`. InvalidArgument (malformed: index out of range, wrong proof length) or DataLoss
// (does not verify), with a message saying which check failed.
Status VerifyInclusion(std::uint64_t index, std::uint64_t size, const Digest& leaf_hash,
                       std::span<const Digest> proof, const Digest& root);
// RFC 9162 §2.1.4.2: OK when `proof` shows that the tree of `old_size` leaves with `old_root` is a
// prefix of the tree of `size` leaves with `root`. Same error codes.
Status VerifyConsistency(std::uint64_t old_size, std::uint64_t size, const Digest& old_root, const Digest& root,
                         std::span<const Digest> proof);

}  // namespace keyward::audit
