#ifndef SLUICE_COMMON_UTIL_JSON_H_
#define SLUICE_COMMON_UTIL_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// Returns `text` as a quoted JSON string. Quotes, backslashes and control characters are
// escaped; every other byte (including UTF-8 sequences) is passed through unchanged.
std::string JsonEscape(std::string_view text);

// A tiny streaming writer for compact JSON (REST responses, CLI --json output, metrics dumps).
// Commas and colons are inserted automatically. It does not validate call order: calling
// Key() outside an object or leaving containers open yields invalid JSON. Not thread-safe.
//
//   JsonWriter w;
//   w.BeginObject(); w.Key("id"); w.Int(7); w.Key("tags"); w.BeginArray(); w.EndArray();
//   w.EndObject();  // w.str() == R"({"id":7,"tags":[]})"
class JsonWriter {
 public:
  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(std::string_view key);
  void String(std::string_view value);
  void Int(int64_t value);
  // NaN and infinities have no JSON form and are written as null.
  void Double(double value);
  void Bool(bool value);
  void Null();

  const std::string& str() const { return out_; }

 private:
  // Writes the separator a new element needs in the current container.
  void BeforeValue();

  std::string out_;
  // One entry per open container: whether it already holds an element (the next needs a comma).
  std::vector<bool> non_empty_;
  // True between Key() and its value, which must not be preceded by a comma.
  bool after_key_ = false;
};

}  // namespace sluice

#endif  // SLUICE_COMMON_UTIL_JSON_H_
