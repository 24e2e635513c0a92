#include "sluice/serialization.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace sluice {
namespace {

enum class Color : uint8_t { kRed = 1, kGreen = 2, kBlue = 200 };
enum Plain { kPlainA = 0, kPlainB = 7 };
enum class Wide : int64_t { kBig = int64_t{1} << 40, kNegative = -3 };

struct Inner {
  int32_t x = 0;
  std::string tag;
  SLUICE_FIELDS(x, tag)
  bool operator==(const Inner&) const = default;
};

struct Outer {
  int64_t id = 0;
  std::string name;
  Inner inner;
  std::vector<int32_t> values;
  std::optional<double> score;
  SLUICE_FIELDS(id, name, inner, values, score)
  bool operator==(const Outer&) const = default;
};

struct Simple {
  int a = 0;
  std::string b;
  SLUICE_FIELDS(a, b)
};

template <typename T>
std::vector<uint8_t> Bytes(const T& v) {
  ByteWriter w;
  SerializeRecord(v, w);
  return std::vector<uint8_t>(w.data(), w.data() + w.size());
}

template <typename T>
T RoundTrip(const T& v) {
  std::vector<uint8_t> bytes = Bytes(v);
  T out{};
  DeserializeRecord(bytes.data(), bytes.size(), out);
  return out;
}

template <typename T>
void ExpectRoundTrip(const T& v) {
  EXPECT_EQ(RoundTrip(v), v);
}

// Decoding every strict prefix of a valid record must throw, never read past the end (run under
// ASan).
template <typename T>
void ExpectEveryPrefixThrows(const T& v) {
  std::vector<uint8_t> bytes = Bytes(v);
  ASSERT_FALSE(bytes.empty());
  for (size_t n = 0; n < bytes.size(); ++n) {
    // A heap copy of exactly n bytes, so ASan catches any read past the prefix.
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(n));
    T out{};
    EXPECT_THROW(DeserializeRecord(prefix.data(), prefix.size(), out), SerializationError)
        << "prefix of " << n << " of " << bytes.size() << " bytes";
  }
}

TEST(SerializationTest, ArithmeticRoundTrip) {
  ExpectRoundTrip<int8_t>(-128);
  ExpectRoundTrip<uint8_t>(255);
  ExpectRoundTrip<int16_t>(-12345);
  ExpectRoundTrip<uint16_t>(65535);
  ExpectRoundTrip<int32_t>(std::numeric_limits<int32_t>::min());
  ExpectRoundTrip<uint32_t>(0xdeadbeefu);
  ExpectRoundTrip<int64_t>(std::numeric_limits<int64_t>::min());
  ExpectRoundTrip<uint64_t>(std::numeric_limits<uint64_t>::max());
  ExpectRoundTrip<float>(3.25f);
  ExpectRoundTrip<double>(-1e300);
  ExpectRoundTrip<double>(std::numeric_limits<double>::infinity());
  ExpectRoundTrip<char>('z');
  ExpectRoundTrip(true);
  ExpectRoundTrip(false);
}

TEST(SerializationTest, FixedWidthLittleEndianLayout) {
  EXPECT_EQ(Bytes<int32_t>(0x01020304), (std::vector<uint8_t>{4, 3, 2, 1}));
  EXPECT_EQ(Bytes<int64_t>(-1), std::vector<uint8_t>(8, 0xff));
  EXPECT_EQ(Bytes(true), (std::vector<uint8_t>{1}));
}

TEST(SerializationTest, EnumRoundTrip) {
  ExpectRoundTrip(Color::kBlue);
  ExpectRoundTrip(Color::kRed);
  ExpectRoundTrip(kPlainB);
  ExpectRoundTrip(Wide::kBig);
  ExpectRoundTrip(Wide::kNegative);
  EXPECT_EQ(Bytes(Color::kBlue).size(), 1u);
  EXPECT_EQ(Bytes(Wide::kBig).size(), 8u);
}

TEST(SerializationTest, StringRoundTrip) {
  ExpectRoundTrip(std::string());
  ExpectRoundTrip(std::string("hello"));
  std::string binary("a\0b\0\0c\xff\x80", 8);
  ASSERT_EQ(binary.size(), 8u);
  EXPECT_EQ(RoundTrip(binary), binary);
  EXPECT_EQ(RoundTrip(binary).size(), 8u);
  std::string long_string;
  for (int i = 0; i < 100000; ++i) long_string.push_back(static_cast<char>('a' + i % 26));
  EXPECT_EQ(RoundTrip(long_string), long_string);
}

TEST(SerializationTest, StringLengthIsVarint) {
  EXPECT_EQ(Bytes(std::string()), (std::vector<uint8_t>{0}));
  EXPECT_EQ(Bytes(std::string("ab")), (std::vector<uint8_t>{2, 'a', 'b'}));
  // 300 = 0b1_0010_1100: low 7 bits first with the continuation bit set.
  std::vector<uint8_t> bytes = Bytes(std::string(300, 'x'));
  ASSERT_EQ(bytes.size(), 302u);
  EXPECT_EQ(bytes[0], 0xac);
  EXPECT_EQ(bytes[1], 0x02);
}

TEST(SerializationTest, PairAndTupleRoundTrip) {
  ExpectRoundTrip(std::make_pair(std::string("key"), int64_t{-7}));
  ExpectRoundTrip(std::make_pair(1.5, std::make_pair(std::string(), uint8_t{9})));
  ExpectRoundTrip(std::make_tuple(int32_t{1}, std::string("two"), 3.0, Color::kGreen));
  ExpectRoundTrip(std::tuple<>());
  ExpectRoundTrip(std::make_tuple(std::vector<std::string>{"a", ""}, std::optional<int>()));
}

TEST(SerializationTest, VectorRoundTrip) {
  ExpectRoundTrip(std::vector<int32_t>());
  ExpectRoundTrip(std::vector<int32_t>{1, -2, 3});
  ExpectRoundTrip(std::vector<std::string>{"", "x", std::string("\0\0", 2)});
  ExpectRoundTrip(std::vector<std::vector<int64_t>>{{}, {1}, {2, 3, 4}, {}});
  ExpectRoundTrip(std::vector<std::vector<std::string>>{{"a", "b"}, {}, {""}});
  ExpectRoundTrip(std::vector<std::pair<int, std::string>>{{1, "one"}, {2, "two"}});
  std::vector<uint64_t> big(10000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = i * 7919;
  ExpectRoundTrip(big);
}

TEST(SerializationTest, VectorOfBoolRoundTrip) {
  ExpectRoundTrip(std::vector<bool>{true, false, false, true, true});
  ExpectRoundTrip(std::vector<bool>());
}

TEST(SerializationTest, DeserializeReplacesPreviousContents) {
  std::vector<uint8_t> bytes = Bytes(std::vector<int>{7});
  std::vector<int> out{1, 2, 3, 4};
  DeserializeRecord(bytes.data(), bytes.size(), out);
  EXPECT_EQ(out, std::vector<int>{7});

  std::vector<uint8_t> empty = Bytes(std::optional<std::string>());
  std::optional<std::string> opt = "stale";
  DeserializeRecord(empty.data(), empty.size(), opt);
  EXPECT_FALSE(opt.has_value());
}

TEST(SerializationTest, ArrayIsItsElementsWithoutALength) {
  std::array<int32_t, 3> a{1, -2, 3};
  ByteWriter w;
  SerializeRecord(a, w);
  EXPECT_EQ(w.size(), 12u);
  std::array<int32_t, 3> back{};
  DeserializeRecord(w.data(), w.size(), back);
  EXPECT_EQ(back, a);
  std::array<std::string, 2> s{"x", "yz"};
  w.Clear();
  SerializeRecord(s, w);
  std::array<std::string, 2> s_back;
  DeserializeRecord(w.data(), w.size(), s_back);
  EXPECT_EQ(s_back, s);
  std::array<char, 4> c{};
  EXPECT_THROW(DeserializeRecord(w.data(), 3, c), SerializationError);
  EXPECT_EQ(ToString(std::array<int, 2>{4, 5}), "[4,5]");
  EXPECT_EQ(ToString(std::array<char, 2>{'o', 'k'}), "ok");
}

TEST(SerializationTest, OptionalRoundTrip) {
  ExpectRoundTrip(std::optional<int>());
  ExpectRoundTrip(std::optional<int>(0));
  ExpectRoundTrip(std::optional<std::string>("value"));
  ExpectRoundTrip(std::optional<std::vector<int>>(std::vector<int>{1, 2}));
  ExpectRoundTrip(std::optional<std::optional<int>>(std::optional<int>()));
  EXPECT_EQ(Bytes(std::optional<int>()), (std::vector<uint8_t>{0}));
}

TEST(SerializationTest, StructRoundTrip) {
  Outer v;
  v.id = -42;
  v.name = std::string("n\0me", 4);
  v.inner = Inner{7, "inner"};
  v.values = {1, 2, 3};
  v.score = 0.5;
  EXPECT_EQ(RoundTrip(v), v);

  Outer empty;
  EXPECT_EQ(RoundTrip(empty), empty);

  ExpectRoundTrip(std::vector<Inner>{{1, "a"}, {2, "b"}});
  ExpectRoundTrip(std::make_pair(Inner{3, "c"}, std::optional<Inner>(Inner{4, "d"})));
}

TEST(SerializationTest, StructFieldsAreWrittenInDeclaredOrderWithoutFraming) {
  Inner v{0x01020304, "ab"};
  EXPECT_EQ(Bytes(v), (std::vector<uint8_t>{4, 3, 2, 1, 2, 'a', 'b'}));
}

TEST(SerializationTest, TruncatedInputThrows) {
  ExpectEveryPrefixThrows(int64_t{5});
  ExpectEveryPrefixThrows(std::string("hello world"));
  ExpectEveryPrefixThrows(std::string(200, 'q'));  // two-byte varint length
  ExpectEveryPrefixThrows(std::vector<std::string>{"ab", "", "cde"});
  ExpectEveryPrefixThrows(std::optional<int64_t>(9));
  ExpectEveryPrefixThrows(std::make_tuple(1, std::string("x"), 2.0));
  Outer v;
  v.id = 1;
  v.name = "name";
  v.inner = Inner{2, "t"};
  v.values = {4, 5};
  v.score = 1.0;
  ExpectEveryPrefixThrows(v);
}

TEST(SerializationTest, HugeStringLengthThrowsWithoutReading) {
  // Claims 2^62 bytes follow; only three do.
  std::vector<uint8_t> bytes = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                0x80, 0x80, 0x40, 'a',  'b',  'c'};
  std::string out;
  EXPECT_THROW(DeserializeRecord(bytes.data(), bytes.size(), out), SerializationError);
}

TEST(SerializationTest, HugeVectorLengthThrowsBeforeAllocating) {
  std::vector<uint8_t> bytes = {0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3, 4};
  std::vector<int32_t> out;
  EXPECT_THROW(DeserializeRecord(bytes.data(), bytes.size(), out), SerializationError);
  std::vector<std::vector<std::string>> nested;
  EXPECT_THROW(DeserializeRecord(bytes.data(), bytes.size(), nested), SerializationError);
}

TEST(SerializationTest, OverlongVarintThrows) {
  std::vector<uint8_t> bytes(11, 0x80);
  bytes.push_back(0);
  std::string out;
  EXPECT_THROW(DeserializeRecord(bytes.data(), bytes.size(), out), SerializationError);
}

TEST(SerializationTest, BadOptionalTagThrows) {
  std::vector<uint8_t> bytes = {2, 1, 0, 0, 0};
  std::optional<int32_t> out;
  EXPECT_THROW(DeserializeRecord(bytes.data(), bytes.size(), out), SerializationError);
}

TEST(SerializationTest, BadBoolByteThrows) {
  std::vector<uint8_t> bytes = {2};
  bool out = false;
  EXPECT_THROW(DeserializeRecord(bytes.data(), bytes.size(), out), SerializationError);
  std::vector<uint8_t> in_vector = {2, 1, 7};
  std::vector<bool> bools;
  EXPECT_THROW(DeserializeRecord(in_vector.data(), in_vector.size(), bools), SerializationError);
}

TEST(SerializationTest, EmptyInputThrows) {
  std::vector<uint8_t> none;
  int32_t i = 0;
  EXPECT_THROW(DeserializeRecord(none.data(), 0, i), SerializationError);
  std::string s;
  EXPECT_THROW(DeserializeRecord(none.data(), 0, s), SerializationError);
  // An empty tuple needs no bytes at all.
  std::tuple<> t;
  EXPECT_NO_THROW(DeserializeRecord(none.data(), 0, t));
}

TEST(SerializationTest, TrailingBytesRejected) {
  std::vector<uint8_t> bytes = Bytes(int32_t{7});
  bytes.push_back(0);
  int32_t out = 0;
  EXPECT_THROW(DeserializeRecord(bytes.data(), bytes.size(), out), SerializationError);

  std::vector<uint8_t> two = Bytes(std::string("ab"));
  std::vector<uint8_t> more = Bytes(std::string("cd"));
  two.insert(two.end(), more.begin(), more.end());
  std::string s;
  EXPECT_THROW(DeserializeRecord(two.data(), two.size(), s), SerializationError);
}

TEST(SerializationTest, ByteReaderReadsConcatenatedRecords) {
  ByteWriter w;
  SerializeRecord(std::string("first"), w);
  SerializeRecord(int16_t{-2}, w);
  ByteReader r(w.data(), w.size());
  std::string s;
  int16_t i = 0;
  Serializer<std::string>::Read(r, s);
  Serializer<int16_t>::Read(r, i);
  EXPECT_EQ(s, "first");
  EXPECT_EQ(i, -2);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_THROW(r.GetByte(), SerializationError);
}

TEST(SerializationTest, WriterClearReusesBuffer) {
  ByteWriter w;
  SerializeRecord(std::string(1000, 'x'), w);
  w.Clear();
  EXPECT_EQ(w.size(), 0u);
  SerializeRecord(int32_t{9}, w);
  int32_t out = 0;
  DeserializeRecord(w.data(), w.size(), out);
  EXPECT_EQ(out, 9);
}

TEST(SerializationTest, WriterAttachedToForeignMemoryWritesThere) {
  uint8_t region[64] = {};
  ByteWriter w;
  w.Attach(region, sizeof(region));
  SerializeRecord(std::string("abc"), w);
  EXPECT_FALSE(w.spilled());
  EXPECT_EQ(w.data(), region);
  EXPECT_EQ(w.size(), 4u);
  EXPECT_EQ(region[0], 3);  // the varint length, written in place
  EXPECT_EQ(region[1], 'a');
}

TEST(SerializationTest, WriterSpillsWhatDoesNotFitWithTheBytesBeforeIt) {
  uint8_t region[8] = {};
  ByteWriter w;
  w.Attach(region, sizeof(region));
  const std::string s(100, 'q');
  SerializeRecord(std::make_pair(int32_t{7}, s), w);
  ASSERT_TRUE(w.spilled());
  EXPECT_NE(w.data(), region);
  std::pair<int32_t, std::string> back;
  DeserializeRecord(w.data(), w.size(), back);
  EXPECT_EQ(back.first, 7);
  EXPECT_EQ(back.second, s);
  // Clear returns to the writer's own storage; a later Attach writes in place again.
  w.Clear();
  SerializeRecord(int32_t{5}, w);
  EXPECT_TRUE(w.spilled());
  w.Attach(region, sizeof(region));
  SerializeRecord(int32_t{6}, w);
  EXPECT_FALSE(w.spilled());
  EXPECT_EQ(region[0], 6);
}

//! Every field fixed-width: bool, enums, arrays (of bools too), a pair, a nested struct.
struct FixedInner {
  Color color = Color::kRed;
  std::array<bool, 3> flags{};
  SLUICE_FIELDS(color, flags)
  bool operator==(const FixedInner&) const = default;
};
struct FixedOuter {
  int64_t id = 0;
  bool on = false;
  std::pair<int16_t, double> p;
  std::tuple<uint8_t, Wide> t;
  std::array<char, 5> name{};
  FixedInner inner;
  SLUICE_FIELDS(id, on, p, t, name, inner)
  bool operator==(const FixedOuter&) const = default;
};

//! A type with its own Serializer: its bytes are its own, never the fixed-width path's.
struct Custom {
  int32_t v = 0;
  SLUICE_FIELDS(v)
};
}  // namespace
template <>
struct Serializer<Custom> {
  static void Write(const Custom& c, ByteWriter& w) { w.PutVarint(static_cast<uint32_t>(c.v)); }
  static void Read(ByteReader& r, Custom& c) { c.v = static_cast<int32_t>(r.GetVarint()); }
};
namespace {

TEST(SerializationTest, FixedWidthRecordsAreWrittenAtOnceInTheSameBytes) {
  static_assert(kFixedWidth<int32_t> == 4 && kFixedWidth<bool> == 1 && kFixedWidth<Color> == 1);
  static_assert(kFixedWidth<FixedInner> == 1 + 3);
  static_assert(kFixedWidth<FixedOuter> == 8 + 1 + (2 + 8) + (1 + 8) + 5 + 4);
  // Anything whose length depends on the value, or that has its own Serializer, is not.
  static_assert(kFixedWidth<std::string> == 0 && kFixedWidth<Simple> == 0);
  static_assert(kFixedWidth<std::optional<int>> == 0 && kFixedWidth<std::vector<int>> == 0);
  static_assert(kFixedWidth<std::pair<int, std::string>> == 0 && kFixedWidth<Custom> == 0);

  FixedOuter v{-5,
               true,
               {-300, 2.5},
               {9, Wide::kNegative},
               {'a', 'b', 'c', 'd', 'e'},
               {Color::kBlue, {true, false, true}}};
  std::vector<uint8_t> fast = Bytes(v);
  ByteWriter w;
  Serializer<FixedOuter>::Write(v, w);  // field by field
  EXPECT_EQ(fast, std::vector<uint8_t>(w.data(), w.data() + w.size()));
  EXPECT_EQ(fast.size(), kFixedWidth<FixedOuter>);
  ExpectRoundTrip(v);
  EXPECT_EQ(Bytes(Custom{300}), (std::vector<uint8_t>{0xac, 0x02}));  // its varint, not 4 bytes
}

TEST(SerializationTest, AFixedWidthRecordSpillsLikeAnyOther) {
  FixedOuter v{42, false, {1, 1.0}, {2, Wide::kBig}, {}, {}};
  uint8_t region[16] = {};
  ByteWriter w;
  w.Attach(region, sizeof(region));
  w.Append("xyz", 3);  // bytes before the record move along when it spills
  SerializeRecord(v, w);
  ASSERT_TRUE(w.spilled());
  ASSERT_EQ(w.size(), 3 + kFixedWidth<FixedOuter>);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(w.data()), 3), "xyz");
  FixedOuter back;
  DeserializeRecord(w.data() + 3, w.size() - 3, back);
  EXPECT_EQ(back, v);
}

TEST(SerializationTest, WriterCopiesAndMovesOwnTheirBytes) {
  ByteWriter a;
  SerializeRecord(std::string(300, 'z'), a);
  ByteWriter b = a;  // copy: own storage
  EXPECT_NE(b.data(), a.data());
  ByteWriter c = std::move(a);
  std::string out;
  DeserializeRecord(c.data(), c.size(), out);
  EXPECT_EQ(out, std::string(300, 'z'));
  DeserializeRecord(b.data(), b.size(), out);
  EXPECT_EQ(out, std::string(300, 'z'));
  uint8_t region[16] = {};
  ByteWriter d;
  d.Attach(region, sizeof(region));
  SerializeRecord(int64_t{42}, d);
  ByteWriter e = d;  // a copy of attached bytes owns them
  EXPECT_TRUE(e.spilled());
  int64_t v = 0;
  DeserializeRecord(e.data(), e.size(), v);
  EXPECT_EQ(v, 42);
}

// ---- standard types of serializers_std.h ----

//! A record with one of each, as a user would write it.
struct Session {
  std::map<std::string, int64_t> pages;
  std::unordered_map<int32_t, std::string> names;
  std::set<int64_t> users;
  std::unordered_set<std::string> tags;
  std::chrono::milliseconds length{0};
  std::chrono::system_clock::time_point start;
  std::variant<std::monostate, int64_t, std::string> referrer;
  SLUICE_FIELDS(pages, names, users, tags, length, start, referrer)
  bool operator==(const Session&) const = default;
};

TEST(SerializationTest, MapRoundTripInKeyOrder) {
  ExpectRoundTrip(std::map<std::string, int32_t>());
  ExpectRoundTrip(std::map<std::string, int32_t>{{"b", 2}, {"a", 1}, {"", -1}});
  ExpectRoundTrip(std::map<int32_t, std::vector<std::string>>{{3, {"x", "y"}}, {-1, {}}});
  ExpectRoundTrip(std::map<std::string, std::map<int8_t, bool>>{{"n", {{1, true}, {2, false}}}});
  // Size, then the entries in key order, whatever order they were inserted in.
  std::map<int8_t, int8_t> m;
  m[9] = 90;
  m[1] = 10;
  EXPECT_EQ(Bytes(m), (std::vector<uint8_t>{2, 1, 10, 9, 90}));
  std::map<int8_t, int8_t, std::greater<int8_t>> descending{{1, 10}, {9, 90}};
  EXPECT_EQ(Bytes(descending), (std::vector<uint8_t>{2, 9, 90, 1, 10}));
  ExpectRoundTrip(descending);
}

TEST(SerializationTest, UnorderedMapRoundTrip) {
  ExpectRoundTrip(std::unordered_map<std::string, int64_t>());
  std::unordered_map<std::string, int64_t> m;
  for (int i = 0; i < 100; ++i) m["key-" + std::to_string(i)] = i * i;
  ExpectRoundTrip(m);
  EXPECT_EQ(Bytes(std::unordered_map<int8_t, int8_t>{{4, 5}}), (std::vector<uint8_t>{1, 4, 5}));
}

TEST(SerializationTest, SetsRoundTrip) {
  ExpectRoundTrip(std::set<std::string>());
  ExpectRoundTrip(std::set<std::string>{"pear", "apple", "fig"});
  EXPECT_EQ(Bytes(std::set<int8_t>{3, -1, 2}), (std::vector<uint8_t>{3, 0xff, 2, 3}));
  ExpectRoundTrip(std::unordered_set<int64_t>{5, 1, 1000000000000});
  ExpectRoundTrip(std::set<std::pair<int32_t, std::string>>{{2, "b"}, {1, "a"}});
}

TEST(SerializationTest, DurationsAndTimePointsAreTheirCount) {
  using namespace std::chrono;
  ExpectRoundTrip(milliseconds(1500));
  ExpectRoundTrip(nanoseconds(-7));
  ExpectRoundTrip(duration<double>(2.5));
  ExpectRoundTrip(hours(24));
  EXPECT_EQ(Bytes(milliseconds(1500)), Bytes(int64_t{1500}));
  EXPECT_EQ(Bytes(duration<int32_t, std::milli>(7)), Bytes(int32_t{7}));

  const system_clock::time_point now = system_clock::now();
  ExpectRoundTrip(now);
  ExpectRoundTrip(steady_clock::now());
  const sys_time<milliseconds> at(milliseconds(1767225600000));
  ExpectRoundTrip(at);
  EXPECT_EQ(Bytes(at), Bytes(int64_t{1767225600000}));
}

TEST(SerializationTest, VariantIsItsIndexThenTheAlternative) {
  using V = std::variant<std::monostate, int32_t, std::string>;
  ExpectRoundTrip(V());
  ExpectRoundTrip(V(int32_t{-4}));
  ExpectRoundTrip(V(std::string("text")));
  EXPECT_EQ(Bytes(V()), (std::vector<uint8_t>{0}));
  EXPECT_EQ(Bytes(V(int32_t{1})), (std::vector<uint8_t>{1, 1, 0, 0, 0}));
  EXPECT_EQ(Bytes(V(std::string("ab"))), (std::vector<uint8_t>{2, 2, 'a', 'b'}));
  // The same type twice: the index tells them apart.
  using Twice = std::variant<int8_t, int8_t>;
  Twice second(std::in_place_index<1>, int8_t{3});
  EXPECT_EQ(Bytes(second), (std::vector<uint8_t>{1, 3}));
  EXPECT_EQ(RoundTrip(second).index(), 1u);
  // Reading replaces whatever alternative was there.
  std::vector<uint8_t> bytes = Bytes(V(int32_t{9}));
  V out = std::string("old");
  DeserializeRecord(bytes.data(), bytes.size(), out);
  EXPECT_EQ(out, V(int32_t{9}));
}

TEST(SerializationTest, RecordWithStandardTypesRoundTrip) {
  Session s;
  s.pages = {{"/", 3}, {"/cart", 1}};
  s.names = {{1, "one"}, {2, "two"}};
  s.users = {42, 7};
  s.tags = {"mobile", "eu"};
  s.length = std::chrono::milliseconds(90000);
  s.start = std::chrono::system_clock::time_point(std::chrono::seconds(1767225600));
  s.referrer = std::string("search");
  ExpectRoundTrip(s);
  ExpectRoundTrip(Session());
  ExpectEveryPrefixThrows(s);
  static_assert(kFixedWidth<Session> == 0);
}

TEST(SerializationTest, DeserializeReplacesContainerContents) {
  std::vector<uint8_t> bytes = Bytes(std::map<int32_t, int32_t>{{1, 2}});
  std::map<int32_t, int32_t> m{{5, 6}, {7, 8}};
  DeserializeRecord(bytes.data(), bytes.size(), m);
  EXPECT_EQ(m, (std::map<int32_t, int32_t>{{1, 2}}));
  bytes = Bytes(std::unordered_set<int32_t>{3});
  std::unordered_set<int32_t> s{1, 2};
  DeserializeRecord(bytes.data(), bytes.size(), s);
  EXPECT_EQ(s, (std::unordered_set<int32_t>{3}));
}

TEST(SerializationTest, MalformedStandardTypesThrow) {
  // Entry counts past the end of the record throw before allocating.
  std::vector<uint8_t> huge = {0xff, 0xff, 0xff, 0xff, 0x0f};
  std::map<int32_t, int32_t> m;
  EXPECT_THROW(DeserializeRecord(huge.data(), huge.size(), m), SerializationError);
  std::unordered_set<int8_t> us;
  EXPECT_THROW(DeserializeRecord(huge.data(), huge.size(), us), SerializationError);
  // A key twice cannot have been written from a map or set.
  std::vector<uint8_t> twice = {2, 1, 10, 1, 11};
  std::map<int8_t, int8_t> m8;
  EXPECT_THROW(DeserializeRecord(twice.data(), twice.size(), m8), SerializationError);
  std::vector<uint8_t> twice_set = {2, 4, 4};
  std::set<int8_t> s8;
  EXPECT_THROW(DeserializeRecord(twice_set.data(), twice_set.size(), s8), SerializationError);
  // An alternative the variant does not have.
  std::vector<uint8_t> bad_index = {3, 0};
  std::variant<int8_t, bool> v;
  EXPECT_THROW(DeserializeRecord(bad_index.data(), bad_index.size(), v), SerializationError);
  ExpectEveryPrefixThrows(std::map<std::string, int32_t>{{"a", 1}, {"bc", 2}});
  ExpectEveryPrefixThrows(std::variant<std::monostate, std::string>(std::string("xy")));
  ExpectEveryPrefixThrows(std::chrono::milliseconds(5));
}

TEST(ToStringTest, Scalars) {
  EXPECT_EQ(ToString(42), "42");
  EXPECT_EQ(ToString(int64_t{-7}), "-7");
  EXPECT_EQ(ToString(true), "true");
  EXPECT_EQ(ToString(false), "false");
  EXPECT_EQ(ToString('c'), "c");
  EXPECT_EQ(ToString(uint8_t{200}), "200");
  EXPECT_EQ(ToString(1.5), "1.5");
  EXPECT_EQ(ToString(std::string("text")), "text");
  EXPECT_EQ(ToString(Color::kBlue), "200");
}

TEST(ToStringTest, Struct) {
  EXPECT_EQ(ToString(Simple{1, "x"}), "{a=1, b=x}");
  Outer v;
  v.id = 3;
  v.name = "n";
  v.inner = Inner{4, "t"};
  v.values = {5, 6};
  EXPECT_EQ(ToString(v), "{id=3, name=n, inner={x=4, tag=t}, values=[5,6], score=null}");
  v.score = 2.5;
  EXPECT_EQ(ToString(v), "{id=3, name=n, inner={x=4, tag=t}, values=[5,6], score=2.5}");
}

TEST(ToStringTest, Composites) {
  EXPECT_EQ(ToString(std::make_pair(std::string("word"), 3)), "(word,3)");
  EXPECT_EQ(ToString(std::make_tuple(1, std::string("b"), false)), "(1,b,false)");
  EXPECT_EQ(ToString(std::vector<int>{1, 2, 3}), "[1,2,3]");
  EXPECT_EQ(ToString(std::vector<int>()), "[]");
  EXPECT_EQ(ToString(std::vector<std::vector<int>>{{1}, {}, {2, 3}}), "[[1],[],[2,3]]");
  EXPECT_EQ(ToString(std::optional<int>()), "null");
  EXPECT_EQ(ToString(std::optional<int>(5)), "5");
  EXPECT_EQ(ToString(std::vector<std::pair<std::string, int>>{{"a", 1}, {"b", 2}}),
            "[(a,1),(b,2)]");
  EXPECT_EQ(ToString(std::vector<Simple>{{1, "x"}, {2, "y"}}), "[{a=1, b=x},{a=2, b=y}]");
  EXPECT_EQ(ToString(std::make_pair(Simple{0, ""}, std::optional<Simple>())), "({a=0, b=},null)");
}

TEST(ToStringTest, StandardTypes) {
  EXPECT_EQ(ToString(std::map<std::string, int>{{"b", 2}, {"a", 1}}), "{a=1,b=2}");
  EXPECT_EQ(ToString(std::map<int, int>()), "{}");
  EXPECT_EQ(ToString(std::unordered_map<int, std::string>{{1, "x"}}), "{1=x}");
  EXPECT_EQ(ToString(std::set<int>{3, 1, 2}), "{1,2,3}");
  EXPECT_EQ(ToString(std::unordered_set<std::string>{"only"}), "{only}");
  EXPECT_EQ(ToString(std::chrono::milliseconds(250)), "250ms");
  EXPECT_EQ(ToString(std::chrono::seconds(3)), "3s");
  EXPECT_EQ(ToString(std::chrono::duration<int, std::ratio<7>>(2)), "2");
  EXPECT_EQ(ToString(std::chrono::sys_time<std::chrono::milliseconds>(
                std::chrono::milliseconds(1767225600000))),
            "1767225600000ms");
  using V = std::variant<std::monostate, int, std::string>;
  EXPECT_EQ(ToString(V()), "null");
  EXPECT_EQ(ToString(V(5)), "5");
  EXPECT_EQ(ToString(V(std::string("s"))), "s");
  Session s;
  s.pages = {{"/", 3}};
  s.users = {7};
  s.length = std::chrono::milliseconds(10);
  s.referrer = int64_t{2};
  // system_clock counts in nanoseconds in libstdc++, microseconds in libc++.
  const std::string start = ToString(std::chrono::system_clock::duration(0));
  EXPECT_EQ(ToString(s), "{pages={/=3}, names={}, users={7}, tags={}, length=10ms, start=" + start +
                             ", referrer=2}");
}

}  // namespace
}  // namespace sluice
