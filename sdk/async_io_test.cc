// Async I/O: the operator driven as the host drives it (records, watermarks, mail, a
// processing-time clock), with requests completed on other threads in an order the test picks —
// ordered and unordered output, watermarks holding unordered results back, the capacity bound,
// timeouts (the default failure naming the record, and a Timeout that completes with a fallback),
// failed requests, the requests in flight through a snapshot restored into one subtask and into
// two, and the bad arguments.
#include "sluice/async_io.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sluice/sluice.h"
#include "sluice/testing/fake_keyed_host.h"

namespace sluice {
namespace {

using testing::KeyedSnapshot;
using testing::OperatorHarness;

//! Keeps every request's ResultFuture for the test to complete, from whichever thread it likes.
struct Requests {
  std::mutex mu;
  std::vector<std::pair<int64_t, ResultFuture<std::string>>> open;  // (input, future)
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::atomic<int> timeouts{0};

  //! Completes the request for `input` with "r<input>" on a thread of its own.
  void CompleteOnAThread(int64_t input) {
    ResultFuture<std::string> f = Take(input);
    std::thread([f, input]() mutable { f.Complete({"r" + std::to_string(input)}); }).join();
  }
  ResultFuture<std::string> Take(int64_t input) {
    std::lock_guard<std::mutex> lock(mu);
    auto it =
        std::find_if(open.begin(), open.end(), [&](const auto& p) { return p.first == input; });
    if (it == open.end()) throw std::logic_error("no request for " + std::to_string(input));
    ResultFuture<std::string> f = it->second;
    open.erase(it);
    --in_flight;
    return f;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return open.size();
  }
};

class Lookup final : public AsyncFunction<int64_t, std::string> {
 public:
  explicit Lookup(Requests* requests, bool fallback = false)
      : requests_(requests), fallback_(fallback) {}
  void AsyncInvoke(const int64_t& in, ResultFuture<std::string> result) override {
    std::lock_guard<std::mutex> lock(requests_->mu);
    requests_->open.emplace_back(in, result);
    int n = ++requests_->in_flight;
    requests_->max_in_flight = std::max(requests_->max_in_flight.load(), n);
  }
  void Timeout(const int64_t& in, ResultFuture<std::string> result) override {
    ++requests_->timeouts;
    if (!fallback_) {
      AsyncFunction::Timeout(in, std::move(result));
      return;
    }
    result.Complete({"fallback " + std::to_string(in)});
  }

 private:
  Requests* requests_;
  bool fallback_;
};

std::function<std::unique_ptr<StreamOperator>()> AsyncOp(Requests* requests, AsyncOutputMode mode,
                                                         int capacity = 100, int64_t timeout_ms = 0,
                                                         bool fallback = false) {
  return [=] {
    return std::make_unique<AsyncWaitOperator<int64_t, std::string>>(
        std::make_unique<Lookup>(requests, fallback), mode, timeout_ms, capacity);
  };
}

TEST(AsyncIo, OrderedWaitEmitsInInputOrderWithEachRecordsTimestamp) {
  Requests requests;
  OperatorHarness<std::string> h(AsyncOp(&requests, AsyncOutputMode::kOrdered));
  for (int64_t i = 0; i < 5; ++i) h.Add(i, 1000 + i);
  EXPECT_EQ(requests.size(), 5u);
  for (int64_t i : {3, 1, 4}) requests.CompleteOnAThread(i);
  h.rt.RunMail();
  EXPECT_TRUE(h.out.records.empty());  // 0 holds them back
  requests.CompleteOnAThread(0);
  h.rt.RunMail();
  EXPECT_EQ(h.out.records, (std::vector<std::string>{"r0", "r1"}));
  requests.CompleteOnAThread(2);
  h.rt.RunMail();
  EXPECT_EQ(h.out.records, (std::vector<std::string>{"r0", "r1", "r2", "r3", "r4"}));
  EXPECT_EQ(h.out.timestamps, (std::vector<int64_t>{1000, 1001, 1002, 1003, 1004}));
}

TEST(AsyncIo, UnorderedWaitEmitsAsResultsComeBackButNeverAcrossAWatermark) {
  Requests requests;
  OperatorHarness<std::string> h(AsyncOp(&requests, AsyncOutputMode::kUnordered));
  h.Add(int64_t{0}, 10);
  h.Add(int64_t{1}, 11);
  h.Watermark(11);
  h.Add(int64_t{2}, 12);
  h.Add(int64_t{3}, 13);
  h.Watermark(12);
  h.Watermark(13);  // nothing between them: one waits
  for (int64_t i : {3, 2, 1}) {
    requests.CompleteOnAThread(i);
    h.rt.RunMail();
  }
  EXPECT_EQ(h.out.records, (std::vector<std::string>{"r1"}));  // 2 and 3 wait behind 11
  EXPECT_TRUE(h.out.watermarks.empty());
  requests.CompleteOnAThread(0);
  h.rt.RunMail();
  // 0 goes, then the watermark, then what completed behind it in input order, then the last.
  EXPECT_EQ(h.out.records, (std::vector<std::string>{"r1", "r0", "r2", "r3"}));
  EXPECT_EQ(h.out.watermarks, (std::vector<int64_t>{11, 13}));
  h.Watermark(14);  // nothing in flight: straight through
  EXPECT_EQ(h.out.watermarks, (std::vector<int64_t>{11, 13, 14}));
}

TEST(AsyncIo, AtCapacityTheNextRecordWaitsForACompletion) {
  Requests requests;
  OperatorHarness<std::string> h(AsyncOp(&requests, AsyncOutputMode::kUnordered, 3));
  for (int64_t i = 0; i < 3; ++i) h.Add(i, i);
  std::atomic<bool> added{false};
  std::thread completer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(added.load());  // still waiting inside the record
    requests.Take(1).Complete({"r1"});
  });
  h.Add(int64_t{3}, 3);  // blocks until 1 completes, which it emits meanwhile
  added = true;
  completer.join();
  EXPECT_EQ(h.out.records, (std::vector<std::string>{"r1"}));
  EXPECT_EQ(requests.max_in_flight.load(), 3);
  // End of input waits for every request.
  std::thread rest([&] {
    for (int64_t i : {0, 2, 3}) requests.Take(i).Complete({"r" + std::to_string(i)});
  });
  h.op->EndInput();
  rest.join();
  EXPECT_EQ(h.out.records.size(), 4u);
}

TEST(AsyncIo, ATimeoutFailsTheJobWithTheRecordByDefault) {
  Requests requests;
  OperatorHarness<std::string> h(AsyncOp(&requests, AsyncOutputMode::kOrdered, 10, 1000));
  h.rt.AdvanceTo(5000);
  h.Add(int64_t{42}, 1);
  h.rt.AdvanceTo(5999);
  EXPECT_EQ(requests.timeouts.load(), 0);
  try {
    h.rt.AdvanceTo(6000);
    FAIL() << "no failure";
  } catch (const UserCodeError& e) {
    EXPECT_EQ(e.exception_type(), "sluice::AsyncTimeoutError");
    EXPECT_EQ(e.message(), "Async function call has timed out.");
    EXPECT_EQ(e.record(), "42");
  }
}

TEST(AsyncIo, ATimeoutMayCompleteWithAFallbackAndALateResultIsIgnored) {
  Requests requests;
  OperatorHarness<std::string> h(AsyncOp(&requests, AsyncOutputMode::kOrdered, 10, 1000, true));
  h.Add(int64_t{1}, 1);
  h.rt.AdvanceTo(500);
  h.Add(int64_t{2}, 2);
  h.rt.AdvanceTo(1000);
  EXPECT_EQ(h.out.records, (std::vector<std::string>{"fallback 1"}));
  requests.CompleteOnAThread(1);  // too late: ignored
  requests.CompleteOnAThread(2);
  h.rt.RunMail();
  EXPECT_EQ(h.out.records, (std::vector<std::string>{"fallback 1", "r2"}));
  h.rt.AdvanceTo(5000);
  EXPECT_EQ(requests.timeouts.load(), 1);
}

TEST(AsyncIo, AFailedRequestFailsTheJobNamingItsRecord) {
  Requests requests;
  OperatorHarness<std::string> h(AsyncOp(&requests, AsyncOutputMode::kUnordered));
  h.Add(int64_t{7}, 1);
  requests.Take(7).CompleteExceptionally(std::runtime_error("service said 503"));
  try {
    h.rt.RunMail();
    FAIL() << "no failure";
  } catch (const UserCodeError& e) {
    EXPECT_EQ(e.message(), "service said 503");
    EXPECT_EQ(e.record(), "7");
  }
}

TEST(AsyncIo, RequestsInFlightAreSnapshottedAndIssuedAgainAfterARestoreOrARescale) {
  for (AsyncOutputMode mode : {AsyncOutputMode::kOrdered, AsyncOutputMode::kUnordered}) {
    SCOPED_TRACE(mode == AsyncOutputMode::kOrdered ? "ordered" : "unordered");
    Requests before;
    KeyedSnapshot snapshot;
    {
      OperatorHarness<std::string> h(AsyncOp(&before, mode));
      for (int64_t i = 0; i < 6; ++i) h.Add(i, 100 + i);
      before.CompleteOnAThread(0);
      before.CompleteOnAThread(3);  // ordered: done but not emitted, so still in the snapshot
      h.rt.RunMail();
      snapshot = h.Take();
    }
    std::vector<int64_t> want = {1, 2, 3, 4, 5};
    if (mode == AsyncOutputMode::kUnordered) want = {1, 2, 4, 5};  // 3 was emitted
    ASSERT_EQ(snapshot.operator_state[kAsyncWaitStateName].size(), want.size());

    // Into one subtask: every request again, with its timestamp.
    Requests after;
    OperatorHarness<std::string> one(AsyncOp(&after, mode), &snapshot);
    EXPECT_EQ(after.size(), 0u);  // issued from the mailbox, once the chain is open
    one.rt.RunMail();
    EXPECT_EQ(after.size(), want.size());
    for (int64_t i : want) after.CompleteOnAThread(i);
    one.rt.RunMail();
    std::vector<std::string> got = one.out.records;
    std::sort(got.begin(), got.end());
    std::vector<std::string> expected;
    for (int64_t i : want) expected.push_back("r" + std::to_string(i));
    EXPECT_EQ(got, expected);
    EXPECT_EQ(one.out.timestamps.front(), 100 + want.front());

    // Into two: the list split between them, each request once.
    KeyedSnapshot halves[2];
    const auto& items = snapshot.operator_state[kAsyncWaitStateName];
    for (size_t i = 0; i < items.size(); ++i) {
      halves[i % 2].operator_state[kAsyncWaitStateName].push_back(items[i]);
    }
    std::vector<std::string> both;
    for (int s = 0; s < 2; ++s) {
      Requests r;
      OperatorHarness<std::string> sub(AsyncOp(&r, mode), &halves[s], false, s, 2);
      sub.rt.RunMail();
      std::vector<int64_t> inputs;
      for (const auto& [input, future] : r.open) inputs.push_back(input);
      for (int64_t i : inputs) r.CompleteOnAThread(i);
      sub.rt.RunMail();
      both.insert(both.end(), sub.out.records.begin(), sub.out.records.end());
    }
    std::sort(both.begin(), both.end());
    EXPECT_EQ(both, expected);
  }
}

TEST(AsyncIo, CapacityMustBePositiveAndTheOperatorJoinsTheGraph) {
  StreamEnvironment env({}, 1);
  auto s = env.AddSource<int64_t>([] { return std::make_unique<testing::NoSource<int64_t>>(); },
                                  "Numbers");
  Requests requests;
  auto make = [&requests] { return std::make_unique<Lookup>(&requests); };
  try {
    AsyncDataStream::UnorderedWait(s, make, std::chrono::seconds(1), 0);
    FAIL() << "capacity 0 accepted";
  } catch (const JobDefinitionError& e) {
    EXPECT_NE(std::string(e.what()).find("capacity must be greater than 0"), std::string::npos);
  }
  DataStream<std::string> out =
      AsyncDataStream::OrderedWait(s, make, std::chrono::seconds(1), 100, "Lookup");
  (void)out;
  env.Finalize();
  ASSERT_EQ(env.nodes().size(), 2u);
  EXPECT_EQ(env.nodes()[1].name, "Lookup");
  // The factory makes the operator, which drives the function.
  OperatorHarness<std::string> h(env.nodes()[1].factory);
  h.Add(int64_t{5}, 1);
  requests.CompleteOnAThread(5);
  h.rt.RunMail();
  EXPECT_EQ(h.out.records, (std::vector<std::string>{"r5"}));
}

}  // namespace
}  // namespace sluice
