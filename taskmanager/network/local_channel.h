// LocalInputChannel: reads a subpartition produced on the same TaskManager, in memory.
#pragma once

#include <memory>
#include <string>

#include "taskmanager/network/input_gate.h"
#include "taskmanager/network/partition_manager.h"

namespace sluice::network {

class LocalInputChannel final : public InputChannel {
 public:
  LocalInputChannel(PartitionManager* partitions, std::string partition_id, int subpartition);
  void Start(std::shared_ptr<InputGate> gate, int index) override;
  BufferPtr Poll() override;
  void Close() override;

 private:
  PartitionManager* partitions_;
  std::string partition_id_;
  int subpartition_index_;
  absl::Mutex mu_;
  std::shared_ptr<ResultPartition> partition_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sluice::network
