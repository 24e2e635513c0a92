#include "common/ids.h"

#include <mutex>
#include <random>

namespace sluice {
namespace {

std::string RandomHex(int chars) {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::lock_guard<std::mutex> lock(mu);
  std::string s;
  for (int i = 0; i < chars; i += 16) {
    uint64_t v = rng();
    for (int j = 0; j < 16 && i + j < chars; ++j, v >>= 4) s.push_back(kHex[v & 15]);
  }
  return s;
}

}  // namespace

std::string NewId() { return RandomHex(32); }
std::string NewShortId(const std::string& prefix) { return prefix + RandomHex(12); }

}  // namespace sluice
