#include "taskmanager/network/record_writer.h"

#include <cstring>
#include <string>

namespace sluice::network {

RecordWriter::RecordWriter(std::shared_ptr<ResultPartition> partition, PartitionKind kind,
                           int max_parallelism, std::function<int32_t(const void*)> key_hash,
                           void (*serialize)(const void*, ByteWriter&), int subtask_index,
                           WriterCounters counters)
    : partition_(std::move(partition)),
      kind_(kind),
      max_parallelism_(max_parallelism),
      key_hash_(std::move(key_hash)),
      serialize_(serialize),
      counters_(counters),
      num_channels_(partition_->size()),
      next_channel_(subtask_index % std::max(1, partition_->size())),
      current_(static_cast<size_t>(num_channels_)) {
  if (kind_ == PartitionKind::kHash) {
    if ((max_parallelism_ & (max_parallelism_ - 1)) == 0)
      kg_mask_ = static_cast<uint32_t>(max_parallelism_ - 1);
    channel_of_key_group_.resize(static_cast<size_t>(max_parallelism_));
    for (int kg = 0; kg < max_parallelism_; ++kg) {
      channel_of_key_group_[static_cast<size_t>(kg)] =
          OperatorIndexForKeyGroup(max_parallelism_, num_channels_, kg);
    }
    last_channel_ = ChannelForKeyHash(last_key_hash_);
  }
}

void RecordWriter::Emit(const void* record) {
  if (counters_.records_out) {
    // Only the task thread writes: a plain store avoids a locked instruction per record.
    counters_.records_out->store(counters_.records_out->load(std::memory_order_relaxed) + 1,
                                 std::memory_order_relaxed);
  }
  switch (kind_) {
    case PartitionKind::kBroadcast:
      SerializeToScratch(record);
      for (int c = 0; c < num_channels_; ++c) Append(c, scratch_.data(), scratch_.size());
      break;
    case PartitionKind::kHash: {
      // A record whose key hashes as the previous one's goes to the same channel: while keys
      // repeat, the predicted branch takes the hash's latency (murmur, key group, table) off the
      // path to the buffer.
      int32_t key_hash = key_hash_(record);
      if (key_hash != last_key_hash_) {
        last_key_hash_ = key_hash;
        last_channel_ = ChannelForKeyHash(key_hash);
      }
      EmitTo(last_channel_, record);
      break;
    }
    case PartitionKind::kRebalance:
      EmitTo(next_channel_, record);
      if (++next_channel_ == num_channels_) next_channel_ = 0;
      break;
    default:
      EmitTo(0, record);
      break;
  }
  if (flush_always_) Flush();
}

namespace {

//! The head of a record whose payload (timestamp included) is `len` bytes.
uint32_t RecordHead(size_t len, bool timestamped) {
  if (len > kMaxElementBytes) {
    throw std::runtime_error("a record of " + std::to_string(len) +
                             " bytes exceeds the 1 GiB limit of a stream element");
  }
  return static_cast<uint32_t>(len) | (timestamped ? kElementHasTimestamp : 0);
}

}  // namespace

void RecordWriter::SerializeToScratch(const void* record) {
  const int64_t ts = timestamp_ ? *timestamp_ : kNoTimestamp;
  const bool timestamped = ts != kNoTimestamp;
  scratch_.Clear();
  uint32_t placeholder = 0;
  scratch_.Append(&placeholder, 4);
  if (timestamped) scratch_.Append(&ts, 8);
  serialize_(record, scratch_);
  uint32_t head = RecordHead(scratch_.size() - 4, timestamped);
  std::memcpy(const_cast<uint8_t*>(scratch_.data()), &head, 4);
}

void RecordWriter::EmitTo(int channel, const void* record) {
  BufferPtr& current = current_[static_cast<size_t>(channel)];
  if (!current) current = NextBuffer();
  Buffer* b = current.get();
  const int64_t ts = timestamp_ ? *timestamp_ : kNoTimestamp;
  const bool timestamped = ts != kNoTimestamp;
  const size_t prefix = timestamped ? 12 : 4;
  if (b->room() > prefix) {
    // Straight into the channel's buffer behind the head (and timestamp) slot. A record that does
    // not fit spills into scratch_ (with the bytes written so far) and takes the spanning path.
    scratch_.Attach(b->data + b->size + prefix, b->room() - prefix);
    serialize_(record, scratch_);
    const size_t len = scratch_.size() + (timestamped ? 8 : 0);
    uint32_t head = RecordHead(len, timestamped);
    if (!scratch_.spilled()) {
      std::memcpy(b->data + b->size, &head, 4);
      if (timestamped) std::memcpy(b->data + b->size + 4, &ts, 8);
      b->size += 4 + len;
      if (b->room() == 0) Send(channel);
      return;
    }
    Append(channel, reinterpret_cast<const uint8_t*>(&head), 4);
    if (timestamped) Append(channel, reinterpret_cast<const uint8_t*>(&ts), 8);
    Append(channel, scratch_.data(), scratch_.size());
    return;
  }
  SerializeToScratch(record);
  Append(channel, scratch_.data(), scratch_.size());
}

void RecordWriter::BroadcastControl(ControlKind kind, const void* data, uint32_t size) {
  uint8_t element[4 + 1 + 8];
  const uint32_t head = kElementControl | (1 + size);
  std::memcpy(element, &head, 4);
  element[4] = static_cast<uint8_t>(kind);
  if (size > 0) std::memcpy(element + 5, data, size);
  for (int c = 0; c < num_channels_; ++c) Append(c, element, 5 + size);
  if (flush_always_) Flush();
}

void RecordWriter::EmitWatermark(int64_t watermark) {
  if (counters_.output_watermark) {
    counters_.output_watermark->store(watermark, std::memory_order_relaxed);
  }
  BroadcastControl(ControlKind::kWatermark, &watermark, 8);
}

void RecordWriter::EmitEndOfData() { BroadcastControl(ControlKind::kEndOfData, nullptr, 0); }

void RecordWriter::EmitWatermarkStatus(bool idle) {
  uint8_t v = idle ? 1 : 0;
  BroadcastControl(ControlKind::kWatermarkStatus, &v, 1);
}

void RecordWriter::Append(int channel, const uint8_t* data, size_t size) {
  BufferPtr& b = current_[static_cast<size_t>(channel)];
  while (size > 0) {
    if (!b) b = NextBuffer();
    size_t take = std::min(b->room(), size);
    b->Append(data, take);
    data += take;
    size -= take;
    if (b->room() == 0) Send(channel);
  }
}

BufferPtr RecordWriter::NextBuffer() {
  BufferPtr b = partition_->pool().Request();
  if (!b) {
    // Out of buffers: backpressure. Book the wait, visibly while it lasts.
    WaitTimer blocked(counters_.backpressure);
    b = partition_->pool().RequestBlocking(nullptr);
  }
  if (!b) throw PartitionReleasedError();
  return b;
}

void RecordWriter::Send(int channel) {
  BufferPtr b = std::move(current_[static_cast<size_t>(channel)]);
  if (counters_.bytes_out) counters_.bytes_out->fetch_add(b->size, std::memory_order_relaxed);
  if (!partition_->subpartition(channel).Add(std::move(b), counters_.backpressure)) {
    throw PartitionReleasedError();
  }
}

void RecordWriter::Flush() {
  for (int c = 0; c < num_channels_; ++c) {
    if (current_[static_cast<size_t>(c)] && current_[static_cast<size_t>(c)]->size > 0) Send(c);
  }
}

void RecordWriter::Finish() {
  Flush();
  for (int c = 0; c < num_channels_; ++c) {
    if (!partition_->subpartition(c).Add(MakeEvent(BufferKind::kEndOfPartition))) {
      throw PartitionReleasedError();
    }
  }
}

void RecordWriter::BroadcastCheckpointEvent(BufferKind kind, CheckpointEvent event) {
  Flush();
  for (int c = 0; c < num_channels_; ++c) {
    if (!partition_->subpartition(c).Add(MakeCheckpointEvent(kind, event))) {
      throw PartitionReleasedError();
    }
  }
}

}  // namespace sluice::network
