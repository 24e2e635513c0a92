// Line formats for the file sink (FileSinkOptions::encoder): CSV and JSON lines of a struct that
// lists its fields with SLUICE_FIELDS (docs/connectors.md "Files").
#pragma once

#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "sluice/serialization.h"

namespace sluice {
namespace internal {

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

inline void AppendNumber(std::string& out, auto v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest exact form for doubles
  out.append(buf, ec == std::errc() ? end : buf);
}

//! `s` as a CSV field: quoted only when it holds a comma, a quote or a line break.
inline void AppendCsvString(std::string& out, std::string_view s) {
  // One vectorized scan per character of the set (find_first_of would call memchr on the set
  // once per character of `s`).
  auto has = [&](char c) { return std::memchr(s.data(), c, s.size()) != nullptr; };
  if (s.empty() || !(has(',') || has('"') || has('\n') || has('\r'))) {
    out.append(s);
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

template <typename F>
void AppendCsvField(std::string& out, const F& f) {
  if constexpr (std::is_same_v<F, bool>) {
    out += f ? "true" : "false";
  } else if constexpr (std::is_arithmetic_v<F> && !std::is_same_v<F, char>) {
    AppendNumber(out, f);
  } else if constexpr (std::is_same_v<F, std::string>) {
    AppendCsvString(out, f);
  } else if constexpr (IsOptional<F>::value) {
    if (f) AppendCsvField(out, *f);  // NULL: an empty field
  } else {
    AppendCsvString(out, ToString(f));
  }
}

//! `s` as a JSON string, escaped.
inline void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

template <typename F>
void AppendJsonValue(std::string& out, const F& f);

template <typename T>
void AppendJsonObject(std::string& out, const T& v) {
  std::string_view rest(T::SluiceFieldNames());
  bool first = true;
  out += '{';
  auto one = [&](const auto& f) {
    const size_t comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, name);
    out += ':';
    AppendJsonValue(out, f);
  };
  std::apply([&](const auto&... f) { (one(f), ...); }, const_cast<T&>(v).SluiceTie());
  out += '}';
}

template <typename F>
void AppendJsonValue(std::string& out, const F& f) {
  if constexpr (std::is_same_v<F, bool>) {
    out += f ? "true" : "false";
  } else if constexpr (std::is_arithmetic_v<F> && !std::is_same_v<F, char>) {
    AppendNumber(out, f);
  } else if constexpr (std::is_same_v<F, std::string>) {
    AppendJsonString(out, f);
  } else if constexpr (IsOptional<F>::value) {
    if (f) {
      AppendJsonValue(out, *f);
    } else {
      out += "null";
    }
  } else if constexpr (HasFields<F>::value) {
    AppendJsonObject(out, f);
  } else {
    AppendJsonString(out, ToString(f));
  }
}

}  // namespace internal

//! A struct's fields in their SLUICE_FIELDS order as one CSV line: numbers as plain decimals
//! (doubles in their shortest exact form), a string quoted only when it holds a comma, a quote or
//! a line break (its quotes doubled), an empty std::optional as an empty field, anything else as
//! its ToString.
template <typename T>
std::function<void(const T&, std::string&)> CsvEncoder() {
  static_assert(internal::HasFields<T>::value, "CsvEncoder needs a struct with SLUICE_FIELDS");
  return [](const T& v, std::string& out) {
    bool first = true;
    std::apply(
        [&](const auto&... f) {
          ((out += first ? "" : ",", first = false, internal::AppendCsvField(out, f)), ...);
        },
        const_cast<T&>(v).SluiceTie());
  };
}

//! A struct as one JSON object per line, keyed by its SLUICE_FIELDS names: numbers, booleans,
//! strings (escaped), null for an empty std::optional, nested objects for nested structs,
//! anything else as the string of its ToString.
template <typename T>
std::function<void(const T&, std::string&)> JsonLinesEncoder() {
  static_assert(internal::HasFields<T>::value,
                "JsonLinesEncoder needs a struct with SLUICE_FIELDS");
  return [](const T& v, std::string& out) { internal::AppendJsonObject(out, v); };
}

}  // namespace sluice
