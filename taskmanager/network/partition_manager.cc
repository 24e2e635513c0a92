#include "taskmanager/network/partition_manager.h"

namespace sluice::network {

ResultPartition::ResultPartition(std::string id, int num_subpartitions, int capacity,
                                 std::shared_ptr<LocalBufferPool> pool)
    : id_(std::move(id)), pool_(std::move(pool)) {
  for (int i = 0; i < num_subpartitions; ++i) {
    subpartitions_.push_back(std::make_unique<Subpartition>(capacity));
  }
}

void ResultPartition::Release() {
  pool_->Close();
  for (auto& s : subpartitions_) s->Release();
}

void PartitionManager::Register(std::shared_ptr<ResultPartition> partition) {
  std::vector<Callback> ready;
  {
    absl::MutexLock lock(&mu_);
    partitions_[partition->id()] = partition;
    auto range = pending_.equal_range(partition->id());
    for (auto it = range.first; it != range.second; ++it) ready.push_back(std::move(it->second));
    pending_.erase(range.first, range.second);
  }
  for (auto& cb : ready) cb(partition);
}

void PartitionManager::Request(const std::string& partition_id, Callback cb) {
  std::shared_ptr<ResultPartition> found;
  {
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find(partition_id);
    if (it == partitions_.end()) {
      pending_.emplace(partition_id, std::move(cb));
      return;
    }
    found = it->second;
  }
  cb(found);
}

void PartitionManager::ReleaseJob(const std::string& job_id) {
  std::vector<std::shared_ptr<ResultPartition>> released;
  std::vector<Callback> failed;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = partitions_.begin(); it != partitions_.end();) {
      if (it->second->job_id() == job_id) {
        released.push_back(it->second);
        it = partitions_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->first.substr(0, it->first.find('.')) == job_id) {
        failed.push_back(std::move(it->second));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& p : released) p->Release();
  for (auto& cb : failed) cb(nullptr);
}

void PartitionManager::Release(const std::string& partition_id) {
  std::shared_ptr<ResultPartition> p;
  {
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find(partition_id);
    if (it == partitions_.end()) return;
    p = it->second;
    partitions_.erase(it);
  }
  p->Release();
}

}  // namespace sluice::network
