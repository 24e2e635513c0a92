#include "sluice/key_groups.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sluice {
namespace {

// Reference values from Apache Flink, computed by a Java 17 program that reproduces
// org.apache.flink.util.MathUtils.murmurHash(int) and
// KeyGroupRangeAssignment.assignToKeyGroup(key, maxP) = murmurHash(key.hashCode()) % maxP,
// for boxed Integer, Long and String keys. Columns: key, key.hashCode(), murmurHash(hashCode),
// key group for max parallelism 128, 256 and 1000.
struct IntCase {
  int32_t key;
  int32_t java_hash;
  int32_t murmur;
  int kg128, kg256, kg1000;
};
struct LongCase {
  int64_t key;
  int32_t java_hash;
  int32_t murmur;
  int kg128, kg256, kg1000;
};
struct StringCase {
  const char* key;  // UTF-8; Java saw the same text as UTF-16
  int32_t java_hash;
  int32_t murmur;
  int kg128, kg256, kg1000;
};

constexpr IntCase kIntCases[] = {
    {0, 0, 593689054, 94, 222, 54},
    {1, 1, 68075478, 86, 214, 478},
    {-1, -1, 1982413648, 80, 80, 648},
    {2, 2, 1085422463, 127, 127, 463},
    {7, 7, 1343918321, 113, 241, 321},
    {42, 42, 1134849565, 29, 29, 565},
    {100, 100, 616682048, 64, 64, 48},
    {12345, 12345, 638799361, 1, 1, 361},
    {-98765, -98765, 2130047296, 64, 64, 296},
    {1048576, 1048576, 480706890, 74, 74, 890},
    {2147483647, 2147483647, 1653689534, 62, 190, 534},
    {INT32_MIN, INT32_MIN, 1718298732, 108, 108, 732},
};

constexpr LongCase kLongCases[] = {
    {0LL, 0, 593689054, 94, 222, 54},
    {1LL, 1, 68075478, 86, 214, 478},
    {-1LL, 0, 593689054, 94, 222, 54},
    {42LL, 42, 1134849565, 29, 29, 565},
    {4294967296LL, 1, 68075478, 86, 214, 478},
    {4294967301LL, 4, 1889779975, 7, 7, 975},
    {123456789012LL, -1097262584, 723049339, 123, 123, 339},
    {-5000000000LL, 705032702, 172672279, 23, 23, 279},
    {9223372036854775807LL, INT32_MIN, 1718298732, 108, 108, 732},
    {INT64_MIN, INT32_MIN, 1718298732, 108, 108, 732},
};

constexpr StringCase kStringCases[] = {
    {"", 0, 593689054, 94, 222, 54},
    {"a", 97, 1455541201, 81, 209, 201},
    {"hello", 99162322, 1715862179, 35, 163, 179},
    {"Hello, World!", 1498789909, 741723222, 86, 86, 222},
    {"user-42", -147182656, 1600933524, 20, 148, 524},
    {"sluice", -899285041, 341337568, 96, 224, 568},
    {"key_groups", 181280692, 1993260433, 17, 145, 433},
    {"the quick brown fox jumps over the lazy dog", -2082818701, 1229195320, 56, 56, 320},
    // Non-ASCII: Java hashes UTF-16 code units, not UTF-8 bytes.
    {"h\xc3\xa9llo", 103094734, 162369042, 18, 18, 42},             // "héllo"
    {"\xe6\x97\xa5\xe6\x9c\xac", 835047, 1762503263, 95, 95, 263},  // "日本"
    {"\xf0\x9f\x98\x80", 1772899, 1934073014, 54, 182, 14},         // U+1F600, a surrogate pair
};

TEST(KeyGroupsTest, MurmurHashMatchesFlink) {
  for (const auto& c : kIntCases) {
    EXPECT_EQ(MurmurHash(c.java_hash), c.murmur) << "hash " << c.java_hash;
  }
  for (const auto& c : kStringCases) {
    EXPECT_EQ(MurmurHash(c.java_hash), c.murmur) << "hash " << c.java_hash;
  }
}

TEST(KeyGroupsTest, IntegerKeysMatchFlink) {
  for (const auto& c : kIntCases) {
    EXPECT_EQ(KeyHash(c.key), c.java_hash) << c.key;
    EXPECT_EQ(KeyGroupFor(c.key, 128), c.kg128) << c.key;
    EXPECT_EQ(KeyGroupFor(c.key, 256), c.kg256) << c.key;
    EXPECT_EQ(KeyGroupFor(c.key, 1000), c.kg1000) << c.key;
  }
}

TEST(KeyGroupsTest, LongKeysMatchFlink) {
  for (const auto& c : kLongCases) {
    EXPECT_EQ(KeyHash(c.key), c.java_hash) << c.key;
    EXPECT_EQ(KeyGroupFor(c.key, 128), c.kg128) << c.key;
    EXPECT_EQ(KeyGroupFor(c.key, 256), c.kg256) << c.key;
    EXPECT_EQ(KeyGroupFor(c.key, 1000), c.kg1000) << c.key;
  }
}

TEST(KeyGroupsTest, StringKeysMatchFlink) {
  for (const auto& c : kStringCases) {
    std::string key = c.key;
    EXPECT_EQ(KeyHash(key), c.java_hash) << key;
    EXPECT_EQ(KeyGroupFor(key, 128), c.kg128) << key;
    EXPECT_EQ(KeyGroupFor(key, 256), c.kg256) << key;
    EXPECT_EQ(KeyGroupFor(key, 1000), c.kg1000) << key;
  }
}

TEST(KeyGroupsTest, KeyGroupForHashIsModuloOfMurmur) {
  for (const auto& c : kIntCases) {
    EXPECT_EQ(KeyGroupForHash(c.java_hash, 1000), c.kg1000);
    EXPECT_EQ(KeyGroupForHash(c.java_hash, kUpperBoundMaxParallelism),
              c.murmur % kUpperBoundMaxParallelism);
  }
}

TEST(KeyGroupsTest, OtherKeyTypesHashLikeJava) {
  EXPECT_EQ(KeyHash(true), 1231);  // Boolean.hashCode
  EXPECT_EQ(KeyHash(false), 1237);
  EXPECT_EQ(KeyHash(int16_t{-5}), -5);  // Short.hashCode
  EXPECT_EQ(KeyHash(uint32_t{0xffffffffu}), -1);
  EXPECT_EQ(KeyHash(uint64_t{1} << 32), 1);
}

// Regression: KeyHash used to run the 31-polynomial over UTF-8 bytes, so non-ASCII string keys
// landed in other key groups than in Flink. Java hashes UTF-16 code units.
TEST(KeyGroupsTest, NonAsciiStringKeysHashUtf16CodeUnitsLikeJava) {
  EXPECT_EQ(KeyHash(std::string("\xc3\xa9")), 0xe9);        // "é".hashCode() == 233
  EXPECT_EQ(KeyHash(std::string("\xe2\x82\xac")), 0x20ac);  // "€".hashCode() == 8364
  // U+1F600 is the surrogate pair D83D DE00 in UTF-16.
  EXPECT_EQ(KeyHash(std::string("\xf0\x9f\x98\x80")), 0xd83d * 31 + 0xde00);
  EXPECT_EQ(KeyHash(std::string("a\xc3\xa9")), ('a' * 31 + 0xe9));
}

TEST(KeyGroupsTest, InvalidUtf8BytesHashAsSingleUnits) {
  auto bytes_hash = [](const std::string& s) {
    uint32_t h = 0;
    for (unsigned char c : s) h = 31 * h + c;
    return static_cast<int32_t>(h);
  };
  for (std::string bad : {std::string("a\xff\xc3"),         // stray byte, truncated sequence
                          std::string("\xc0\x80"),          // overlong NUL
                          std::string("\xe0\x80\xaf"),      // overlong '/'
                          std::string("\xed\xa0\x80"),      // an encoded surrogate
                          std::string("\xf4\x90\x80\x80"),  // above U+10FFFF
                          std::string("\xe2\x82")}) {       // truncated at the end
    EXPECT_EQ(KeyHash(bad), bytes_hash(bad)) << ToString(std::vector<int>(bad.begin(), bad.end()));
    int kg = KeyGroupFor(bad, 128);
    EXPECT_GE(kg, 0);
    EXPECT_LT(kg, 128);
  }
  // A valid sequence after an invalid byte is still decoded.
  EXPECT_EQ(KeyHash(std::string("\xff\xc3\xa9")), 0xff * 31 + 0xe9);
}

TEST(KeyGroupsTest, CompositeKeysHashTheirBytesDeterministically) {
  auto key = std::make_pair(std::string("a"), 1);
  EXPECT_EQ(KeyHash(key), KeyHash(std::make_pair(std::string("a"), 1)));
  EXPECT_NE(KeyHash(key), KeyHash(std::make_pair(std::string("a"), 2)));
  // 31-polynomial over the serialized bytes {1, 'a', 1, 0, 0, 0}.
  uint32_t expected = 0;
  for (uint8_t b : {uint8_t{1}, uint8_t{'a'}, uint8_t{1}, uint8_t{0}, uint8_t{0}, uint8_t{0}}) {
    expected = 31 * expected + b;
  }
  EXPECT_EQ(KeyHash(key), static_cast<int32_t>(expected));
}

TEST(KeyGroupsTest, OperatorIndexForKeyGroup) {
  EXPECT_EQ(OperatorIndexForKeyGroup(128, 2, 0), 0);
  EXPECT_EQ(OperatorIndexForKeyGroup(128, 2, 63), 0);
  EXPECT_EQ(OperatorIndexForKeyGroup(128, 2, 64), 1);
  EXPECT_EQ(OperatorIndexForKeyGroup(128, 2, 127), 1);
  EXPECT_EQ(OperatorIndexForKeyGroup(128, 3, 42), 0);
  EXPECT_EQ(OperatorIndexForKeyGroup(128, 3, 43), 1);
  EXPECT_EQ(OperatorIndexForKeyGroup(128, 3, 85), 1);
  EXPECT_EQ(OperatorIndexForKeyGroup(128, 3, 86), 2);
  EXPECT_EQ(OperatorIndexForKeyGroup(128, 128, 77), 77);
  EXPECT_EQ(OperatorIndexForKeyGroup(32768, 32768, 32767), 32767);
  EXPECT_EQ(OperatorIndexForKeyGroup(32768, 1000, 32767), 999);
}

TEST(KeyGroupsTest, KeyGroupRangeExamples) {
  KeyGroupRange r = KeyGroupRangeForOperator(128, 3, 0);
  EXPECT_EQ(r.start, 0);
  EXPECT_EQ(r.end, 42);
  r = KeyGroupRangeForOperator(128, 3, 1);
  EXPECT_EQ(r.start, 43);
  EXPECT_EQ(r.end, 85);
  r = KeyGroupRangeForOperator(128, 3, 2);
  EXPECT_EQ(r.start, 86);
  EXPECT_EQ(r.end, 127);
  EXPECT_TRUE(r.Contains(86));
  EXPECT_TRUE(r.Contains(127));
  EXPECT_FALSE(r.Contains(85));
  EXPECT_FALSE(r.Contains(128));
  EXPECT_FALSE(KeyGroupRange{}.Contains(0));
}

TEST(KeyGroupsTest, RangesPartitionKeyGroupsAndAgreeWithOperatorIndex) {
  for (int max_p : {1, 2, 7, 128, 130, 256, 1000, kUpperBoundMaxParallelism}) {
    std::vector<int> parallelisms = {1, 2, 3, 5, 7, 10, 64, 127, 128, max_p};
    for (int p : parallelisms) {
      if (p > max_p) continue;
      int next = 0;  // ranges must tile [0, max_p) in operator order
      for (int i = 0; i < p; ++i) {
        KeyGroupRange r = KeyGroupRangeForOperator(max_p, p, i);
        ASSERT_EQ(r.start, next) << "maxP " << max_p << " p " << p << " op " << i;
        ASSERT_GE(r.end, r.start) << "maxP " << max_p << " p " << p << " op " << i;
        for (int kg = r.start; kg <= r.end; ++kg) {
          ASSERT_EQ(OperatorIndexForKeyGroup(max_p, p, kg), i)
              << "maxP " << max_p << " p " << p << " kg " << kg;
        }
        next = r.end + 1;
      }
      ASSERT_EQ(next, max_p) << "maxP " << max_p << " p " << p;
    }
  }
}

TEST(KeyGroupsTest, KeysLandInTheOperatorWhoseRangeHoldsTheirKeyGroup) {
  const int max_p = 1000;
  const int p = 7;
  for (int key = -500; key < 500; ++key) {
    int kg = KeyGroupFor(key, max_p);
    ASSERT_GE(kg, 0);
    ASSERT_LT(kg, max_p);
    int op = OperatorIndexForKeyGroup(max_p, p, kg);
    EXPECT_TRUE(KeyGroupRangeForOperator(max_p, p, op).Contains(kg)) << key;
  }
}

TEST(KeyGroupsTest, DefaultMaxParallelism) {
  EXPECT_EQ(DefaultMaxParallelism(1), 128);
  EXPECT_EQ(DefaultMaxParallelism(4), 128);
  EXPECT_EQ(DefaultMaxParallelism(85), 128);   // 127.5 -> 127 -> 128
  EXPECT_EQ(DefaultMaxParallelism(86), 256);   // 129 -> 256
  EXPECT_EQ(DefaultMaxParallelism(100), 256);  // 150 -> 256
  EXPECT_EQ(DefaultMaxParallelism(171), 256);  // 171 + 85 = 256, already a power of two
  EXPECT_EQ(DefaultMaxParallelism(172), 512);  // 258 -> 512
  EXPECT_EQ(DefaultMaxParallelism(1000), 2048);
  EXPECT_EQ(DefaultMaxParallelism(20000), kUpperBoundMaxParallelism);
  EXPECT_EQ(DefaultMaxParallelism(32768), kUpperBoundMaxParallelism);
}

}  // namespace
}  // namespace sluice
