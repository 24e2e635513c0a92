#include "taskmanager/network/local_channel.h"

namespace sluice::network {

LocalInputChannel::LocalInputChannel(PartitionManager* partitions, std::string partition_id,
                                     int subpartition)
    : partitions_(partitions),
      partition_id_(std::move(partition_id)),
      subpartition_index_(subpartition) {}

void LocalInputChannel::Start(std::shared_ptr<InputGate> gate, int index) {
  partitions_->Request(partition_id_, [this, gate, index](std::shared_ptr<ResultPartition> p) {
    if (!p) {
      gate->NotifyError("partition " + partition_id_ + " was released before it was read");
      return;
    }
    if (subpartition_index_ >= p->size()) {
      gate->NotifyError("partition " + partition_id_ + " has no subpartition " +
                        std::to_string(subpartition_index_));
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (closed_) return;
      partition_ = p;
    }
    p->subpartition(subpartition_index_).SetListener([gate, index] {
      gate->NotifyAvailable(index);
    });
  });
}

BufferPtr LocalInputChannel::Poll() {
  std::shared_ptr<ResultPartition> p;
  {
    absl::MutexLock lock(&mu_);
    p = partition_;
  }
  if (!p) return nullptr;
  return p->subpartition(subpartition_index_).Poll();
}

void LocalInputChannel::Close() {
  std::shared_ptr<ResultPartition> p;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    p = std::move(partition_);
  }
  if (p) p->subpartition(subpartition_index_).SetListener(nullptr);
}

}  // namespace sluice::network
