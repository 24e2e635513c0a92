#include "jobmanager/checkpoint/savepoint_writer.h"

#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/snapshot/metadata.h"

namespace sluice::jobmanager::checkpoint {

namespace fs = std::filesystem;

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
          auto written =
              (*target)->UploadFile(absl::StrCat(source.root(), "/", f.path()), f.path());
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
    std::error_code ec;
    fs::remove_all(folder, ec);  // no half savepoint is left behind
    return status;
  }
  return folder;
}

}  // namespace sluice::jobmanager::checkpoint
