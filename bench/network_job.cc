// network_job: the job package of the network-stack benchmarks (bench/README.md, "Network stack").
//
//   mode=exchange (run with --parallelism 2 on 2 TaskManagers x 1 slot):
//     generator (1 split: only source subtask 0 produces) -> key_by(constant key) -> sink
//     The constant key (or, with keys=N, each of N keys) is chosen here so that its key group
//     belongs to the LAST sink subtask
//     (parallelism - 1), which the scheduler places in the other TaskManager's slot: every record
//     crosses the TCP data plane. The sink is a keyed process function followed by a chained
//     discarding sink that never receives anything.
//   mode=chained (run with --parallelism 1):
//     generator -> sink, chained in one task: records are passed as objects.
//
//   args: records (20000000),
//         record (fixed: {int64 id, int64 created_ns, char[84]}; string: the payload is an 83-byte
//                 std::string, allocated per record; either serializes to exactly 100 bytes),
//         payload (84 for fixed, 83 for string; other sizes only with record=string),
//         rate (0 = unthrottled; records per second of the producing subtask),
//         buffer_timeout_ms (unset: the cluster's execution.buffer-timeout),
//         latency (0; 1 = stamp records with CLOCK_MONOTONIC at creation and have the sink keep
//                  now - stamp for every record),
//         out (optional directory: each sink subtask writes sink-<subtask>.txt there at end of
//              input with its record count, the transfer time and, with latency=1, latency
//              percentiles),
//         map (0; 1 adds a map operator that copies each record after the generator),
//         keys (1; mode=exchange: record i gets the (i mod keys)-th of `keys` distinct keys, all
//               of the last sink subtask; a power of two).
#include <time.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {

// Both serialize to exactly 100 bytes: 8 + 8 + 84 bytes, or 8 + 8 + a 1-byte length + 83 bytes.
//! record=fixed (default): a fixed-width event, created without allocating.
struct FixedRecord {
  int64_t id = 0;
  int64_t created_ns = 0;  // CLOCK_MONOTONIC at creation (latency mode, and record 0), else 0
  std::array<char, 84> payload{};
  SLUICE_FIELDS(id, created_ns, payload)
};
//! record=string: the payload is a heap-allocated string (one allocation per record at the source
//! and a copy at the sink).
struct StringRecord {
  int64_t id = 0;
  int64_t created_ns = 0;
  std::string payload;
  SLUICE_FIELDS(id, created_ns, payload)
};

int64_t MonotonicNanos() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

//! The first `n` keys (0, 1, ...) whose key groups belong to operator subtask `target` (Flink's
//! formulas).
std::vector<int64_t> KeysForOperator(int64_t n, int target, int parallelism, int max_parallelism) {
  std::vector<int64_t> keys;
  for (int64_t k = 0; static_cast<int64_t>(keys.size()) < n; ++k) {
    int kg = sluice::KeyGroupFor(k, max_parallelism);
    if (sluice::OperatorIndexForKeyGroup(max_parallelism, parallelism, kg) == target) {
      keys.push_back(k);
    }
  }
  return keys;
}

//! What a sink subtask saw: record count, payload bytes, the transfer time (from the creation of
//! record 0, stamped by the source, to the end of input here: the exchange's counterpart of the TCP
//! baseline's first send to last receive) and (latency mode) one latency per record.
//! Written to <out>/sink-<subtask>.txt as one line of key=value pairs at end of input.
class SinkStats {
 public:
  SinkStats(std::string out_dir, bool latency) : out_dir_(std::move(out_dir)), latency_(latency) {}

  template <typename R>
  void Add(const R& r) {
    if (r.id == 0) first_created_ns_ = r.created_ns;
    ++records_;
    bytes_ += r.payload.size();
    if (latency_) latencies_ns_.push_back(MonotonicNanos() - r.created_ns);
  }

  void Write(int subtask) {
    if (out_dir_.empty()) return;
    std::string line = "subtask=" + std::to_string(subtask) +
                       " records=" + std::to_string(records_) +
                       " payload_bytes=" + std::to_string(bytes_);
    if (first_created_ns_ > 0) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), " transfer_s=%.6f",
                    static_cast<double>(MonotonicNanos() - first_created_ns_) / 1e9);
      line += buf;
    }
    if (latency_ && !latencies_ns_.empty()) {
      std::sort(latencies_ns_.begin(), latencies_ns_.end());
      auto pct = [this](double p) {
        size_t i = static_cast<size_t>(p * static_cast<double>(latencies_ns_.size() - 1) + 0.5);
        return static_cast<double>(latencies_ns_[i]) / 1e3;
      };
      double sum = 0;
      for (int64_t v : latencies_ns_) sum += static_cast<double>(v);
      char buf[256];
      std::snprintf(buf, sizeof(buf),
                    " p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f mean_us=%.1f",
                    pct(0.5), pct(0.9), pct(0.99), pct(0.999),
                    static_cast<double>(latencies_ns_.back()) / 1e3,
                    sum / static_cast<double>(latencies_ns_.size()) / 1e3);
      line += buf;
    }
    line += '\n';
    std::filesystem::create_directories(out_dir_);
    std::string path = out_dir_ + "/sink-" + std::to_string(subtask) + ".txt";
    std::string tmp = path + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) throw std::runtime_error("network_job: cannot write '" + tmp + "'");
    bool ok = std::fwrite(line.data(), 1, line.size(), f) == line.size();
    ok = std::fclose(f) == 0 && ok;
    if (!ok) throw std::runtime_error("network_job: write to '" + tmp + "' failed");
    std::filesystem::rename(tmp, path);  // the driver never sees a half-written report
  }

 private:
  std::string out_dir_;
  bool latency_;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
  int64_t first_created_ns_ = 0;  // creation of record 0, if this subtask received it
  std::vector<int64_t> latencies_ns_;
};

//! The exchange pipeline's sink: keyed (so that the edge into it is a hash edge), emits nothing.
template <typename R>
class KeyedStatsSink final : public sluice::KeyedProcessFunction<int64_t, R, R> {
 public:
  explicit KeyedStatsSink(SinkStats stats) : stats_(std::move(stats)) {}
  void ProcessElement(const R& in, sluice::KeyedContext<int64_t>&, sluice::Collector<R>&) override {
    stats_.Add(in);
  }
  void EndInput(sluice::KeyedContext<int64_t>& ctx, sluice::Collector<R>&) override {
    stats_.Write(ctx.runtime().SubtaskIndex());
  }

 private:
  SinkStats stats_;
};

//! The chained pipeline's sink.
template <typename R>
class StatsSink final : public sluice::SinkOperator<R> {
 public:
  explicit StatsSink(SinkStats stats) : stats_(std::move(stats)) {}
  void Process(const R& in) override { stats_.Add(in); }
  void EndInput() override { stats_.Write(this->ctx_->SubtaskIndex()); }

 private:
  SinkStats stats_;
};

struct Options {
  std::string mode, out;
  int64_t records = 0, payload = 0, rate = 0, keys = 1;
  bool latency = false, with_map = false;
};

//! The payload every record carries, prepared once: for record=fixed a copy of constant size
//! (a few vector moves; copying from the string with a run-time length compiled to `rep movs`,
//! which cost the source about as much as serializing the record).
template <typename R>
struct Payload {
  std::string bytes;
};
template <>
struct Payload<FixedRecord> {
  std::array<char, 84> bytes{};
};

template <typename R>
Payload<R> MakePayload(size_t size) {
  Payload<R> p;
  if constexpr (std::is_same_v<R, StringRecord>) {
    p.bytes.assign(size, 'x');
  } else {
    p.bytes.fill('x');
  }
  return p;
}

template <typename R>
R MakeRecord(uint64_t i, bool stamp, const Payload<R>& payload) {
  return R{static_cast<int64_t>(i), stamp ? MonotonicNanos() : 0, payload.bytes};
}

template <typename R>
void Build(sluice::StreamEnvironment& env, const Options& o) {
  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(o.records);
  gen.splits = 1;  // only source subtask 0 owns a split
  gen.rate = static_cast<double>(o.rate);
  const Payload<R> payload = MakePayload<R>(static_cast<size_t>(o.payload));
  const bool latency = o.latency;
  auto stream =
      sluice::AddGenerator(
          env, gen,
          [payload, latency](uint64_t i) { return MakeRecord<R>(i, latency || i == 0, payload); },
          "Generator")
          .Uid("generator");
  if (o.with_map) {
    stream = stream.Map([](const R& r) { return r; }, "Map").Uid("map");
  }
  const std::string out = o.out;
  if (o.mode == "chained") {
    stream
        .SinkTo(
            [out, latency]() { return std::make_unique<StatsSink<R>>(SinkStats(out, latency)); },
            "Sink")
        .Uid("sink");
    return;
  }
  const int parallelism = std::max(1, env.default_parallelism());
  const int max_parallelism = sluice::kDefaultMaxParallelism;
  // Record i has key keys[i % keys]; every key belongs to the last sink subtask.
  const std::vector<int64_t> keys =
      KeysForOperator(o.keys, parallelism - 1, parallelism, max_parallelism);
  const uint64_t mask = static_cast<uint64_t>(o.keys) - 1;  // keys is a power of two
  stream.KeyBy([keys, mask](const R& r) { return keys[static_cast<uint64_t>(r.id) & mask]; })
      .Process(
          [out, latency]() { return std::make_unique<KeyedStatsSink<R>>(SinkStats(out, latency)); },
          "Sink")
      .Uid("sink")
      .SetMaxParallelism(max_parallelism)
      .SinkTo(sluice::MakeDiscardingSink<R>(), "Discard")
      .Uid("discard");
}

}  // namespace

SLUICE_JOB(env) {
  Options o;
  o.mode = env.Arg("mode", "exchange");
  o.records = env.IntArg("records", 20'000'000);
  const std::string record = env.Arg("record", "fixed");
  o.payload = env.IntArg("payload", record == "string" ? 83 : 84);
  o.rate = env.IntArg("rate", 0);
  o.latency = env.IntArg("latency", 0) != 0;
  o.with_map = env.IntArg("map", 0) != 0;
  o.keys = env.IntArg("keys", 1);
  o.out = env.Arg("out");
  if (o.mode != "exchange" && o.mode != "chained") {
    throw sluice::JobDefinitionError("mode must be 'exchange' or 'chained', got '" + o.mode + "'");
  }
  if (record != "fixed" && record != "string") {
    throw sluice::JobDefinitionError("record must be 'fixed' or 'string', got '" + record + "'");
  }
  if (o.records <= 0)
    throw sluice::JobDefinitionError("records must be positive (the job is bounded)");
  if (o.payload < 0 || o.payload > (1 << 20))
    throw sluice::JobDefinitionError("payload out of range");
  if (record == "fixed" && o.payload != 84) {
    throw sluice::JobDefinitionError("record=fixed has an 84-byte payload; use record=string");
  }
  if (o.rate < 0) throw sluice::JobDefinitionError("rate must be >= 0");
  if (o.keys < 1 || o.keys > (1 << 20) || (o.keys & (o.keys - 1)) != 0) {
    throw sluice::JobDefinitionError("keys must be a power of two from 1 to 1048576");
  }
  if (env.HasArg("buffer_timeout_ms")) env.SetBufferTimeout(env.IntArg("buffer_timeout_ms", -1));
  env.SetJobName("network-" + o.mode);
  if (record == "fixed") {
    Build<FixedRecord>(env, o);
  } else {
    Build<StringRecord>(env, o);
  }
}
