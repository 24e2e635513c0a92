#include "taskmanager/network/remote_channel.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace sluice::network {
namespace {

constexpr size_t kMaxEventBytes = 4096;
// Credit freed by the task is announced once this much has gathered (or at once when the
// producer may have run out, or when the task is about to wait for input).
constexpr int kCreditBatch = 2;
auto Log() { return log::Get("network"); }
}  // namespace

absl::StatusOr<int> ConnectTcp(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    return absl::InvalidArgumentError("address without port: " + address);
  std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", address, ": ", gai_strerror(rc)));
  }
  int fd = -1;
  std::string err = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    err = strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot connect to ", address, ": ", err));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// ---- RemoteInputChannel ----

RemoteInputChannel::RemoteInputChannel(ConnectionManager* connections, std::string address,
                                       std::string partition_id, int subpartition,
                                       std::shared_ptr<LocalBufferPool> pool, int exclusive,
                                       std::string producer_id)
    : connections_(connections),
      address_(std::move(address)),
      partition_id_(std::move(partition_id)),
      subpartition_(subpartition),
      pool_(std::move(pool)),
      exclusive_(exclusive),
      producer_id_(std::move(producer_id)) {}

void RemoteInputChannel::Start(std::shared_ptr<InputGate> gate, int index) {
  {
    absl::MutexLock lock(&mu_);
    gate_ = gate;
    index_ = index;
    for (int i = 0; i < exclusive_; ++i) {
      BufferPtr b = pool_->Request();
      if (!b) break;  // the gate's pool is sized for every channel's exclusive buffers
      free_.push_back(std::move(b));
      ++owned_;
    }
  }
  auto conn = connections_->Get(address_);
  if (!conn.ok()) {
    Fail(std::string(conn.status().message()));
    return;
  }
  int credit;
  {
    absl::MutexLock lock(&mu_);
    credit = static_cast<int>(free_.size());  // includes anything earned so far
    held_ = 0;
  }
  uint64_t id = (*conn)->Request(shared_from_this(), partition_id_, subpartition_, credit);
  if (id == 0) {
    Fail("connection to " + address_ + " broke");
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    connection_ = *conn;
    channel_id_ = id;
    outstanding_ += credit;  // buffers may have arrived against it already (OnBuffer)
  }
  Announce(0);  // credit earned while the request was on its way
}

BufferPtr RemoteInputChannel::TakeReceiveBuffer() {
  absl::MutexLock lock(&mu_);
  if (free_.empty() || closed_) return nullptr;
  BufferPtr b = std::move(free_.front());
  free_.pop_front();
  return b;
}

int RemoteInputChannel::RequestFloatingLocked() {
  int credit = 0;
  while (static_cast<int>(free_.size()) < wanted_free()) {
    BufferPtr b = pool_->Request();
    if (!b) {
      if (!waiting_for_floating_) {
        waiting_for_floating_ = true;
        pool_->AddListener(weak_from_this());
      }
      break;
    }
    free_.push_back(std::move(b));
    ++owned_;
    ++credit;
  }
  return credit;
}

void RemoteInputChannel::NotifyGate() {
  std::shared_ptr<InputGate> gate;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    gate = gate_;
  }
  if (gate) gate->NotifyAvailable(index_);
  Announce(0, /*now=*/true);  // the floating buffers borrowed for the batch, in one frame
}

void RemoteInputChannel::OnBuffer(BufferPtr buffer, uint32_t seq, uint32_t backlog) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  if (seq != expected_seq_) {
    std::string msg = absl::StrCat("channel ", partition_id_, " received buffer #", seq,
                                   ", expected #", expected_seq_);
    if (gate_) gate_->NotifyError(msg);
    return;
  }
  ++expected_seq_;
  if (!buffer->is_event()) {
    buffer->owner = shared_from_this();  // comes back to us (Recycle) once processed
    --outstanding_;
    backlog_ = static_cast<int>(backlog);
    // Announced with the gate notification at the end of the reader's batch (NotifyGate): one
    // credit frame per socket read, not one per buffer.
    held_ += RequestFloatingLocked();
  }
  received_.push_back(std::move(buffer));
}

void RemoteInputChannel::Recycle(Buffer* buffer) {
  BufferPtr back_to_pool;
  int credit = 0;
  {
    absl::MutexLock lock(&mu_);
    buffer->owner = pool_;
    if (closed_ || (owned_ > exclusive_ && static_cast<int>(free_.size()) >= wanted_free())) {
      // A floating buffer we no longer need goes back to the gate's pool.
      back_to_pool.reset(buffer);
      --owned_;
    } else {
      free_.push_back(BufferPtr(buffer));
      credit = 1;
    }
  }
  Announce(credit, /*now=*/false);
}

bool RemoteInputChannel::NotifyBufferAvailable(BufferPtr buffer) {
  int credit = 0;
  {
    absl::MutexLock lock(&mu_);
    waiting_for_floating_ = false;
    if (closed_ || static_cast<int>(free_.size()) >= wanted_free()) return false;
    free_.push_back(std::move(buffer));
    ++owned_;
    credit = 1 + RequestFloatingLocked();
  }
  Announce(credit);
  return true;
}

void RemoteInputChannel::Announce(int credit, bool now) {
  std::shared_ptr<ClientConnection> conn;
  uint64_t id;
  int send;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    held_ += credit;
    if (!connection_) return;  // Start announces it once the partition request is out
    // Credit the task frees goes out in pairs: a frame per buffer costs the task a send and the
    // producer's reader a wake-up each. It is not held back further — a longer credit round trip
    // starves the producer (bench/README.md, "Network stack") — nor at all while the producer
    // may have none left (outstanding_ == 0), or once the task is about to wait (FlushCredit).
    if (held_ == 0) return;
    if (!now && held_ < kCreditBatch && outstanding_ > 0) return;
    send = held_;
    held_ = 0;
    outstanding_ += send;
    conn = connection_;
    id = channel_id_;
  }
  conn->AddCredit(id, static_cast<uint32_t>(send));
}

void RemoteInputChannel::OnError(const std::string& message) {
  Fail(producer_id_.empty() ? message
                            : absl::StrCat("input from TaskManager ", producer_id_, ": ", message));
}

void RemoteInputChannel::Fail(const std::string& message) {
  std::shared_ptr<InputGate> gate;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    gate = gate_;
  }
  if (gate) gate->NotifyError(message);
}

BufferPtr RemoteInputChannel::Poll() {
  absl::MutexLock lock(&mu_);
  if (received_.empty()) return nullptr;
  BufferPtr b = std::move(received_.front());
  received_.pop_front();
  return b;
}

int RemoteInputChannel::owned() {
  absl::MutexLock lock(&mu_);
  return owned_;
}

void RemoteInputChannel::Close() {
  std::shared_ptr<ClientConnection> conn;
  uint64_t id;
  std::deque<BufferPtr> free, received;  // dropped outside our lock
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    conn = std::move(connection_);
    id = channel_id_;
    free.swap(free_);
    received.swap(received_);
    gate_.reset();
  }
  if (conn) conn->Cancel(id);
}

// ---- ClientConnection ----

absl::StatusOr<std::shared_ptr<ClientConnection>> ClientConnection::Open(
    const std::string& address, std::chrono::microseconds busy_poll) {
  auto fd = ConnectTcp(address);
  if (!fd.ok()) return fd.status();
  auto conn = std::shared_ptr<ClientConnection>(new ClientConnection(address, *fd, busy_poll));
  conn->reader_ = std::thread([c = conn.get()] { c->ReadLoop(); });
  NameThread(conn->reader_, "net-client-read");
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
  shutdown(fd_, SHUT_RDWR);
  if (reader_.joinable() && reader_.get_id() != std::this_thread::get_id()) reader_.join();
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
  // Written at once by the thread that freed the buffers (the task thread, or the reader when it
  // borrowed floating buffers): a hand-off to another thread would add a wake-up to every credit
  // round trip. Credit frames are small and the producer's reader always drains them, so this
  // write does not wait for long.
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
  absl::MutexLock lock(&write_mu_);
  if (!WriteFrame(fd_, frame)) Break("write failed");
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
    if (!in.Read(&len, sizeof(len))) return Break("connection closed");
    if (len < kCommonHeaderBytes || len > kMaxFrameBytes) {
      return Break(absl::StrCat("invalid frame length ", len));
    }
    if (!in.Read(head, kCommonHeaderBytes)) return Break("connection lost mid-frame");
    uint64_t channel;
    std::memcpy(&channel, head + 1, sizeof(channel));
    std::shared_ptr<RemoteInputChannel> ch;
    {
      absl::MutexLock lock(&mu_);
      auto it = channels_.find(channel);
      if (it != channels_.end()) ch = it->second;
    }
    if (static_cast<FrameType>(head[0]) != FrameType::kBuffer) {
      std::vector<uint8_t> body(len);
      std::memcpy(body.data(), head, kCommonHeaderBytes);
      if (!in.Read(body.data() + kCommonHeaderBytes, len - kCommonHeaderBytes)) {
        return Break("connection lost mid-frame");
      }
      auto frame = DecodeBody(body.data(), body.size());
      if (!frame.ok()) return Break(std::string(frame.status().message()));
      if (frame->type != FrameType::kError) {
        return Break(absl::StrCat("unexpected frame type ", static_cast<int>(frame->type)));
      }
      if (channel == 0) return Break(frame->text);
      if (ch) ch->OnError(absl::StrCat("producer of the channel failed: ", frame->text));
      continue;
    }
    if (len < kBufferHeaderBytes) return Break("short buffer frame");
    if (!in.Read(head + kCommonHeaderBytes, kBufferHeaderBytes - kCommonHeaderBytes)) {
      return Break("connection lost mid-frame");
    }
    uint32_t seq, backlog;
    std::memcpy(&seq, head + 9, 4);
    std::memcpy(&backlog, head + 13, 4);
    uint8_t kind = head[17];
    size_t payload = len - kBufferHeaderBytes;
    if (kind > kLastBufferKind) {
      return Break(absl::StrCat("unknown buffer kind ", static_cast<int>(kind)));
    }
    BufferPtr buffer;
    std::string problem;
    if (!ch) {
      problem = "unknown channel";
    } else if (kind == static_cast<uint8_t>(BufferKind::kData)) {
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
      buffer = MakeEvent(static_cast<BufferKind>(kind));
      if (payload > 0) {
        buffer->heap.reset(new uint8_t[payload]);
        buffer->data = buffer->heap.get();
        buffer->capacity = payload;
        if (!in.Read(buffer->data, payload)) return Break("connection lost mid-frame");
        buffer->size = payload;
      }
    }
    if (!buffer || (!problem.empty())) {
      // Skip the payload of data dropped for an unknown channel.
      scratch.resize(payload);
      if (payload > 0 && !in.Read(scratch.data(), payload)) return Break("connection lost");
      if (!problem.empty()) {
        Log()->warn("dropping a buffer from {} for channel {}: {}", address_, channel, problem);
        if (ch) ch->OnError(absl::StrCat("protocol error: ", problem));
        continue;
      }
    } else if (!buffer->is_event()) {
      if (!in.Read(buffer->data, payload)) return Break("connection lost mid-frame");
      buffer->size = payload;
    }
    ch->OnBuffer(std::move(buffer), seq, backlog);
    if (unannounced.empty() || unannounced.back() != ch) unannounced.push_back(std::move(ch));
  }
}

// ---- ConnectionManager ----

ConnectionManager::~ConnectionManager() { Shutdown(); }

absl::StatusOr<std::shared_ptr<ClientConnection>> ConnectionManager::Get(
    const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto it = connections_.find(address);
  if (it != connections_.end() && !it->second->broken()) return it->second;
  auto conn = ClientConnection::Open(address, busy_poll_);
  if (!conn.ok()) return conn.status();
  connections_[address] = *conn;
  return *conn;
}

void ConnectionManager::Shutdown() {
  std::map<std::string, std::shared_ptr<ClientConnection>> conns;
  {
    absl::MutexLock lock(&mu_);
    conns.swap(connections_);
  }
  for (auto& [a, c] : conns) c->Shutdown();
}

}  // namespace sluice::network
