// Serializers (and printing) for the standard containers and vocabulary types beyond the basic
// ones in serialization.h: std::map, std::set, std::unordered_map, std::unordered_set,
// std::chrono::duration, std::chrono::time_point, std::variant and std::monostate.
//
// Format (little-endian, lengths as varints, as in serialization.h):
//   map, set:                   size, then the entries in iteration order (so in key order: two
//                               equal maps give the same bytes)
//   unordered_map, unordered_set: size, then the entries in iteration order (equal containers may
//                               give different bytes: do not key by one)
//   duration:                   count() as its Rep; time_point: time_since_epoch() as a duration
//   variant:                    index() as a varint, then the alternative; monostate: nothing
//
// serialization.h includes this header (at its end); including it on its own works too.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>

#include "sluice/serialization.h"

namespace sluice {

namespace internal {

//! Reads a container's length: every entry takes at least one byte unless its type serializes to
//! nothing, so a length beyond the record's end is malformed (and must not make us allocate).
inline uint64_t ReadContainerSize(ByteReader& r, const char* what) {
  uint64_t n = r.GetVarint();
  if (n > r.remaining()) throw SerializationError(std::string(what) + " length exceeds record");
  return n;
}

template <typename K, typename V, typename Map>
void WriteMap(const Map& m, ByteWriter& w) {
  w.PutVarint(m.size());
  for (const auto& [k, v] : m) {
    Serializer<K>::Write(k, w);
    Serializer<V>::Write(v, w);
  }
}

template <typename K, typename V, typename Map>
void ReadMap(ByteReader& r, Map& m, const char* what) {
  uint64_t n = ReadContainerSize(r, what);
  m.clear();
  for (uint64_t i = 0; i < n; ++i) {
    K k{};
    Serializer<K>::Read(r, k);
    V v{};
    Serializer<V>::Read(r, v);
    // A key twice cannot come from Write: the bytes are damaged.
    if (!m.emplace(std::move(k), std::move(v)).second) {
      throw SerializationError(std::string("duplicate key in ") + what);
    }
  }
}

template <typename E, typename Set>
void WriteSet(const Set& s, ByteWriter& w) {
  w.PutVarint(s.size());
  for (const auto& e : s) Serializer<E>::Write(e, w);
}

template <typename E, typename Set>
void ReadSet(ByteReader& r, Set& s, const char* what) {
  uint64_t n = ReadContainerSize(r, what);
  s.clear();
  for (uint64_t i = 0; i < n; ++i) {
    E e{};
    Serializer<E>::Read(r, e);
    if (!s.insert(std::move(e)).second) {
      throw SerializationError(std::string("duplicate element in ") + what);
    }
  }
}

//! Makes alternative `index` of `v` current (default-constructed) and reads it.
template <typename Variant, size_t... I>
void ReadVariantAlternative(ByteReader& r, Variant& v, uint64_t index, std::index_sequence<I...>) {
  auto read_if = [&](auto i) {
    constexpr size_t kI = decltype(i)::value;
    if (index != kI) return false;
    auto& alt = v.template emplace<kI>();
    Serializer<std::variant_alternative_t<kI, Variant>>::Read(r, alt);
    return true;
  };
  (read_if(std::integral_constant<size_t, I>{}) || ...);
}

}  // namespace internal

template <typename K, typename V, typename C, typename A>
struct Serializer<std::map<K, V, C, A>> {
  static void Write(const std::map<K, V, C, A>& m, ByteWriter& w) {
    internal::WriteMap<K, V>(m, w);
  }
  static void Read(ByteReader& r, std::map<K, V, C, A>& m) { internal::ReadMap<K, V>(r, m, "map"); }
};

template <typename K, typename V, typename H, typename E, typename A>
struct Serializer<std::unordered_map<K, V, H, E, A>> {
  static void Write(const std::unordered_map<K, V, H, E, A>& m, ByteWriter& w) {
    internal::WriteMap<K, V>(m, w);
  }
  static void Read(ByteReader& r, std::unordered_map<K, V, H, E, A>& m) {
    internal::ReadMap<K, V>(r, m, "unordered_map");
  }
};

template <typename T, typename C, typename A>
struct Serializer<std::set<T, C, A>> {
  static void Write(const std::set<T, C, A>& s, ByteWriter& w) { internal::WriteSet<T>(s, w); }
  static void Read(ByteReader& r, std::set<T, C, A>& s) { internal::ReadSet<T>(r, s, "set"); }
};

template <typename T, typename H, typename E, typename A>
struct Serializer<std::unordered_set<T, H, E, A>> {
  static void Write(const std::unordered_set<T, H, E, A>& s, ByteWriter& w) {
    internal::WriteSet<T>(s, w);
  }
  static void Read(ByteReader& r, std::unordered_set<T, H, E, A>& s) {
    internal::ReadSet<T>(r, s, "unordered_set");
  }
};

template <typename Rep, typename Period>
struct Serializer<std::chrono::duration<Rep, Period>> {
  static void Write(const std::chrono::duration<Rep, Period>& d, ByteWriter& w) {
    Serializer<Rep>::Write(d.count(), w);
  }
  static void Read(ByteReader& r, std::chrono::duration<Rep, Period>& d) {
    Rep count{};
    Serializer<Rep>::Read(r, count);
    d = std::chrono::duration<Rep, Period>(count);
  }
};

template <typename Clock, typename Duration>
struct Serializer<std::chrono::time_point<Clock, Duration>> {
  static void Write(const std::chrono::time_point<Clock, Duration>& t, ByteWriter& w) {
    Serializer<Duration>::Write(t.time_since_epoch(), w);
  }
  static void Read(ByteReader& r, std::chrono::time_point<Clock, Duration>& t) {
    Duration since_epoch{};
    Serializer<Duration>::Read(r, since_epoch);
    t = std::chrono::time_point<Clock, Duration>(since_epoch);
  }
};

template <>
struct Serializer<std::monostate> {
  static void Write(const std::monostate&, ByteWriter&) {}
  static void Read(ByteReader&, std::monostate&) {}
};

template <typename... Ts>
struct Serializer<std::variant<Ts...>> {
  static void Write(const std::variant<Ts...>& v, ByteWriter& w) {
    // valueless_by_exception: an exception escaped a previous assignment; nothing sane to write.
    if (v.valueless_by_exception()) throw SerializationError("variant is valueless");
    w.PutVarint(v.index());
    std::visit([&](const auto& alt) { Serializer<std::decay_t<decltype(alt)>>::Write(alt, w); }, v);
  }
  static void Read(ByteReader& r, std::variant<Ts...>& v) {
    uint64_t index = r.GetVarint();
    if (index >= sizeof...(Ts)) throw SerializationError("malformed variant index");
    internal::ReadVariantAlternative(r, v, index, std::index_sequence_for<Ts...>());
  }
};

// ---- Human-readable rendering (declared in serialization.h) ----

namespace internal {
template <typename Map>
void AppendMap(std::string& out, const Map& m) {
  out += '{';
  bool first = true;
  for (const auto& [k, v] : m) {
    if (!first) out += ',';
    first = false;
    AppendString(out, k);
    out += '=';
    AppendString(out, v);
  }
  out += '}';
}
template <typename Set>
void AppendSet(std::string& out, const Set& s) {
  out += '{';
  bool first = true;
  for (const auto& e : s) {
    if (!first) out += ',';
    first = false;
    AppendString(out, e);
  }
  out += '}';
}
//! "ms" for std::chrono::milliseconds and so on; empty for a period without a common name.
template <typename Period>
constexpr const char* DurationSuffix() {
  if constexpr (std::is_same_v<Period, std::nano>) return "ns";
  if constexpr (std::is_same_v<Period, std::micro>) return "us";
  if constexpr (std::is_same_v<Period, std::milli>) return "ms";
  if constexpr (std::is_same_v<Period, std::ratio<1>>) return "s";
  if constexpr (std::is_same_v<Period, std::ratio<60>>) return "min";
  if constexpr (std::is_same_v<Period, std::ratio<3600>>) return "h";
  return "";
}
}  // namespace internal

template <typename K, typename V, typename C, typename A>
void AppendComposite(std::string& out, const std::map<K, V, C, A>& v) {
  internal::AppendMap(out, v);
}
template <typename K, typename V, typename H, typename E, typename A>
void AppendComposite(std::string& out, const std::unordered_map<K, V, H, E, A>& v) {
  internal::AppendMap(out, v);
}
template <typename T, typename C, typename A>
void AppendComposite(std::string& out, const std::set<T, C, A>& v) {
  internal::AppendSet(out, v);
}
template <typename T, typename H, typename E, typename A>
void AppendComposite(std::string& out, const std::unordered_set<T, H, E, A>& v) {
  internal::AppendSet(out, v);
}
template <typename Rep, typename Period>
void AppendComposite(std::string& out, const std::chrono::duration<Rep, Period>& v) {
  AppendString(out, v.count());
  out += internal::DurationSuffix<Period>();
}
template <typename Clock, typename Duration>
void AppendComposite(std::string& out, const std::chrono::time_point<Clock, Duration>& v) {
  AppendComposite(out, v.time_since_epoch());  // since the clock's epoch, in its duration
}
inline void AppendComposite(std::string& out, const std::monostate&) { out += "null"; }
template <typename... Ts>
void AppendComposite(std::string& out, const std::variant<Ts...>& v) {
  if (v.valueless_by_exception()) {
    out += "null";
    return;
  }
  std::visit([&](const auto& alt) { AppendString(out, alt); }, v);
}

}  // namespace sluice
