#include "taskmanager/network/remote_channel.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace sluice::network {
namespace {
auto Log() { return log::Get("network"); }
}  // namespace

absl::StatusOr<int> ConnectTcp(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError("address without port: " + address);
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
                                       std::string partition_id, int subpartition, int initial_credit,
                                       std::string producer_id)
    : connections_(connections),
      address_(std::move(address)),
      partition_id_(std::move(partition_id)),
      subpartition_(subpartition),
      initial_credit_(initial_credit),
      producer_id_(std::move(producer_id)) {}

void RemoteInputChannel::Start(std::shared_ptr<InputGate> gate, int index) {
  {
    absl::MutexLock lock(&mu_);
    gate_ = gate;
    index_ = index;
  }
  auto conn = connections_->Get(address_);
  if (!conn.ok()) {
    gate->NotifyError(std::string(conn.status().message()));
    return;
  }
  uint64_t id = (*conn)->Request(shared_from_this(), partition_id_, subpartition_, initial_credit_);
  if (id == 0) {
    gate->NotifyError("connection to " + address_ + " broke");
    return;
  }
  absl::MutexLock lock(&mu_);
  connection_ = *conn;
  channel_id_ = id;
}

void RemoteInputChannel::OnFrame(Frame frame) {
  std::shared_ptr<InputGate> gate;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    gate = gate_;
    if (frame.type == FrameType::kError) {
      if (gate) gate->NotifyError(absl::StrCat("producer of ", partition_id_, ": ", frame.text));
      return;
    }
    if (frame.seq != expected_seq_) {
      if (gate) {
        gate->NotifyError(absl::StrCat("channel ", partition_id_, " received buffer #", frame.seq,
                                       ", expected #", expected_seq_));
      }
      return;
    }
    ++expected_seq_;
    auto b = std::make_unique<Buffer>();
    b->kind = frame.kind;
    b->bytes = std::move(frame.bytes);
    received_.push_back(std::move(b));
  }
  if (gate) gate->NotifyAvailable(index_);
}

void RemoteInputChannel::OnError(const std::string& message) {
  std::shared_ptr<InputGate> gate;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    gate = gate_;
  }
  if (gate) {
    gate->NotifyError(producer_id_.empty() ? message
                                           : absl::StrCat("input from TaskManager ", producer_id_,
                                                          ": ", message));
  }
}

BufferPtr RemoteInputChannel::Poll() {
  std::shared_ptr<ClientConnection> conn;
  uint64_t id;
  BufferPtr b;
  {
    absl::MutexLock lock(&mu_);
    if (received_.empty()) return nullptr;
    b = std::move(received_.front());
    received_.pop_front();
    conn = connection_;
    id = channel_id_;
  }
  // The buffer is ours now: its slot is free again, so grant the producer one more credit.
  if (!b->is_event() && conn) conn->AddCredit(id, 1);
  return b;
}

void RemoteInputChannel::Close() {
  std::shared_ptr<ClientConnection> conn;
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    conn = std::move(connection_);
    id = channel_id_;
    received_.clear();
    gate_.reset();
  }
  if (conn) conn->Cancel(id);
}

// ---- ClientConnection ----

absl::StatusOr<std::shared_ptr<ClientConnection>> ClientConnection::Open(const std::string& address) {
  auto fd = ConnectTcp(address);
  if (!fd.ok()) return fd.status();
  auto conn = std::shared_ptr<ClientConnection>(new ClientConnection(address, *fd));
  conn->reader_ = std::thread([c = conn.get()] { c->ReadLoop(); });
  Log()->debug("data connection to {} opened", address);
  return conn;
}

ClientConnection::ClientConnection(std::string address, int fd) : address_(std::move(address)), fd_(fd) {}

ClientConnection::~ClientConnection() {
  Shutdown();
  close(fd_);
}

void ClientConnection::Shutdown() {
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
  if (!WriteFrame(fd_, frame, nullptr)) Break("write failed");
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
  while (true) {
    auto frame = ReadFrame(fd_);
    if (!frame.ok()) {
      Break(std::string(frame.status().message()));
      return;
    }
    std::shared_ptr<RemoteInputChannel> ch;
    {
      absl::MutexLock lock(&mu_);
      auto it = channels_.find(frame->channel);
      if (it != channels_.end()) ch = it->second;
    }
    if (!ch) {
      if (frame->type == FrameType::kError && frame->channel == 0) {
        Break(frame->text);
        return;
      }
      Log()->debug("dropping frame for unknown channel {} from {}", frame->channel, address_);
      continue;
    }
    ch->OnFrame(*std::move(frame));
  }
}

// ---- ConnectionManager ----

ConnectionManager::~ConnectionManager() { Shutdown(); }

absl::StatusOr<std::shared_ptr<ClientConnection>> ConnectionManager::Get(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto it = connections_.find(address);
  if (it != connections_.end() && !it->second->broken()) return it->second;
  auto conn = ClientConnection::Open(address);
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
