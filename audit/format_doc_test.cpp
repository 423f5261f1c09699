// docs/audit-format.md's worked example is checked here, so the documented bytes and hashes stay true.
// KEYWARD_PRINT_WORKED_EXAMPLE=1 prints the block instead (to regenerate the page after a format change).
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "core/file.h"

namespace keyward::audit {
namespace {

std::string Hex(std::string_view bytes) {
  return ToHex(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

std::vector<Entry> ExampleEntries() {
  const std::string policy = "e2da45173e969115bb7b88af01dfe75e7c3f413ea44bef00ee73a7fb4378f574";
  Entry start{1, "2026-12-04T09:00:00.000000Z",
              AuditRecord{"", "", "", "", "", "", "", "server.start", "allow", "", policy, "", "keyward-server 0.1.0"}};
  Entry allow{2, "2026-12-04T09:00:01.250000Z",
              AuditRecord{"7f3c0d9e", "pipeline-etl-daily", "emr-etl", "vault", "vault", "secret/data-eng/snowflake",
                          "password", "resolve", "allow", "rule:etl-reads-snowflake", policy, "10.1.2.3:52144", ""}};
  Entry deny{3, "2026-12-04T09:00:02.500000Z",
             AuditRecord{"b21e44a0", "trial-user-acme", "trial-acme", "dbx-trial", "databricks", "trial-globex",
                         "openai-key", "resolve", "deny", "constraint:managed-fabric-own-scope", policy,
                         "10.1.2.4:40112", ""}};
  return {start, allow, deny};
}

// The worked example as "name: value" lines, computed from first principles.
std::vector<std::pair<std::string, std::string>> Compute() {
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<std::uint8_t> seed(32);
  for (std::size_t i = 0; i < 32; ++i) seed[i] = static_cast<std::uint8_t>(i);
  auto key = SigningKey::FromSeed("example.org/keyward", seed);
  out.push_back({"key name", "example.org/keyward"});
  out.push_back({"ed25519 seed", ToHex(seed)});
  out.push_back({"ed25519 public key", ToHex(key->verifier().key)});
  char id[9];
  std::snprintf(id, sizeof id, "%08x", key->verifier().id);
  out.push_back({"key id", id});
  out.push_back({"verifier key", key->verifier().ToString()});
  Digest chain = kZeroChain;
  CompactRange tree;
  std::vector<Digest> leaves;
  for (const Entry& e : ExampleEntries()) {
    const std::string n = std::to_string(e.seq);
    const std::string bytes = *EncodeEntry(e);
    const Digest eh = EntryHash(bytes);
    chain = ChainNext(chain, eh);
    leaves.push_back(LeafHash(bytes));
    tree.Append(leaves.back());
    out.push_back({"entry[" + n + "]", bytes});
    out.push_back({"entry[" + n + "] hex", Hex(bytes)});
    out.push_back({"SHA-256(entry[" + n + "])", ToHex(eh)});
    out.push_back({"chain[" + n + "]", ToHex(chain)});
    out.push_back({"leaf[" + n + "] = SHA-256(00 || entry[" + n + "])", ToHex(leaves.back())});
  }
  out.push_back({"node(1,2) = SHA-256(01 || leaf[1] || leaf[2])", ToHex(NodeHash(leaves[0], leaves[1]))});
  out.push_back({"root(3) = SHA-256(01 || node(1,2) || leaf[3])", ToHex(tree.Root())});
  out.push_back({"root(3) base64", Base64Encode(std::span<const std::uint8_t>(tree.Root()))});
  const Checkpoint cp{"example.org/keyward", 3, tree.Root(), {}};
  const std::string text = cp.Text();
  out.push_back({"checkpoint text hex", Hex(text)});
  const auto sig = key->Sign(text);
  out.push_back({"ed25519 signature", ToHex(sig)});
  const std::string note = *SignNote(text, *key);
  out.push_back({"signature line", note.substr(text.size() + 1, note.size() - text.size() - 2)});
  return out;
}

constexpr std::string_view kBegin = "<!-- worked-example:begin -->\n```\n";
constexpr std::string_view kEnd = "```\n<!-- worked-example:end -->";

TEST(FormatDocTest, WorkedExampleIsTrue) {
  const auto lines = Compute();
  if (std::getenv("KEYWARD_PRINT_WORKED_EXAMPLE") != nullptr) {
    for (const auto& [k, v] : lines) std::cout << k << ": " << v << "\n";
    GTEST_SKIP() << "printed the worked example";
  }
  auto doc = ReadFile(std::string(KEYWARD_SOURCE_DIR) + "/docs/audit-format.md", 1 << 20);
  ASSERT_TRUE(doc.has_value()) << doc.error();
  const std::size_t begin = doc->find(kBegin);
  const std::size_t end = doc->find(kEnd);
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  std::map<std::string, std::string> documented;
  std::istringstream block(doc->substr(begin + kBegin.size(), end - begin - kBegin.size()));
  std::string line;
  while (std::getline(block, line)) {
    const std::size_t sep = line.find(": ");
    if (sep != std::string::npos) documented[line.substr(0, sep)] = line.substr(sep + 2);
  }
  for (const auto& [k, v] : lines) {
    auto it = documented.find(k);
    ASSERT_NE(it, documented.end()) << "the worked example lacks '" << k << "'";
    EXPECT_EQ(it->second, v) << "'" << k << "' in docs/audit-format.md is out of date";
  }
  EXPECT_EQ(documented.size(), lines.size());
}

TEST(FormatDocTest, ExampleEntriesDecodeBack) {
  for (const Entry& e : ExampleEntries()) {
    auto decoded = DecodeEntry(*EncodeEntry(e));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, e);
  }
}

}  // namespace
}  // namespace keyward::audit
