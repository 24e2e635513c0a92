// serialization_bench: Google Benchmark micro-benchmarks of the SDK's record serialization — the
// per-record work every record pays twice when it crosses a network edge (serialize in the
// RecordWriter, deserialize in the consumer's InputOperator). For tuning; not a test.
//   build/bench/serialization_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sluice/key_groups.h"
#include "sluice/serialization.h"

namespace {

//! The record of bench/throughput_job.cc.
struct Event {
  int64_t key = 0;
  int64_t value = 0;
  SLUICE_FIELDS(key, value)
};

void BM_SerializeEvent(benchmark::State& state) {
  sluice::ByteWriter w;
  Event e{12345, 67};
  for (auto _ : state) {
    w.Clear();
    sluice::SerializeRecord(e, w);
    benchmark::DoNotOptimize(w.data());
    benchmark::ClobberMemory();
    ++e.value;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
}
BENCHMARK(BM_SerializeEvent);

void BM_DeserializeEvent(benchmark::State& state) {
  sluice::ByteWriter w;
  sluice::SerializeRecord(Event{12345, 67}, w);
  Event out;
  for (auto _ : state) {
    sluice::DeserializeRecord(w.data(), w.size(), out);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
}
BENCHMARK(BM_DeserializeEvent);

void BM_SerializeString(benchmark::State& state) {
  sluice::ByteWriter w;
  std::string s(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    w.Clear();
    sluice::SerializeRecord(s, w);
    benchmark::DoNotOptimize(w.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
}
BENCHMARK(BM_SerializeString)->Arg(8)->Arg(64)->Arg(1024);

void BM_DeserializeString(benchmark::State& state) {
  sluice::ByteWriter w;
  sluice::SerializeRecord(std::string(static_cast<size_t>(state.range(0)), 'x'), w);
  std::string out;
  for (auto _ : state) {
    sluice::DeserializeRecord(w.data(), w.size(), out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
}
BENCHMARK(BM_DeserializeString)->Arg(8)->Arg(64)->Arg(1024);

//! What the hash partitioner adds per record: Java-style hash, murmur, key group, channel.
//! Max parallelism and parallelism are runtime values there, as in RecordWriter (two divisions).
void BM_KeyGroupOfInt64(benchmark::State& state) {
  int max_parallelism = sluice::kDefaultMaxParallelism;
  int parallelism = 2;
  benchmark::DoNotOptimize(max_parallelism);
  benchmark::DoNotOptimize(parallelism);
  int64_t key = 0;
  for (auto _ : state) {
    int kg = sluice::KeyGroupFor(key, max_parallelism);
    benchmark::DoNotOptimize(sluice::OperatorIndexForKeyGroup(max_parallelism, parallelism, kg));
    ++key;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KeyGroupOfInt64);

//! The same channel choice without divisions: max parallelism is a power of two by default (and
//! MurmurHash is non-negative), so `% maxP` is a mask, and key group -> channel is a table lookup.
void BM_KeyGroupOfInt64ViaTable(benchmark::State& state) {
  int max_parallelism = sluice::kDefaultMaxParallelism;
  benchmark::DoNotOptimize(max_parallelism);
  std::vector<int> channel_of(static_cast<size_t>(max_parallelism));
  for (int kg = 0; kg < max_parallelism; ++kg) {
    channel_of[static_cast<size_t>(kg)] = sluice::OperatorIndexForKeyGroup(max_parallelism, 2, kg);
  }
  const int mask = max_parallelism - 1;
  int64_t key = 0;
  for (auto _ : state) {
    int kg = sluice::MurmurHash(sluice::KeyHash(key)) & mask;
    benchmark::DoNotOptimize(channel_of[static_cast<size_t>(kg)]);
    ++key;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KeyGroupOfInt64ViaTable);

}  // namespace

BENCHMARK_MAIN();
