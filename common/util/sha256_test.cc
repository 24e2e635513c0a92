#include "common/util/sha256.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace sluice {
namespace {

// Vectors from NIST FIPS 180-4 examples / the SHA-256 test suite.
constexpr char kEmpty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kAbc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char k448Bits[] = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr char kMillionA[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

TEST(Sha256Test, NistVectors) {
  EXPECT_EQ(Sha256Hex(""), kEmpty);
  EXPECT_EQ(Sha256Hex("abc"), kAbc);
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"), k448Bits);
  EXPECT_EQ(Sha256Hex(std::string(1'000'000, 'a')), kMillionA);
}

TEST(Sha256Test, IncrementalUpdatesMatchOneShot) {
  // Uneven chunk sizes cross the 64-byte block boundary at different offsets.
  Sha256 sha;
  const std::string a(1000, 'a');
  size_t fed = 0;
  for (size_t chunk = 1; fed < 1'000'000; chunk = chunk % 997 + 1) {
    const size_t n = std::min(chunk, 1'000'000 - fed);
    sha.Update(a.data(), n);
    fed += n;
  }
  EXPECT_EQ(sha.HexDigest(), kMillionA);
}

TEST(Sha256Test, HexDigestIsStableAcrossCalls) {
  Sha256 sha;
  sha.Update("abc", 3);
  EXPECT_EQ(sha.HexDigest(), kAbc);
  EXPECT_EQ(sha.HexDigest(), kAbc);
}

TEST(Sha256Test, PaddingBoundaries) {
  // Lengths around 55/56/64 bytes exercise the one- and two-block padding paths; the digest of
  // a prefix must not depend on how it was fed.
  for (size_t len : {55, 56, 57, 63, 64, 65, 119, 120}) {
    const std::string data(len, 'x');
    Sha256 sha;
    sha.Update(data.data(), len / 2);
    sha.Update(data.data() + len / 2, len - len / 2);
    EXPECT_EQ(sha.HexDigest(), Sha256Hex(data)) << len;
  }
  EXPECT_EQ(Sha256Hex(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(Sha256Test, File) {
  const std::string path = ::testing::TempDir() + "/sha256_test_file";
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(1'000'000, 'a');
  }
  absl::StatusOr<std::string> digest = Sha256File(path);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, kMillionA);
  std::remove(path.c_str());
}

TEST(Sha256Test, MissingFileIsNotFound) {
  absl::StatusOr<std::string> digest = Sha256File("/nonexistent/sluice/file");
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(digest.status().message().find("/nonexistent/sluice/file"), std::string::npos);
}

}  // namespace
}  // namespace sluice
