// How many bytes heap state takes, estimated: what a TaskManager counts against its memory budget
// (docs/state-backends.md, "Heap state in the budget"). An entry of a hash map costs its node
// (the pair, the next pointer, the cached hash, a bucket slot and the allocator's header) plus
// what its key and value hold outside themselves: a string's buffer when it is not inline, a
// vector's elements, a map's nodes. Large containers are weighed by a sample of their elements,
// so that an estimate costs little at any size. Internal to the SDK; task thread only.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice::internal {

//! Bytes a hash-map node costs beyond its pair: next pointer, cached hash, bucket slot, malloc.
inline constexpr size_t kHashNodeOverhead = 40;
//! Elements weighed when a container is too large to weigh whole.
inline constexpr size_t kSampledElements = 8;

template <typename T>
struct OutsideBytes {
  static size_t Of(const T&) { return 0; }
};

//! What `v` holds outside its own sizeof.
template <typename T>
size_t BytesOutside(const T& v) {
  return OutsideBytes<T>::Of(v);
}

template <typename C, typename T, typename A>
struct OutsideBytes<std::basic_string<C, T, A>> {
  static size_t Of(const std::basic_string<C, T, A>& s) {
    // libstdc++ keeps up to 15 chars inline.
    return s.capacity() > 15 ? (s.capacity() + 1) * sizeof(C) + 16 : 0;
  }
};

//! The outside bytes of `n` elements of [first, last), weighed by a sample of them.
template <typename It>
size_t SampledOutside(It first, size_t n) {
  if (n == 0) return 0;
  size_t sample = 0, weighed = 0;
  for (; weighed < n && weighed < kSampledElements; ++first, ++weighed) {
    sample += BytesOutside(*first);
  }
  return sample * n / weighed;
}

template <typename A, typename B>
struct OutsideBytes<std::pair<A, B>> {
  static size_t Of(const std::pair<A, B>& p) {
    return BytesOutside(p.first) + BytesOutside(p.second);
  }
};

template <typename T, typename A>
struct OutsideBytes<std::vector<T, A>> {
  static size_t Of(const std::vector<T, A>& v) {
    if (v.capacity() == 0) return 0;
    return v.capacity() * sizeof(T) + 16 + SampledOutside(v.begin(), v.size());
  }
};

//! The bytes of a hash map's (or set's) buckets and nodes, without what its entries hold outside.
template <typename Map>
size_t HashMapStructureBytes(const Map& map) {
  using Node = typename Map::value_type;
  return map.bucket_count() * sizeof(void*) + map.size() * (sizeof(Node) + kHashNodeOverhead);
}

//! The bytes of a hash map (or set): its buckets, its nodes, and what its entries hold outside.
template <typename Map>
size_t HashMapBytes(const Map& map) {
  return HashMapStructureBytes(map) + SampledOutside(map.begin(), map.size());
}

template <typename K, typename V, typename H, typename E, typename A>
struct OutsideBytes<std::unordered_map<K, V, H, E, A>> {
  static size_t Of(const std::unordered_map<K, V, H, E, A>& m) { return HashMapBytes(m); }
};

}  // namespace sluice::internal
