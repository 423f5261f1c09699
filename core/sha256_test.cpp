#include "core/sha256.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keyward {
namespace {

// FIPS 180-2 test vectors.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(ToHex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, PartsHashLikeTheirConcatenation) {
  const std::string_view parts[] = {"ab", "", "c"};
  EXPECT_EQ(Sha256(std::span<const std::string_view>(parts)), Sha256("abc"));
}

TEST(Sha256Test, ConstantTimeEquals) {
  const Digest a = Sha256("a");
  const Digest b = Sha256("b");
  EXPECT_TRUE(ConstantTimeEquals(a, a));
  EXPECT_FALSE(ConstantTimeEquals(a, b));
  const std::vector<std::uint8_t> shorter(a.begin(), a.begin() + 31);
  EXPECT_FALSE(ConstantTimeEquals(a, shorter));
  // Every byte counts: a digest that differs from `a` in one bit of any one byte is not `a`.
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (const unsigned bit : {0x01u, 0x80u}) {
      Digest c = a;
      c[i] = static_cast<std::uint8_t>(c[i] ^ bit);
      EXPECT_FALSE(ConstantTimeEquals(a, c)) << "byte " << i << " bit " << bit;
    }
  }
}

}  // namespace
}  // namespace keyward
