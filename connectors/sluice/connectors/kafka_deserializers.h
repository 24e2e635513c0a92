// How the Kafka source turns a message into a record (Flink's KafkaRecordDeserializationSchema):
// a function that fills the record or throws std::exception saying what is wrong with the
// message. Built in: the value as a string (any bytes), and the value as one JSON object into a
// SLUICE_FIELDS struct. The JSON text is parsed in sluice_connector_kafka (ParseKafkaJson); the
// fields are filled here, by their SLUICE_FIELDS names.
#pragma once

#include <charconv>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/connectors/kafka_consumer.h"
#include "sluice/serialization.h"

namespace sluice {

template <typename T>
using KafkaDeserializer = std::function<void(const KafkaMessage&, T&)>;

//! A parsed JSON value: numbers keep their text, so integers are read exactly.
struct KafkaJson {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  std::string text;                                       //!< a string's value, a number's text
  std::vector<KafkaJson> items;                           //!< an array's items
  std::vector<std::pair<std::string, KafkaJson>> fields;  //!< an object's members, in order
};

//! Parses one JSON document (sluice_connector_kafka). Throws std::runtime_error with the
//! parser's message when `text` is not JSON.
KafkaJson ParseKafkaJson(std::string_view text);

namespace internal {

template <typename T>
struct IsKafkaJsonOptional : std::false_type {};
template <typename T>
struct IsKafkaJsonOptional<std::optional<T>> : std::true_type {};
template <typename T>
struct IsKafkaJsonVector : std::false_type {};
template <typename T>
struct IsKafkaJsonVector<std::vector<T>> : std::true_type {};

template <typename F>
void FromKafkaJson(const KafkaJson& j, F& f, std::string_view path);

template <typename T>
void FromKafkaJsonObject(const KafkaJson& j, T& v, std::string_view path) {
  if (j.kind != KafkaJson::Kind::kObject) {
    throw std::runtime_error(std::string(path.empty() ? "the value" : path) +
                             " is not a JSON object");
  }
  std::string_view rest(T::SluiceFieldNames());
  auto one = [&](auto& f) {
    const size_t comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    for (const auto& [key, value] : j.fields) {
      if (key == name) {
        const std::string field =
            path.empty() ? std::string(name) : std::string(path) + "." + std::string(name);
        FromKafkaJson(value, f, field);
        return;
      }
    }
    // A missing field keeps its default (Flink's JSON format without fail-on-missing-field).
  };
  std::apply([&](auto&... f) { (one(f), ...); }, v.SluiceTie());
}

template <typename F>
void FromKafkaJson(const KafkaJson& j, F& f, std::string_view path) {
  auto wrong = [&](const char* want) {
    throw std::runtime_error("field '" + std::string(path) + "' is not " + want);
  };
  if constexpr (std::is_same_v<F, bool>) {
    if (j.kind != KafkaJson::Kind::kBool) wrong("a boolean");
    f = j.boolean;
  } else if constexpr (std::is_arithmetic_v<F>) {
    if (j.kind != KafkaJson::Kind::kNumber) wrong("a number");
    const char* end = j.text.data() + j.text.size();
    auto [ptr, ec] = std::from_chars(j.text.data(), end, f);
    if (ec != std::errc() || ptr != end) {
      wrong(std::is_integral_v<F> ? "an integer in the field's range" : "a number");
    }
  } else if constexpr (std::is_same_v<F, std::string>) {
    if (j.kind != KafkaJson::Kind::kString) wrong("a string");
    f = j.text;
  } else if constexpr (IsKafkaJsonOptional<F>::value) {
    if (j.kind == KafkaJson::Kind::kNull) {
      f.reset();
    } else {
      FromKafkaJson(j, f.emplace(), path);
    }
  } else if constexpr (HasFields<F>::value) {
    FromKafkaJsonObject(j, f, path);
  } else if constexpr (IsKafkaJsonVector<F>::value) {
    if (j.kind != KafkaJson::Kind::kArray) wrong("an array");
    f.clear();
    f.resize(j.items.size());
    for (size_t i = 0; i < j.items.size(); ++i) {
      FromKafkaJson(j.items[i], f[i], std::string(path) + "[" + std::to_string(i) + "]");
    }
  } else {
    static_assert(HasFields<F>::value,
                  "KafkaJsonDeserializer: a field must be a number, bool, std::string, "
                  "std::optional, std::vector or a struct with SLUICE_FIELDS");
  }
}

}  // namespace internal

//! The message's value as it is (text or any bytes).
inline KafkaDeserializer<std::string> KafkaStringDeserializer() {
  return [](const KafkaMessage& m, std::string& out) { out.assign(m.value); };
}

//! The message's value as one JSON object (a JSON line) into a SLUICE_FIELDS struct, field by
//! name: unknown members are ignored, a missing field keeps its default, null empties an
//! std::optional. Anything else that does not fit (not JSON, a string where a number is due, an
//! integer out of range) throws.
template <typename T>
KafkaDeserializer<T> KafkaJsonDeserializer() {
  static_assert(internal::HasFields<T>::value,
                "KafkaJsonDeserializer needs a struct with SLUICE_FIELDS");
  return [](const KafkaMessage& m, T& out) {
    out = T{};
    internal::FromKafkaJsonObject(ParseKafkaJson(m.value), out, "");
  };
}

}  // namespace sluice
