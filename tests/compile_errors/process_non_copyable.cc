// A function passed as a std::unique_ptr (Flink's process(new F())) must be copied for each
// subtask; this one cannot be.
// EXPECT_ERROR: not copy-constructible.*pass a factory instead: \.Process\(\[\] \{ return
// std::make_unique<F>\(\); \}\)
#include <memory>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {
class Tag final : public sluice::ProcessFunction<int64_t, int64_t> {
 public:
  Tag() = default;
  Tag(const Tag&) = delete;
  void ProcessElement(const int64_t& in, sluice::ProcessContext&,
                      sluice::Collector<int64_t>& out) override {
    out.Collect(in + *offset_);
  }

 private:
  std::unique_ptr<int64_t> offset_ = std::make_unique<int64_t>(1);
};
}  // namespace

SLUICE_JOB(env) {
  sluice::GeneratorOptions gen;
  sluice::AddGenerator(
      env, gen, [](uint64_t i) { return static_cast<int64_t>(i); }, "Numbers")
      .Process(std::make_unique<Tag>())
      .SinkTo(sluice::MakeDiscardingSink<int64_t>());
}
