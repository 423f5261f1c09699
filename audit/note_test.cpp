#include "audit/note.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <fstream>

#include <string>
#include <vector>

#include "audit/checkpoint.h"
#include "core/file.h"
#include "core/testing/status_matchers.h"

namespace keyward::audit {
namespace {

using ::keyward::testing::IsOk;
using ::keyward::testing::IsOkAndHolds;
using ::keyward::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;

// golang.org/x/mod/sumdb/note's published example: key, text and signed note. Ed25519 is deterministic,
// so a signer that follows the spec reproduces the note byte for byte — which is what makes our
// checkpoints verifiable by Go's tooling (and theirs by ours).
constexpr const char* kGoVerifierKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr const char* kGoSeedBase64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";  // 0x01 || seed
constexpr const char* kGoText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr const char* kGoNote =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xE2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

SigningKey GoKey() {
  auto material = Base64Decode(kGoSeedBase64);
  EXPECT_THAT(material, IsOk());
  auto key = SigningKey::FromSeed("PeterNeumann", std::span<const std::uint8_t>(*material).subspan(1));
  EXPECT_THAT(key, IsOk());
  return std::move(key).value();
}

TEST(NoteTest, ReproducesGoSignedNoteByteForByte) {
  const SigningKey key = GoKey();
  EXPECT_EQ(key.verifier().ToString(), kGoVerifierKey);
  EXPECT_THAT(SignNote(kGoText, key), IsOkAndHolds(Eq(std::string(kGoNote))));
}

TEST(NoteTest, VerifiesGoNote) {
  auto vk = ParseVerifierKey(kGoVerifierKey);
  ASSERT_THAT(vk, IsOk());
  EXPECT_EQ(vk->name, "PeterNeumann");
  EXPECT_EQ(vk->id, 0xc74f20a3u);
  auto note = ParseNote(kGoNote);
  ASSERT_THAT(note, IsOk());
  EXPECT_EQ(note->text, kGoText);
  const std::vector<VerifierKey> trusted = {*vk};
  EXPECT_THAT(VerifyNote(*note, trusted), IsOkAndHolds(ElementsAre("PeterNeumann")));
  note->text[3] = 'X';
  EXPECT_THAT(VerifyNote(*note, trusted), StatusIs(StatusCode::kDataLoss, HasSubstr("does not verify")));
}

TEST(NoteTest, UnknownKeysAreIgnoredButSomeTrustedKeyMustSign) {
  auto note = ParseNote(kGoNote);
  ASSERT_THAT(note, IsOk());
  auto other = SigningKey::Generate("PeterNeumann");  // same name, other key: another key id
  ASSERT_THAT(other, IsOk());
  const std::vector<VerifierKey> only_other = {other->verifier()};
  EXPECT_THAT(VerifyNote(*note, only_other), StatusIs(StatusCode::kDataLoss, HasSubstr("no trusted key signed")));
  // A second signature by an unknown key does not spoil a note a trusted key signed.
  auto extra = SigningKey::Generate("witness.example/w1");
  ASSERT_THAT(extra, IsOk());
  auto cosigned = ParseNote(*SignNote(kGoText, *extra));
  ASSERT_THAT(cosigned, IsOk());
  note->signatures.push_back(cosigned->signatures[0]);
  const std::vector<VerifierKey> go = {*ParseVerifierKey(kGoVerifierKey)};
  EXPECT_THAT(VerifyNote(*ParseNote(FormatNote(*note)), go), IsOkAndHolds(ElementsAre("PeterNeumann")));
}

TEST(NoteTest, MalformedNotes) {
  EXPECT_THAT(ParseNote("no blank line\n\xE2\x80\x94 k AAAA\n"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("blank line")));
  EXPECT_THAT(ParseNote("text\n\n"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("no signatures")));
  EXPECT_THAT(ParseNote("text\n\n- k AAAAAAAA\n"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("\"— \"")));
  EXPECT_THAT(ParseNote("text\n\n\xE2\x80\x94 k AA\n"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseNote("text\n\n\xE2\x80\x94 k+x AAAAAAAA\n"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("'+'")));
  EXPECT_THAT(ParseNote("te\txt\n\n\xE2\x80\x94 k AAAAAAAA\n"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("control")));
  EXPECT_THAT(ParseNote(std::string(kGoNote).substr(0, 50)), StatusIs(StatusCode::kInvalidArgument));
}

TEST(NoteTest, VerifierKeyParsing) {
  const std::string k = kGoVerifierKey;
  EXPECT_THAT(ParseVerifierKey(k + "\n"), IsOk());
  EXPECT_THAT(ParseVerifierKey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("does not match")));
  EXPECT_THAT(ParseVerifierKey("PeterNeumann+c74f20a3"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseVerifierKey("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("hex")));
  EXPECT_THAT(ParseVerifierKey("PeterNeumann+c74f20a3+AhpjPdM0TmmKpXhp3LG0rk8I7pC5ytBu5W6KZVd86fDO"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Ed25519")));
}

TEST(NoteTest, KeyNames) {
  EXPECT_THAT(ValidateKeyName("keyward.example.com/prod-1"), IsOk());
  EXPECT_THAT(ValidateKeyName(""), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateKeyName("a b"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("spaces")));
  EXPECT_THAT(ValidateKeyName("a\xE2\x80\x83" "b"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("spaces")));
  EXPECT_THAT(ValidateKeyName("a+b"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("'+'")));
  // U+0085 (NEL) is a space to Go's note package (unicode.IsSpace) and a C1 control; bidi overrides
  // make a name print as another.
  EXPECT_THAT(ValidateKeyName("log\xC2\x85" "x"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("control")));
  EXPECT_THAT(ValidateKeyName("log\xE2\x80\xAE" "x"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("control")));
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keyward-key-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

TEST_F(KeyFileTest, SaveAndLoadRoundTrip) {
  auto key = SigningKey::Generate("keyward.example.com/prod-1");
  ASSERT_THAT(key, IsOk());
  const std::string path = dir_ + "/audit.key";
  ASSERT_THAT(key->Save(path), IsOk());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = SigningKey::Load(path);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->verifier().ToString(), key->verifier().ToString());
  EXPECT_EQ(loaded->Sign("m"), key->Sign("m"));
  EXPECT_THAT(key->Save(path), StatusIs(StatusCode::kAlreadyExists, HasSubstr("never overwrites")));
}

TEST_F(KeyFileTest, RefusesAKeyOthersMayRead) {
  auto key = SigningKey::Generate("k");
  ASSERT_THAT(key, IsOk());
  const std::string path = dir_ + "/audit.key";
  ASSERT_THAT(key->Save(path), IsOk());
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  EXPECT_THAT(SigningKey::Load(path), StatusIs(StatusCode::kFailedPrecondition,
                                               HasSubstr("mode 0640); refusing to use it. Run: chmod 600")));
  ASSERT_EQ(::chmod(path.c_str(), 0604), 0);
  EXPECT_THAT(SigningKey::Load(path), StatusIs(StatusCode::kFailedPrecondition));
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_THAT(SigningKey::Load(path), IsOk());
}

TEST_F(KeyFileTest, RejectsOtherFiles) {
  EXPECT_THAT(SigningKey::Load(dir_ + "/missing.key"), StatusIs(StatusCode::kNotFound));
  const std::string path = dir_ + "/x.key";
  ASSERT_EQ(std::system(("printf 'hello\\n' > " + path + " && chmod 600 " + path).c_str()), 0);
  EXPECT_THAT(SigningKey::Load(path), StatusIs(StatusCode::kInvalidArgument, HasSubstr("not a keyward signing key")));
}

TEST_F(KeyFileTest, RefusesAnEncryptedKeyWithoutAskingForAPassPhrase) {
  // The key file's two header lines, then an Ed25519 key as encrypted PKCS#8 PEM.
  auto saved = SigningKey::Generate("k");
  ASSERT_THAT(saved, IsOk());
  ASSERT_THAT(saved->Save(dir_ + "/plain.key"), IsOk());
  auto plain = ReadFile(dir_ + "/plain.key", 1 << 16);
  ASSERT_THAT(plain, IsOk());
  const std::string header = plain->substr(0, plain->find('\n', plain->find('\n') + 1) + 1);
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  ASSERT_NE(pkey, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  char pass[] = "hunter2";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_256_cbc(), pass, 7, nullptr, nullptr), 1);
  char* pem = nullptr;
  const long n = BIO_get_mem_data(bio, &pem);
  const std::string encrypted = header + std::string(pem, static_cast<std::size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  ASSERT_THAT(encrypted, HasSubstr("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  const std::string path = dir_ + "/encrypted.key";
  {
    std::ofstream out(path, std::ios::binary);
    out << encrypted;
  }
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_THAT(SigningKey::Load(path), StatusIs(StatusCode::kInvalidArgument, HasSubstr(": the private key is encrypted")));
}

TEST(Base64Test, StrictDecoding) {
  EXPECT_EQ(Base64Encode(std::vector<std::uint8_t>{'f', 'o', 'o', 'b'}), "Zm9vYg==");
  EXPECT_THAT(Base64Decode("Zm9vYg=="), IsOkAndHolds(ElementsAre('f', 'o', 'o', 'b')));
  EXPECT_THAT(Base64Decode("Zm9vYh=="), StatusIs(StatusCode::kInvalidArgument, HasSubstr("non-canonical")));
  EXPECT_THAT(Base64Decode("Zg=a"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Base64Decode("Zm9v"), IsOkAndHolds(ElementsAre('f', 'o', 'o')));
  EXPECT_EQ(Base64Encode(std::vector<std::uint8_t>{'f', 'o'}), "Zm8=");
  EXPECT_THAT(Base64Decode("Zm9vYg"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Base64Decode("Zm9v Yg="), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Base64Decode(""), IsOkAndHolds(ElementsAre()));
}

TEST(CheckpointTest, TextRoundTrip) {
  Checkpoint c{"keyward.example.com/prod-1", 42, {}, {}};
  c.root[0] = 0xAB;
  const std::string text = c.Text();
  EXPECT_EQ(text.substr(0, 30), "keyward.example.com/prod-1\n42\n");
  EXPECT_THAT(ParseCheckpoint(text), IsOkAndHolds(Eq(c)));
  c.extensions = {"ext line"};
  EXPECT_THAT(ParseCheckpoint(c.Text()), IsOkAndHolds(Eq(c)));
}

TEST(CheckpointTest, MalformedBodies) {
  const std::string root = "\n" + Base64Encode(std::vector<std::uint8_t>(32, 0)) + "\n";
  EXPECT_THAT(ParseCheckpoint("o\n042" + root), StatusIs(StatusCode::kInvalidArgument, HasSubstr("leading zeros")));
  EXPECT_THAT(ParseCheckpoint("o\n-1" + root), StatusIs(StatusCode::kInvalidArgument, HasSubstr("line 2")));
  EXPECT_THAT(ParseCheckpoint("\n1" + root), StatusIs(StatusCode::kInvalidArgument, HasSubstr("origin")));
  EXPECT_THAT(ParseCheckpoint("o\n1\nAAAA\n"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("32 bytes")));
  EXPECT_THAT(ParseCheckpoint("o\n1\n"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("three lines")));
  EXPECT_THAT(ParseCheckpoint("o\n99999999999999999999999" + root), StatusIs(StatusCode::kInvalidArgument, HasSubstr("range")));
}

TEST(CheckpointTest, WholeRecordsPrefixEndsAfterTheLastWholeRecord) {
  const std::string a = kGoNote, b = kGoNote;
  const std::string file = a + "\n" + b + "\n";
  EXPECT_EQ(WholeRecordsPrefix(""), 0u);
  EXPECT_EQ(WholeRecordsPrefix(file), file.size());
  for (std::size_t cut = 0; cut < file.size(); ++cut) {
    const std::size_t expected = cut < a.size() + 1 ? 0 : a.size() + 1;  // b whole only with its blank line
    EXPECT_EQ(WholeRecordsPrefix(file.substr(0, cut)), expected) << "cut at " << cut;
  }
}

TEST(CheckpointTest, SplitNotesIgnoresATornTail) {
  const std::string a = kGoNote, b = kGoNote;
  EXPECT_THAT(SplitNotes(a + "\n" + b + "\n"), ElementsAre(a, b));
  EXPECT_THAT(SplitNotes(a), ElementsAre(a));  // a file holding one note
  // Cut anywhere inside the second note: only the first is returned.
  const std::string file = a + "\n" + b + "\n";
  for (std::size_t cut = a.size() + 1; cut < file.size() - 1; ++cut) {
    const auto notes = SplitNotes(file.substr(0, cut));
    ASSERT_FALSE(notes.empty());
    EXPECT_EQ(notes[0], a);
    if (notes.size() == 2) {
      EXPECT_EQ(notes[1], b) << "cut at " << cut;  // only when b is whole
    }
  }
}

}  // namespace
}  // namespace keyward::audit
