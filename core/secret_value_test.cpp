#include "core/secret_value.h"

#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <utility>

namespace keyward {
namespace {

// Not printable by accident: no stream operator, no conversion to string.
template <typename T, typename = void>
struct Streamable : std::false_type {};
template <typename T>
struct Streamable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>>
    : std::true_type {};
static_assert(!Streamable<SecretValue>::value, "a SecretValue must not be streamable");
static_assert(!std::is_convertible_v<SecretValue, std::string>, "no implicit conversion to string");
static_assert(!std::is_convertible_v<SecretValue, std::string_view>, "no implicit conversion to string_view");
static_assert(!std::is_copy_constructible_v<SecretValue>, "copies must be explicit");

TEST(SecretValueTest, HoldsBytesIncludingNul) {
  const std::string bytes("a\0b\xff", 4);
  SecretValue v(bytes);
  EXPECT_EQ(v.reveal(), bytes);
  EXPECT_EQ(v.size(), 4u);
  EXPECT_FALSE(v.is_utf8());
  EXPECT_TRUE(SecretValue("caf\xC3\xA9").is_utf8());
}

TEST(SecretValueTest, MoveLeavesSourceEmpty) {
  SecretValue a("hunter2");
  SecretValue b(std::move(a));
  EXPECT_EQ(b.reveal(), "hunter2");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): checking the moved-from state is the point
  SecretValue c("x");
  c = std::move(b);
  EXPECT_EQ(c.reveal(), "hunter2");
  EXPECT_EQ(c.Clone().reveal(), "hunter2");
}

TEST(SecretValueTest, WipeMemoryZeroes) {
  char buf[8] = {'s', 'e', 'c', 'r', 'e', 't', '!', '!'};
  WipeMemory(buf, sizeof buf);
  for (const char c : buf) EXPECT_EQ(c, 0);
}

}  // namespace
}  // namespace keyward
