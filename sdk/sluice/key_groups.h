// Key groups: the unit of keyed state and rescaling (docs/vocabulary.md), with Flink's exact
// formulas:
//   key group  = murmur(hash(key)) % maxParallelism
//   operator   = keyGroup * parallelism / maxParallelism
//   range(i)   = [(i*maxP + p - 1) / p, ((i+1)*maxP - 1) / p]
// hash(key) follows Java's hashCode for integers and strings (UTF-8 decoded to UTF-16 code units),
// so key groups match Flink's for those keys.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <cstdint>
#include <string>
#include <type_traits>

#include "sluice/serialization.h"

namespace sluice {

constexpr int kDefaultMaxParallelism = 128;
constexpr int kUpperBoundMaxParallelism = 1 << 15;

inline int32_t MurmurHash(int32_t code_in) {
  uint32_t code = static_cast<uint32_t>(code_in);
  code *= 0xcc9e2d51u;
  code = (code << 15) | (code >> 17);
  code *= 0x1b873593u;
  code = (code << 13) | (code >> 19);
  code = code * 5 + 0xe6546b64u;
  code ^= 4;
  code ^= code >> 16;
  code *= 0x85ebca6bu;
  code ^= code >> 13;
  code *= 0xc2b2ae35u;
  code ^= code >> 16;
  int32_t c = static_cast<int32_t>(code);
  if (c >= 0) return c;
  if (c != INT32_MIN) return -c;
  return 0;
}

namespace internal {
//! Java's String.hashCode: the 31-polynomial over UTF-16 code units. Strings hold UTF-8, so each
//! code point is decoded (split into a surrogate pair above U+FFFF); a byte that does not start a
//! valid UTF-8 sequence counts as one unit of its own value, so any bytes hash deterministically.
inline int32_t JavaStringHash(const std::string& s) {
  uint32_t h = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    uint32_t cp = c;
    size_t len = 1;
    if (c >= 0xc2 && c <= 0xf4) {
      size_t need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
      uint32_t v = c & (0xff >> (need + 1));
      bool ok = i + need <= n;
      for (size_t k = 1; ok && k < need; ++k) {
        ok = (p[i + k] & 0xc0) == 0x80;
        v = (v << 6) | (p[i + k] & 0x3f);
      }
      // Reject overlong forms, surrogates and code points above U+10FFFF.
      if (ok && need == 3) ok = v >= 0x800 && (v < 0xd800 || v > 0xdfff);
      if (ok && need == 4) ok = v >= 0x10000 && v <= 0x10ffff;
      if (ok) {
        cp = v;
        len = need;
      }
    }
    if (cp >= 0x10000) {
      h = 31 * h + (0xd800 + ((cp - 0x10000) >> 10));
      h = 31 * h + (0xdc00 + ((cp - 0x10000) & 0x3ff));
    } else {
      h = 31 * h + cp;
    }
    i += len;
  }
  return static_cast<int32_t>(h);
}
}  // namespace internal

//! Java-compatible hashCode for common key types; other types hash their serialized bytes.
template <typename K>
int32_t KeyHash(const K& key) {
  if constexpr (std::is_same_v<K, bool>) {
    return key ? 1231 : 1237;
  } else if constexpr (std::is_integral_v<K> && sizeof(K) <= 4) {
    return static_cast<int32_t>(key);
  } else if constexpr (std::is_integral_v<K>) {
    uint64_t v = static_cast<uint64_t>(key);
    return static_cast<int32_t>(static_cast<uint32_t>(v ^ (v >> 32)));
  } else if constexpr (std::is_same_v<K, std::string>) {
    return internal::JavaStringHash(key);
  } else {
    ByteWriter w;
    Serializer<K>::Write(key, w);
    uint32_t h = 0;
    for (size_t i = 0; i < w.size(); ++i) h = 31 * h + w.data()[i];
    return static_cast<int32_t>(h);
  }
}

inline int KeyGroupForHash(int32_t key_hash, int max_parallelism) {
  return MurmurHash(key_hash) % max_parallelism;
}

template <typename K>
int KeyGroupFor(const K& key, int max_parallelism) {
  return KeyGroupForHash(KeyHash(key), max_parallelism);
}

inline int OperatorIndexForKeyGroup(int max_parallelism, int parallelism, int key_group) {
  return static_cast<int>(static_cast<int64_t>(key_group) * parallelism / max_parallelism);
}

struct KeyGroupRange {
  int start = 0;
  int end = -1;  // inclusive; empty when end < start
  bool Contains(int kg) const { return kg >= start && kg <= end; }
};

inline KeyGroupRange KeyGroupRangeForOperator(int max_parallelism, int parallelism, int index) {
  return KeyGroupRange{(index * max_parallelism + parallelism - 1) / parallelism,
                       ((index + 1) * max_parallelism - 1) / parallelism};
}

//! Flink's default: 1.5 x parallelism rounded up to a power of two, within [128, 32768].
inline int DefaultMaxParallelism(int parallelism) {
  int64_t target = parallelism + parallelism / 2;
  int64_t p = 1;
  while (p < target) p <<= 1;
  if (p < kDefaultMaxParallelism) p = kDefaultMaxParallelism;
  if (p > kUpperBoundMaxParallelism) p = kUpperBoundMaxParallelism;
  return static_cast<int>(p);
}

}  // namespace sluice
