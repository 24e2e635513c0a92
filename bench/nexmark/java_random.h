// java.util.Random, bit for bit (its LCG is specified by the JDK): the Nexmark generator draws
// every event's fields from `new Random(eventId)`, so the same algorithm gives the same events.
#pragma once

#include <cstdint>

namespace sluice::nexmark {

class JavaRandom {
 public:
  explicit JavaRandom(int64_t seed) : seed_((static_cast<uint64_t>(seed) ^ kMultiplier) & kMask) {}

  int32_t NextInt() { return Next(32); }
  //! Uniform in [0, bound); bound > 0.
  int32_t NextInt(int32_t bound) {
    if ((bound & -bound) == bound) {  // a power of two
      return static_cast<int32_t>((static_cast<int64_t>(bound) * Next(31)) >> 31);
    }
    int32_t bits, val;
    do {
      bits = Next(31);
      val = bits % bound;
      // Java's int overflow check: bits - val + (bound - 1) < 0 in 32-bit arithmetic.
    } while (static_cast<int32_t>(static_cast<uint32_t>(bits) - static_cast<uint32_t>(val) +
                                  static_cast<uint32_t>(bound - 1)) < 0);
    return val;
  }
  int64_t NextLong() {
    const int64_t high = static_cast<int64_t>(Next(32));
    const int64_t low = static_cast<int64_t>(Next(32));
    return static_cast<int64_t>(static_cast<uint64_t>(high) << 32) + low;
  }
  double NextDouble() {
    const int64_t high = static_cast<int64_t>(Next(26));
    const int64_t low = static_cast<int64_t>(Next(27));
    return static_cast<double>((high << 27) + low) * 0x1.0p-53;
  }

 private:
  static constexpr uint64_t kMultiplier = 0x5DEECE66DULL;
  static constexpr uint64_t kMask = (uint64_t{1} << 48) - 1;

  int32_t Next(int bits) {
    seed_ = (seed_ * kMultiplier + 0xBULL) & kMask;
    return static_cast<int32_t>(static_cast<int64_t>(seed_ >> (48 - bits)));
  }

  uint64_t seed_;
};

}  // namespace sluice::nexmark
