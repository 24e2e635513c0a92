// ResultPartition and PartitionManager: the partitions produced by the subtasks of one TaskManager,
// found by id by local and remote consumers. A consumer may ask before its producer is deployed:
// the request waits until the partition is registered (or its job is released). Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "taskmanager/network/buffer_pool.h"
#include "taskmanager/network/subpartition.h"

namespace sluice::network {

class ResultPartition {
 public:
  //! `capacity`: most data buffers queued per subpartition; `pool` holds the partition's buffers.
  ResultPartition(std::string id, int num_subpartitions, int capacity,
                  std::shared_ptr<LocalBufferPool> pool);
  const std::string& id() const { return id_; }
  //! The job id is the partition id's prefix up to the first '.'.
  std::string job_id() const { return id_.substr(0, id_.find('.')); }
  int size() const { return static_cast<int>(subpartitions_.size()); }
  Subpartition& subpartition(int i) { return *subpartitions_[static_cast<size_t>(i)]; }
  LocalBufferPool& pool() { return *pool_; }
  //! Drops queued data and wakes a producer blocked on a full queue or an empty pool.
  void Release();

 private:
  std::string id_;
  std::shared_ptr<LocalBufferPool> pool_;
  std::vector<std::unique_ptr<Subpartition>> subpartitions_;
};

class PartitionManager {
 public:
  using Callback = std::function<void(std::shared_ptr<ResultPartition>)>;

  void Register(std::shared_ptr<ResultPartition> partition);
  //! cb(partition) once it is registered; cb(nullptr) if its job is released first. cb may run on
  //! the calling thread or the registering one, never under the manager's lock.
  void Request(const std::string& partition_id, Callback cb);
  //! Releases (drops data, wakes producers) and forgets every partition of the job.
  void ReleaseJob(const std::string& job_id);
  void Release(const std::string& partition_id);

 private:
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<ResultPartition>> partitions_ ABSL_GUARDED_BY(mu_);
  std::multimap<std::string, Callback> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::network
