// What the tests of RocksDB keyed state share: a temporary folder with a file-system snapshot
// storage in it, key group ranges, and a checkpoint taken and uploaded in one step.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "common/snapshot/storage.h"
#include "taskmanager/state/rocksdb_backend.h"

namespace sluice::state::testing {

inline proto::KeyGroupRange Range(int start, int end) {
  proto::KeyGroupRange r;
  r.set_start(start);
  r.set_end(end);
  return r;
}

//! A fresh folder under the system's temporary folder, removed with the object; its
//! "snapshots" folder is a snapshot storage.
class TempStateRoot {
 public:
  explicit TempStateRoot(const std::string& prefix) {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << tmpl;
      return;
    }
    root_ = tmpl;
    auto storage = snapshot::OpenStorage(root_ + "/snapshots");
    EXPECT_TRUE(storage.ok()) << storage.status();
    if (storage.ok()) storage_ = *std::move(storage);
  }
  ~TempStateRoot() {
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }

  const std::string& path() const { return root_; }
  snapshot::SnapshotStorage* storage() const { return storage_.get(); }

  //! Checkpoint `id` of `b`, uploaded to "chk-<id>"; an empty handle (and a test failure) when
  //! either part fails.
  proto::KeyedStateHandle Checkpoint(RocksDbKeyedBackend& b, int64_t id) const {
    auto snap = b.SnapshotSync(id);
    EXPECT_TRUE(snap.ok()) << snap.status();
    if (!snap.ok()) return {};
    auto handle = (*snap)->Upload(*storage_, "chk-" + std::to_string(id));
    EXPECT_TRUE(handle.ok()) << handle.status();
    return handle.ok() ? *handle : proto::KeyedStateHandle();
  }

 private:
  std::string root_;
  std::unique_ptr<snapshot::SnapshotStorage> storage_;
};

}  // namespace sluice::state::testing
