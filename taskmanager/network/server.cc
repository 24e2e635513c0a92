#include "taskmanager/network/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/log.h"
#include "common/thread_name.h"
#include "taskmanager/network/socket.h"

namespace sluice::network {
namespace {
auto Log() { return log::Get("network"); }
}  // namespace

ServerConnection::ServerConnection(int fd, PartitionManager* partitions,
                                   std::chrono::microseconds busy_poll)
    : fd_(fd), partitions_(partitions), busy_poll_(busy_poll) {}

ServerConnection::~ServerConnection() {
  Shutdown();
  close(fd_);
}

void ServerConnection::Start() {
  reader_ = std::thread([this] { ReadLoop(); });
  writer_ = std::thread([this] { WriteLoop(); });
  NameThread(reader_, "net-serve-read");
  NameThread(writer_, "net-serve-write");
}

void ServerConnection::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  shutdown(fd_, SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
  if (writer_.joinable()) writer_.join();
}

bool ServerConnection::done() { return done_.load(); }

void ServerConnection::MarkReady(uint64_t channel) {
  {
    absl::MutexLock lock(&mu_);
    if (!views_.count(channel)) return;
    ready_.insert(channel);
  }
  Pump();
}

void ServerConnection::SendError(uint64_t channel, const std::string& message) {
  Frame f;
  f.type = FrameType::kError;
  f.channel = channel;
  f.text = message;
  {
    absl::MutexLock lock(&mu_);
    errors_.push_back(std::move(f));
  }
  Pump();
}

void ServerConnection::OnPartition(uint64_t channel, std::shared_ptr<ResultPartition> partition) {
  if (!partition) {
    SendError(channel, "partition was released");
    return;
  }
  int index;
  {
    absl::MutexLock lock(&mu_);
    auto it = views_.find(channel);
    if (it == views_.end()) return;  // cancelled meanwhile
    index = it->second.subpartition;
    if (index >= partition->size()) {
      views_.erase(it);
      index = -1;
    } else {
      it->second.partition = partition;
    }
  }
  if (index < 0) {
    SendError(channel, "no such subpartition");
    return;
  }
  auto self = shared_from_this();
  partition->subpartition(index).SetListener([self, channel] { self->MarkReady(channel); });
}

void ServerConnection::ReadLoop() {
  BufferedSocketReader in(fd_, 16 * 1024, busy_poll_);
  bool credited = false;  // credit arrived: send once every frame of this read is handled
  while (true) {
    if (credited && in.empty()) {
      credited = false;
      Pump();
    }
    auto frame = ReadFrame(in);
    if (!frame.ok()) {
      if (!absl::IsNotFound(frame.status())) {
        Log()->warn("data connection: {}", frame.status().message());
      }
      break;
    }
    switch (frame->type) {
      case FrameType::kPartitionRequest: {
        {
          absl::MutexLock lock(&mu_);
          View v;
          v.subpartition = static_cast<int>(frame->subpartition);
          v.credit = frame->credit;
          views_[frame->channel] = v;
        }
        uint64_t channel = frame->channel;
        std::weak_ptr<ServerConnection> weak = weak_from_this();
        partitions_->Request(frame->text, [weak, channel](std::shared_ptr<ResultPartition> p) {
          if (auto self = weak.lock()) self->OnPartition(channel, std::move(p));
        });
        break;
      }
      case FrameType::kAddCredit: {
        {
          absl::MutexLock lock(&mu_);
          auto it = views_.find(frame->channel);
          if (it == views_.end()) break;
          it->second.credit += frame->credit;
          ready_.insert(frame->channel);
        }
        credited = true;
        break;
      }
      case FrameType::kCancelRequest: {
        std::shared_ptr<ResultPartition> p;
        int index = 0;
        {
          absl::MutexLock lock(&mu_);
          auto it = views_.find(frame->channel);
          if (it == views_.end()) break;
          p = it->second.partition;
          index = it->second.subpartition;
          views_.erase(it);
          ready_.erase(frame->channel);
        }
        if (p) p->subpartition(index).SetListener(nullptr);
        break;
      }
      case FrameType::kHello:
        break;  // names the job the connection is for: only a router (SetRouter) cares
      default:
        Log()->warn("data connection: unexpected frame type {}", static_cast<int>(frame->type));
        break;
    }
  }
  std::map<uint64_t, View> views;
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    views.swap(views_);
  }
  for (auto& [id, v] : views) {
    if (v.partition) v.partition->subpartition(v.subpartition).SetListener(nullptr);
  }
  done_ = true;
}

bool ServerConnection::TakeNext(uint64_t channel, Frame* frame, BufferPtr* buffer) {
  std::shared_ptr<ResultPartition> partition;
  int index = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = views_.find(channel);
    if (it == views_.end() || !it->second.partition) return false;
    partition = it->second.partition;
    index = it->second.subpartition;
  }
  Subpartition& sub = partition->subpartition(index);
  bool is_event = false;
  if (!sub.Peek(&is_event)) return false;
  {
    absl::MutexLock lock(&mu_);
    auto it = views_.find(channel);
    if (it == views_.end()) return false;
    if (!is_event && it->second.credit <= 0) return false;  // AddCredit marks it ready again
    if (!is_event) --it->second.credit;
    frame->seq = it->second.seq++;
  }
  int backlog = 0;
  *buffer = sub.Poll(&backlog);
  if (!*buffer) return false;
  frame->type = FrameType::kBuffer;
  frame->channel = channel;
  frame->backlog = static_cast<uint32_t>(backlog);
  frame->kind = (*buffer)->kind;
  if (frame->kind == BufferKind::kEndOfPartition) {
    absl::MutexLock lock(&mu_);
    views_.erase(channel);
  }
  return true;
}

void ServerConnection::Batch::Clear() {
  headers.clear();
  buffers.clear();
  iov.clear();
  written = 0;
}

void ServerConnection::Collect() {
  // Per round, everything the ready channels have credit for goes out in one gathered write.
  constexpr size_t kMaxBatchBuffers = 256;
  std::vector<Frame> errors;
  std::vector<uint64_t> channels;
  {
    absl::MutexLock lock(&mu_);
    errors.swap(errors_);
    channels.assign(ready_.begin(), ready_.end());
    ready_.clear();
  }
  for (const auto& e : errors) {
    batch_.headers.push_back(EncodeHeader(e, 0));
    batch_.buffers.emplace_back();
  }
  for (uint64_t channel : channels) {
    Frame f;
    BufferPtr b;
    while (batch_.buffers.size() < kMaxBatchBuffers && TakeNext(channel, &f, &b)) {
      batch_.headers.push_back(EncodeHeader(f, b->size));
      batch_.buffers.push_back(std::move(b));
    }
    if (batch_.buffers.size() == kMaxBatchBuffers) {
      // The batch is full: look at this channel again on the next round.
      absl::MutexLock lock(&mu_);
      if (views_.count(channel)) ready_.insert(channel);
    }
  }
  for (size_t i = 0; i < batch_.headers.size(); ++i) {
    batch_.iov.push_back({batch_.headers[i].data(), batch_.headers[i].size()});
    const BufferPtr& b = batch_.buffers[i];
    if (b && b->size > 0) batch_.iov.push_back({b->data, b->size});
  }
}

void ServerConnection::Pump() {
  {
    absl::MutexLock lock(&mu_);
    if (sending_ || closing_) return;  // the holder looks at ready_ again before it lets go
    sending_ = true;
  }
  Drain(/*inline_send=*/true);
}

void ServerConnection::Drain(bool inline_send) {
  // A thread that is not the writer sends a few rounds at most, then leaves the rest to it.
  constexpr int kMaxInlineRounds = 4;
  for (int round = 0;; ++round) {
    if (batch_.empty()) Collect();
    if (batch_.empty()) {
      absl::MutexLock lock(&mu_);
      if (ready_.empty() && errors_.empty()) {
        sending_ = false;
        return;
      }
      continue;
    }
    WriteStatus w = WriteStatus::kWouldBlock;
    if (!inline_send || round < kMaxInlineRounds) {
      w = WriteSome(fd_, batch_.iov, &batch_.written, /*block=*/!inline_send);
    }
    if (w == WriteStatus::kDone) {
      batch_.Clear();
      continue;
    }
    absl::MutexLock lock(&mu_);
    if (w == WriteStatus::kFailed || closing_) {
      // The reader sees the connection end; buffers still in the batch go with the connection.
      sending_ = false;
      closing_ = true;
      shutdown(fd_, SHUT_RDWR);
      return;
    }
    handoff_ = true;  // the token, with the rest of the batch, goes to the writer thread
    return;
  }
}

void ServerConnection::WriteLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closing_ || handoff_; };
      mu_.Await(absl::Condition(&work));
      if (closing_) return;
      handoff_ = false;
    }
    Drain(/*inline_send=*/false);
  }
}

NetworkServer::~NetworkServer() { Shutdown(); }

absl::StatusOr<int> NetworkServer::Start(const std::string& host, int port) {
  absl::StatusOr<ListeningSocket> listener = ListenTcp(host, port);
  if (!listener.ok()) return listener.status();
  listen_fd_ = listener->fd;
  acceptor_ = std::thread([this] { AcceptLoop(); });
  NameThread(acceptor_, "net-accept");
  return listener->port;
}

void NetworkServer::AcceptLoop() {
  while (true) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return;  // listening socket shut down
    }
    if (absl::Status s = SetNoDelay(fd); !s.ok()) {
      Log()->warn("data connection refused: {}", s.message());
      close(fd);
      continue;
    }
    if (router_) {
      Route(fd);
    } else if (!Adopt(fd)) {
      return;
    }
  }
}

void NetworkServer::Route(int fd) {
  // The hello comes right after connecting; a peer that does not send it within the timeout
  // (or sends something else) is not a consumer TaskManager of this version.
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  absl::StatusOr<Frame> hello = ReadFrame(fd);
  if (!hello.ok() || hello->type != FrameType::kHello) {
    Log()->warn("data connection refused: {}", hello.ok()
                                                   ? "its first frame is not a hello naming the job"
                                                   : std::string(hello.status().message()));
    close(fd);
    return;
  }
  timeval none{};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
  router_(fd, hello->text);
}

bool NetworkServer::Adopt(int fd) {
  auto conn = std::make_shared<ServerConnection>(fd, partitions_, busy_poll_);
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;  // conn closes fd
  // Forget connections whose peer went away.
  std::erase_if(connections_, [](const std::shared_ptr<ServerConnection>& c) { return c->done(); });
  connections_.push_back(conn);
  conn->Start();
  return true;
}

void NetworkServer::Shutdown() {
  std::vector<std::shared_ptr<ServerConnection>> conns;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    conns.swap(connections_);
  }
  if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  for (auto& c : conns) c->Shutdown();
}

}  // namespace sluice::network
