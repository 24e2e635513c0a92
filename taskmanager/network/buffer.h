// Network buffers: the unit that moves between subtasks. A data buffer holds length-prefixed
// serialized records (a record may span buffers) in a memory segment of the TaskManager's network
// memory; an event buffer carries a control event and lives on the heap. Dropping a BufferPtr hands
// a pooled buffer back to its owner (a buffer pool or an input channel): buffers are recycled,
// never allocated on the hot path.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

namespace sluice::network {

enum class BufferKind : uint8_t {
  kData = 0,
  kEndOfPartition = 1,     // the producer subtask will send nothing more on this channel
  kCheckpointBarrier = 2,  // payload: CheckpointEvent
  kCancelCheckpoint = 3,   // payload: CheckpointEvent; the checkpoint was aborted upstream
};
constexpr uint8_t kLastBufferKind = static_cast<uint8_t>(BufferKind::kCancelCheckpoint);

struct Buffer;

//! Takes buffers back. The owner stays alive while any of its buffers is out (Buffer::owner).
class BufferRecycler {
 public:
  virtual ~BufferRecycler() = default;
  virtual void Recycle(Buffer* buffer) = 0;
};

struct Buffer {
  BufferKind kind = BufferKind::kData;
  uint8_t* data = nullptr;
  size_t size = 0;
  size_t capacity = 0;
  std::shared_ptr<BufferRecycler> owner;  // null: heap memory, freed with the buffer
  std::unique_ptr<uint8_t[]> heap;

  bool is_event() const { return kind != BufferKind::kData; }
  size_t room() const { return capacity - size; }
  void Append(const uint8_t* p, size_t n) {
    std::memcpy(data + size, p, n);
    size += n;
  }
};

struct BufferDeleter {
  void operator()(Buffer* b) const {
    if (b->owner) {
      std::shared_ptr<BufferRecycler> owner = std::move(b->owner);
      b->size = 0;
      b->kind = BufferKind::kData;
      owner->Recycle(b);
    } else {
      delete b;
    }
  }
};

using BufferPtr = std::unique_ptr<Buffer, BufferDeleter>;

inline BufferPtr MakeEvent(BufferKind kind) {
  BufferPtr b(new Buffer);
  b->kind = kind;
  return b;
}

//! The payload of barrier and cancel events.
struct CheckpointEvent {
  static constexpr int64_t kStop = 1;   // stop-with-savepoint: sources stop after this snapshot
  static constexpr int64_t kDrain = 2;  // with kStop: end every operator's input first
  int64_t checkpoint_id = 0;
  int64_t timestamp_ms = 0;
  int64_t flags = 0;
};

//! An event carrying a CheckpointEvent.
inline BufferPtr MakeCheckpointEvent(BufferKind kind, CheckpointEvent e) {
  BufferPtr b = MakeEvent(kind);
  b->heap.reset(new uint8_t[sizeof(e)]);
  std::memcpy(b->heap.get(), &e, sizeof(e));
  b->data = b->heap.get();
  b->size = b->capacity = sizeof(e);
  return b;
}

//! Reads the CheckpointEvent of a barrier or cancel event; false when the payload is malformed.
inline bool ParseCheckpointEvent(const Buffer& b, CheckpointEvent* e) {
  if (b.size != sizeof(CheckpointEvent) || !b.data) return false;
  std::memcpy(e, b.data, sizeof(*e));
  return true;
}

//! An unpooled data buffer (tests, tools).
inline BufferPtr MakeHeapBuffer(size_t capacity) {
  BufferPtr b(new Buffer);
  b->heap.reset(new uint8_t[capacity]);
  b->data = b->heap.get();
  b->capacity = capacity;
  return b;
}

}  // namespace sluice::network
