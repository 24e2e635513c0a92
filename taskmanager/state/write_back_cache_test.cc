// Unit tests of the write-back cache as a container: what VisitDirty hands the backend, and in
// which order.
#include "taskmanager/state/write_back_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::state {
namespace {

TEST(WriteBackCacheTest, VisitDirtyHandsEntriesInStoredKeyOrder) {
  WriteBackCache cache(1 << 20);
  // Keys inserted out of order, with two states and a clean entry among them.
  for (const char* key : {"k7", "k1", "k5", "k3", "k9"}) {
    cache.SetCurrentKey(key);
    WriteBackCache::Entry& b = cache.Insert(1, "b");
    b.value = "vb";
    b.present = b.dirty = true;
    WriteBackCache::Entry& a = cache.Insert(0, "a");
    a.value = "va";
    a.present = a.dirty = true;
  }
  cache.SetCurrentKey("k4");
  cache.Insert(0, "a").present = true;  // clean: RocksDB has it

  std::vector<std::string> seen;
  cache.VisitDirty([&](int state, std::string_view stored, const WriteBackCache::Entry& e) {
    seen.push_back(std::to_string(state) + ":" + std::string(stored) + "=" + e.value);
  });
  EXPECT_EQ(seen,
            (std::vector<std::string>{"0:k1a=va", "1:k1b=vb", "0:k3a=va", "1:k3b=vb", "0:k5a=va",
                                      "1:k5b=vb", "0:k7a=va", "1:k7b=vb", "0:k9a=va", "1:k9b=vb"}));
  cache.MarkClean();
  seen.clear();
  cache.VisitDirty([&](int, std::string_view stored, const WriteBackCache::Entry&) {
    seen.emplace_back(stored);
  });
  EXPECT_TRUE(seen.empty());
}

}  // namespace
}  // namespace sluice::state
