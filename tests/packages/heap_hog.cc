// generator -> key_by(n) -> keyed state holding `value-bytes` bytes per key -> discard: heap state
// that grows with every record, for the TaskManager's memory budget (HeapStateLedger).
//   args: records (100000000), value-bytes (1024), rate (per source subtask per second, 0 =
//         unlimited)
// Parallelism comes from `sluice run --parallelism`.
#include <memory>
#include <string>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {

class Hoard final : public sluice::KeyedProcessFunction<int64_t, int64_t, int64_t> {
 public:
  explicit Hoard(size_t bytes) : bytes_(bytes) {}
  void Open(sluice::KeyedContext<int64_t>& ctx) override {
    kept_ = ctx.GetState<std::string>("kept");
  }
  void ProcessElement(const int64_t& v, sluice::KeyedContext<int64_t>&,
                      sluice::Collector<int64_t>& out) override {
    kept_.Update(std::string(bytes_, 'x'));
    out.Collect(v);
  }

 private:
  size_t bytes_;
  sluice::ValueState<std::string> kept_;
};

}  // namespace

SLUICE_JOB(env) {
  env.SetJobName("heap hog");
  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(env.IntArg("records", 100000000));
  gen.rate = static_cast<double>(env.IntArg("rate", 0));
  const auto bytes = static_cast<size_t>(env.IntArg("value-bytes", 1024));
  sluice::AddGenerator(
      env, gen, [](uint64_t i) { return static_cast<int64_t>(i); }, "Numbers")
      .Uid("numbers")
      .KeyBy([](const int64_t& v) { return v; })
      .Process([bytes] { return std::make_unique<Hoard>(bytes); }, "Hoard")
      .Uid("hoard")
      .SinkTo(sluice::MakeDiscardingSink<int64_t>(), "Discard")
      .Uid("sink");
}
