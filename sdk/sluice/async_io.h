// Async I/O (Flink's AsyncDataStream): a function that calls an external service without blocking
// the task, with at most `capacity` requests in flight.
//
//   sluice::AsyncDataStream::UnorderedWait(stream, factory, std::chrono::seconds(1), 100);
//   sluice::AsyncDataStream::OrderedWait(stream, factory, std::chrono::seconds(1), 100);
//
// The AsyncFunction<IN, OUT>'s AsyncInvoke runs on the task thread for each record and starts a
// request on threads of the user's own (an HTTP client's, a thread pool); whichever thread gets
// the answer calls ResultFuture::Complete (or CompleteExceptionally), which hands the results to
// the task through its mailbox. The operator emits them on the task thread, with the input
// record's timestamp: in input order (OrderedWait), or as they come back but never across a
// watermark (UnorderedWait). A request that has not completed `timeout` after it was issued goes
// to Timeout (by default the job fails with the record in the message; a timeout of 0 or less is
// none). With `capacity` requests in flight the operator waits, running completions, before it
// takes the next record, which back-pressures its input. The records of the requests in flight
// are part of every checkpoint and are issued again after a restore (or a rescale, divided among
// the new subtasks), so nothing is lost; a request may therefore run twice, as in Flink. See
// docs/async-io.md.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sluice/datastream.h"
#include "sluice/internal/function_source.h"
#include "sluice/internal/user_code_error.h"
#include "sluice/runtime.h"
#include "sluice/serialization.h"

namespace sluice {

//! What the default AsyncFunction::Timeout completes a request with (Flink's TimeoutException).
class AsyncTimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace internal {

template <typename OUT>
struct AsyncCompletion {
  uint64_t seq = 0;
  std::vector<OUT> results;
  std::exception_ptr error;
};

//! Where completions wait for the task thread: filled by any thread, emptied by the task thread.
//! The first completion posts one mail that runs `on_mail` on the task thread; a task thread
//! waiting for capacity takes completions here directly. Shared by the operator and every
//! ResultFuture, so a late completion after the operator closed is dropped, never a dangling call.
template <typename OUT>
class AsyncInbox : public std::enable_shared_from_this<AsyncInbox<OUT>> {
 public:
  explicit AsyncInbox(RuntimeContext* ctx) : ctx_(ctx) {}

  //! Any thread.
  void Complete(AsyncCompletion<OUT> completion) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    completions_.push_back(std::move(completion));
    has_completions_.store(true, std::memory_order_release);
    cv_.notify_one();
    // Under the lock: Close (which the task runs before it ends) waits for this call, so the
    // runtime context is alive.
    if (!mail_posted_) mail_posted_ = PostLocked();
  }
  //! Task thread: a mail that runs on_mail (issuing restored requests, say).
  void Post() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_) PostLocked();
  }
  //! Task thread: the completions so far, in the order they came.
  std::vector<AsyncCompletion<OUT>> Take() {
    std::vector<AsyncCompletion<OUT>> out;
    std::lock_guard<std::mutex> lock(mu_);
    out.swap(completions_);
    has_completions_.store(false, std::memory_order_relaxed);
    return out;
  }
  bool HasCompletions() const { return has_completions_.load(std::memory_order_acquire); }
  //! Task thread: waits until a completion arrives or `timeout` passed.
  void WaitFor(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return !completions_.empty() || closed_; });
  }
  //! Task thread: later completions are dropped, and so is mail still queued.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    completions_.clear();
    on_mail = nullptr;
    cv_.notify_all();
  }

  //! Task thread only: what the mail runs.
  std::function<void()> on_mail;

 private:
  bool PostLocked() {
    return ctx_->PostMail([self = this->shared_from_this()] {
      {
        std::lock_guard<std::mutex> lock(self->mu_);
        self->mail_posted_ = false;
      }
      if (self->on_mail) self->on_mail();
    });
  }

  RuntimeContext* ctx_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<AsyncCompletion<OUT>> completions_;
  std::atomic<bool> has_completions_{false};
  bool mail_posted_ = false;
  bool closed_ = false;
};

//! One request: where its completion goes, and whether it completed (the first completion wins:
//! one after a timeout, or a second one, is ignored).
template <typename OUT>
struct AsyncSlot {
  std::shared_ptr<AsyncInbox<OUT>> inbox;
  uint64_t seq = 0;
  std::atomic<bool> claimed{false};
};

}  // namespace internal

//! The handle through which an AsyncFunction completes one request, from any thread. Copyable;
//! only the first completion of a request counts.
template <typename OUT>
class ResultFuture {
 public:
  explicit ResultFuture(std::shared_ptr<internal::AsyncSlot<OUT>> slot) : slot_(std::move(slot)) {}
  //! The request's results (any number, none included), emitted with the input's timestamp.
  void Complete(std::vector<OUT> results) { Finish(std::move(results), nullptr); }
  //! The request failed: the job fails with `error` and the record in the message.
  void CompleteExceptionally(std::exception_ptr error) { Finish({}, std::move(error)); }
  template <typename E>
  requires std::is_base_of_v<std::exception, std::decay_t<E>>
  void CompleteExceptionally(E&& error) {
    CompleteExceptionally(std::make_exception_ptr(std::forward<E>(error)));
  }
  //! Whether this request has completed (by anyone).
  bool IsDone() const { return slot_->claimed.load(std::memory_order_acquire); }

 private:
  void Finish(std::vector<OUT> results, std::exception_ptr error) {
    if (slot_->claimed.exchange(true, std::memory_order_acq_rel)) return;
    slot_->inbox->Complete({slot_->seq, std::move(results), std::move(error)});
  }
  std::shared_ptr<internal::AsyncSlot<OUT>> slot_;
};

//! User logic of async I/O (Flink's AsyncFunction / RichAsyncFunction): one instance per subtask.
//! AsyncInvoke, Timeout, Open and Close run on the task thread; the ResultFuture may complete on
//! any thread. Close should stop (join) the function's own threads: completions after it are
//! dropped.
template <typename IN, typename OUT>
class AsyncFunction {
 public:
  using InputType = IN;
  using OutputType = OUT;
  virtual ~AsyncFunction() = default;
  virtual void Open(RuntimeContext& ctx) { (void)ctx; }
  //! Starts the request for `input`; complete `result` when it is answered.
  virtual void AsyncInvoke(const IN& input, ResultFuture<OUT> result) = 0;
  //! The request for `input` did not complete in time. Default: fail (AsyncTimeoutError).
  virtual void Timeout(const IN& input, ResultFuture<OUT> result) {
    (void)input;
    result.CompleteExceptionally(AsyncTimeoutError("Async function call has timed out."));
  }
  virtual void Close() {}
};

//! The host's cancel, met while waiting for a request: never reported as a user-code failure.
class AsyncWaitInterrupted : public std::runtime_error, public HostInterruption {
 public:
  AsyncWaitInterrupted() : std::runtime_error("task cancelled while waiting for async requests") {}
};

enum class AsyncOutputMode { kOrdered, kUnordered };

//! Operator-state list of the records whose requests were in flight at a checkpoint (the name
//! Flink's AsyncWaitOperator gives it).
inline constexpr char kAsyncWaitStateName[] = "_async_wait_operator_state_";

//! The operator behind AsyncDataStream: a queue of the records in flight and the watermarks
//! between them, drained as completions come back (docs/async-io.md).
template <typename IN, typename OUT>
class AsyncWaitOperator final : public InputOperator<IN> {
 public:
  AsyncWaitOperator(std::unique_ptr<AsyncFunction<IN, OUT>> fn, AsyncOutputMode mode,
                    int64_t timeout_ms, int capacity)
      : fn_(std::move(fn)),
        ordered_(mode == AsyncOutputMode::kOrdered),
        timeout_ms_(timeout_ms),
        capacity_(static_cast<size_t>(capacity)) {}
  ~AsyncWaitOperator() override {
    if (inbox_) inbox_->Close();
  }

  void InitializeState(InitContext& ctx) override {
    if (!ctx.IsRestored()) return;
    for (const std::string& item : ctx.OperatorState(kAsyncWaitStateName)) {
      std::pair<int64_t, IN> restored;
      DeserializeRecord(reinterpret_cast<const uint8_t*>(item.data()), item.size(), restored);
      restored_.push_back(std::move(restored));
    }
  }
  void Open(RuntimeContext& ctx, Output& out) override {
    InputOperator<IN>::Open(ctx, out);
    inbox_ = std::make_shared<internal::AsyncInbox<OUT>>(&ctx);
    inbox_->on_mail = [this] {
      IssueRestored();
      Drain();
    };
    fn_->Open(ctx);
    // Restored requests go out from the mailbox, once every operator of the chain is open.
    if (!ctx.PostMail([] {})) {
      throw std::logic_error(
          "async I/O needs a host with a task mailbox (RuntimeContext::PostMail)");
    }
    if (!restored_.empty()) inbox_->Post();
  }
  void Process(const IN& in) override {
    IssueRestored();
    Issue(in, this->ctx_->CurrentTimestamp());
    if (inbox_->HasCompletions()) Drain();
  }
  void ProcessWatermark(int64_t watermark) override {
    IssueRestored();
    if (queue_.empty()) {
      this->out_->EmitWatermark(watermark);
    } else if (queue_.back()->is_watermark) {
      queue_.back()->watermark = watermark;  // nothing between them: the later one suffices
    } else {
      auto e = std::make_unique<Entry>();
      e->is_watermark = true;
      e->watermark = watermark;
      e->segment = segment_++;
      queue_.push_back(std::move(e));
    }
  }
  void SnapshotState(SnapshotContext& ctx) override {
    ByteWriter w;
    auto add = [&](int64_t ts, const IN& input) {
      w.Clear();
      SerializeRecord(std::pair<int64_t, IN>(ts, input), w);
      ctx.AddOperatorState(kAsyncWaitStateName, OperatorStateMode::kSplit,
                           std::string(reinterpret_cast<const char*>(w.data()), w.size()));
    };
    for (const auto& [ts, input] : restored_) add(ts, input);
    for (const auto& e : queue_) {
      if (!e->is_watermark && e->state != State::kEmitted) add(e->timestamp, e->input);
    }
  }
  //! Bounded input: every request completes (or times out) before the operator ends.
  void EndInput() override {
    IssueRestored();
    while (!queue_.empty()) WaitAndDrain();
  }
  void Close() override {
    if (inbox_) inbox_->Close();
    fn_->Close();
  }

 private:
  enum class State { kPending, kDone, kEmitted };
  struct Entry {
    bool is_watermark = false;
    int64_t watermark = 0;
    IN input{};
    int64_t timestamp = kNoTimestamp;
    uint64_t segment = 0;  // the number of watermarks queued before it
    State state = State::kPending;
    bool timed_out = false;
    int64_t deadline = 0;
    std::vector<OUT> results;
    std::shared_ptr<internal::AsyncSlot<OUT>> slot;
  };

  void Issue(const IN& in, int64_t timestamp) {
    while (in_flight_ >= capacity_) WaitAndDrain();
    auto e = std::make_unique<Entry>();
    e->input = in;
    e->timestamp = timestamp;
    e->segment = segment_;
    e->slot = std::make_shared<internal::AsyncSlot<OUT>>();
    e->slot->inbox = inbox_;
    e->slot->seq = next_seq_++;
    if (timeout_ms_ > 0) e->deadline = this->ctx_->CurrentProcessingTime() + timeout_ms_;
    Entry* entry = e.get();
    pending_.emplace(entry->slot->seq, entry);
    queue_.push_back(std::move(e));
    ++in_flight_;
    ScheduleTimeoutCheck(entry->deadline);
    try {
      fn_->AsyncInvoke(entry->input, ResultFuture<OUT>(entry->slot));
    } catch (...) {
      internal::RethrowAsUserCodeError(this, entry->input);
    }
  }
  void IssueRestored() {
    if (restored_.empty()) return;
    std::vector<std::pair<int64_t, IN>> restored;
    restored.swap(restored_);
    for (auto& [ts, input] : restored) Issue(input, ts);
  }

  //! Task thread: applies the completions that came back, then emits what may go.
  void Drain() {
    for (internal::AsyncCompletion<OUT>& c : inbox_->Take()) {
      auto it = pending_.find(c.seq);
      if (it == pending_.end()) continue;
      Entry* e = it->second;
      pending_.erase(it);
      if (c.error) {
        try {
          std::rethrow_exception(c.error);
        } catch (...) {
          internal::RethrowAsUserCodeError(this, e->input);
        }
      }
      e->results = std::move(c.results);
      e->state = State::kDone;
      // Unordered: at once, unless a watermark still waits for records before it.
      if (!ordered_ && e->segment == queue_.front()->segment) Emit(*e);
    }
    Flush();
  }
  //! Emits from the head of the queue what no earlier record or watermark holds back.
  void Flush() {
    while (!queue_.empty()) {
      Entry& head = *queue_.front();
      if (head.is_watermark) {
        this->out_->EmitWatermark(head.watermark);
        queue_.pop_front();
        if (!ordered_) EmitDoneOfHeadSegment();
      } else if (head.state == State::kEmitted) {
        queue_.pop_front();
      } else if (ordered_ && head.state == State::kDone) {
        Emit(head);
        queue_.pop_front();
      } else {
        break;
      }
    }
  }
  //! Unordered: the records after a watermark that completed while it was queued go now.
  void EmitDoneOfHeadSegment() {
    for (auto& e : queue_) {
      if (e->is_watermark) break;
      if (e->state == State::kDone) Emit(*e);
    }
  }
  void Emit(Entry& e) {
    for (const OUT& r : e.results) {
      this->ctx_->SetCurrentTimestamp(e.timestamp);
      this->out_->Emit(&r);
    }
    e.results.clear();
    e.state = State::kEmitted;
    --in_flight_;
  }

  //! Task thread, inside a record or at the end of input: waits for a completion (or the next
  //! timeout) and applies it. The task's mailbox does not run meanwhile; cancel is still seen.
  void WaitAndDrain() {
    CheckTimeouts();
    if (!inbox_->HasCompletions()) {
      int64_t wait_ms = 50;
      if (const Entry* e = OldestPending(); e != nullptr && e->deadline > 0) {
        wait_ms = std::clamp<int64_t>(e->deadline - this->ctx_->CurrentProcessingTime(), 0, 50);
      }
      inbox_->WaitFor(std::chrono::milliseconds(wait_ms));
      if (this->ctx_->IsCancelled()) throw AsyncWaitInterrupted();
      CheckTimeouts();
    }
    Drain();
  }
  const Entry* OldestPending() const {
    for (const auto& e : queue_) {
      if (!e->is_watermark && e->state == State::kPending && !e->timed_out) return e.get();
    }
    return nullptr;
  }
  //! Calls Timeout for every request past its deadline that has not completed. Deadlines grow
  //! with the queue (one timeout for all), so the first one not due ends the scan.
  void CheckTimeouts() {
    if (timeout_ms_ <= 0) return;
    const int64_t now = this->ctx_->CurrentProcessingTime();
    for (auto& e : queue_) {
      if (e->is_watermark || e->state != State::kPending || e->timed_out) continue;
      if (e->deadline > now) break;
      e->timed_out = true;
      if (e->slot->claimed.load(std::memory_order_acquire)) continue;
      try {
        fn_->Timeout(e->input, ResultFuture<OUT>(e->slot));
      } catch (...) {
        internal::RethrowAsUserCodeError(this, e->input);
      }
    }
  }
  //! One processing-time callback at a time, at the oldest pending request's deadline.
  void ScheduleTimeoutCheck(int64_t deadline) {
    if (timeout_ms_ <= 0 || timer_scheduled_) return;
    timer_scheduled_ = true;
    this->ctx_->ScheduleProcessingTime(deadline, [this] {
      timer_scheduled_ = false;
      CheckTimeouts();
      Drain();
      if (const Entry* e = OldestPending()) ScheduleTimeoutCheck(e->deadline);
    });
  }

  std::unique_ptr<AsyncFunction<IN, OUT>> fn_;
  bool ordered_;
  int64_t timeout_ms_;
  size_t capacity_;
  std::shared_ptr<internal::AsyncInbox<OUT>> inbox_;
  std::deque<std::unique_ptr<Entry>> queue_;      // records and watermarks, in input order
  std::unordered_map<uint64_t, Entry*> pending_;  // by request number, until completed
  size_t in_flight_ = 0;                          // records not emitted yet
  uint64_t next_seq_ = 0;
  uint64_t segment_ = 0;
  bool timer_scheduled_ = false;
  std::vector<std::pair<int64_t, IN>> restored_;  // (timestamp, record) to issue again
};

//! Adds async I/O to a stream (Flink's AsyncDataStream). `factory` gives an AsyncFunction<IN,
//! OUT> as a factory returning std::unique_ptr, a std::unique_ptr or an object to copy;
//! `timeout` of 0 or less is none; `capacity` (> 0) bounds the requests in flight.
class AsyncDataStream {
 public:
  //! Results as they come back; a watermark still waits for every record before it.
  template <typename IN, typename Factory>
  static auto UnorderedWait(DataStream<IN> stream, Factory factory,
                            std::chrono::milliseconds timeout, int capacity = 100,
                            std::string name = "AsyncWait") {
    return Add(std::move(stream), std::move(factory), timeout, capacity, std::move(name),
               AsyncOutputMode::kUnordered);
  }
  //! Results in the order of the input records.
  template <typename IN, typename Factory>
  static auto OrderedWait(DataStream<IN> stream, Factory factory, std::chrono::milliseconds timeout,
                          int capacity = 100, std::string name = "AsyncWait") {
    return Add(std::move(stream), std::move(factory), timeout, capacity, std::move(name),
               AsyncOutputMode::kOrdered);
  }

 private:
  template <typename IN, typename Factory>
  static auto Add(DataStream<IN> stream, Factory factory, std::chrono::milliseconds timeout,
                  int capacity, std::string name, AsyncOutputMode mode) {
    using Source = internal::FunctionSource<Factory>;
    if constexpr (!internal::CheckProcessFunctionSource<Factory>()) {
      return stream;  // not reached: a static_assert failed
    } else {
      using Fn = typename Source::Function;
      using OUT = typename Fn::OutputType;
      static_assert(std::is_base_of_v<AsyncFunction<typename Fn::InputType, OUT>, Fn>,
                    "AsyncDataStream: the function must derive from AsyncFunction<IN, OUT>");
      static_assert(std::is_same_v<typename Fn::InputType, IN>,
                    "AsyncDataStream: the function's input type must be the stream's record type");
      if (capacity <= 0) {
        throw JobDefinitionError(
            "AsyncDataStream: capacity must be greater than 0 (the number of concurrent async "
            "operations), got " +
            std::to_string(capacity));
      }
      auto make = internal::MakeFunctionFactory(std::move(factory), "AsyncDataStream");
      const int64_t timeout_ms = timeout.count();
      return stream.template Then<OUT>(std::move(name), [make, mode, timeout_ms, capacity]() {
        std::unique_ptr<AsyncFunction<IN, OUT>> fn = make();
        return std::make_unique<AsyncWaitOperator<IN, OUT>>(std::move(fn), mode, timeout_ms,
                                                            capacity);
      });
    }
  }
};

}  // namespace sluice
