// How stream elements are laid out in data buffers. Each element is a u32 head and a payload:
//   head bits 0-29  payload length in bytes (an element is at most 1 GiB)
//   head bit 30     a record with a timestamp: the payload starts with it (8 bytes)
//   head bit 31     a control element: the payload is [u8 ControlKind][its data]
// A record without a timestamp is [length][bytes], as it always was, so jobs without event time
// pay nothing. Watermarks travel in band, behind the records before them, on every channel.
#pragma once

#include <cstdint>
#include <cstring>

namespace sluice::network {

inline constexpr uint32_t kElementControl = 1u << 31;
inline constexpr uint32_t kElementHasTimestamp = 1u << 30;
inline constexpr uint32_t kElementLengthMask = (1u << 30) - 1;
inline constexpr uint32_t kMaxElementBytes = kElementLengthMask;

enum class ControlKind : uint8_t {
  kWatermark = 1,        // i64 watermark
  kWatermarkStatus = 2,  // u8: 1 idle, 0 active
  kEndOfData = 3,        // no more records on this channel (a drain), before the stop's barrier
};

inline uint32_t ElementLength(uint32_t head) { return head & kElementLengthMask; }

inline int64_t ReadInt64(const uint8_t* p) {
  int64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

}  // namespace sluice::network
