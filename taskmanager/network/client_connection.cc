#include "taskmanager/network/client_connection.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "taskmanager/network/remote_channel.h"
#include "taskmanager/network/socket.h"

namespace sluice::network {
namespace {

constexpr size_t kMaxEventBytes = 4096;
auto Log() { return log::Get("network"); }

}  // namespace

absl::StatusOr<std::shared_ptr<ClientConnection>> ClientConnection::Open(
    const std::string& address, const std::string& job_id, std::chrono::microseconds busy_poll) {
  auto fd = ConnectTcp(address);
  if (!fd.ok()) return fd.status();
  if (!job_id.empty()) {
    Frame hello;
    hello.type = FrameType::kHello;
    hello.text = job_id;
    if (!WriteFrame(*fd, hello)) {
      close(*fd);
      return absl::UnavailableError(absl::StrCat("cannot greet the TaskManager at ", address));
    }
  }
  auto conn = std::shared_ptr<ClientConnection>(new ClientConnection(address, *fd, busy_poll));
  conn->reader_ = std::thread([c = conn.get()] { c->ReadLoop(); });
  conn->writer_ = std::thread([c = conn.get()] { c->WriteLoop(); });
  NameThread(conn->reader_, "net-client-read");
  NameThread(conn->writer_, "net-client-write");
  Log()->debug("data connection to {} opened", address);
  return conn;
}

ClientConnection::ClientConnection(std::string address, int fd, std::chrono::microseconds busy_poll)
    : address_(std::move(address)), fd_(fd), busy_poll_(busy_poll) {}

ClientConnection::~ClientConnection() {
  Shutdown();
  close(fd_);
}

void ClientConnection::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  {
    absl::MutexLock lock(&send_mu_);
    send_closed_ = true;
  }
  shutdown(fd_, SHUT_RDWR);
  if (reader_.joinable() && reader_.get_id() != std::this_thread::get_id()) reader_.join();
  if (writer_.joinable()) writer_.join();  // the writer thread never drops a reference to us
}

uint64_t ClientConnection::Request(std::shared_ptr<RemoteInputChannel> channel,
                                   const std::string& partition_id, int subpartition, int credit) {
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    if (broken_) return 0;
    id = next_channel_++;
    channels_[id] = std::move(channel);
  }
  Frame f;
  f.type = FrameType::kPartitionRequest;
  f.channel = id;
  f.subpartition = static_cast<uint32_t>(subpartition);
  f.credit = static_cast<uint32_t>(credit);
  f.text = partition_id;
  Send(f);
  return id;
}

void ClientConnection::AddCredit(uint64_t channel_id, uint32_t credit) {
  // Sent by the thread that freed the buffers (the task thread, or the reader when it borrowed
  // floating buffers), without waiting: see the class comment.
  {
    absl::MutexLock lock(&mu_);
    if (broken_ || stopping_) return;
  }
  Frame f;
  f.type = FrameType::kAddCredit;
  f.channel = channel_id;
  f.credit = credit;
  Send(f);
}

void ClientConnection::Cancel(uint64_t channel_id) {
  {
    absl::MutexLock lock(&mu_);
    if (channels_.erase(channel_id) == 0 || broken_) return;
  }
  Frame f;
  f.type = FrameType::kCancelRequest;
  f.channel = channel_id;
  Send(f);
}

bool ClientConnection::broken() {
  absl::MutexLock lock(&mu_);
  return broken_;
}

void ClientConnection::Send(const Frame& frame) {
  std::string encoded = EncodeHeader(frame, 0);
  {
    absl::MutexLock lock(&send_mu_);
    if (send_closed_) return;
    queued_ += encoded;
    if (sending_) return;  // the holder takes queued_ before it lets go of the token
    sending_ = true;
  }
  Drain(/*inline_send=*/true);
}

void ClientConnection::Drain(bool inline_send) {
  // A thread that is not the writer writes a few rounds at most (others may keep queueing), then
  // leaves the rest to the writer thread.
  constexpr int kMaxInlineRounds = 4;
  for (int round = 0;; ++round) {
    if (batch_written_ == batch_.size()) {
      absl::MutexLock lock(&send_mu_);
      batch_.clear();
      batch_written_ = 0;
      if (queued_.empty() || send_closed_) {
        sending_ = false;
        return;
      }
      batch_.swap(queued_);
    }
    WriteStatus w = WriteStatus::kWouldBlock;
    if (!inline_send || round < kMaxInlineRounds) {
      std::vector<iovec> iov = {{batch_.data() + batch_written_, batch_.size() - batch_written_}};
      size_t first = 0;
      w = WriteSome(fd_, iov, &first, /*block=*/!inline_send);
      batch_written_ = first == iov.size() ? batch_.size() : batch_.size() - iov[0].iov_len;
    }
    if (w == WriteStatus::kDone) continue;
    if (w == WriteStatus::kWouldBlock) {
      absl::MutexLock lock(&send_mu_);
      handoff_ = true;  // the token, with the rest of the batch, goes to the writer thread
      return;
    }
    {
      absl::MutexLock lock(&send_mu_);
      sending_ = false;
      send_closed_ = true;
      if (!inline_send) write_error_ = "write failed";
    }
    if (inline_send) {
      Break("write failed");
    } else {
      shutdown(fd_, SHUT_RDWR);  // the reader sees the connection end and breaks it
    }
    return;
  }
}

void ClientConnection::WriteLoop() {
  while (true) {
    {
      absl::MutexLock lock(&send_mu_);
      auto work = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(send_mu_) { return send_closed_ || handoff_; };
      send_mu_.Await(absl::Condition(&work));
      if (send_closed_) return;
      handoff_ = false;
    }
    Drain(/*inline_send=*/false);
  }
}

void ClientConnection::Break(const std::string& reason) {
  std::map<uint64_t, std::shared_ptr<RemoteInputChannel>> channels;
  {
    absl::MutexLock lock(&mu_);
    if (broken_) return;
    broken_ = true;
    channels.swap(channels_);
  }
  shutdown(fd_, SHUT_RDWR);
  std::string msg = absl::StrCat("data connection to TaskManager at ", address_, " lost: ", reason);
  if (!channels.empty()) Log()->warn("{}", msg);
  for (auto& [id, ch] : channels) ch->OnError(msg);
}

void ClientConnection::ReadLoop() {
  std::vector<uint8_t> scratch;
  BufferedSocketReader in(fd_, BufferedSocketReader::kDefaultCapacity, busy_poll_);
  // Breaks the connection for a read that failed: with the writer thread's error if it failed
  // first (it shut the socket down), else with `reason`.
  auto lost = [this](const std::string& reason) {
    std::string write_error;
    {
      absl::MutexLock lock(&send_mu_);
      write_error = write_error_;
    }
    Break(write_error.empty() ? reason : write_error);
  };
  // Channels that received buffers since their tasks were last told. They are told when a read
  // ends on a frame boundary, so a task hears about several buffers at once (fewer wake-ups;
  // telling before every socket read measured slower). The rest of a partial frame is always on its
  // way: producers write whole frames, and their writer thread finishes one a task started.
  std::vector<std::shared_ptr<RemoteInputChannel>> unannounced;
  while (true) {
    if (in.empty() && !unannounced.empty()) {
      for (auto& c : unannounced) c->NotifyGate();
      unannounced.clear();
    }
    uint32_t len;
    uint8_t head[kBufferHeaderBytes];
    if (!in.Read(&len, sizeof(len))) return lost("connection closed");
    if (len < kCommonHeaderBytes || len > kMaxFrameBytes) {
      return Break(absl::StrCat("invalid frame length ", len));
    }
    if (!in.Read(head, kCommonHeaderBytes)) return lost("connection lost mid-frame");
    if (static_cast<FrameType>(head[0]) != FrameType::kBuffer) {
      std::vector<uint8_t> body(len);
      std::memcpy(body.data(), head, kCommonHeaderBytes);
      if (!in.Read(body.data() + kCommonHeaderBytes, len - kCommonHeaderBytes)) {
        return lost("connection lost mid-frame");
      }
      auto frame = DecodeBody(body.data(), body.size());
      if (!frame.ok()) return Break(std::string(frame.status().message()));
      if (frame->type != FrameType::kError) {
        return Break(absl::StrCat("unexpected frame type ", static_cast<int>(frame->type)));
      }
      if (frame->channel == 0) return Break(frame->text);
      std::shared_ptr<RemoteInputChannel> ch;
      {
        absl::MutexLock lock(&mu_);
        auto it = channels_.find(frame->channel);
        if (it != channels_.end()) ch = it->second;
      }
      if (ch) ch->OnError(absl::StrCat("producer of the channel failed: ", frame->text));
      continue;
    }
    // A buffer: its fixed fields, then the payload straight into the channel's buffer.
    const size_t fixed = std::min<size_t>(len, kBufferHeaderBytes);
    if (!in.Read(head + kCommonHeaderBytes, fixed - kCommonHeaderBytes)) {
      return lost("connection lost mid-frame");
    }
    Frame f;
    if (absl::Status s = DecodeFixedFields(head, len, &f); !s.ok()) {
      return Break(std::string(s.message()));
    }
    const size_t payload = len - kBufferHeaderBytes;
    std::shared_ptr<RemoteInputChannel> ch;
    {
      absl::MutexLock lock(&mu_);
      auto it = channels_.find(f.channel);
      if (it != channels_.end()) ch = it->second;
    }
    BufferPtr buffer;
    std::string problem;
    if (!ch) {
      problem = "unknown channel";
    } else if (f.kind == BufferKind::kData) {
      buffer = ch->TakeReceiveBuffer();
      if (!buffer) {
        problem = "data buffer without credit";
      } else if (payload > buffer->capacity) {
        problem = absl::StrCat("buffer of ", payload, " bytes exceeds the segment size");
        buffer.reset();
      }
    } else if (payload > kMaxEventBytes) {
      return Break(absl::StrCat("event of ", payload, " bytes"));
    } else {
      buffer = MakeEvent(f.kind);
      if (payload > 0) {
        buffer->heap.reset(new uint8_t[payload]);
        buffer->data = buffer->heap.get();
        buffer->capacity = payload;
        if (!in.Read(buffer->data, payload)) return lost("connection lost mid-frame");
        buffer->size = payload;
      }
    }
    if (!buffer || (!problem.empty())) {
      // Skip the payload of data dropped for an unknown channel.
      scratch.resize(payload);
      if (payload > 0 && !in.Read(scratch.data(), payload)) return lost("connection lost");
      if (!problem.empty()) {
        Log()->warn("dropping a buffer from {} for channel {}: {}", address_, f.channel, problem);
        if (ch) ch->OnError(absl::StrCat("protocol error: ", problem));
        continue;
      }
    } else if (!buffer->is_event()) {
      if (!in.Read(buffer->data, payload)) return lost("connection lost mid-frame");
      buffer->size = payload;
    }
    ch->OnBuffer(std::move(buffer), f.seq, f.backlog);
    if (unannounced.empty() || unannounced.back() != ch) unannounced.push_back(std::move(ch));
  }
}

}  // namespace sluice::network
