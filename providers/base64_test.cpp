#include "providers/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace keyward::providers {
namespace {

// RFC 4648 §10.
TEST(Base64, RfcVectors) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain).view(), encoded) << plain;
    auto d = Base64Decode(encoded);
    ASSERT_TRUE(d.has_value()) << encoded;
    EXPECT_EQ(d->view(), plain);
  }
}

TEST(Base64, EveryByteRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t len = 0; len <= all.size(); len += 37) {
    const std::string bytes = all.substr(0, len);
    auto d = Base64Decode(Base64Encode(bytes).view());
    ASSERT_TRUE(d.has_value()) << len;
    EXPECT_EQ(d->view(), bytes) << len;
  }
  EXPECT_EQ(Base64Encode(std::string("\xff\xfe\x00\x01", 4)).view(), "//4AAQ==");
}

TEST(Base64, RejectsWhatIsNotCanonicalBase64) {
  for (const char* bad : {"Zg=", "Zg", "Z===", "Zm9v!A==", "Zm 9v", "Zh==", "Zm9=", "=Zm9", "Zg==Zg==", "Zm8=\n"}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace keyward::providers
