#include "jobmanager/checkpoint/savepoint_writer.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/snapshot/metadata.h"

namespace sluice::jobmanager::checkpoint {

absl::StatusOr<std::string> WriteSavepoint(const proto::CheckpointMetadata& snapshot,
                                           snapshot::SnapshotStorage& source,
                                           const std::string& dir) {
  std::string folder = absl::StrCat(dir, "/savepoint-", snapshot.job_id().substr(0, 6), "-",
                                    snapshot.checkpoint_id());
  auto target = snapshot::OpenStorage(folder);
  if (!target.ok()) return target.status();
  std::set<std::string> copied;
  absl::Status status;
  for (const auto& op : snapshot.operators()) {
    for (const auto& s : op.subtasks()) {
      for (const auto& h : s.keyed()) {
        snapshot::ForEachStateFile(h, [&](const proto::StateFile& f) {
          if (!status.ok() || !copied.insert(f.path()).second) return;
          auto written = snapshot::CopyStateFile(source, f, **target);
          if (!written.ok()) {
            status = written.status();
          } else if (written->crc32() != f.crc32() || written->size() != f.size()) {
            status = absl::DataLossError(
                absl::StrCat("checkpoint file ", f.path(), " changed while it was copied"));
          }
        });
      }
    }
  }
  proto::CheckpointMetadata md = snapshot;
  md.set_kind("savepoint");
  if (status.ok()) status = snapshot::WriteMetadata(**target, snapshot::kMetadataFileName, md);
  if (!status.ok()) {
    // No half savepoint is left behind.
    for (const std::string& path : copied) (void)(*target)->Delete(path);
    (void)(*target)->Delete(snapshot::kMetadataFileName);
    (*target)->RemoveEmptyFolders();
    return status;
  }
  return folder;
}

}  // namespace sluice::jobmanager::checkpoint
