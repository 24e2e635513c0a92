#include "jobmanager/checkpoint/completed_store.h"

#include "gtest/gtest.h"

namespace sluice::jobmanager::checkpoint {
namespace {

using Ids = std::vector<int64_t>;

CompletedCheckpointStore::Entry EntryOf(int64_t id) {
  CompletedCheckpointStore::Entry e;
  e.metadata.set_checkpoint_id(id);
  e.info.id = id;
  return e;
}

Ids NewestFirst(const CompletedCheckpointStore& store) {
  Ids ids;
  for (const auto* e : store.NewestFirst()) ids.push_back(e->info.id);
  return ids;
}

TEST(CompletedCheckpointStore, KeepsTheNewestAndDropsTheOldestFirst) {
  CompletedCheckpointStore store(2);
  EXPECT_EQ(store.Add(1, EntryOf(1)), Ids{});
  EXPECT_EQ(store.Add(2, EntryOf(2)), Ids{});
  EXPECT_EQ(store.Add(3, EntryOf(3)), Ids{1});
  EXPECT_EQ(NewestFirst(store), (Ids{3, 2}));
  ASSERT_NE(store.Find(2), nullptr);
  EXPECT_EQ(store.Find(2)->metadata.checkpoint_id(), 2);
  EXPECT_EQ(store.Find(1), nullptr);
}

TEST(CompletedCheckpointStore, APinnedCheckpointStaysUntilItsLastUnpin) {
  CompletedCheckpointStore store(1);
  store.Add(1, EntryOf(1), /*pin=*/true);
  EXPECT_TRUE(store.Pin(1));
  EXPECT_FALSE(store.Pin(9));
  EXPECT_EQ(store.Add(2, EntryOf(2)), Ids{}) << "pinned: not dropped";
  EXPECT_EQ(store.Add(3, EntryOf(3)), Ids{2}) << "the unpinned older one goes, the newest stays";
  EXPECT_EQ(NewestFirst(store), (Ids{3, 1}));
  EXPECT_EQ(store.Unpin(1), Ids{});
  EXPECT_EQ(store.Unpin(1), Ids{1});
  EXPECT_EQ(NewestFirst(store), Ids{3});
  EXPECT_EQ(store.Unpin(1), Ids{}) << "unpinning more than pinned is harmless";
}

TEST(CompletedCheckpointStore, RemoveForgetsADamagedCheckpointEvenWhenPinned) {
  CompletedCheckpointStore store(2);
  store.Add(1, EntryOf(1));
  store.Add(2, EntryOf(2), /*pin=*/true);
  EXPECT_TRUE(store.Remove(2));
  EXPECT_FALSE(store.Remove(2));
  EXPECT_EQ(NewestFirst(store), Ids{1});
}

}  // namespace
}  // namespace sluice::jobmanager::checkpoint
