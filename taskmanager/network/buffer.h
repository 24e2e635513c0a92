// Network buffers: the unit that moves between subtasks. A data buffer holds length-prefixed
// serialized records (a record may span buffers); an event buffer carries a control event.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace sluice::network {

enum class BufferKind : uint8_t {
  kData = 0,
  kEndOfPartition = 1,  // the producer subtask will send nothing more on this channel
};

struct Buffer {
  BufferKind kind = BufferKind::kData;
  std::vector<uint8_t> bytes;
  bool is_event() const { return kind != BufferKind::kData; }
};

using BufferPtr = std::unique_ptr<Buffer>;

inline BufferPtr MakeEvent(BufferKind kind) {
  auto b = std::make_unique<Buffer>();
  b->kind = kind;
  return b;
}

}  // namespace sluice::network
