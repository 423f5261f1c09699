#include "audit/merkle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>

#include <string>
#include <vector>

#include "core/testing/status_matchers.h"

namespace keyward::audit {
namespace {

using ::keyward::testing::IsOk;
using ::keyward::testing::StatusIs;
using ::testing::ElementsAreArray;

Digest D(const std::string& hex) {
  Digest d{};
  for (std::size_t i = 0; i < 32; ++i) d[i] = static_cast<std::uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return d;
}

std::string Bytes(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

// The RFC 6962 test vectors published by Certificate Transparency (transparency-dev/merkle
// testonly/constants.go and proof/verify_test.go): leaf inputs, roots of every prefix, node hashes.
const std::vector<std::string> kLeafInputs = {"",         "00",       "10",
                                              "2021",     "3031",     "40414243",
                                              "5051525354555657", "606162636465666768696a6b6c6d6e6f"};
const std::vector<std::string> kRoots = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
// Node hashes by level: leaves, then pairs, then fours, then the root of 8.
const std::vector<std::vector<std::string>> kNodes = {
    {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"},
    {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"},
    {"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"},
    {"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"}};

std::vector<Digest> Leaves(std::size_t n) {
  std::vector<Digest> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(LeafHash(Bytes(kLeafInputs[i])));
  return out;
}

std::vector<Digest> Ds(const std::vector<std::string>& hex) {
  std::vector<Digest> out;
  for (const auto& h : hex) out.push_back(D(h));
  return out;
}

TEST(MerkleTest, RootsOfEveryPrefixMatchTheVectors) {
  CompactRange range;
  EXPECT_EQ(ToHex(range.Root()), kRoots[0]);
  EXPECT_EQ(ToHex(EmptyRoot()), kRoots[0]);
  for (std::size_t n = 1; n <= 8; ++n) {
    range.Append(LeafHash(Bytes(kLeafInputs[n - 1])));
    EXPECT_EQ(ToHex(range.Root()), kRoots[n]) << n;
    EXPECT_EQ(ToHex(MerkleRoot(Leaves(n))), kRoots[n]) << n;
    EXPECT_EQ(range.size(), n);
  }
}

TEST(MerkleTest, LeafAndNodeHashesMatchTheVectors) {
  const auto leaves = Leaves(8);
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(ToHex(leaves[i]), kNodes[0][i]);
  EXPECT_EQ(ToHex(NodeHash(leaves[0], leaves[1])), kNodes[1][0]);
  EXPECT_EQ(ToHex(NodeHash(D(kNodes[1][2]), D(kNodes[1][3]))), kNodes[2][1]);
}

TEST(MerkleTest, CompactRangeHoldsThePerfectSubtrees) {
  // transparency-dev's CompactTrees(): the hashes a compact range holds after each append.
  const std::vector<std::vector<std::string>> expected = {
      {},
      {kNodes[0][0]},
      {kNodes[1][0]},
      {kNodes[1][0], kNodes[0][2]},
      {kNodes[2][0]},
      {kNodes[2][0], kNodes[0][4]},
      {kNodes[2][0], kNodes[1][2]},
      {kNodes[2][0], kNodes[1][2], kNodes[0][6]},
      {kNodes[3][0]}};
  CompactRange range;
  for (std::size_t n = 0; n <= 8; ++n) {
    if (n > 0) range.Append(LeafHash(Bytes(kLeafInputs[n - 1])));
    EXPECT_THAT(range.hashes(), ElementsAreArray(Ds(expected[n]))) << n;
  }
  auto restored = CompactRange::FromHashes(7, Ds(expected[7]));
  ASSERT_THAT(restored, IsOk());
  EXPECT_EQ(ToHex(restored->Root()), kRoots[7]);
  EXPECT_THAT(CompactRange::FromHashes(7, Ds(expected[4])), StatusIs(StatusCode::kInvalidArgument));
}

struct InclusionVector {
  std::uint64_t index, size;
  std::vector<std::string> proof;
};
const std::vector<InclusionVector> kInclusion = {
    {0, 8, {kNodes[0][1], kNodes[1][1], kNodes[2][1]}},
    {5, 8, {kNodes[0][4], kNodes[1][3], kNodes[2][0]}},
    {2, 3, {kNodes[1][0]}},
    {1, 5, {kNodes[0][0], kNodes[1][1], kNodes[0][4]}},
};

TEST(MerkleTest, InclusionProofsMatchTheVectorsAndVerify) {
  const auto leaves = Leaves(8);
  for (const auto& v : kInclusion) {
    const auto proof = InclusionProof(leaves, v.index, v.size);
    EXPECT_THAT(proof, ElementsAreArray(Ds(v.proof))) << v.index << "/" << v.size;
    EXPECT_THAT(VerifyInclusion(v.index, v.size, leaves[v.index], proof, D(kRoots[v.size])), IsOk());
  }
}

struct ConsistencyVector {
  std::uint64_t old_size, size;
  std::vector<std::string> proof;
};
const std::vector<ConsistencyVector> kConsistency = {
    {1, 8, {kNodes[0][1], kNodes[1][1], kNodes[2][1]}},
    {6, 8, {kNodes[1][2], kNodes[1][3], kNodes[2][0]}},
    {2, 5, {kNodes[1][1], kNodes[0][4]}},
    {6, 7, {kNodes[1][2], kNodes[0][6], kNodes[2][0]}},
};

TEST(MerkleTest, ConsistencyProofsMatchTheVectorsAndVerify) {
  const auto leaves = Leaves(8);
  for (const auto& v : kConsistency) {
    const auto proof = ConsistencyProof(leaves, v.old_size, v.size);
    EXPECT_THAT(proof, ElementsAreArray(Ds(v.proof))) << v.old_size << "->" << v.size;
    EXPECT_THAT(VerifyConsistency(v.old_size, v.size, D(kRoots[v.old_size]), D(kRoots[v.size]), proof), IsOk());
  }
}

// RFC 6962 §2.1.3: the seven-leaf example, with its labels, over the first seven vector leaves.
TEST(MerkleTest, Rfc6962SevenLeafExample) {
  const auto d = Leaves(7);
  const Digest a = d[0], b = d[1], c = d[2], dd = d[3], e = d[4], f = d[5], j = d[6];
  const Digest g = NodeHash(a, b), h = NodeHash(c, dd), i = NodeHash(e, f);
  const Digest k = NodeHash(g, h), l = NodeHash(i, j);
  EXPECT_EQ(ToHex(NodeHash(k, l)), kRoots[7]);
  // Audit paths.
  EXPECT_THAT(InclusionProof(d, 0, 7), ElementsAreArray({b, h, l}));
  EXPECT_THAT(InclusionProof(d, 3, 7), ElementsAreArray({c, g, l}));
  EXPECT_THAT(InclusionProof(d, 4, 7), ElementsAreArray({f, j, k}));
  EXPECT_THAT(InclusionProof(d, 6, 7), ElementsAreArray({i, k}));
  // Consistency proofs from hash0 (3 leaves), hash1 (4 leaves) and hash2 (6 leaves).
  EXPECT_THAT(ConsistencyProof(d, 3, 7), ElementsAreArray({c, dd, g, l}));
  EXPECT_THAT(ConsistencyProof(d, 4, 7), ElementsAreArray({l}));
  EXPECT_THAT(ConsistencyProof(d, 6, 7), ElementsAreArray({i, j, k}));
  for (const std::uint64_t m : {3u, 4u, 6u}) {
    EXPECT_THAT(VerifyConsistency(m, 7, D(kRoots[m]), D(kRoots[7]), ConsistencyProof(d, m, 7)), IsOk()) << m;
  }
}

// The length of a valid proof, as RFC 9162 defines it (and transparency-dev/merkle computes it): an
// oracle independent of the verifier, so that a rejected proof is known to be rejected for the right
// reason — InvalidArgument when its shape cannot be a proof for these sizes, DataLoss when it has the
// shape and the hashes disagree.
std::size_t InclusionProofLength(std::uint64_t index, std::uint64_t size) {
  const int inner = static_cast<int>(std::bit_width(index ^ (size - 1)));
  return static_cast<std::size_t>(inner + std::popcount(index >> inner));
}
std::size_t ConsistencyProofLength(std::uint64_t old_size, std::uint64_t size) {  // 0 < old_size < size
  const int shift = std::countr_zero(old_size);
  const int inner = static_cast<int>(std::bit_width((old_size - 1) ^ (size - 1)));
  const int border = std::popcount((old_size - 1) >> inner);
  const int start = old_size == (std::uint64_t{1} << shift) ? 0 : 1;
  return static_cast<std::size_t>(start + inner - shift + border);
}
StatusCode InclusionFailure(std::uint64_t index, std::uint64_t size, std::size_t proof_length) {
  if (index >= size || proof_length != InclusionProofLength(index, size)) return StatusCode::kInvalidArgument;
  return StatusCode::kDataLoss;
}
StatusCode ConsistencyFailure(std::uint64_t old_size, std::uint64_t size, std::size_t proof_length) {
  if (old_size > size) return StatusCode::kInvalidArgument;
  if (old_size == size || old_size == 0) return proof_length != 0 ? StatusCode::kInvalidArgument : StatusCode::kDataLoss;
  if (proof_length != ConsistencyProofLength(old_size, size)) return StatusCode::kInvalidArgument;
  return StatusCode::kDataLoss;
}

// Every leaf of every tree up to 40 leaves proves, and every prefix is consistent: the shapes where the
// RFC's algorithms have their special cases (powers of two, the 4.b.ii skip) are all in here.
TEST(MerkleTest, EveryProofOfSmallTreesVerifies) {
  std::vector<Digest> leaves;
  for (int x = 0; x < 40; ++x) leaves.push_back(LeafHash(std::string(1, static_cast<char>(x))));
  for (std::uint64_t n = 1; n <= leaves.size(); ++n) {
    const Digest root = MerkleRoot(std::span<const Digest>(leaves).subspan(0, n));
    for (std::uint64_t i = 0; i < n; ++i) {
      const auto proof = InclusionProof(leaves, i, n);
      ASSERT_EQ(proof.size(), InclusionProofLength(i, n)) << i << "/" << n;
      ASSERT_THAT(VerifyInclusion(i, n, leaves[i], proof, root), IsOk()) << i << "/" << n;
      if (n > 1) {
        ASSERT_THAT(VerifyInclusion(i, n, leaves[(i + 1) % n], proof, root), StatusIs(StatusCode::kDataLoss));
      }
    }
    for (std::uint64_t m = 1; m < n; ++m) {
      const Digest old_root = MerkleRoot(std::span<const Digest>(leaves).subspan(0, m));
      const auto proof = ConsistencyProof(leaves, m, n);
      ASSERT_EQ(proof.size(), ConsistencyProofLength(m, n)) << m << "->" << n;
      ASSERT_THAT(VerifyConsistency(m, n, old_root, root, proof), IsOk()) << m << "->" << n;
      ASSERT_THAT(VerifyConsistency(m, n, root, root, proof), StatusIs(StatusCode::kDataLoss)) << m << "->" << n;
    }
  }
}

std::vector<Digest> With(std::vector<Digest> p, std::size_t at, const Digest& d) {
  p.insert(p.begin() + static_cast<std::ptrdiff_t>(at), d);
  return p;
}

// The corruption probes of transparency-dev/merkle's verifier tests: every one must be rejected.
TEST(MerkleTest, CorruptedInclusionProofsAreRejected) {
  const auto leaves = Leaves(8);
  const Digest some = D("abacaba000000000000000000000000000000000000000000060061e00123456");
  const Digest zero{};
  for (const auto& v : kInclusion) {
    const auto proof = Ds(v.proof);
    const Digest root = D(kRoots[v.size]);
    const Digest leaf = leaves[v.index];
    // The proof for another index or tree size.
    for (const auto& [index, size] : {std::pair{v.index - 1, v.size}, {v.index + 1, v.size}, {v.index ^ 2, v.size},
                                      {v.index, v.size * 2}, {v.index, v.size / 2}}) {
      EXPECT_THAT(VerifyInclusion(index, size, leaf, proof, root), StatusIs(InclusionFailure(index, size, proof.size())))
          << index << "/" << size;
    }
    EXPECT_THAT(VerifyInclusion(v.index, v.size, some, proof, root), StatusIs(StatusCode::kDataLoss));
    EXPECT_THAT(VerifyInclusion(v.index, v.size, leaf, proof, EmptyRoot()), StatusIs(StatusCode::kDataLoss));
    EXPECT_THAT(VerifyInclusion(v.index, v.size, leaf, proof, some), StatusIs(StatusCode::kDataLoss));
    EXPECT_THAT(VerifyInclusion(v.index, v.size, leaf, With(proof, proof.size(), zero), root), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(VerifyInclusion(v.index, v.size, leaf, With(proof, proof.size(), root), root), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(VerifyInclusion(v.index, v.size, leaf, With(proof, 0, zero), root), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(VerifyInclusion(v.index, v.size, leaf, With(proof, 0, root), root), StatusIs(StatusCode::kInvalidArgument));
    for (std::size_t i = 0; i < proof.size(); ++i) {
      auto flipped = proof;
      flipped[i][0] ^= 8;
      EXPECT_THAT(VerifyInclusion(v.index, v.size, leaf, flipped, root), StatusIs(StatusCode::kDataLoss));
    }
    auto shorter = proof;
    shorter.pop_back();
    EXPECT_THAT(VerifyInclusion(v.index, v.size, leaf, shorter, root),
                StatusIs(StatusCode::kInvalidArgument, ::testing::HasSubstr("shorter")));
    if (proof.size() > 1) {
      auto inserted = proof;
      inserted.insert(inserted.begin() + 1, some);
      EXPECT_THAT(VerifyInclusion(v.index, v.size, leaf, inserted, root), StatusIs(StatusCode::kInvalidArgument));
    }
  }
}

TEST(MerkleTest, CorruptedConsistencyProofsAreRejected) {
  const Digest some = D("abacaba000000000000000000000000000000000000000000060061e00123456");
  const Digest zero{};
  for (const auto& v : kConsistency) {
    const auto proof = Ds(v.proof);
    const Digest r1 = D(kRoots[v.old_size]), r2 = D(kRoots[v.size]);
    // The proof between other tree sizes.
    for (const auto& [old_size, size] : {std::pair{v.old_size - 1, v.size}, {v.old_size + 1, v.size},
                                         {v.old_size ^ 2, v.size}, {v.old_size, v.size * 2}, {v.old_size, v.size / 2}}) {
      EXPECT_THAT(VerifyConsistency(old_size, size, r1, r2, proof),
                  StatusIs(ConsistencyFailure(old_size, size, proof.size())))
          << old_size << "->" << size;
    }
    EXPECT_THAT(VerifyConsistency(v.old_size, v.size, some, r2, proof), StatusIs(StatusCode::kDataLoss));
    EXPECT_THAT(VerifyConsistency(v.old_size, v.size, r1, some, proof), StatusIs(StatusCode::kDataLoss));
    EXPECT_THAT(VerifyConsistency(v.old_size, v.size, r2, r1, proof), StatusIs(StatusCode::kDataLoss));
    EXPECT_THAT(VerifyConsistency(v.old_size, v.size, r1, r2, {}), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(VerifyConsistency(v.old_size, v.size, r1, r2, With(proof, proof.size(), zero)), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(VerifyConsistency(v.old_size, v.size, r1, r2, With(proof, proof.size(), r1)), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(VerifyConsistency(v.old_size, v.size, r1, r2, With(proof, proof.size(), r2)), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(VerifyConsistency(v.old_size, v.size, r1, r2, With(proof, 0, zero)), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(VerifyConsistency(v.old_size, v.size, r1, r2, With(proof, 0, r1)), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(VerifyConsistency(v.old_size, v.size, r1, r2, With(proof, 0, r2)), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(VerifyConsistency(v.old_size, v.size, r1, r2, With(proof, 0, proof[0])), StatusIs(StatusCode::kInvalidArgument));
    auto shorter = proof;
    shorter.pop_back();
    EXPECT_THAT(VerifyConsistency(v.old_size, v.size, r1, r2, shorter), StatusIs(StatusCode::kInvalidArgument));
    for (std::size_t i = 0; i < proof.size(); ++i) {
      auto flipped = proof;
      flipped[i][0] ^= 16;
      EXPECT_THAT(VerifyConsistency(v.old_size, v.size, r1, r2, flipped), StatusIs(StatusCode::kDataLoss));
    }
  }
}

TEST(MerkleTest, ConsistencyEdgeCases) {
  const Digest r1 = D(kRoots[1]), r2 = D(kRoots[2]), empty = EmptyRoot();
  EXPECT_THAT(VerifyConsistency(0, 0, r1, r1, {}), IsOk());
  EXPECT_THAT(VerifyConsistency(0, 1, r1, r2, {}), IsOk());
  EXPECT_THAT(VerifyConsistency(1, 1, r2, r2, {}), IsOk());
  EXPECT_THAT(VerifyConsistency(1, 1, r1, r2, {}), StatusIs(StatusCode::kDataLoss));  // same size, two roots
  EXPECT_THAT(VerifyConsistency(1, 0, r1, r2, {}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(VerifyConsistency(2, 1, r1, r2, {}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(VerifyConsistency(1, 2, r1, r2, {}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(VerifyConsistency(0, 0, empty, empty, std::vector<Digest>{empty}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(VerifyConsistency(0, 1, empty, empty, std::vector<Digest>{empty}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(VerifyConsistency(1, 1, empty, empty, std::vector<Digest>{empty}), StatusIs(StatusCode::kInvalidArgument));
}

TEST(MerkleTest, InclusionEdgeCases) {
  const Digest leaf = LeafHash("data");
  EXPECT_THAT(VerifyInclusion(0, 1, leaf, {}, leaf), IsOk());
  EXPECT_THAT(VerifyInclusion(0, 0, leaf, {}, leaf), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(VerifyInclusion(1, 1, leaf, {}, leaf), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(VerifyInclusion(0, 1, leaf, {}, EmptyRoot()), StatusIs(StatusCode::kDataLoss));
}

TEST(ChainTest, FollowsTheDefinition) {
  // chain[1] = SHA-256(32 zero bytes || SHA-256(entry)).
  const std::string entry = "{}";
  const Digest eh = EntryHash(entry);
  std::string input(32, '\0');
  input.append(reinterpret_cast<const char*>(eh.data()), eh.size());
  EXPECT_EQ(ChainNext(kZeroChain, eh), Sha256(input));
  EXPECT_NE(LeafHash(entry), EntryHash(entry));  // the 0x00 prefix separates the two
}

}  // namespace
}  // namespace keyward::audit
