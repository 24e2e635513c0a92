#include "taskmanager/state/key_filter.h"

#include <algorithm>

#include "absl/hash/hash.h"

namespace sluice::state {
namespace {

constexpr size_t kBitsPerKey = 10;
constexpr size_t kBlockBits = 512;  // one cache line
constexpr size_t kWordsPerBlock = kBlockBits / 64;
constexpr int kProbes = 6;
constexpr size_t kGrowth = 4;

uint64_t HashOf(std::string_view key) { return absl::Hash<std::string_view>{}(key); }

}  // namespace

struct KeyFilter::Part {
  explicit Part(size_t capacity_keys)
      : capacity(capacity_keys),
        blocks(std::max<size_t>(1, (capacity_keys * kBitsPerKey + kBlockBits - 1) / kBlockBits)),
        words(blocks * kWordsPerBlock, 0) {}

  //! The first word of the block of `h` (the bit positions in it come from other bits of `h`).
  size_t BlockStart(uint64_t h) const { return ((h >> 32) * blocks >> 32) * kWordsPerBlock; }

  bool Test(uint64_t h) const {
    const uint64_t* block = words.data() + BlockStart(h);
    uint64_t bits = h * 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < kProbes; ++i, bits >>= 9) {
      const unsigned pos = bits & (kBlockBits - 1);
      if ((block[pos >> 6] & (uint64_t{1} << (pos & 63))) == 0) return false;
    }
    return true;
  }

  void Set(uint64_t h) {
    uint64_t* block = words.data() + BlockStart(h);
    uint64_t bits = h * 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < kProbes; ++i, bits >>= 9) {
      const unsigned pos = bits & (kBlockBits - 1);
      block[pos >> 6] |= uint64_t{1} << (pos & 63);
    }
    ++count;
  }

  size_t bytes() const { return words.size() * sizeof(uint64_t); }

  size_t capacity;
  size_t blocks;
  size_t count = 0;
  std::vector<uint64_t> words;
};

KeyFilter::KeyFilter(size_t first_capacity)
    : next_capacity_(std::max<size_t>(first_capacity, kBlockBits)) {}
KeyFilter::KeyFilter(KeyFilter&&) noexcept = default;
KeyFilter& KeyFilter::operator=(KeyFilter&&) noexcept = default;
KeyFilter::~KeyFilter() = default;

void KeyFilter::Grow() {
  parts_.push_back(std::make_unique<Part>(next_capacity_));
  bytes_ += parts_.back()->bytes();
  next_capacity_ *= kGrowth;
}

void KeyFilter::Add(std::string_view key) {
  const uint64_t h = HashOf(key);
  for (const auto& p : parts_) {
    if (p->Test(h)) return;
  }
  if (parts_.empty() || parts_.back()->count >= parts_.back()->capacity) Grow();
  parts_.back()->Set(h);
  ++keys_;
}

bool KeyFilter::MayContain(std::string_view key) const {
  const uint64_t h = HashOf(key);
  for (const auto& p : parts_) {
    if (p->Test(h)) return true;
  }
  return false;
}

void KeyFilter::Absorb(KeyFilter&& other) {
  // Ours stay last: later keys go on filling our newest part.
  for (auto& p : other.parts_) parts_.insert(parts_.begin(), std::move(p));
  bytes_ += other.bytes_;
  keys_ += other.keys_;
  next_capacity_ = std::max(next_capacity_, other.next_capacity_);
  other = KeyFilter();
}

}  // namespace sluice::state
