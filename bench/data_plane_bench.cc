// data_plane_bench: the per-record user-space cost of the data plane, on one thread and without any
// thread hand-off or socket: RecordWriter::Emit (serialize, frame, partition, copy into a 32 KiB
// buffer) and, on the consuming side, RecordReader + deserialization. Comparing these with the
// figures of run_throughput.sh separates what records cost from what buffers (wake-ups, syscalls)
// cost. For tuning; not a test.
//   build/bench/data_plane_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <memory>

#include "sluice/key_groups.h"
#include "sluice/runtime.h"
#include "sluice/serialization.h"
#include "taskmanager/network/partition_manager.h"
#include "taskmanager/network/record_writer.h"

namespace {

using sluice::PartitionKind;
using sluice::network::BufferPtr;
using sluice::network::RecordReader;
using sluice::network::RecordWriter;
using sluice::network::ResultPartition;

//! The record of bench/throughput_job.cc.
struct Event {
  int64_t key = 0;
  int64_t value = 0;
  SLUICE_FIELDS(key, value)
};

//! The record of bench/network_job.cc: exactly 100 bytes serialized, no allocation.
struct Fixed100 {
  int64_t id = 0;
  int64_t created_ns = 0;
  std::array<char, 84> payload{};
  SLUICE_FIELDS(id, created_ns, payload)
};

constexpr size_t kBufferSize = 32 * 1024;  // taskmanager.memory.segment-size's default
constexpr int kChannels = 2;
// Records between drains: the queues never fill, so Add never blocks.
constexpr int kDrainEvery = 4096;

int32_t EventKeyHash(const void* record) {
  return sluice::KeyHash(static_cast<const Event*>(record)->key);
}

//! A partition with `kChannels` subpartitions and a pool that holds far more than kDrainEvery
//! records.
std::shared_ptr<ResultPartition> MakePartition() {
  constexpr int kBuffers = 64;
  auto global =
      std::make_shared<sluice::network::NetworkBufferPool>(kBuffers * kBufferSize, kBufferSize);
  auto pool = *sluice::network::LocalBufferPool::Create(global, kBuffers, "bench");
  return std::make_shared<ResultPartition>("bench.partition", kChannels, kBuffers, pool);
}

template <typename Fn>
void Drain(ResultPartition& partition, Fn&& on_buffer) {
  for (int c = 0; c < partition.size(); ++c) {
    while (BufferPtr b = partition.subpartition(c).Poll()) on_buffer(c, *b);
  }
}

void RunWriter(benchmark::State& state, PartitionKind kind, bool read_back, bool one_key = false) {
  auto partition = MakePartition();
  RecordWriter writer(partition, kind, sluice::kDefaultMaxParallelism,
                      kind == PartitionKind::kHash ? EventKeyHash : nullptr,
                      &sluice::SerializeErased<Event>, 0);
  RecordReader readers[kChannels];
  int64_t sum = 0;
  auto consume = [&](int channel, const sluice::network::Buffer& b) {
    if (!read_back) return;
    readers[channel].Read(b.data, b.size, [&](const uint8_t* data, size_t size) {
      Event e;
      sluice::DeserializeRecord(data, size, e);
      sum += e.value;
    });
  };
  uint64_t i = 0;
  for (auto _ : state) {
    Event e{one_key ? 7 : static_cast<int64_t>((i * 2654435761u) % 10000),
            static_cast<int64_t>(i % 100)};
    writer.Emit(&e);
    if (++i % kDrainEvery == 0) Drain(*partition, consume);
  }
  writer.Flush();
  Drain(*partition, consume);
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

void BM_EmitHash(benchmark::State& state) { RunWriter(state, PartitionKind::kHash, false); }
BENCHMARK(BM_EmitHash);

//! Every record has the same key (as bench/network_job.cc): one channel, no alternation.
void BM_EmitHashOneKey(benchmark::State& state) {
  RunWriter(state, PartitionKind::kHash, false, true);
}
BENCHMARK(BM_EmitHashOneKey);

//! Fixed100 serialized field by field, each field with its own bounds check: what
//! SerializeRecord did before its fixed-width path (sluice::kFixedWidth).
void SerializeFieldByField(const void* record, sluice::ByteWriter& out) {
  sluice::Serializer<Fixed100>::Write(*static_cast<const Fixed100*>(record), out);
}

//! The source side of the network benchmark: 100-byte records, one key (one channel).
void EmitFixed100OneKey(benchmark::State& state,
                        void (*serialize)(const void*, sluice::ByteWriter&)) {
  auto partition = MakePartition();
  RecordWriter writer(
      partition, PartitionKind::kHash, sluice::kDefaultMaxParallelism,
      [](const void* r) { return sluice::KeyHash(static_cast<const Fixed100*>(r)->id * 0 + 7); },
      serialize, 0);
  uint64_t i = 0;
  std::array<char, 84> payload;
  payload.fill('x');
  for (auto _ : state) {
    Fixed100 r{static_cast<int64_t>(i), 0, payload};
    writer.Emit(&r);
    if (++i % kDrainEvery == 0) Drain(*partition, [](int, const sluice::network::Buffer&) {});
  }
  writer.Flush();
  Drain(*partition, [](int, const sluice::network::Buffer&) {});
  state.SetItemsProcessed(state.iterations());
}
void BM_EmitFixed100OneKey(benchmark::State& state) {
  EmitFixed100OneKey(state, &sluice::SerializeErased<Fixed100>);
}
BENCHMARK(BM_EmitFixed100OneKey);
void BM_EmitFixed100OneKeyFieldByField(benchmark::State& state) {
  EmitFixed100OneKey(state, &SerializeFieldByField);
}
BENCHMARK(BM_EmitFixed100OneKeyFieldByField);

void BM_EmitForward(benchmark::State& state) { RunWriter(state, PartitionKind::kForward, false); }
BENCHMARK(BM_EmitForward);

void BM_EmitHashAndReadBack(benchmark::State& state) {
  RunWriter(state, PartitionKind::kHash, true);
}
BENCHMARK(BM_EmitHashAndReadBack);

//! The same records serialized and memcpy'd into a preallocated buffer: a floor for Emit.
void BM_SerializeIntoFlatBuffer(benchmark::State& state) {
  std::unique_ptr<uint8_t[]> buffer(new uint8_t[kBufferSize]);
  size_t used = 0;
  sluice::ByteWriter scratch;
  uint64_t i = 0;
  for (auto _ : state) {
    Event e{static_cast<int64_t>((i * 2654435761u) % 10000), static_cast<int64_t>(i % 100)};
    scratch.Clear();
    sluice::SerializeRecord(e, scratch);
    uint32_t len = static_cast<uint32_t>(scratch.size());
    if (used + 4 + len > kBufferSize) used = 0;
    std::memcpy(buffer.get() + used, &len, 4);
    std::memcpy(buffer.get() + used + 4, scratch.data(), len);
    used += 4 + len;
    benchmark::DoNotOptimize(buffer.get());
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SerializeIntoFlatBuffer);

}  // namespace

BENCHMARK_MAIN();
