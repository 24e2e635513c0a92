#include "taskmanager/network/input_gate.h"

namespace sluice::network {

void InputGate::AddChannel(std::shared_ptr<InputChannel> channel) {
  channels_.push_back(std::move(channel));
}

void InputGate::SetAvailabilityListener(std::function<void()> listener) {
  listener_ = std::move(listener);
}

void InputGate::Start() {
  {
    absl::MutexLock lock(&mu_);
    queued_.assign(channels_.size(), false);
    blocked_.assign(channels_.size(), false);
    parked_.assign(channels_.size(), false);
  }
  auto self = shared_from_this();
  for (auto& c : channels_) c->AssignExclusiveBuffers();
  for (size_t i = 0; i < channels_.size(); ++i) channels_[i]->Start(self, static_cast<int>(i));
}

std::function<void()>* InputGate::FireLocked() {
  if (!armed_) return nullptr;
  armed_ = false;
  return listener_ ? &listener_ : nullptr;
}

void InputGate::NotifyAvailable(int index) {
  std::function<void()>* fire;
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || queued_[static_cast<size_t>(index)]) return;
    queued_[static_cast<size_t>(index)] = true;
    available_.push_back(index);
    fire = FireLocked();
  }
  if (fire) (*fire)();
}

void InputGate::NotifyError(const std::string& message) {
  std::function<void()>* fire;
  {
    absl::MutexLock lock(&mu_);
    if (error_.empty()) error_ = message;
    fire = FireLocked();
  }
  if (fire) (*fire)();
}

InputGate::Result InputGate::Poll(int* channel, BufferPtr* buffer, std::string* error) {
  while (true) {
    int index;
    {
      absl::MutexLock lock(&mu_);
      if (closed_) return Result::kClosed;
      if (!error_.empty()) {
        *error = error_;
        return Result::kError;
      }
      if (available_.empty()) return Result::kNone;
      index = available_.front();
      available_.pop_front();
      queued_[static_cast<size_t>(index)] = false;
      if (blocked_[static_cast<size_t>(index)]) {
        parked_[static_cast<size_t>(index)] = true;
        continue;
      }
    }
    BufferPtr b = channels_[static_cast<size_t>(index)]->Poll();
    if (!b) continue;  // a stale notification
    // The channel may hold more: look again later, after the other channels had their turn.
    NotifyAvailable(index);
    *channel = index;
    *buffer = std::move(b);
    return Result::kBuffer;
  }
}

bool InputGate::PrepareToWait() {
  // About to wait: the producers get the credit our channels held back first.
  for (auto& c : channels_) c->FlushCredit();
  absl::MutexLock lock(&mu_);
  if (ReadyLocked()) return false;
  armed_ = true;
  return true;
}

InputGate::Result InputGate::Next(absl::Duration timeout, int* channel, BufferPtr* buffer,
                                  std::string* error) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    Result r = Poll(channel, buffer, error);
    if (r != Result::kNone) return r;
    for (auto& c : channels_) c->FlushCredit();
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ReadyLocked(); };
    if (!mu_.AwaitWithDeadline(absl::Condition(&ready), deadline)) return Result::kTimeout;
  }
}

void InputGate::Close() {
  std::function<void()>* fire;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    fire = FireLocked();
  }
  for (auto& c : channels_) c->Close();
  if (fire) (*fire)();
}

void InputGate::Block(int index) {
  absl::MutexLock lock(&mu_);
  blocked_[static_cast<size_t>(index)] = true;
}

void InputGate::UnblockAll() {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < blocked_.size(); ++i) {
    blocked_[i] = false;
    if (parked_[i]) {
      parked_[i] = false;
      if (!queued_[i]) {
        queued_[i] = true;
        available_.push_back(static_cast<int>(i));
      }
    }
  }
}

}  // namespace sluice::network
