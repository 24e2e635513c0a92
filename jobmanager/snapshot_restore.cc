#include "jobmanager/snapshot_restore.h"

#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/snapshot/metadata.h"
#include "common/snapshot/s3_client.h"
#include "sluice/key_groups.h"

namespace sluice::jobmanager {
namespace {

namespace fs = std::filesystem;

auto Log() { return log::Get("restore"); }

bool HasState(const proto::OperatorSnapshot& op) {
  for (const auto& s : op.subtasks()) {
    if (s.keyed_size() > 0) return true;
    for (const auto& l : s.operator_state()) {
      if (l.items_size() > 0) return true;
    }
  }
  return false;
}

bool Overlaps(const proto::KeyGroupRange& a, const KeyGroupRange& b) {
  return a.start() <= b.end && b.start <= a.end();
}

const proto::KeyGroupRange* RangeOf(const proto::KeyedStateHandle& h) {
  if (h.has_key_groups()) return &h.key_groups().range();
  if (h.has_rocksdb()) return &h.rocksdb().range();
  return nullptr;
}

}  // namespace

std::string OperatorUid(const proto::JobNode& node) {
  return node.uid().empty() ? absl::StrCat("node-", node.id()) : node.uid();
}

absl::StatusOr<std::string> SnapshotFolder(const std::string& uri) {
  if (snapshot::IsS3Uri(uri)) {
    auto where = snapshot::ParseS3Uri(uri);
    if (!where.ok()) return where.status();
    return where->prefix.empty() ? absl::StrCat("s3://", where->bucket)
                                 : absl::StrCat("s3://", where->bucket, "/", where->prefix);
  }
  std::string path = absl::StartsWith(uri, "file://") ? uri.substr(7) : uri;
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "snapshot path '", uri, "' must be absolute (/path, file:///path or s3://bucket/prefix)"));
  }
  return fs::path(path).lexically_normal().string();
}

absl::StatusOr<proto::CheckpointMetadata> ReadSnapshot(const std::string& folder) {
  std::error_code ec;
  if (!snapshot::IsS3Uri(folder) && !fs::is_directory(folder, ec)) {
    return absl::NotFoundError(
        absl::StrCat("no savepoint or checkpoint at '", folder, "': not a folder"));
  }
  auto storage = snapshot::OpenStorage(folder);
  if (!storage.ok()) return storage.status();
  auto md = snapshot::ReadMetadata(**storage, snapshot::kMetadataFileName);
  if (!md.ok()) {
    return absl::Status(md.status().code(), absl::StrCat("cannot restore from '", folder,
                                                         "': ", md.status().message()));
  }
  return md;
}

std::string SnapshotBaseDir(const std::string& folder, const proto::CheckpointMetadata& snapshot) {
  if (snapshot.kind() == "savepoint") return folder;
  return fs::path(folder).parent_path().string();
}

absl::Status MatchSnapshot(const proto::CheckpointMetadata& snapshot, bool allow_non_restored_state,
                           proto::JobGraph& graph) {
  std::map<std::string, proto::JobNode*> by_uid;
  for (auto& n : *graph.mutable_nodes()) by_uid[OperatorUid(n)] = &n;
  std::vector<std::string> unmatched;
  for (const auto& op : snapshot.operators()) {
    auto it = by_uid.find(op.uid());
    if (it == by_uid.end()) {
      if (HasState(op)) unmatched.push_back(op.uid());
      continue;
    }
    proto::JobNode& node = *it->second;
    bool keyed = false;
    for (const auto& s : op.subtasks()) keyed |= s.keyed_size() > 0;
    if (!keyed || node.max_parallelism() == op.max_parallelism()) continue;
    // A max parallelism derived from the parallelism follows the snapshot (as Flink's).
    if (node.max_parallelism() != DefaultMaxParallelism(node.parallelism())) {
      return absl::InvalidArgumentError(
          absl::StrCat("operator '", op.uid(), "' has max parallelism ", node.max_parallelism(),
                       " but its state was written with max parallelism ", op.max_parallelism(),
                       "; keyed state cannot move between different numbers of key groups"));
    }
    if (node.parallelism() > op.max_parallelism()) {
      return absl::InvalidArgumentError(
          absl::StrCat("operator '", op.uid(), "' cannot run with parallelism ", node.parallelism(),
                       ": its state has max parallelism ", op.max_parallelism()));
    }
    node.set_max_parallelism(op.max_parallelism());
  }
  if (!unmatched.empty() && !allow_non_restored_state) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the snapshot has state for operator(s) ", absl::StrJoin(unmatched, ", "),
        " that the job does not have (match their uids, or pass --allow-non-restored-state)"));
  }
  if (!unmatched.empty()) {
    Log()->warn("not restoring the state of operator(s) {}", absl::StrJoin(unmatched, ", "));
  }
  return absl::OkStatus();
}

proto::TaskRestore RestoreFor(const proto::CheckpointMetadata& snapshot,
                              const std::string& base_dir, const proto::JobGraph& graph,
                              const TaskVertex& vertex, int subtask) {
  proto::TaskRestore r;
  r.set_checkpoint_id(snapshot.checkpoint_id());
  r.set_base_dir(base_dir);
  for (uint32_t node_id : vertex.nodes) {
    const proto::JobNode& node = graph.nodes(static_cast<int>(node_id));
    std::string uid = OperatorUid(node);
    for (const auto& op : snapshot.operators()) {
      if (op.uid() != uid) continue;
      // At the same parallelism each subtask keeps its keyed state and split lists; rescaled,
      // keyed state moves by key group and split items are dealt round-robin. Union lists go
      // whole to every subtask either way.
      const bool same = op.parallelism() == vertex.parallelism;
      proto::OperatorSubtaskState* out = r.add_operators();
      out->set_node_id(node.id());
      out->set_uid(uid);
      out->set_subtask_index(subtask);
      KeyGroupRange range =
          KeyGroupRangeForOperator(op.max_parallelism(), vertex.parallelism, subtask);
      std::map<std::string, proto::OperatorStateList> lists;
      std::map<std::string, int64_t> dealt;  // split items seen so far, per list
      std::vector<const proto::OperatorSubtaskState*> old;
      for (const auto& s : op.subtasks()) old.push_back(&s);
      std::sort(old.begin(), old.end(),
                [](auto* a, auto* b) { return a->subtask_index() < b->subtask_index(); });
      for (const auto* s : old) {
        const bool own = s->subtask_index() == subtask;
        for (const auto& h : s->keyed()) {
          const proto::KeyGroupRange* kg = RangeOf(h);
          if (same ? own : (kg && Overlaps(*kg, range))) *out->add_keyed() = h;
        }
        for (const auto& l : s->operator_state()) {
          proto::OperatorStateList& mine = lists[l.name()];
          mine.set_name(l.name());
          mine.set_mode(l.mode());
          for (const auto& item : l.items()) {
            bool take;
            if (l.mode() == proto::OperatorStateList::UNION) {
              take = true;
            } else if (same) {
              take = own;
            } else {
              take = dealt[l.name()]++ % vertex.parallelism == subtask;
            }
            if (take) mine.add_items(item);
          }
        }
      }
      for (auto& [name, list] : lists) *out->add_operator_state() = std::move(list);
    }
  }
  return r;
}

namespace {

//! The sub-folders of `dir` (a local path or an s3:// URI); empty when it cannot be listed.
std::vector<std::string> SubFolders(const std::string& dir) {
  std::vector<std::string> names;
  auto storage = snapshot::OpenStorage(dir);
  if (!storage.ok()) return names;
  auto listed = (*storage)->List("");
  if (!listed.ok()) return names;
  for (std::string& name : *listed) {
    if (snapshot::IsS3Uri(dir) || fs::is_directory(fs::path(dir) / name)) {
      names.push_back(std::move(name));
    }
  }
  return names;
}

}  // namespace

absl::StatusOr<std::optional<std::string>> FindLatestSnapshot(const std::string& job_name,
                                                              const std::string& checkpoints_dir,
                                                              const std::string& savepoints_dir) {
  std::optional<std::string> best;
  int64_t best_time = -1;
  auto consider = [&](const std::string& folder, const proto::CheckpointMetadata& md) {
    if (md.job_name() != job_name || md.timestamp_ms() <= best_time) return;
    best_time = md.timestamp_ms();
    best = folder;
  };
  if (!savepoints_dir.empty()) {
    for (const std::string& name : SubFolders(savepoints_dir)) {
      const std::string folder = absl::StrCat(savepoints_dir, "/", name);
      auto md = ReadSnapshot(folder);
      if (md.ok()) consider(folder, *md);
    }
  }
  if (!checkpoints_dir.empty()) {
    for (const std::string& job : SubFolders(checkpoints_dir)) {
      const std::string job_dir = absl::StrCat(checkpoints_dir, "/", job);
      std::map<int64_t, std::string> by_id;  // the job's checkpoints
      for (const std::string& name : SubFolders(job_dir)) {
        int64_t id = 0;
        if (absl::StartsWith(name, "chk-") && absl::SimpleAtoi(name.substr(4), &id)) {
          by_id[id] = absl::StrCat(job_dir, "/", name);
        }
      }
      if (by_id.empty()) continue;
      const std::string newest = by_id.rbegin()->second;
      auto md = ReadSnapshot(newest);
      if (md.ok()) {
        consider(newest, *md);
        continue;
      }
      for (auto it = std::next(by_id.rbegin()); it != by_id.rend(); ++it) {
        auto older = ReadSnapshot(it->second);
        if (!older.ok() || older->job_name() != job_name) continue;
        return absl::FailedPreconditionError(absl::StrCat(
            "--restore latest: the newest checkpoint of job '", job_name, "' in ", job_dir,
            " is damaged (", md.status().message(),
            "); restoring an older one would write its committed output again. Name the snapshot "
            "to restore with --from-savepoint (",
            it->second, " is intact, accepting duplicates)"));
      }
    }
  }
  return best;
}

}  // namespace sluice::jobmanager
