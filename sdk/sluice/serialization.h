// Record serialization for the Sluice SDK: the byte format records take on the wire and in
// snapshots.
//
// Supported out of the box: arithmetic types, enums, std::string, std::pair, std::tuple,
// std::vector, std::array (its elements, no length: fixed-width records need no allocation),
// std::optional, and user structs that list their fields with SLUICE_FIELDS; serializers_std.h
// (included at the end) adds std::map, std::set, their unordered kin, std::chrono::duration and
// time_point, and std::variant. Any other type: specialize Serializer<T> (docs/sdk-errors.md).
// Little-endian, lengths as varints. Deserialization of malformed bytes throws
// sluice::SerializationError (never reads past the end).
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace sluice {

class SerializationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

//! Growable output buffer; reused across records to avoid allocation on the hot path.
//!
//! It can also write into memory it does not own (Attach): the network stack serializes a record
//! straight into a network buffer that way. Bytes that do not fit move, with what was written
//! before them, into the writer's own storage (spilled() tells), and the caller copies them out.
class ByteWriter {
 public:
  ByteWriter() = default;
  ByteWriter(const ByteWriter& other) { Append(other.data(), other.size()); }
  ByteWriter& operator=(const ByteWriter& other) {
    if (this != &other) {
      Clear();
      Append(other.data(), other.size());
    }
    return *this;
  }
  ByteWriter(ByteWriter&& other) noexcept { *this = std::move(other); }
  ByteWriter& operator=(ByteWriter&& other) noexcept {
    if (this == &other) return *this;
    const bool other_owned = other.data_ == other.own_.data();
    own_ = std::move(other.own_);
    data_ = other_owned ? own_.data() : other.data_;
    size_ = other.size_;
    capacity_ = other_owned ? own_.size() : other.capacity_;
    other.own_.clear();
    other.data_ = nullptr;
    other.size_ = other.capacity_ = 0;
    return *this;
  }

  //! Empties the writer; it writes into its own storage again.
  void Clear() {
    data_ = own_.data();
    capacity_ = own_.size();
    size_ = 0;
  }
  //! Empties the writer and makes it write into [at, at + capacity) until that is full.
  void Attach(uint8_t* at, size_t capacity) {
    data_ = at;
    capacity_ = capacity;
    size_ = 0;
  }
  //! Whether the bytes are in the writer's own storage (always, unless Attach'ed memory holds
  //! them all).
  bool spilled() const { return data_ == own_.data(); }
  size_t size() const { return size_; }
  const uint8_t* data() const { return data_; }
  //! Makes room for n more bytes and returns where they go; the caller writes all n.
  uint8_t* Extend(size_t n) {
    Reserve(size_ + n);
    uint8_t* at = data_ + size_;
    size_ += n;
    return at;
  }
  void Append(const void* p, size_t n) {
    if (n == 0) return;  // p may be null then, and memcpy must not see a null pointer
    Reserve(size_ + n);
    std::memcpy(data_ + size_, p, n);
    size_ += n;
  }
  void PutByte(uint8_t b) {
    Reserve(size_ + 1);
    data_[size_++] = b;
  }
  void PutVarint(uint64_t v) {
    Reserve(size_ + 10);
    while (v >= 0x80) {
      data_[size_++] = static_cast<uint8_t>(v | 0x80);
      v >>= 7;
    }
    data_[size_++] = static_cast<uint8_t>(v);
  }

 private:
  void Reserve(size_t n) {
    if (n > capacity_) Grow(n);
  }
  void Grow(size_t n) {
    if (data_ == own_.data()) {
      own_.resize(std::max(n, own_.size() * 2 + 64));
    } else {  // leaving attached memory (or none yet): keep what was written
      std::vector<uint8_t> bigger(std::max({n, own_.size(), size_t{64}}));
      if (size_ > 0) std::memcpy(bigger.data(), data_, size_);
      own_.swap(bigger);
    }
    data_ = own_.data();
    capacity_ = own_.size();
  }

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  std::vector<uint8_t> own_;
};

//! Bounds-checked reader over bytes it does not own.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  void Read(void* out, size_t n) {
    if (n > remaining()) throw SerializationError("record truncated");
    if (n == 0) return;
    std::memcpy(out, p_, n);
    p_ += n;
  }
  const uint8_t* Skip(size_t n) {
    if (n > remaining()) throw SerializationError("record truncated");
    const uint8_t* at = p_;
    p_ += n;
    return at;
  }
  uint8_t GetByte() {
    if (p_ == end_) throw SerializationError("record truncated");
    return *p_++;
  }
  uint64_t GetVarint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = GetByte();
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw SerializationError("malformed varint");
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

namespace internal {
//! false, but only once T is known: a static_assert on it fires when its template is used.
template <typename...>
inline constexpr bool kDependentFalse = false;
}  // namespace internal

//! How values of T become bytes and back; specialized below for the types supported out of the
//! box, and by users for their own (docs/sdk-errors.md). This primary template is what a type
//! without a serializer gets: one static_assert that says what to do, and empty functions so
//! that the rest of the job still compiles instead of adding pages of follow-on errors.
template <typename T, typename Enable = void>
struct Serializer {
  static_assert(internal::kDependentFalse<T>,
                "this type is not serializable: add SLUICE_FIELDS(field1, field2, ...) "
                "inside the struct, or specialize sluice::Serializer<T> with Write and Read "
                "(see docs/sdk-errors.md)");
  static void Write(const T&, ByteWriter&) {}
  static void Read(ByteReader&, T&) {}
};

namespace internal {
template <typename T, typename = void>
struct HasFields : std::false_type {};
template <typename T>
struct HasFields<T, std::void_t<decltype(std::declval<T&>().SluiceTie())>> : std::true_type {};
//! Numbers and enums: written as their sizeof(T) bytes. Not bool (see Serializer<bool>).
template <typename T>
inline constexpr bool kRawBytes =
    (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) || std::is_enum_v<T>;
}  // namespace internal

template <typename T>
struct Serializer<T, std::enable_if_t<internal::kRawBytes<T>>> {
  static constexpr bool kBuiltin = true;  // internal::PutFixed writes the same bytes
  static void Write(const T& v, ByteWriter& w) { w.Append(&v, sizeof(T)); }
  static void Read(ByteReader& r, T& v) { r.Read(&v, sizeof(T)); }
};

// One byte, 0 or 1: copying any other byte into a bool would be undefined behaviour.
template <>
struct Serializer<bool> {
  static constexpr bool kBuiltin = true;  // internal::PutFixed writes the same bytes
  static void Write(const bool& v, ByteWriter& w) { w.PutByte(v ? 1 : 0); }
  static void Read(ByteReader& r, bool& v) {
    uint8_t b = r.GetByte();
    if (b > 1) throw SerializationError("malformed bool");
    v = b == 1;
  }
};

template <>
struct Serializer<std::string> {
  static void Write(const std::string& v, ByteWriter& w) {
    w.PutVarint(v.size());
    w.Append(v.data(), v.size());
  }
  static void Read(ByteReader& r, std::string& v) {
    uint64_t n = r.GetVarint();
    const uint8_t* p = r.Skip(n);
    v.assign(reinterpret_cast<const char*>(p), n);
  }
};

template <typename A, typename B>
struct Serializer<std::pair<A, B>> {
  static constexpr bool kBuiltin = true;  // internal::PutFixed writes the same bytes
  static void Write(const std::pair<A, B>& v, ByteWriter& w) {
    Serializer<A>::Write(v.first, w);
    Serializer<B>::Write(v.second, w);
  }
  static void Read(ByteReader& r, std::pair<A, B>& v) {
    Serializer<A>::Read(r, v.first);
    Serializer<B>::Read(r, v.second);
  }
};

template <typename... Ts>
struct Serializer<std::tuple<Ts...>> {
  static constexpr bool kBuiltin = true;  // internal::PutFixed writes the same bytes
  static void Write(const std::tuple<Ts...>& v, ByteWriter& w) {
    std::apply([&](const auto&... e) { (Serializer<std::decay_t<decltype(e)>>::Write(e, w), ...); },
               v);
  }
  static void Read(ByteReader& r, std::tuple<Ts...>& v) {
    std::apply([&](auto&... e) { (Serializer<std::decay_t<decltype(e)>>::Read(r, e), ...); }, v);
  }
};

template <typename E>
struct Serializer<std::vector<E>> {
  static void Write(const std::vector<E>& v, ByteWriter& w) {
    w.PutVarint(v.size());
    for (const auto& e : v) Serializer<E>::Write(e, w);
  }
  static void Read(ByteReader& r, std::vector<E>& v) {
    uint64_t n = r.GetVarint();
    if (n > r.remaining()) throw SerializationError("vector length exceeds record");
    v.clear();
    v.resize(n);
    if constexpr (std::is_same_v<E, bool>) {  // vector<bool> hands out proxies, not bool&
      for (size_t i = 0; i < n; ++i) {
        bool b = false;
        Serializer<bool>::Read(r, b);
        v[i] = b;
      }
    } else {
      for (auto& e : v) Serializer<E>::Read(r, e);
    }
  }
};

template <typename E, size_t N>
struct Serializer<std::array<E, N>> {
  static constexpr bool kBuiltin = true;  // internal::PutFixed writes the same bytes
  static void Write(const std::array<E, N>& v, ByteWriter& w) {
    if constexpr (internal::kRawBytes<E>) {
      w.Append(v.data(), sizeof(E) * N);  // the same bytes as element by element, at once
    } else {
      for (const auto& e : v) Serializer<E>::Write(e, w);
    }
  }
  static void Read(ByteReader& r, std::array<E, N>& v) {
    if constexpr (internal::kRawBytes<E>) {
      r.Read(v.data(), sizeof(E) * N);
    } else {
      for (auto& e : v) Serializer<E>::Read(r, e);
    }
  }
};

template <typename E>
struct Serializer<std::optional<E>> {
  static void Write(const std::optional<E>& v, ByteWriter& w) {
    w.PutByte(v.has_value() ? 1 : 0);
    if (v) Serializer<E>::Write(*v, w);
  }
  static void Read(ByteReader& r, std::optional<E>& v) {
    uint8_t tag = r.GetByte();
    if (tag == 0) {
      v.reset();
    } else if (tag == 1) {
      v.emplace();
      Serializer<E>::Read(r, *v);
    } else {
      throw SerializationError("malformed optional tag");
    }
  }
};

// User structs: SLUICE_FIELDS(a, b, c) inside the struct lists the serialized fields in order.
template <typename T>
struct Serializer<T, std::enable_if_t<internal::HasFields<T>::value>> {
  static constexpr bool kBuiltin = true;  // internal::PutFixed writes the same bytes
  static void Write(const T& v, ByteWriter& w) {
    auto tie = const_cast<T&>(v).SluiceTie();
    std::apply([&](const auto&... e) { (Serializer<std::decay_t<decltype(e)>>::Write(e, w), ...); },
               tie);
  }
  static void Read(ByteReader& r, T& v) {
    auto tie = v.SluiceTie();
    std::apply([&](auto&... e) { (Serializer<std::decay_t<decltype(e)>>::Read(r, e), ...); }, tie);
  }
};

namespace internal {
template <typename T>
struct IsStdArray : std::false_type {};
template <typename E, size_t N>
struct IsStdArray<std::array<E, N>> : std::true_type {};
template <typename T>
struct IsPairOrTuple : std::false_type {};
template <typename A, typename B>
struct IsPairOrTuple<std::pair<A, B>> : std::true_type {};
template <typename... Ts>
struct IsPairOrTuple<std::tuple<Ts...>> : std::true_type {};

template <typename T>
constexpr size_t FixedWidthOf();
//! The sum of the elements' widths, or 0 if any of them is not fixed.
template <typename Tuple, size_t... I>
constexpr size_t FixedWidthOfAll(std::index_sequence<I...>) {
  constexpr bool all_fixed =
      ((FixedWidthOf<std::decay_t<std::tuple_element_t<I, Tuple>>>() != 0) && ...);
  return all_fixed ? (FixedWidthOf<std::decay_t<std::tuple_element_t<I, Tuple>>>() + ... + 0) : 0;
}

//! The number of bytes every value of T serializes to, or 0 if that depends on the value
//! (strings, vectors, optionals, and whatever holds one).
template <typename T>
constexpr size_t FixedWidthOf() {
  if constexpr (!requires { Serializer<T>::kBuiltin; }) {
    return 0;  // a user's own Serializer: its bytes are its own
  } else if constexpr (std::is_same_v<T, bool>) {
    return 1;
  } else if constexpr (kRawBytes<T>) {
    return sizeof(T);
  } else if constexpr (IsStdArray<T>::value) {
    return FixedWidthOf<typename T::value_type>() * std::tuple_size_v<T>;
  } else if constexpr (IsPairOrTuple<T>::value) {
    return FixedWidthOfAll<T>(std::make_index_sequence<std::tuple_size_v<T>>());
  } else if constexpr (HasFields<T>::value) {
    using Tie = decltype(std::declval<T&>().SluiceTie());
    return FixedWidthOfAll<Tie>(std::make_index_sequence<std::tuple_size_v<Tie>>());
  } else {
    return 0;
  }
}

//! Writes a fixed-width value (FixedWidthOf<T>() > 0) at p, in the bytes Serializer<T>::Write
//! produces; returns the end. Offsets are constants once inlined: no bounds check per field.
template <typename T>
uint8_t* PutFixed(const T& v, uint8_t* p) {
  if constexpr (std::is_same_v<T, bool>) {
    *p = v ? 1 : 0;
    return p + 1;
  } else if constexpr (kRawBytes<T>) {
    std::memcpy(p, &v, sizeof(T));
    return p + sizeof(T);
  } else if constexpr (IsStdArray<T>::value) {
    using E = typename T::value_type;
    if constexpr (kRawBytes<E>) {
      std::memcpy(p, v.data(), sizeof(E) * std::tuple_size_v<T>);
      return p + sizeof(E) * std::tuple_size_v<T>;
    } else {
      for (const auto& e : v) p = PutFixed(e, p);
      return p;
    }
  } else if constexpr (IsPairOrTuple<T>::value) {
    std::apply([&](const auto&... e) { ((p = PutFixed(e, p)), ...); }, v);
    return p;
  } else {
    auto tie = const_cast<T&>(v).SluiceTie();
    std::apply([&](const auto&... e) { ((p = PutFixed(e, p)), ...); }, tie);
    return p;
  }
}
}  // namespace internal

//! The number of bytes every value of T serializes to, or 0 if that depends on the value.
template <typename T>
inline constexpr size_t kFixedWidth = internal::FixedWidthOf<T>();

template <typename T>
void SerializeRecord(const T& v, ByteWriter& w) {
  if constexpr (kFixedWidth<T> != 0) {
    // One bounds check for the whole record instead of one per field.
    internal::PutFixed(v, w.Extend(kFixedWidth<T>));
  } else {
    Serializer<T>::Write(v, w);
  }
}

template <typename T>
void DeserializeRecord(const uint8_t* data, size_t size, T& out) {
  ByteReader r(data, size);
  Serializer<T>::Read(r, out);
  if (r.remaining() != 0) throw SerializationError("trailing bytes after record");
}

// ---- Human-readable rendering (print sink, logs) ----

template <typename T>
void AppendString(std::string& out, const T& v);
template <typename A, typename B>
void AppendComposite(std::string& out, const std::pair<A, B>& v);
template <typename... Ts>
void AppendComposite(std::string& out, const std::tuple<Ts...>& v);
template <typename E>
void AppendComposite(std::string& out, const std::vector<E>& v);
template <typename E, size_t N>
void AppendComposite(std::string& out, const std::array<E, N>& v);
template <typename E>
void AppendComposite(std::string& out, const std::optional<E>& v);
// Defined in serializers_std.h. Declared here, before AppendString, because AppendString's call
// finds them by ordinary lookup: argument-dependent lookup of std types does not look in sluice.
template <typename K, typename V, typename C, typename A>
void AppendComposite(std::string& out, const std::map<K, V, C, A>& v);
template <typename K, typename V, typename H, typename E, typename A>
void AppendComposite(std::string& out, const std::unordered_map<K, V, H, E, A>& v);
template <typename T, typename C, typename A>
void AppendComposite(std::string& out, const std::set<T, C, A>& v);
template <typename T, typename H, typename E, typename A>
void AppendComposite(std::string& out, const std::unordered_set<T, H, E, A>& v);
template <typename Rep, typename Period>
void AppendComposite(std::string& out, const std::chrono::duration<Rep, Period>& v);
template <typename Clock, typename Duration>
void AppendComposite(std::string& out, const std::chrono::time_point<Clock, Duration>& v);
inline void AppendComposite(std::string& out, const std::monostate& v);
template <typename... Ts>
void AppendComposite(std::string& out, const std::variant<Ts...>& v);

namespace internal {
inline void AppendFieldList(std::string& out, const char* names, auto const&... fields) {
  std::string_view rest(names);
  bool first = true;
  auto one = [&](const auto& f) {
    size_t comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (!first) out += ", ";
    first = false;
    out.append(name);
    out += '=';
    AppendString(out, f);
  };
  (one(fields), ...);
}
}  // namespace internal

template <typename T>
void AppendString(std::string& out, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    out += v ? "true" : "false";
  } else if constexpr (std::is_arithmetic_v<T>) {
    if constexpr (std::is_same_v<T, char>) {
      out += v;
    } else if constexpr (std::is_floating_point_v<T>) {
      std::ostringstream s;
      s << v;
      out += s.str();
    } else {
      out += std::to_string(v);
    }
  } else if constexpr (std::is_enum_v<T>) {
    out += std::to_string(static_cast<std::underlying_type_t<T>>(v));
  } else if constexpr (std::is_same_v<T, std::string>) {
    out += v;
  } else if constexpr (internal::HasFields<T>::value) {
    out += '{';
    auto tie = const_cast<T&>(v).SluiceTie();
    std::apply(
        [&](const auto&... f) { internal::AppendFieldList(out, T::SluiceFieldNames(), f...); },
        tie);
    out += '}';
  } else {
    AppendComposite(out, v);
  }
}

template <typename A, typename B>
void AppendComposite(std::string& out, const std::pair<A, B>& v) {
  out += '(';
  AppendString(out, v.first);
  out += ',';
  AppendString(out, v.second);
  out += ')';
}
template <typename... Ts>
void AppendComposite(std::string& out, const std::tuple<Ts...>& v) {
  out += '(';
  bool first = true;
  std::apply(
      [&](const auto&... e) {
        ((out += first ? "" : ",", first = false, AppendString(out, e)), ...);
      },
      v);
  out += ')';
}
template <typename E>
void AppendComposite(std::string& out, const std::vector<E>& v) {
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    AppendString(out, v[i]);
  }
  out += ']';
}
template <typename E, size_t N>
void AppendComposite(std::string& out, const std::array<E, N>& v) {
  if constexpr (std::is_same_v<E, char>) {
    out.append(v.data(), N);
  } else {
    out += '[';
    for (size_t i = 0; i < N; ++i) {
      if (i) out += ',';
      AppendString(out, v[i]);
    }
    out += ']';
  }
}
template <typename E>
void AppendComposite(std::string& out, const std::optional<E>& v) {
  if (v) {
    AppendString(out, *v);
  } else {
    out += "null";
  }
}

template <typename T>
std::string ToString(const T& v) {
  std::string s;
  AppendString(s, v);
  return s;
}

}  // namespace sluice

//! Lists a struct's fields for serialization and printing: struct P { int a; std::string b;
//! SLUICE_FIELDS(a, b) };
#define SLUICE_FIELDS(...)                           \
  auto SluiceTie() { return std::tie(__VA_ARGS__); } \
  static constexpr const char* SluiceFieldNames() { return #__VA_ARGS__; }

#include "sluice/serializers_std.h"  // IWYU pragma: export
