// idle_split: a source with two splits, "busy" (a record every millisecond, event time advancing
// 10 ms per record) and "quiet" (one record at the start, then nothing), each with its own
// watermark generator (bounded out-of-orderness 0). Keyed 1 s tumbling counts follow. With
// `--arg idleness_ms=N` (N > 0) the quiet split goes idle after N ms and the watermark follows the
// busy split; with 0 the quiet split holds it at its one record for good. Unbounded.
#include <chrono>

#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {

constexpr int64_t kStart = 1767225600000;  // 2026-01-01T00:00:00Z

struct Event {
  int64_t key = 0;
  int64_t ts = 0;
  SLUICE_FIELDS(key, ts)
};

class TwoSplitSource final : public sluice::StreamOperator {
 public:
  explicit TwoSplitSource(sluice::WatermarkStrategy<Event> strategy)
      : strategy_(std::move(strategy)) {}
  void Open(sluice::RuntimeContext& ctx, sluice::Output& out) override {
    StreamOperator::Open(ctx, out);
    watermarks_ = std::make_unique<sluice::SourceWatermarks<Event>>(
        strategy_, ctx, out, std::vector<std::string>{"busy", "quiet"});
    watermarks_->StartPeriodicEmit();
  }
  sluice::SourceStatus PollNext(int64_t* wait_micros) override {
    if (!quiet_sent_) {
      watermarks_->OnRecord("quiet", Event{0, kStart});
      quiet_sent_ = true;
    }
    watermarks_->OnRecord("busy", Event{n_ % 4, kStart + n_ * 10});
    ++n_;
    *wait_micros = 1000;
    return sluice::SourceStatus::kNothingAvailable;
  }

 private:
  sluice::WatermarkStrategy<Event> strategy_;
  std::unique_ptr<sluice::SourceWatermarks<Event>> watermarks_;
  bool quiet_sent_ = false;
  int64_t n_ = 0;
};

class Count final : public sluice::AggregateFunction<Event, int64_t, int64_t> {
 public:
  int64_t CreateAccumulator() override { return 0; }
  int64_t Add(const Event&, int64_t n) override { return n + 1; }
  int64_t GetResult(const int64_t& n) override { return n; }
  int64_t Merge(int64_t a, const int64_t& b) override { return a + b; }
};

}  // namespace

SLUICE_JOB(env) {
  env.SetJobName("idle-split");
  const int64_t idleness_ms = env.IntArg("idleness_ms", 0);
  auto strategy = sluice::WatermarkStrategy<Event>::ForMonotonousTimestamps().WithTimestampAssigner(
      [](const Event& e) { return e.ts; });
  if (idleness_ms > 0) strategy = strategy.WithIdleness(std::chrono::milliseconds(idleness_ms));
  env.AddSource<Event>([strategy] { return std::make_unique<TwoSplitSource>(strategy); },
                       "Two splits")
      .KeyBy([](const Event& e) { return e.key; })
      .Window(sluice::TumblingEventTimeWindows::Of(std::chrono::seconds(1)))
      .Aggregate([] { return std::make_unique<Count>(); }, "Count per second")
      .SinkTo(sluice::MakeDiscardingSink<int64_t>(), "Discard");
}
