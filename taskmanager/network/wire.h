// The data-plane wire format between TaskManagers (one TCP connection per consumer->producer pair
// of TaskManagers, multiplexing all channels). A frame is:
//   u32 length of what follows | u8 type | type-specific fields (little endian) | payload
// Parsers reject malformed frames with an error; they never trust a length.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "taskmanager/network/buffer.h"

namespace sluice::network {

enum class FrameType : uint8_t {
  kPartitionRequest =
      1,               // consumer -> producer: channel, subpartition, initial credit, partition id
  kAddCredit = 2,      // consumer -> producer: channel, credit
  kCancelRequest = 3,  // consumer -> producer: channel
  kHello = 4,    // consumer -> producer, first frame of a connection opened for one job: job id
  kBuffer = 10,  // producer -> consumer: channel, seq, backlog, kind, bytes
  kError = 11,   // producer -> consumer: channel (0: whole connection), message
};

constexpr uint32_t kMaxFrameBytes = 64u << 20;

struct Frame {
  FrameType type = FrameType::kError;
  uint64_t channel = 0;
  uint32_t subpartition = 0;            // kPartitionRequest
  uint32_t credit = 0;                  // kPartitionRequest, kAddCredit
  uint32_t seq = 0;                     // kBuffer
  uint32_t backlog = 0;                 // kBuffer
  BufferKind kind = BufferKind::kData;  // kBuffer
  std::string text;                     // partition id (request), job id (hello), message (error)
  std::vector<uint8_t> bytes;           // kBuffer payload
};

//! Bytes every frame body starts with: type, channel.
constexpr size_t kCommonHeaderBytes = 1 + 8;
//! Bytes of a kBuffer frame's body before its payload: type, channel, seq, backlog, kind.
constexpr size_t kBufferHeaderBytes = kCommonHeaderBytes + 4 + 4 + 1;

//! Encodes everything but a kBuffer frame's payload; the payload follows separately (writev).
std::string EncodeHeader(const Frame& frame, size_t payload_size);

//! Bytes of the fixed fields a body of `type` starts with (type and channel included); its
//! variable tail follows (partition id, message or payload). kCommonHeaderBytes for unknown types.
size_t FixedFieldBytes(FrameType type);
//! Decodes and checks the fixed fields of a frame body of `body_size` bytes (what its length
//! prefix says) into `frame`: every field but `text` and `bytes`. `data` holds the body's first
//! min(body_size, FixedFieldBytes(its type)) bytes at least. The one place that knows the
//! fields' offsets: DecodeBody builds on it, and so does the consumer's reader, which reads a
//! buffer's payload straight into a network buffer instead of a whole body.
absl::Status DecodeFixedFields(const uint8_t* data, size_t body_size, Frame* frame);
//! Decodes the body of a frame (everything after the length prefix).
absl::StatusOr<Frame> DecodeBody(const uint8_t* data, size_t size);

//! Blocking socket helpers; false on EOF or error.
bool WriteAll(int fd, const void* data, size_t size);
bool WriteFrame(int fd, const Frame& frame, const uint8_t* payload = nullptr,
                size_t payload_size = 0);
//! Writes every byte of the iovecs (gathered, in as few system calls as the kernel allows).
bool WriteVectored(int fd, std::vector<iovec> iov);
enum class WriteStatus { kDone, kWouldBlock, kFailed };
//! Writes iov[*first..] and advances *first (and trims the iovec it stopped in). Without `block`
//! it returns kWouldBlock instead of waiting for room in the socket's send buffer.
WriteStatus WriteSome(int fd, std::vector<iovec>& iov, size_t* first, bool block);
bool ReadFull(int fd, void* data, size_t size);
//! Reads a socket through a user-space buffer: one recv serves many small frames. Payloads larger
//! than the buffer go straight into their destination.
//!
//! Busy polling: when the buffer runs dry, the reader first polls the socket without blocking,
//! yielding the CPU between polls, for up to `busy_poll`, and only then sleeps in recv. On a busy
//! stream the data plane's threads then rarely sleep, and a sleeping thread is expensive to wake
//! (most of all on a virtual machine, where an idle vCPU halts: ~20 µs of CPU per wake-up here).
//! Polling stops after 8 waits in a row longer than a tenth of `busy_poll` — a sparse stream, or
//! a trickle of small buffers, would keep the reader polling most of the time for little — and
//! resumes after 8 in a row within a tenth of it.
class BufferedSocketReader {
 public:
  static constexpr size_t kDefaultCapacity = 256 * 1024;
  explicit BufferedSocketReader(int fd, size_t capacity = kDefaultCapacity,
                                std::chrono::microseconds busy_poll = {})
      : fd_(fd), buf_(capacity), busy_poll_ns_(busy_poll.count() * 1000) {}
  //! Reads exactly n bytes; false on EOF or error.
  bool Read(void* dst, size_t n);
  //! Whether no byte is buffered (a frame boundary, when called between frames).
  bool empty() const { return pos_ == end_; }
  //! Whether the next refill polls before it sleeps; how refills went so far (for tests).
  bool polling() const { return polling_; }
  uint64_t polled_fills() const { return polled_fills_; }
  uint64_t slept_fills() const { return slept_fills_; }

 private:
  //! One recv into buf_ (polling first, see above); what recv returned.
  ssize_t Fill();

  int fd_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  static constexpr int kStreak = 8;
  const int64_t busy_poll_ns_;
  bool polling_ = busy_poll_ns_ > 0;
  int streak_ = 0;  // waits in a row that did not match the mode (long ones while polling)
  uint64_t polled_fills_ = 0;
  uint64_t slept_fills_ = 0;
};

//! Reads one frame; NotFound on orderly EOF before a frame starts, other errors otherwise.
absl::StatusOr<Frame> ReadFrame(int fd);
absl::StatusOr<Frame> ReadFrame(BufferedSocketReader& in);

}  // namespace sluice::network
