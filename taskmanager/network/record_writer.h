// RecordWriter: the Output of an operator whose records leave its task. Picks the channel(s) by
// partitioner and serializes each record once, as a stream element (stream_element.h: [u32 head]
// [timestamp if any][bytes]), straight into that channel's current buffer; a record may span
// buffers. Watermarks and watermark status go in band to every channel. Full buffers go to the
// subpartition (blocking when it is full: backpressure). Task thread only.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "sluice/internal/user_code_error.h"
#include "sluice/key_groups.h"
#include "sluice/runtime.h"
#include "taskmanager/network/partition_manager.h"
#include "taskmanager/network/stream_element.h"
#include "taskmanager/network/wait_timer.h"

namespace sluice::network {

//! Thrown on the task thread when its output was released (the task is being cancelled).
class PartitionReleasedError : public std::runtime_error, public HostInterruption {
 public:
  PartitionReleasedError() : std::runtime_error("output partition released") {}
};

//! Counters a RecordWriter adds to; any may be null. Written only by the task thread, read
//! concurrently by the metrics reporter.
struct WriterCounters {
  std::atomic<uint64_t>* records_out = nullptr;
  std::atomic<uint64_t>* bytes_out = nullptr;
  //! Waits for a buffer or for queue space; `since` lets a reporter count a wait in progress.
  WaitCounters backpressure;
  std::atomic<int64_t>* output_watermark = nullptr;  // the last watermark sent
};

class RecordWriter final : public Output {
 public:
  RecordWriter(std::shared_ptr<ResultPartition> partition, PartitionKind kind, int max_parallelism,
               std::function<int32_t(const void*)> key_hash,
               void (*serialize)(const void*, ByteWriter&), int subtask_index,
               WriterCounters counters = {});

  void Emit(const void* record) override;
  void EmitWatermark(int64_t watermark) override;
  void EmitWatermarkStatus(bool idle) override;
  //! In band on every channel: no record follows (a drain, ahead of the stop's barrier).
  void EmitEndOfData();
  //! Records take their timestamp from `*slot` (the task's current timestamp); null: none.
  void set_timestamp_slot(const int64_t* slot) { timestamp_ = slot; }
  //! Sends every partially filled buffer.
  void Flush();
  //! Buffer timeout 0: every record goes out at once.
  void set_flush_always(bool on) { flush_always_ = on; }
  //! Flushes and sends end-of-partition on every channel.
  void Finish();
  //! Flushes, then sends the event (a barrier or a cancel marker) on every channel, ahead of any
  //! later record. Events need no credit.
  void BroadcastCheckpointEvent(BufferKind kind, CheckpointEvent event);

 private:
  //! kHash: the channel of the key group of a key hash. Same as KeyGroupForHash +
  //! OperatorIndexForKeyGroup, without the divisions per record.
  int ChannelForKeyHash(int32_t key_hash) const {
    uint32_t h = static_cast<uint32_t>(MurmurHash(key_hash));
    uint32_t kg = kg_mask_ ? (h & kg_mask_) : h % static_cast<uint32_t>(max_parallelism_);
    return channel_of_key_group_[kg];
  }
  //! Serializes the record into the channel's current buffer (or, if it does not fit, into
  //! scratch_ and from there across buffers).
  void EmitTo(int channel, const void* record);
  //! scratch_ = [u32 head][timestamp if any][record].
  void SerializeToScratch(const void* record);
  //! A control element to every channel, behind the records already written.
  void BroadcastControl(ControlKind kind, const void* data, uint32_t size);
  void Append(int channel, const uint8_t* data, size_t size);
  //! A buffer from the partition's pool, waiting for one (backpressure) if none is free.
  BufferPtr NextBuffer();
  void Send(int channel);

  std::shared_ptr<ResultPartition> partition_;
  PartitionKind kind_;
  int max_parallelism_;
  std::function<int32_t(const void*)> key_hash_;
  void (*serialize_)(const void*, ByteWriter&);
  WriterCounters counters_;
  int num_channels_;
  int next_channel_;
  std::vector<BufferPtr> current_;
  std::vector<int> channel_of_key_group_;  // kHash: key group -> channel
  uint32_t kg_mask_ = 0;                   // kHash with a power-of-two max parallelism
  int32_t last_key_hash_ = 0;              // kHash: the previous record's key hash ...
  int last_channel_ = 0;                   // ... and its channel
  ByteWriter scratch_;
  bool flush_always_ = false;
  const int64_t* timestamp_ = nullptr;
};

//! Reassembles stream elements from the buffers of one channel; keeps one that spans buffers.
class RecordReader {
 public:
  //! Calls fn(payload, size, head) — or fn(payload, size) — for each complete element in the
  //! buffer (stream_element.h says how to read the head and the payload).
  template <typename Fn>
  void Read(const uint8_t* data, size_t size, Fn&& fn);
  bool has_partial() const { return !pending_.empty(); }

 private:
  template <typename Fn>
  static void Call(Fn& fn, const uint8_t* payload, size_t size, uint32_t head) {
    if constexpr (std::is_invocable_v<Fn&, const uint8_t*, size_t, uint32_t>) {
      fn(payload, size, head);
    } else {
      fn(payload, size);
    }
  }
  std::vector<uint8_t> pending_;
};

template <typename Fn>
void RecordReader::Read(const uint8_t* data, size_t size, Fn&& fn) {
  const uint8_t* p = data;
  size_t left = size;
  if (!pending_.empty()) {
    size_t need;
    if (pending_.size() < 4) {
      need = 4 - pending_.size();
      size_t take = std::min(need, left);
      pending_.insert(pending_.end(), p, p + take);
      p += take;
      left -= take;
      if (pending_.size() < 4) return;
    }
    uint32_t head;
    std::memcpy(&head, pending_.data(), 4);
    const size_t len = ElementLength(head);
    need = 4 + len - pending_.size();
    size_t take = std::min(need, left);
    pending_.insert(pending_.end(), p, p + take);
    p += take;
    left -= take;
    if (pending_.size() < 4 + len) return;
    Call(fn, pending_.data() + 4, len, head);
    pending_.clear();
  }
  while (left >= 4) {
    uint32_t head;
    std::memcpy(&head, p, 4);
    const size_t len = ElementLength(head);
    if (left - 4 < len) break;
    Call(fn, p + 4, len, head);
    p += 4 + len;
    left -= 4 + len;
  }
  if (left > 0) pending_.assign(p, p + left);
}

}  // namespace sluice::network
