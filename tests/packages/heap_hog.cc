// generator -> key_by(n) -> keyed state holding `value-bytes` random bytes per key -> discard:
// state that grows with every record, for the TaskManager's memory budget (HeapStateLedger on
// heap state; the soak test on RocksDB).
//   args: records (100000000), value-bytes (1024), rate (per source subtask per second, 0 =
//         unlimited), keys (the key is the record number modulo this; 0: every record a new key)
// Parallelism comes from `sluice run --parallelism`.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
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
    // A key seen before is read first (with a bounded key space, cold keys come back from
    // RocksDB's files and block cache); its bytes are the same either way.
    if (const std::string* old = kept_.Get(); old != nullptr && old->size() != bytes_) {
      throw std::runtime_error("key " + std::to_string(v) + " holds a value of another size");
    }
    // Bytes that do not compress (splitmix64 of the key), so that RocksDB keeps them all.
    std::string value(bytes_, '\0');
    uint64_t x = static_cast<uint64_t>(v);
    for (size_t i = 0; i < bytes_; i += 8) {
      x += 0x9e3779b97f4a7c15ULL;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      std::memcpy(value.data() + i, &z, std::min<size_t>(8, bytes_ - i));
    }
    kept_.Update(std::move(value));
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
  const int64_t keys = env.IntArg("keys", 0);
  sluice::AddGenerator(
      env, gen, [](uint64_t i) { return static_cast<int64_t>(i); }, "Numbers")
      .Uid("numbers")
      .KeyBy([keys](const int64_t& v) { return keys > 0 ? v % keys : v; })
      .Process([bytes] { return std::make_unique<Hoard>(bytes); }, "Hoard")
      .Uid("hoard")
      .SinkTo(sluice::MakeDiscardingSink<int64_t>(), "Discard")
      .Uid("sink");
}
