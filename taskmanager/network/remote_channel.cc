#include "taskmanager/network/remote_channel.h"

#include "absl/strings/str_cat.h"
#include "taskmanager/network/client_connection.h"

namespace sluice::network {
namespace {

// Credit freed by the task is announced once this much has gathered (or at once when the
// producer may have run out, or when the task is about to wait for input).
constexpr int kCreditBatch = 2;
}  // namespace

RemoteInputChannel::RemoteInputChannel(ConnectionManager* connections, std::string address,
                                       std::string partition_id, int subpartition,
                                       std::shared_ptr<LocalBufferPool> pool, int exclusive,
                                       std::string producer_id, std::string job_id)
    : connections_(connections),
      address_(std::move(address)),
      partition_id_(std::move(partition_id)),
      subpartition_(subpartition),
      pool_(std::move(pool)),
      exclusive_(exclusive),
      producer_id_(std::move(producer_id)),
      job_id_(std::move(job_id)) {}

void RemoteInputChannel::AssignExclusiveBuffers() {
  absl::MutexLock lock(&mu_);
  while (owned_ < exclusive_) {
    BufferPtr b = pool_->Request();
    if (!b) break;  // the gate's pool is sized for every channel's exclusive buffers
    free_.push_back(std::move(b));
    ++owned_;
  }
}

void RemoteInputChannel::Start(std::shared_ptr<InputGate> gate, int index) {
  AssignExclusiveBuffers();  // a no-op when the gate assigned them first
  {
    absl::MutexLock lock(&mu_);
    gate_ = gate;
    index_ = index;
  }
  auto conn = connections_->Get(address_, job_id_);
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

}  // namespace sluice::network
