// Restoring from a snapshot: state handed to subtasks at the same and at a new parallelism (keyed
// state by key group, split lists round-robin, union lists to everyone), matching a snapshot to a
// job graph by uid and max parallelism, and savepoint folders that are self-contained.
#include "jobmanager/snapshot_restore.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>

#include "common/snapshot/metadata.h"
#include "sluice/key_groups.h"

namespace sluice::jobmanager {
namespace {

namespace fs = std::filesystem;

//! A keyed operator "apply" (max parallelism 128) and a source "src" with split and union lists,
//! snapshotted at `parallelism`.
proto::CheckpointMetadata Snapshot(int parallelism) {
  proto::CheckpointMetadata md;
  md.set_checkpoint_id(7);
  md.set_job_id("0123456789abcdef");
  md.set_kind("checkpoint");
  auto* src = md.add_operators();
  src->set_uid("src");
  src->set_node_id(0);
  src->set_parallelism(parallelism);
  src->set_max_parallelism(128);
  auto* apply = md.add_operators();
  apply->set_uid("apply");
  apply->set_node_id(1);
  apply->set_parallelism(parallelism);
  apply->set_max_parallelism(128);
  for (int i = 0; i < parallelism; ++i) {
    auto* s = src->add_subtasks();
    s->set_uid("src");
    s->set_subtask_index(i);
    auto* splits = s->add_operator_state();
    splits->set_name("splits");
    splits->set_mode(proto::OperatorStateList::SPLIT);
    for (int j = 0; j < 3; ++j)
      splits->add_items("split-" + std::to_string(i) + "-" + std::to_string(j));
    auto* all = s->add_operator_state();
    all->set_name("pending");
    all->set_mode(proto::OperatorStateList::UNION);
    all->add_items("pending-" + std::to_string(i));
    auto* k = apply->add_subtasks();
    k->set_uid("apply");
    k->set_subtask_index(i);
    KeyGroupRange r = KeyGroupRangeForOperator(128, parallelism, i);
    auto* h = k->add_keyed()->mutable_key_groups();
    h->mutable_range()->set_start(r.start);
    h->mutable_range()->set_end(r.end);
    h->mutable_file()->set_path("chk-7/apply-" + std::to_string(i));
  }
  return md;
}

proto::JobGraph Graph(int parallelism, int max_parallelism = 128) {
  proto::JobGraph g;
  auto* src = g.add_nodes();
  src->set_id(0);
  src->set_uid("src");
  src->set_parallelism(parallelism);
  src->set_max_parallelism(max_parallelism);
  src->set_is_source(true);
  auto* apply = g.add_nodes();
  apply->set_id(1);
  apply->set_uid("apply");
  apply->set_parallelism(parallelism);
  apply->set_max_parallelism(max_parallelism);
  apply->add_inputs()->set_partitioner(proto::HASH);
  return g;
}

TaskVertex Vertex(uint32_t node, int parallelism) {
  TaskVertex v;
  v.id = node;
  v.parallelism = parallelism;
  v.nodes = {node};
  return v;
}

TEST(RestoreForTest, SameParallelismGivesEachSubtaskItsOwnState) {
  proto::CheckpointMetadata md = Snapshot(2);
  proto::JobGraph g = Graph(2);
  proto::TaskRestore r = RestoreFor(md, "/base", g, Vertex(1, 2), 1);
  EXPECT_EQ(r.checkpoint_id(), 7);
  EXPECT_EQ(r.base_dir(), "/base");
  ASSERT_EQ(r.operators_size(), 1);
  EXPECT_EQ(r.operators(0).subtask_index(), 1);
  ASSERT_EQ(r.operators(0).keyed_size(), 1);
  EXPECT_EQ(r.operators(0).keyed(0).key_groups().file().path(), "chk-7/apply-1");
  proto::TaskRestore src = RestoreFor(md, "/base", g, Vertex(0, 2), 0);
  ASSERT_EQ(src.operators_size(), 1);
  for (const auto& list : src.operators(0).operator_state()) {
    if (list.name() == "splits") {  // its own splits, in order
      ASSERT_EQ(list.items_size(), 3);
      EXPECT_EQ(list.items(0), "split-0-0");
      EXPECT_EQ(list.items(2), "split-0-2");
    } else {  // a union list: every subtask's items (the file sink's pending commits)
      EXPECT_EQ(list.items_size(), 2);
    }
  }
}

TEST(RestoreForTest, RescaledSubtasksGetOverlappingKeyGroupsAndDealtSplits) {
  for (int from : {1, 2, 3, 5}) {
    for (int to : {1, 2, 3, 4, 7}) {
      if (from == to) continue;
      SCOPED_TRACE(std::to_string(from) + " -> " + std::to_string(to));
      proto::CheckpointMetadata md = Snapshot(from);
      proto::JobGraph g = Graph(to);
      std::multiset<std::string> splits;
      for (int i = 0; i < to; ++i) {
        // Keyed: every handle whose key groups overlap the new range, and no other.
        KeyGroupRange mine = KeyGroupRangeForOperator(128, to, i);
        proto::TaskRestore keyed = RestoreFor(md, "/b", g, Vertex(1, to), i);
        ASSERT_EQ(keyed.operators_size(), 1);
        std::set<int> covered;
        for (const auto& h : keyed.operators(0).keyed()) {
          const auto& range = h.key_groups().range();
          EXPECT_TRUE(range.start() <= mine.end && mine.start <= range.end());
          for (int kg = range.start(); kg <= range.end(); ++kg) covered.insert(kg);
        }
        for (int kg = mine.start; kg <= mine.end; ++kg) EXPECT_TRUE(covered.count(kg)) << kg;
        // Operator state: split items dealt out, union items to everyone.
        proto::TaskRestore source = RestoreFor(md, "/b", g, Vertex(0, to), i);
        ASSERT_EQ(source.operators_size(), 1);
        for (const auto& list : source.operators(0).operator_state()) {
          if (list.name() == "splits") {
            for (const auto& item : list.items()) splits.insert(item);
          } else {
            EXPECT_EQ(list.items_size(), from) << "every union item goes to every subtask";
          }
        }
      }
      EXPECT_EQ(splits.size(), static_cast<size_t>(3 * from)) << "each split exactly once";
      EXPECT_EQ(std::set<std::string>(splits.begin(), splits.end()).size(), splits.size());
    }
  }
}

TEST(MatchSnapshotTest, UnknownUidsAreAnErrorUnlessAllowed) {
  proto::CheckpointMetadata md = Snapshot(2);
  proto::JobGraph g = Graph(2);
  g.mutable_nodes(1)->set_uid("other");
  absl::Status s = MatchSnapshot(md, false, g);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("apply"), std::string::npos) << s;
  EXPECT_NE(s.message().find("--allow-non-restored-state"), std::string::npos) << s;
  EXPECT_TRUE(MatchSnapshot(md, true, g).ok());
}

TEST(MatchSnapshotTest, MaxParallelismIsAdoptedWhenDerivedAndAnErrorWhenSet) {
  proto::CheckpointMetadata md = Snapshot(2);
  for (auto& op : *md.mutable_operators()) op.set_max_parallelism(256);
  proto::JobGraph derived = Graph(2, DefaultMaxParallelism(2));  // 128, derived
  ASSERT_TRUE(MatchSnapshot(md, false, derived).ok());
  EXPECT_EQ(derived.nodes(1).max_parallelism(), 256);
  proto::JobGraph set = Graph(2, 64);  // set by the job
  absl::Status s = MatchSnapshot(md, false, set);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("max parallelism"), std::string::npos) << s;
}

class SavepointFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice-sp-test-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SavepointFolderTest, WrittenSavepointIsSelfContainedAndReadsBack) {
  auto source = snapshot::OpenStorage((dir_ / "job").string());
  ASSERT_TRUE(source.ok());
  proto::CheckpointMetadata md = Snapshot(2);
  for (auto& op : *md.mutable_operators()) {
    for (auto& s : *op.mutable_subtasks()) {
      for (auto& k : *s.mutable_keyed()) {
        auto file = (*source)->WriteFile(k.key_groups().file().path(), "state of " + s.uid());
        ASSERT_TRUE(file.ok());
        *k.mutable_key_groups()->mutable_file() = *file;
      }
    }
  }
  auto folder = WriteSavepoint(md, **source, (dir_ / "savepoints").string());
  ASSERT_TRUE(folder.ok()) << folder.status();
  EXPECT_EQ(fs::path(*folder).filename(), "savepoint-012345-7");
  // Moved elsewhere, it still reads back, and its files are there, relative to it.
  fs::rename(*folder, dir_ / "moved");
  auto back = ReadSnapshot((dir_ / "moved").string());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->kind(), "savepoint");
  EXPECT_EQ(SnapshotBaseDir((dir_ / "moved").string(), *back), (dir_ / "moved").string());
  EXPECT_TRUE(fs::exists(dir_ / "moved" / "chk-7" / "apply-0"));
  EXPECT_EQ(ReadSnapshot((dir_ / "nowhere").string()).status().code(), absl::StatusCode::kNotFound);
  // A retained checkpoint's files are relative to the job folder above chk-<n>.
  proto::CheckpointMetadata chk = md;
  EXPECT_EQ(SnapshotBaseDir((dir_ / "job" / "chk-7").string(), chk), (dir_ / "job").string());
}

TEST_F(SavepointFolderTest, FindLatestSnapshotPicksTheNewestOfTheJobName) {
  auto write = [&](const fs::path& folder, const std::string& name, int64_t ts) {
    auto storage = snapshot::OpenStorage(folder.string());
    ASSERT_TRUE(storage.ok());
    proto::CheckpointMetadata md;
    md.set_job_name(name);
    md.set_timestamp_ms(ts);
    ASSERT_TRUE(snapshot::WriteMetadata(**storage, snapshot::kMetadataFileName, md).ok());
  };
  write(dir_ / "sp" / "savepoint-a-1", "ledger", 100);
  write(dir_ / "ck" / "job1" / "chk-3", "ledger", 300);
  write(dir_ / "ck" / "job2" / "chk-9", "other", 900);
  auto latest = FindLatestSnapshot("ledger", (dir_ / "ck").string(), (dir_ / "sp").string());
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ(**latest, (dir_ / "ck" / "job1" / "chk-3").string());
  auto none = FindLatestSnapshot("none", (dir_ / "ck").string(), (dir_ / "sp").string());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  // Regression (fault probe, defect 1): with the newest checkpoint of a job damaged, `--restore
  // latest` took an older one of the same job and replayed what the newest had committed.
  write(dir_ / "ck" / "job1" / "chk-4", "ledger", 400);
  std::ofstream(dir_ / "ck" / "job1" / "chk-4" / "_metadata", std::ios::trunc) << "garbage";
  latest = FindLatestSnapshot("ledger", (dir_ / "ck").string(), (dir_ / "sp").string());
  ASSERT_EQ(latest.status().code(), absl::StatusCode::kFailedPrecondition) << latest.status();
  EXPECT_NE(latest.status().message().find("chk-3"), std::string::npos) << latest.status();
  EXPECT_NE(latest.status().message().find("--from-savepoint"), std::string::npos);
}

}  // namespace
}  // namespace sluice::jobmanager
