// network_job: the job package of the network-stack benchmarks (bench/README.md, "Network stack").
//
//   mode=exchange (run with --parallelism 2 on 2 TaskManagers x 1 slot):
//     generator (1 split: only source subtask 0 produces) -> map -> key_by(constant key) -> sink
//     The constant key is chosen here so that its key group belongs to the LAST sink subtask
//     (parallelism - 1), which the scheduler places in the other TaskManager's slot: every record
//     crosses the TCP data plane. The sink is a keyed process function followed by a chained
//     discarding sink that never receives anything.
//   mode=chained (run with --parallelism 1):
//     generator -> map -> sink, all chained in one task: records are passed as objects.
//
//   args: records (20000000), payload (83 bytes: a record serializes to exactly 100 bytes),
//         rate (0 = unthrottled; records per second of the producing subtask),
//         buffer_timeout_ms (unset: the cluster's execution.buffer-timeout),
//         latency (0; 1 = stamp records with CLOCK_MONOTONIC at creation and have the sink keep
//                  now - stamp for every record),
//         out (optional directory: each sink subtask writes sink-<subtask>.txt there at end of
//              input with its record count, the transfer time and, with latency=1, latency
//              percentiles),
//         map (1; 0 drops the map operator, for diagnosis).
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {

struct NetRecord {
  int64_t id = 0;
  int64_t created_ns = 0;  // CLOCK_MONOTONIC at creation (latency mode, and record 0), else 0
  std::string payload;
  SLUICE_FIELDS(id, created_ns, payload)
};

int64_t MonotonicNanos() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

//! The smallest non-negative key whose key group maps to operator `target` (Flink's formulas).
int64_t KeyForOperator(int target, int parallelism, int max_parallelism) {
  for (int64_t k = 0;; ++k) {
    int kg = sluice::KeyGroupFor(k, max_parallelism);
    if (sluice::OperatorIndexForKeyGroup(max_parallelism, parallelism, kg) == target) return k;
  }
}

//! What a sink subtask saw: record count, payload bytes, the transfer time (from the creation of
//! record 0, stamped by the source, to the end of input here: the exchange's counterpart of the TCP
//! baseline's first send to last receive) and (latency mode) one latency per record.
//! Written to <out>/sink-<subtask>.txt as one line of key=value pairs at end of input.
class SinkStats {
 public:
  SinkStats(std::string out_dir, bool latency) : out_dir_(std::move(out_dir)), latency_(latency) {}

  void Add(const NetRecord& r) {
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
class KeyedStatsSink final : public sluice::KeyedProcessFunction<int64_t, NetRecord, NetRecord> {
 public:
  explicit KeyedStatsSink(SinkStats stats) : stats_(std::move(stats)) {}
  void ProcessElement(const NetRecord& in, sluice::KeyedContext<int64_t>&,
                      sluice::Collector<NetRecord>&) override {
    stats_.Add(in);
  }
  void EndInput(sluice::KeyedContext<int64_t>& ctx, sluice::Collector<NetRecord>&) override {
    stats_.Write(ctx.runtime().SubtaskIndex());
  }

 private:
  SinkStats stats_;
};

//! The chained pipeline's sink.
class StatsSink final : public sluice::SinkOperator<NetRecord> {
 public:
  explicit StatsSink(SinkStats stats) : stats_(std::move(stats)) {}
  void Process(const NetRecord& in) override { stats_.Add(in); }
  void EndInput() override { stats_.Write(ctx_->SubtaskIndex()); }

 private:
  SinkStats stats_;
};

}  // namespace

SLUICE_JOB(env) {
  const std::string mode = env.Arg("mode", "exchange");
  const int64_t records = env.IntArg("records", 20'000'000);
  const int64_t payload = env.IntArg("payload", 83);
  const int64_t rate = env.IntArg("rate", 0);
  const bool latency = env.IntArg("latency", 0) != 0;
  const bool with_map = env.IntArg("map", 1) != 0;
  const std::string out = env.Arg("out");
  if (mode != "exchange" && mode != "chained") {
    throw sluice::JobDefinitionError("mode must be 'exchange' or 'chained', got '" + mode + "'");
  }
  if (records <= 0)
    throw sluice::JobDefinitionError("records must be positive (the job is bounded)");
  if (payload < 0 || payload > (1 << 20)) throw sluice::JobDefinitionError("payload out of range");
  if (rate < 0) throw sluice::JobDefinitionError("rate must be >= 0");
  if (env.HasArg("buffer_timeout_ms")) env.SetBufferTimeout(env.IntArg("buffer_timeout_ms", -1));
  env.SetJobName("network-" + mode);

  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(records);
  gen.splits = 1;  // only source subtask 0 owns a split
  gen.rate = static_cast<double>(rate);
  const std::string bytes(static_cast<size_t>(payload), 'x');
  auto stream = sluice::AddGenerator(
                    env, gen,
                    [bytes, latency](uint64_t i) {
                      return NetRecord{static_cast<int64_t>(i),
                                       latency || i == 0 ? MonotonicNanos() : 0, bytes};
                    },
                    "Generator")
                    .Uid("generator");
  if (with_map) {
    stream = stream.Map([](const NetRecord& r) { return r; }, "Map").Uid("map");
  }

  if (mode == "chained") {
    stream
        .SinkTo([out, latency]() { return std::make_unique<StatsSink>(SinkStats(out, latency)); },
                "Sink")
        .Uid("sink");
    return;
  }

  const int parallelism = std::max(1, env.default_parallelism());
  const int max_parallelism = sluice::kDefaultMaxParallelism;
  const int64_t key = KeyForOperator(parallelism - 1, parallelism, max_parallelism);
  stream.KeyBy([key](const NetRecord&) { return key; })
      .Process(
          [out, latency]() { return std::make_unique<KeyedStatsSink>(SinkStats(out, latency)); },
          "Sink")
      .Uid("sink")
      .SetMaxParallelism(max_parallelism)
      .SinkTo(sluice::MakeDiscardingSink<NetRecord>(), "Discard")
      .Uid("discard");
}
