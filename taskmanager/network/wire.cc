#include "taskmanager/network/wire.h"

#include <errno.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/clock.h"

namespace sluice::network {
namespace {

template <typename T>
void Put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  template <typename T>
  bool Get(T* v) {
    if (static_cast<size_t>(end_ - p_) < sizeof(T)) return false;
    std::memcpy(v, p_, sizeof(T));
    p_ += sizeof(T);
    return true;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace

std::string EncodeHeader(const Frame& f, size_t payload_size) {
  std::string body;
  Put<uint8_t>(body, static_cast<uint8_t>(f.type));
  Put<uint64_t>(body, f.channel);
  switch (f.type) {
    case FrameType::kPartitionRequest:
      Put<uint32_t>(body, f.subpartition);
      Put<uint32_t>(body, f.credit);
      body += f.text;
      break;
    case FrameType::kAddCredit:
      Put<uint32_t>(body, f.credit);
      break;
    case FrameType::kCancelRequest:
      break;
    case FrameType::kBuffer:
      Put<uint32_t>(body, f.seq);
      Put<uint32_t>(body, f.backlog);
      Put<uint8_t>(body, static_cast<uint8_t>(f.kind));
      break;
    case FrameType::kHello:
    case FrameType::kError:
      body += f.text;
      break;
  }
  std::string out;
  Put<uint32_t>(out, static_cast<uint32_t>(body.size() + payload_size));
  return out + body;
}

size_t FixedFieldBytes(FrameType type) {
  switch (type) {
    case FrameType::kPartitionRequest:
      return kCommonHeaderBytes + 4 + 4;  // subpartition, credit
    case FrameType::kAddCredit:
      return kCommonHeaderBytes + 4;  // credit
    case FrameType::kBuffer:
      return kBufferHeaderBytes;
    case FrameType::kCancelRequest:
    case FrameType::kHello:
    case FrameType::kError:
      break;
  }
  return kCommonHeaderBytes;
}

absl::Status DecodeFixedFields(const uint8_t* data, size_t body_size, Frame* f) {
  if (body_size < kCommonHeaderBytes) return absl::DataLossError("frame too short");
  const uint8_t type = data[0];
  f->type = static_cast<FrameType>(type);
  const size_t fixed = FixedFieldBytes(f->type);
  Cursor c(data + 1, std::min(body_size, fixed) - 1);
  c.Get(&f->channel);
  switch (f->type) {
    case FrameType::kPartitionRequest:
      if (!c.Get(&f->subpartition) || !c.Get(&f->credit))
        return absl::DataLossError("short request");
      if (body_size == fixed) return absl::DataLossError("request without partition id");
      return absl::OkStatus();
    case FrameType::kAddCredit:
      if (body_size != fixed || !c.Get(&f->credit)) {
        return absl::DataLossError("malformed credit frame");
      }
      return absl::OkStatus();
    case FrameType::kCancelRequest:
      if (body_size != fixed) return absl::DataLossError("malformed cancel frame");
      return absl::OkStatus();
    case FrameType::kBuffer: {
      uint8_t kind;
      if (!c.Get(&f->seq) || !c.Get(&f->backlog) || !c.Get(&kind)) {
        return absl::DataLossError("short buffer frame");
      }
      if (kind > kLastBufferKind) {
        return absl::DataLossError(absl::StrCat("unknown buffer kind ", kind));
      }
      f->kind = static_cast<BufferKind>(kind);
      return absl::OkStatus();
    }
    case FrameType::kHello:
      if (body_size == fixed) return absl::DataLossError("hello without job id");
      return absl::OkStatus();
    case FrameType::kError:
      return absl::OkStatus();
  }
  return absl::DataLossError(absl::StrCat("unknown frame type ", type));
}

absl::StatusOr<Frame> DecodeBody(const uint8_t* data, size_t size) {
  Frame f;
  if (absl::Status s = DecodeFixedFields(data, size, &f); !s.ok()) return s;
  const size_t fixed = FixedFieldBytes(f.type);
  const uint8_t* tail = data + fixed;
  switch (f.type) {
    case FrameType::kPartitionRequest:
    case FrameType::kHello:
    case FrameType::kError:
      f.text.assign(reinterpret_cast<const char*>(tail), size - fixed);
      break;
    case FrameType::kBuffer:
      f.bytes.assign(tail, data + size);
      break;
    case FrameType::kAddCredit:
    case FrameType::kCancelRequest:
      break;
  }
  return f;
}

bool WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

WriteStatus WriteSome(int fd, std::vector<iovec>& iov, size_t* first, bool block) {
  const int flags = MSG_NOSIGNAL | (block ? 0 : MSG_DONTWAIT);
  while (*first < iov.size()) {
    msghdr msg{};
    msg.msg_iov = iov.data() + *first;
    msg.msg_iovlen = std::min<size_t>(iov.size() - *first, IOV_MAX);
    ssize_t n = sendmsg(fd, &msg, flags);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && !block && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return WriteStatus::kWouldBlock;
    }
    if (n <= 0) return WriteStatus::kFailed;
    size_t done = static_cast<size_t>(n);
    while (*first < iov.size() && done >= iov[*first].iov_len) {
      done -= iov[*first].iov_len;
      ++*first;
    }
    if (done > 0) {
      iov[*first].iov_base = static_cast<char*>(iov[*first].iov_base) + done;
      iov[*first].iov_len -= done;
    }
  }
  return WriteStatus::kDone;
}

bool WriteVectored(int fd, std::vector<iovec> iov) {
  size_t first = 0;
  return WriteSome(fd, iov, &first, /*block=*/true) == WriteStatus::kDone;
}

bool WriteFrame(int fd, const Frame& frame, const uint8_t* payload, size_t payload_size) {
  std::string header = EncodeHeader(frame, payload_size);
  if (payload_size == 0) return WriteAll(fd, header.data(), header.size());
  return WriteVectored(
      fd, {{header.data(), header.size()}, {const_cast<uint8_t*>(payload), payload_size}});
}

bool ReadFull(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = recv(fd, p, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

namespace {
bool WouldBlock() { return errno == EAGAIN || errno == EWOULDBLOCK; }
}  // namespace

ssize_t BufferedSocketReader::Fill() {
  if (busy_poll_ns_ == 0) {
    ++slept_fills_;
    return recv(fd_, buf_.data(), buf_.size(), 0);
  }
  const int64_t start = SteadyNowNs();
  ssize_t r = -1;
  bool polled = false;
  if (polling_) {
    while (true) {
      r = recv(fd_, buf_.data(), buf_.size(), MSG_DONTWAIT);
      polled = r >= 0 || !WouldBlock();  // data, end of stream or an error
      if (polled || SteadyNowNs() - start > busy_poll_ns_) break;
      sched_yield();  // whatever else this CPU has to run goes first
    }
  }
  if (polled) {
    ++polled_fills_;
  } else {
    ++slept_fills_;
    r = recv(fd_, buf_.data(), buf_.size(), 0);
  }
  // Polling pays while data comes within about a wake-up's cost; a stream whose data takes
  // longer (a trickle of small buffers, say) would have its reader poll most of the time. So:
  // after kStreak waits in a row longer than a tenth of the budget, sleep at once; after kStreak
  // in a row within a tenth, poll again. One threshold both ways: a looser one for resuming let
  // a trickle of a buffer every 100 us flap between the modes (0.81 cores against 0.50).
  // A busy stream's occasional long gap does not stop the polling.
  const int64_t waited = SteadyNowNs() - start;
  const bool other_mode = polling_ ? waited > busy_poll_ns_ / 10 : waited <= busy_poll_ns_ / 10;
  streak_ = other_mode ? streak_ + 1 : 0;
  if (streak_ >= kStreak) {
    polling_ = !polling_;
    streak_ = 0;
  }
  return r;
}

bool BufferedSocketReader::Read(void* dst, size_t n) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  while (n > 0) {
    if (pos_ == end_) {
      if (n >= buf_.size()) return ReadFull(fd_, out, n);
      ssize_t r = Fill();
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      pos_ = 0;
      end_ = static_cast<size_t>(r);
    }
    size_t take = std::min(n, end_ - pos_);
    std::memcpy(out, buf_.data() + pos_, take);
    pos_ += take;
    out += take;
    n -= take;
  }
  return true;
}

absl::StatusOr<Frame> ReadFrame(BufferedSocketReader& in) {
  uint32_t len;
  bool at_boundary = in.empty();
  if (!in.Read(&len, sizeof(len))) {
    return at_boundary ? absl::NotFoundError("connection closed")
                       : absl::UnavailableError("connection lost mid-frame");
  }
  if (len == 0 || len > kMaxFrameBytes) {
    return absl::DataLossError(absl::StrCat("invalid frame length ", len));
  }
  std::vector<uint8_t> body(len);
  if (!in.Read(body.data(), len)) return absl::UnavailableError("connection lost mid-frame");
  return DecodeBody(body.data(), body.size());
}

absl::StatusOr<Frame> ReadFrame(int fd) {
  uint32_t len;
  if (!ReadFull(fd, &len, sizeof(len))) return absl::NotFoundError("connection closed");
  if (len == 0 || len > kMaxFrameBytes) {
    return absl::DataLossError(absl::StrCat("invalid frame length ", len));
  }
  std::vector<uint8_t> body(len);
  if (!ReadFull(fd, body.data(), len)) return absl::UnavailableError("connection lost mid-frame");
  return DecodeBody(body.data(), body.size());
}

}  // namespace sluice::network
