// RestoredEntries: the restored heap entries of one state, kept from InitializeState until the
// operator asks for the state in Open, in one buffer: each entry's key, user key and value one
// after another, and their sizes beside. A restore of millions of keys costs two appends per
// entry instead of three strings. Internal to the SDK; task thread only.
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::internal {

class RestoredEntries {
 public:
  void Add(int key_group, std::string_view key, std::string_view user_key, std::string_view value) {
    constexpr size_t kMax = std::numeric_limits<uint32_t>::max();
    if (key.size() > kMax || user_key.size() > kMax || value.size() > kMax) {
      throw std::length_error("restored state entry over 4 GiB");
    }
    sizes_.push_back(Sizes{key_group, static_cast<uint32_t>(key.size()),
                           static_cast<uint32_t>(user_key.size()),
                           static_cast<uint32_t>(value.size())});
    bytes_.append(key).append(user_key).append(value);
  }

  size_t size() const { return sizes_.size(); }
  //! What the entries take in memory.
  size_t Bytes() const { return bytes_.capacity() + sizes_.capacity() * sizeof(Sizes); }

  //! fn(key_group, key, user_key, value) for each entry, in the order they were added.
  template <typename F>
  void ForEach(F&& fn) const {
    const std::string_view all(bytes_);
    size_t at = 0;
    for (const Sizes& s : sizes_) {
      const std::string_view key = all.substr(at, s.key);
      const std::string_view user_key = all.substr(at + s.key, s.user_key);
      const std::string_view value = all.substr(at + s.key + s.user_key, s.value);
      at += size_t{s.key} + s.user_key + s.value;
      fn(s.key_group, key, user_key, value);
    }
  }

 private:
  struct Sizes {
    int key_group;
    uint32_t key, user_key, value;
  };
  std::string bytes_;
  std::vector<Sizes> sizes_;
};

}  // namespace sluice::internal
