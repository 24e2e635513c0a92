// async_bench: records/s through async I/O against a service that answers every request after a
// fixed latency, and the same service driven by a hand-written loop that keeps `capacity`
// requests in flight, measured in the same run. The ideal is capacity / latency (100 / 1 ms =
// 100,000 records/s); the loop shows what the simulated service itself allows on this machine.
//
// Sluice: the AsyncWaitOperator as AsyncDataStream builds it, records handed in on one thread as
// the host hands them (chained: no serialization), the mail its completions post run between
// records as the task's mailbox runs it; the service (sluice/testing/delayed_service.h) completes
// each request on its own thread `latency` after it came. Cases: unordered and ordered.
// Loop: the same service; the thread submits a request whenever fewer than `capacity` are in
// flight and otherwise waits on a condition variable the completions signal.
//   build/bench/async_bench [records (300000)] [capacity (100)] [latency_us (1000)] [rounds (3)]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sluice/async_io.h"
#include "sluice/testing/delayed_service.h"
#include "sluice/testing/fake_runtime_context.h"

namespace {

using Clock = std::chrono::steady_clock;

class Echo final : public sluice::AsyncFunction<int64_t, int64_t> {
 public:
  Echo(sluice::testing::DelayedService* service, std::chrono::microseconds latency)
      : service_(service), latency_(latency) {}
  void AsyncInvoke(const int64_t& in, sluice::ResultFuture<int64_t> result) override {
    service_->Submit(latency_, [in, result]() mutable { result.Complete({in * 2}); });
  }

 private:
  sluice::testing::DelayedService* service_;
  std::chrono::microseconds latency_;
};

class Sum final : public sluice::Output {
 public:
  void Emit(const void* record) override {
    sum += *static_cast<const int64_t*>(record);
    ++count;
  }
  int64_t sum = 0;
  int64_t count = 0;
};

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

//! Records/s through the operator.
double RunOperator(sluice::AsyncOutputMode mode, int64_t records, int capacity,
                   std::chrono::microseconds latency) {
  sluice::testing::DelayedService service;
  service.Start();
  sluice::testing::FakeRuntimeContext rt;
  Sum out;
  sluice::AsyncWaitOperator<int64_t, int64_t> op(std::make_unique<Echo>(&service, latency), mode,
                                                 /*timeout_ms=*/0, capacity);
  op.Open(rt, out);
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < records; ++i) {
    op.ProcessRecord(&i);
    rt.RunMail();  // between records, as the task's mailbox loop
  }
  op.EndInput();
  const double s = Seconds(start);
  op.Close();
  service.Stop();
  if (out.count != records || out.sum != records * (records - 1)) {
    std::fprintf(stderr, "wrong results: %lld records, sum %lld\n",
                 static_cast<long long>(out.count), static_cast<long long>(out.sum));
    std::exit(1);
  }
  return static_cast<double>(records) / s;
}

//! Records/s of a hand-written loop keeping `capacity` requests in flight on the same service.
double RunLoop(int64_t records, int capacity, std::chrono::microseconds latency) {
  sluice::testing::DelayedService service;
  service.Start();
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  int64_t done = 0, sum = 0;
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < records; ++i) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return in_flight < capacity; });
    ++in_flight;
    lock.unlock();
    service.Submit(latency, [&, i] {
      std::lock_guard<std::mutex> l(mu);
      --in_flight;
      ++done;
      sum += i * 2;
      cv.notify_one();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done == records; });
  }
  const double s = Seconds(start);
  service.Stop();
  if (sum != records * (records - 1)) std::exit(1);
  return static_cast<double>(records) / s;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t records = argc > 1 ? std::atoll(argv[1]) : 300000;
  const int capacity = argc > 2 ? std::atoi(argv[2]) : 100;
  const auto latency = std::chrono::microseconds(argc > 3 ? std::atoll(argv[3]) : 1000);
  const int rounds = argc > 4 ? std::atoi(argv[4]) : 3;
  if (records <= 0 || capacity <= 0 || latency.count() <= 0 || rounds <= 0) {
    std::fprintf(stderr, "usage: async_bench [records] [capacity] [latency_us] [rounds]\n");
    return 2;
  }
  const double ideal = capacity * 1e6 / static_cast<double>(latency.count());
  std::printf("%lld records, capacity %d, latency %lld us: ideal %.0f records/s\n",
              static_cast<long long>(records), capacity, static_cast<long long>(latency.count()),
              ideal);
  std::vector<double> loop, unordered, ordered;
  for (int r = 0; r < rounds; ++r) {  // interleaved, so that load changes hit all alike
    loop.push_back(RunLoop(records, capacity, latency));
    unordered.push_back(
        RunOperator(sluice::AsyncOutputMode::kUnordered, records, capacity, latency));
    ordered.push_back(RunOperator(sluice::AsyncOutputMode::kOrdered, records, capacity, latency));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double l = median(loop);
  std::printf("%-28s %12s %10s %10s\n", "case (median)", "records/s", "vs loop", "vs ideal");
  std::printf("%-28s %12.0f %10.2f %10.2f\n", "hand-written loop", l, 1.0, l / ideal);
  for (auto [name, v] :
       {std::pair{"UnorderedWait", &unordered}, std::pair{"OrderedWait", &ordered}}) {
    const double m = median(*v);
    std::printf("%-28s %12.0f %10.2f %10.2f\n", name, m, m / l, m / ideal);
  }
  return 0;
}
