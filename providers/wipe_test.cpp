// Values are wiped before their memory is returned: this binary replaces the global operator delete
// with one that, while armed, looks into every block being freed for a marker value. A type that frees
// a copy of a value without wiping it first is caught in the act; each check has a control (the same
// operations on a type that does not wipe) that shows the detector sees such copies.
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include "core/json.h"
#include "core/secret_value.h"
#include "core/secure_string.h"
#include "providers/secure_json.h"

namespace {

constexpr char kMarker[] = "MARKER-5f0c1e9a-a-secret-value";  // longer than any inline string buffer
std::atomic<bool> g_armed{false};
std::atomic<int> g_found{0};

void Inspect(void* p, std::size_t n) noexcept {
  if (p == nullptr || !g_armed.load(std::memory_order_relaxed)) return;
  if (::memmem(p, n, kMarker, sizeof kMarker - 1) != nullptr) g_found.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

// These replace the global operators, so malloc/free pair correctly; GCC cannot see that once it
// inlines them into callers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept {
  Inspect(p, p != nullptr ? ::malloc_usable_size(p) : 0);
  std::free(p);
}
void operator delete(void* p, std::size_t n) noexcept {
  Inspect(p, n);
  std::free(p);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete[](void* p, std::size_t n) noexcept { operator delete(p, n); }
#pragma GCC diagnostic pop

namespace keyward {
namespace {

// Counts the freed blocks that held the marker while `body` runs.
template <typename F>
int FreedCopies(F body) {
  g_found = 0;
  g_armed = true;
  body();
  g_armed = false;
  return g_found.load();
}

TEST(WipeTest, SecretValueWipesItsBytes) {
  auto* v = new SecretValue(kMarker);
  EXPECT_EQ(FreedCopies([&] { delete v; }), 0);
  // Moved: the moved-to value owns the bytes; neither leaves a copy behind.
  SecretValue a(kMarker);
  EXPECT_EQ(FreedCopies([&] {
              SecretValue b(std::move(a));
              SecretValue c;
              c = std::move(b);
            }),
            0);
}

TEST(WipeTest, SecureStringWipesEveryBlockItGrewOutOf) {
  EXPECT_EQ(FreedCopies([] {
              SecureString s;
              s.append(kMarker);
              for (int i = 0; i < 10; ++i) s.append(std::string(1000, 'x'));  // reallocates: frees the old blocks
            }),
            0);
  // Control: a std::string doing the same frees copies of the marker.
  EXPECT_GT(FreedCopies([] {
              std::string s;
              s.append(kMarker);
              for (int i = 0; i < 10; ++i) s.append(std::string(1000, 'x'));
            }),
            0);
}

TEST(WipeTest, WipedJsonWipesTheStringsOfTheDocument) {
  auto parsed = ParseJson(std::string(R"({"data": {"user": "etl", "password": ")") + kMarker + R"("}, "list": [")" +
                          kMarker + R"("]})");
  ASSERT_TRUE(parsed.has_value());
  Json control = *parsed;  // copies, made before the detector is armed
  auto* wiped = new providers::WipedJson(std::move(*parsed));
  EXPECT_EQ(FreedCopies([&] { delete wiped; }), 0);
  EXPECT_GT(FreedCopies([&] { control = Json(); }), 0);  // a plain document frees its strings as they are
}

TEST(WipeTest, WritingJsonIntoASecureStringLeavesNoCopy) {
  Json doc = {{"value", kMarker}};
  EXPECT_EQ(FreedCopies([&] {
              SecureString out;
              providers::WriteJson(doc, &out);
              EXPECT_NE(out.view().find(kMarker), std::string_view::npos);
            }),
            0);
  providers::WipeJsonStrings(&doc);
  EXPECT_EQ(FreedCopies([&] { doc = Json(); }), 0);
}

}  // namespace
}  // namespace keyward
