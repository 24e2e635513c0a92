#include "common/util/json.h"

#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace sluice {
namespace {

TEST(JsonEscapeTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonEscape(""), R"("")");
  EXPECT_EQ(JsonEscape("plain"), R"("plain")");
  EXPECT_EQ(JsonEscape("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(JsonEscape("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(JsonEscape(std::string_view("\x00\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
  EXPECT_EQ(JsonEscape("\x7f"), "\"\x7f\"");
}

TEST(JsonEscapeTest, PassesUtf8Through) {
  EXPECT_EQ(JsonEscape("grüße, 東京 🚀"), "\"grüße, 東京 🚀\"");
}

TEST(JsonWriterTest, EmptyContainers) {
  JsonWriter object;
  object.BeginObject();
  object.EndObject();
  EXPECT_EQ(object.str(), "{}");
  JsonWriter array;
  array.BeginArray();
  array.EndArray();
  EXPECT_EQ(array.str(), "[]");
}

TEST(JsonWriterTest, InsertsCommasAndColons) {
  JsonWriter w;
  w.BeginObject();
  w.Key("name");
  w.String("wordcount");
  w.Key("parallelism");
  w.Int(4);
  w.Key("running");
  w.Bool(true);
  w.Key("error");
  w.Null();
  w.Key("vertices");
  w.BeginArray();
  w.BeginObject();
  w.Key("id");
  w.Int(1);
  w.EndObject();
  w.BeginObject();
  w.Key("id");
  w.Int(2);
  w.Key("tags");
  w.BeginArray();
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.Key("ratio");
  w.Double(0.5);
  w.EndObject();
  EXPECT_EQ(w.str(), R"({"name":"wordcount","parallelism":4,"running":true,"error":null,)"
                     R"("vertices":[{"id":1},{"id":2,"tags":[]}],"ratio":0.5})");
}

TEST(JsonWriterTest, NestedArrays) {
  JsonWriter w;
  w.BeginArray();
  w.BeginArray();
  w.Int(1);
  w.Int(2);
  w.EndArray();
  w.BeginArray();
  w.EndArray();
  w.String("x");
  w.EndArray();
  EXPECT_EQ(w.str(), R"([[1,2],[],"x"])");
}

TEST(JsonWriterTest, TopLevelScalar) {
  JsonWriter w;
  w.String("a\"b");
  EXPECT_EQ(w.str(), R"("a\"b")");
}

TEST(JsonWriterTest, KeysAreEscaped) {
  JsonWriter w;
  w.BeginObject();
  w.Key("a\"b\n");
  w.Int(1);
  w.EndObject();
  EXPECT_EQ(w.str(), R"({"a\"b\n":1})");
}

TEST(JsonWriterTest, Numbers) {
  JsonWriter w;
  w.BeginArray();
  w.Int(std::numeric_limits<int64_t>::min());
  w.Int(std::numeric_limits<int64_t>::max());
  w.Double(0.1);
  w.Double(-2.5e-8);
  w.Double(3.0);
  w.Double(std::numeric_limits<double>::quiet_NaN());
  w.Double(std::numeric_limits<double>::infinity());
  w.EndArray();
  EXPECT_EQ(w.str(), "[-9223372036854775808,9223372036854775807,0.1,-2.5e-08,3,null,null]");
}

}  // namespace
}  // namespace sluice
