#include "audit/merkle.h"

#include <bit>

namespace keyward::audit {
namespace {

std::string_view View(const Digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

// The largest power of two smaller than n. REQUIRES: n > 1.
std::uint64_t SplitPoint(std::uint64_t n) { return std::bit_floor(n - 1); }

Digest Mth(std::span<const Digest> d) {
  if (d.empty()) return EmptyRoot();
  if (d.size() == 1) return d[0];
  const std::uint64_t k = SplitPoint(d.size());
  return NodeHash(Mth(d.subspan(0, k)), Mth(d.subspan(k)));
}

void Path(std::uint64_t m, std::span<const Digest> d, std::vector<Digest>* out) {
  if (d.size() <= 1) return;
  const std::uint64_t k = SplitPoint(d.size());
  if (m < k) {
    Path(m, d.subspan(0, k), out);
    out->push_back(Mth(d.subspan(k)));
  } else {
    Path(m - k, d.subspan(k), out);
    out->push_back(Mth(d.subspan(0, k)));
  }
}

// RFC 6962 SUBPROOF(m, D[n], b).
void SubProof(std::uint64_t m, std::span<const Digest> d, bool b, std::vector<Digest>* out) {
  const std::uint64_t n = d.size();
  if (m == n) {
    if (!b) out->push_back(Mth(d));
    return;
  }
  const std::uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubProof(m, d.subspan(0, k), b, out);
    out->push_back(Mth(d.subspan(k)));
  } else {
    SubProof(m - k, d.subspan(k), false, out);
    out->push_back(Mth(d.subspan(0, k)));
  }
}

}  // namespace

Digest EntryHash(std::string_view entry) { return Sha256(entry); }

Digest ChainNext(const Digest& previous_chain, const Digest& entry_hash) {
  const std::string_view parts[] = {View(previous_chain), View(entry_hash)};
  return Sha256(std::span<const std::string_view>(parts));
}

Digest LeafHash(std::string_view entry) {
  static constexpr char kLeafPrefix = 0x00;
  const std::string_view parts[] = {std::string_view(&kLeafPrefix, 1), entry};
  return Sha256(std::span<const std::string_view>(parts));
}

Digest NodeHash(const Digest& left, const Digest& right) {
  static constexpr char kNodePrefix = 0x01;
  const std::string_view parts[] = {std::string_view(&kNodePrefix, 1), View(left), View(right)};
  return Sha256(std::span<const std::string_view>(parts));
}

Digest EmptyRoot() { return Sha256(std::string_view()); }

Result<CompactRange> CompactRange::FromHashes(std::uint64_t size, std::vector<Digest> hashes) {
  if (static_cast<std::size_t>(std::popcount(size)) != hashes.size()) {
    return Status::InvalidArgument("a compact range of size " + std::to_string(size) + " has " +
                                   std::to_string(std::popcount(size)) + " hashes, not " +
                                   std::to_string(hashes.size()));
  }
  CompactRange r;
  r.size_ = size;
  r.hashes_ = std::move(hashes);
  return r;
}

void CompactRange::Append(const Digest& leaf_hash) {
  hashes_.push_back(leaf_hash);
  // Each trailing one bit of the old size is a perfect subtree the new leaf completes.
  for (std::uint64_t s = size_; s & 1; s >>= 1) {
    const Digest right = hashes_.back();
    hashes_.pop_back();
    hashes_.back() = NodeHash(hashes_.back(), right);
  }
  ++size_;
}

Digest CompactRange::Root() const {
  if (hashes_.empty()) return EmptyRoot();
  Digest r = hashes_.back();
  for (std::size_t i = hashes_.size() - 1; i-- > 0;) r = NodeHash(hashes_[i], r);
  return r;
}

Digest MerkleRoot(std::span<const Digest> leaf_hashes) { return Mth(leaf_hashes); }

std::vector<Digest> InclusionProof(std::span<const Digest> leaf_hashes, std::uint64_t index, std::uint64_t size) {
  std::vector<Digest> out;
  Path(index, leaf_hashes.subspan(0, size), &out);
  return out;
}

std::vector<Digest> ConsistencyProof(std::span<const Digest> leaf_hashes, std::uint64_t old_size,
                                     std::uint64_t size) {
  std::vector<Digest> out;
  SubProof(old_size, leaf_hashes.subspan(0, size), true, &out);
  return out;
}

Status VerifyInclusion(std::uint64_t index, std::uint64_t size, const Digest& leaf_hash,
                       std::span<const Digest> proof, const Digest& root) {
  // RFC 9162 §2.1.3.2, step by step.
  if (index >= size) {
    return Status::InvalidArgument("leaf index " + std::to_string(index) + " is not below the tree size " +
                                   std::to_string(size));
  }
  std::uint64_t fn = index, sn = size - 1;
  Digest r = leaf_hash;
  for (const Digest& p : proof) {
    if (sn == 0) return Status::InvalidArgument("the inclusion proof is longer than the tree is deep");
    if ((fn & 1) || fn == sn) {
      r = NodeHash(p, r);
      if (!(fn & 1)) {  // step 4.b.ii: skip the levels where this node has no right sibling
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Status::InvalidArgument("the inclusion proof is shorter than the tree is deep");
  if (r != root) return Status::DataLoss("the inclusion proof does not lead to the root");
  return Status();
}

Status VerifyConsistency(std::uint64_t old_size, std::uint64_t size, const Digest& old_root, const Digest& root,
                         std::span<const Digest> proof) {
  if (old_size > size) {
    return Status::InvalidArgument("the old size " + std::to_string(old_size) + " is larger than the new size " +
                                   std::to_string(size));
  }
  if (old_size == size) {
    if (!proof.empty()) return Status::InvalidArgument("a consistency proof between equal sizes must be empty");
    if (old_root != root) return Status::DataLoss("two different roots for the same tree size");
    return Status();
  }
  if (old_size == 0) {
    if (!proof.empty()) return Status::InvalidArgument("a consistency proof from the empty tree must be empty");
    return Status();
  }
  // RFC 9162 §2.1.4.2, step by step.
  if (proof.empty()) return Status::InvalidArgument("the consistency proof is empty");
  std::vector<Digest> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(old_size)) path.push_back(old_root);  // step 2
  path.insert(path.end(), proof.begin(), proof.end());
  std::uint64_t fn = old_size - 1, sn = size - 1;
  while (fn & 1) {  // step 4
    fn >>= 1;
    sn >>= 1;
  }
  Digest fr = path[0], sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const Digest& c = path[i];
    if (sn == 0) return Status::InvalidArgument("the consistency proof is longer than needed");
    if ((fn & 1) || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if (!(fn & 1)) {
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Status::InvalidArgument("the consistency proof is shorter than needed");
  if (fr != old_root) return Status::DataLoss("the consistency proof does not lead to the old root");
  if (sr != root) return Status::DataLoss("the consistency proof does not lead to the new root");
  return Status();
}

}  // namespace keyward::audit
