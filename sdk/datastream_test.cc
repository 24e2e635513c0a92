#include "sluice/datastream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/job.h"
#include "sluice/key_groups.h"
#include "sluice/serialization.h"
#include "sluice/testing/fake_runtime_context.h"

namespace sluice {
namespace {

// ---- test doubles ----

using testing::FakeRuntimeContext;

//! Copies every emitted record, which must be of type T.
template <typename T>
class CapturingOutput final : public Output {
 public:
  void Emit(const void* record) override { records.push_back(*static_cast<const T*>(record)); }
  std::vector<T> records;
};

//! Source that emits a fixed list of records in one poll.
template <typename T>
class VectorSource final : public StreamOperator {
 public:
  explicit VectorSource(std::vector<T> records) : records_(std::move(records)) {}
  SourceStatus PollNext(int64_t*) override {
    for (const T& r : records_) out_->Emit(&r);
    return SourceStatus::kEndOfInput;
  }

 private:
  std::vector<T> records_;
};

template <typename T>
DataStream<T> AddVectorSource(StreamEnvironment& env, std::vector<T> records,
                              const std::string& name = "Source") {
  return env.AddSource<T>([records]() { return std::make_unique<VectorSource<T>>(records); }, name);
}

DataStream<int> AddIntSource(StreamEnvironment& env, const std::string& name = "Source") {
  return AddVectorSource<int>(env, {1, 2, 3}, name);
}

//! Sink that appends what it receives to a vector owned by the test.
template <typename T>
class CapturingSink final : public SinkOperator<T> {
 public:
  explicit CapturingSink(std::vector<T>* into) : into_(into) {}
  void Process(const T& in) override { into_->push_back(in); }

 private:
  std::vector<T>* into_;
};

//! An operator instantiated from a node's factory and opened against test doubles.
template <typename OUT>
struct OpenedOperator {
  FakeRuntimeContext ctx;
  CapturingOutput<OUT> out;
  std::unique_ptr<StreamOperator> op;
};

template <typename OUT>
std::unique_ptr<OpenedOperator<OUT>> Instantiate(const NodeSpec& node) {
  auto o = std::make_unique<OpenedOperator<OUT>>();
  o->op = node.factory();
  o->op->Open(o->ctx, o->out);
  return o;
}

template <typename T>
std::vector<uint8_t> Bytes(const T& v) {
  ByteWriter w;
  SerializeRecord(v, w);
  return std::vector<uint8_t>(w.data(), w.data() + w.size());
}

using Word = std::pair<std::string, int64_t>;

// ---- graph building ----

TEST(DataStreamGraphTest, NodesHaveIdsInCreationOrderWithNamesAndUids) {
  StreamEnvironment env({}, 2);
  std::vector<int> sink_records;
  AddIntSource(env, "numbers")
      .Map([](const int& x) { return x * 2; })
      .Name("doubled")
      .Uid("double-uid")
      .Filter([](const int& x) { return x > 2; })
      .DisableChaining()
      .SinkTo([&sink_records]() { return std::make_unique<CapturingSink<int>>(&sink_records); },
              "collect");
  env.Finalize();

  const auto& nodes = env.nodes();
  ASSERT_EQ(nodes.size(), 4u);
  for (uint32_t i = 0; i < nodes.size(); ++i) EXPECT_EQ(nodes[i].id, i);
  EXPECT_EQ(nodes[0].name, "numbers");
  EXPECT_EQ(nodes[1].name, "doubled");
  EXPECT_EQ(nodes[2].name, "Filter");
  EXPECT_EQ(nodes[3].name, "collect");
  EXPECT_EQ(nodes[0].uid, "node-0");
  EXPECT_EQ(nodes[1].uid, "double-uid");
  EXPECT_EQ(nodes[2].uid, "node-2");
  EXPECT_EQ(nodes[3].uid, "node-3");
  EXPECT_TRUE(nodes[0].is_source);
  EXPECT_FALSE(nodes[1].is_source);
  EXPECT_TRUE(nodes[1].chainable);
  EXPECT_FALSE(nodes[2].chainable);
  EXPECT_TRUE(nodes[0].inputs.empty());
  for (uint32_t i = 1; i < 4; ++i) {
    ASSERT_EQ(nodes[i].inputs.size(), 1u) << i;
    EXPECT_EQ(nodes[i].inputs[0].source_id, i - 1);
  }
  EXPECT_NE(nodes[0].serialize_output, nullptr);
  EXPECT_NE(nodes[2].serialize_output, nullptr);
  EXPECT_EQ(nodes[3].serialize_output, nullptr);  // sinks emit nothing
  for (const auto& n : nodes) EXPECT_TRUE(static_cast<bool>(n.factory)) << n.name;
}

TEST(DataStreamGraphTest, DefaultNamesOfTransformations) {
  StreamEnvironment env({}, 1);
  auto src = AddVectorSource<Word>(env, {});
  src.Map([](const Word& w) { return w.second; });
  src.Filter([](const Word&) { return true; });
  src.FlatMap<int>([](const Word&, Collector<int>&) {});
  src.KeyBy([](const Word& w) { return w.first; }).Reduce([](const Word& a, const Word&) {
    return a;
  });
  src.SinkTo([]() { return std::make_unique<CapturingSink<Word>>(nullptr); });
  env.Finalize();
  std::vector<std::string> names;
  for (const auto& n : env.nodes()) names.push_back(n.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"Source", "Map", "Filter", "FlatMap", "Reduce", "Sink"}));
}

TEST(DataStreamGraphTest, DefaultParallelismAndMaxParallelismResolution) {
  StreamEnvironment env({}, 4);
  auto src = AddIntSource(env).SetParallelism(1);
  src.Map([](const int& x) { return x; }).Name("default");
  src.Map([](const int& x) { return x; }).Name("wide").SetParallelism(200);
  src.Map([](const int& x) { return x; }).Name("capped").SetParallelism(3).SetMaxParallelism(64);
  env.Finalize();
  const auto& n = env.nodes();
  EXPECT_EQ(n[0].parallelism, 1);
  EXPECT_EQ(n[0].max_parallelism, 128);
  EXPECT_EQ(n[1].parallelism, 4);
  EXPECT_EQ(n[1].max_parallelism, 128);
  EXPECT_EQ(n[2].parallelism, 200);
  EXPECT_EQ(n[2].max_parallelism, 512);  // 1.5 x 200 rounded up to a power of two
  EXPECT_EQ(n[3].parallelism, 3);
  EXPECT_EQ(n[3].max_parallelism, 64);
}

TEST(DataStreamGraphTest, EnvironmentMaxParallelismAppliesToNodesWithoutTheirOwn) {
  StreamEnvironment env({}, 2);
  env.SetMaxParallelism(1000);
  AddIntSource(env).Map([](const int& x) { return x; }).SetMaxParallelism(16);
  env.Finalize();
  EXPECT_EQ(env.nodes()[0].max_parallelism, 1000);
  EXPECT_EQ(env.nodes()[1].max_parallelism, 16);
}

TEST(DataStreamGraphTest, ZeroDefaultParallelismMeansOne) {
  StreamEnvironment env({}, 0);
  AddIntSource(env).Map([](const int& x) { return x; });
  env.Finalize();
  EXPECT_EQ(env.default_parallelism(), 0);
  EXPECT_EQ(env.nodes()[0].parallelism, 1);
  EXPECT_EQ(env.nodes()[1].parallelism, 1);
}

TEST(DataStreamGraphTest, ForwardWhenParallelismEqualRebalanceWhenNot) {
  StreamEnvironment env({}, 2);
  auto src = AddIntSource(env);
  auto same = src.Map([](const int& x) { return x; });
  auto wider = same.Map([](const int& x) { return x; }).SetParallelism(3);
  wider.Map([](const int& x) { return x; }).SetParallelism(3);
  env.Finalize();
  const auto& n = env.nodes();
  EXPECT_EQ(n[1].inputs[0].kind, PartitionKind::kForward);
  EXPECT_EQ(n[2].inputs[0].kind, PartitionKind::kRebalance);
  EXPECT_EQ(n[3].inputs[0].kind, PartitionKind::kForward);
  EXPECT_FALSE(static_cast<bool>(n[1].inputs[0].key_hash));
}

TEST(DataStreamGraphTest, ExplicitPartitioningIsKept) {
  StreamEnvironment env({}, 2);
  auto src = AddIntSource(env);
  src.Rebalance().Map([](const int& x) { return x; }).Name("rebalanced");
  src.Broadcast().Map([](const int& x) { return x; }).Name("broadcast");
  src.Forward().Map([](const int& x) { return x; }).Name("forward");
  env.Finalize();
  const auto& n = env.nodes();
  EXPECT_EQ(n[1].inputs[0].kind, PartitionKind::kRebalance);  // even with equal parallelism
  EXPECT_EQ(n[2].inputs[0].kind, PartitionKind::kBroadcast);
  EXPECT_EQ(n[3].inputs[0].kind, PartitionKind::kForward);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(n[i].inputs[0].source_id, 0u);
}

TEST(DataStreamGraphTest, KeyByMakesHashEdgeWithKeyHashOfTheKey) {
  StreamEnvironment env({}, 2);
  AddVectorSource<Word>(env, {})
      .KeyBy([](const Word& w) { return w.first; })
      .Reduce([](const Word& a, const Word& b) { return Word(a.first, a.second + b.second); });
  env.Finalize();
  const EdgeSpec& e = env.nodes()[1].inputs.at(0);
  EXPECT_EQ(e.source_id, 0u);
  EXPECT_EQ(e.kind, PartitionKind::kHash);  // not forward, although parallelism is equal
  ASSERT_TRUE(static_cast<bool>(e.key_hash));
  Word hello("hello", 5);
  EXPECT_EQ(e.key_hash(&hello), KeyHash(std::string("hello")));
  EXPECT_EQ(e.key_hash(&hello), 99162322);  // "hello".hashCode() in Java
  Word other("user-42", 5);
  EXPECT_EQ(e.key_hash(&other), -147182656);
}

TEST(DataStreamGraphTest, KeyByIntegerKeyHashIsTheInteger) {
  StreamEnvironment env({}, 1);
  AddIntSource(env)
      .KeyBy([](const int& x) { return static_cast<int64_t>(x) * 10; })
      .Reduce([](const int& a, const int& b) { return a + b; });
  env.Finalize();
  const EdgeSpec& e = env.nodes()[1].inputs.at(0);
  int rec = 7;
  EXPECT_EQ(e.key_hash(&rec), 70);
  int big = 1 << 30;  // key 10737418240 = 0x2'8000'0000: Long.hashCode folds the high word in
  EXPECT_EQ(e.key_hash(&big), static_cast<int32_t>(0x80000002u));
}

TEST(DataStreamGraphTest, UnionGivesOneNodeWithAnInputPerStream) {
  StreamEnvironment env({}, 2);
  auto a = AddIntSource(env, "a");
  auto b = AddIntSource(env, "b").SetParallelism(1);
  a.Union(b).Map([](const int& x) { return x; }).Name("merged");
  env.Finalize();
  const auto& merged = env.nodes()[2];
  EXPECT_EQ(merged.name, "merged");
  ASSERT_EQ(merged.inputs.size(), 2u);
  EXPECT_EQ(merged.inputs[0].source_id, 0u);
  EXPECT_EQ(merged.inputs[0].kind, PartitionKind::kForward);
  EXPECT_EQ(merged.inputs[1].source_id, 1u);
  EXPECT_EQ(merged.inputs[1].kind, PartitionKind::kRebalance);
}

TEST(DataStreamGraphTest, UnionKeepsPerInputPartitioningAndKeyByAppliesToAll) {
  StreamEnvironment env({}, 2);
  auto a = AddIntSource(env, "a");
  auto b = AddIntSource(env, "b");
  auto c = AddIntSource(env, "c");
  a.Rebalance().Union(b.Broadcast()).Union(c).Map([](const int& x) { return x; });
  a.Union(b).KeyBy([](const int& x) { return x; }).Reduce([](const int& x, const int&) {
    return x;
  });
  env.Finalize();
  const auto& mixed = env.nodes()[3];
  ASSERT_EQ(mixed.inputs.size(), 3u);
  EXPECT_EQ(mixed.inputs[0].kind, PartitionKind::kRebalance);
  EXPECT_EQ(mixed.inputs[1].kind, PartitionKind::kBroadcast);
  EXPECT_EQ(mixed.inputs[2].kind, PartitionKind::kForward);
  EXPECT_EQ(mixed.inputs[2].source_id, 2u);
  const auto& keyed = env.nodes()[4];
  ASSERT_EQ(keyed.inputs.size(), 2u);
  for (const auto& e : keyed.inputs) {
    EXPECT_EQ(e.kind, PartitionKind::kHash);
    int rec = 12345;
    EXPECT_EQ(e.key_hash(&rec), 12345);
  }
}

// Union, partitionings and side outputs return a RoutedStream, on which operator settings do not
// compile (tests/compile_errors/union_uid.cc). Stored in a DataStream<T> they still throw, and
// the error names the call.
TEST(DataStreamGraphTest, SettingsOnUnionOrPartitionedStreamThrow) {
  StreamEnvironment env({}, 2);
  auto a = AddIntSource(env, "a");
  auto b = AddIntSource(env, "b");
  DataStream<int> u = a.Union(b);
  EXPECT_THROW(u.Name("x"), JobDefinitionError);
  EXPECT_THROW(u.Uid("x"), JobDefinitionError);
  DataStream<int> r = a.Rebalance();
  EXPECT_THROW(r.SetParallelism(2), JobDefinitionError);
  EXPECT_THROW(r.SetMaxParallelism(2), JobDefinitionError);
  EXPECT_THROW(r.DisableChaining(), JobDefinitionError);
  try {
    u.Uid("x");
    FAIL() << "expected JobDefinitionError";
  } catch (const JobDefinitionError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("Uid() applies to an operator", 0), 0u) << e.what();
  }
  try {
    r.SetParallelism(2);
    FAIL() << "expected JobDefinitionError";
  } catch (const JobDefinitionError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("SetParallelism() applies to an operator", 0), 0u)
        << e.what();
  }
}

TEST(DataStreamGraphTest, UnionPartitioningsAndSideOutputsAreRoutedStreams) {
  StreamEnvironment env({}, 2);
  auto a = AddIntSource(env, "a");
  auto b = AddIntSource(env, "b");
  const OutputTag<std::string> tag("side");
  static_assert(std::is_same_v<decltype(a.Union(b)), RoutedStream<int>>);
  static_assert(std::is_same_v<decltype(a.Rebalance()), RoutedStream<int>>);
  static_assert(std::is_same_v<decltype(a.Broadcast()), RoutedStream<int>>);
  static_assert(std::is_same_v<decltype(a.Forward()), RoutedStream<int>>);
  static_assert(std::is_same_v<decltype(a.GetSideOutput(tag)), RoutedStream<std::string>>);
  static_assert(std::is_base_of_v<DataStream<int>, RoutedStream<int>>);

  // Usable wherever a DataStream<T> is: stored in one, and every transformation.
  DataStream<int> stored = a.Union(b);
  stored = a.Rebalance();
  a.Union(b).Union(b.Broadcast()).Map([](const int& x) { return x; }).Name("merged").Uid("m");
  a.Rebalance().KeyBy([](const int& x) { return x; }).Reduce([](const int& x, const int&) {
    return x;
  });
  a.Forward().SinkTo([]() { return std::make_unique<CapturingSink<int>>(nullptr); }, "sink");
  a.GetSideOutput(tag).Filter([](const std::string& s) { return !s.empty(); });
  env.Finalize();
  const auto& n = env.nodes();
  ASSERT_EQ(n.size(), 6u);
  EXPECT_EQ(n[2].uid, "m");
  EXPECT_EQ(n[2].inputs.size(), 3u);
  EXPECT_EQ(n[2].inputs[2].kind, PartitionKind::kBroadcast);
  EXPECT_EQ(n[3].inputs[0].kind, PartitionKind::kHash);  // KeyBy overrides the rebalance
  EXPECT_EQ(n[4].inputs[0].kind, PartitionKind::kForward);
  EXPECT_EQ(n[5].inputs[0].side_output, "side");
}

TEST(DataStreamGraphTest, NonPositiveParallelismThrows) {
  StreamEnvironment env({}, 2);
  auto a = AddIntSource(env);
  EXPECT_THROW(a.SetParallelism(0), JobDefinitionError);
  EXPECT_THROW(a.SetParallelism(-1), JobDefinitionError);
  EXPECT_THROW(a.SetMaxParallelism(0), JobDefinitionError);
}

// ---- validation errors ----

TEST(DataStreamGraphTest, DuplicateUidThrows) {
  StreamEnvironment env({}, 2);
  auto src = AddIntSource(env).Uid("same");
  src.Map([](const int& x) { return x; }).Uid("same");
  EXPECT_THROW(env.Finalize(), JobDefinitionError);
}

TEST(DataStreamGraphTest, ExplicitUidCollidingWithDefaultUidThrows) {
  StreamEnvironment env({}, 2);
  AddIntSource(env).Map([](const int& x) { return x; }).Uid("node-0");
  EXPECT_THROW(env.Finalize(), JobDefinitionError);
}

TEST(DataStreamGraphTest, ForwardWithDifferentParallelismThrows) {
  StreamEnvironment env({}, 2);
  AddIntSource(env).Forward().Map([](const int& x) { return x; }).SetParallelism(3);
  EXPECT_THROW(env.Finalize(), JobDefinitionError);
}

TEST(DataStreamGraphTest, ParallelismAboveMaxParallelismThrows) {
  {
    StreamEnvironment env({}, 2);
    AddIntSource(env).Map([](const int& x) { return x; }).SetParallelism(8).SetMaxParallelism(4);
    EXPECT_THROW(env.Finalize(), JobDefinitionError);
  }
  {
    StreamEnvironment env({}, 4);
    env.SetMaxParallelism(2);
    AddIntSource(env);
    EXPECT_THROW(env.Finalize(), JobDefinitionError);
  }
  {
    StreamEnvironment env({}, 2);
    AddIntSource(env).SetMaxParallelism(kUpperBoundMaxParallelism + 1);
    EXPECT_THROW(env.Finalize(), JobDefinitionError);
  }
}

TEST(DataStreamGraphTest, EmptyJobAndOrphanNodeThrow) {
  StreamEnvironment empty({}, 1);
  EXPECT_THROW(empty.Finalize(), JobDefinitionError);
  StreamEnvironment env({}, 1);
  AddIntSource(env);
  env.AddNode("orphan");
  EXPECT_THROW(env.Finalize(), JobDefinitionError);
}

TEST(StreamEnvironmentTest, Args) {
  StreamEnvironment env({{"input", "/data"},
                         {"empty", ""},
                         {"n", "-42"},
                         {"bad", "12x"},
                         {"word", "abc"},
                         {"huge", "99999999999999999999"}},
                        1);
  EXPECT_TRUE(env.HasArg("input"));
  EXPECT_FALSE(env.HasArg("output"));
  EXPECT_EQ(env.Arg("input"), "/data");
  EXPECT_EQ(env.Arg("output", "fallback"), "fallback");
  EXPECT_EQ(env.RequiredArg("input"), "/data");
  EXPECT_THROW(env.RequiredArg("output"), JobDefinitionError);
  EXPECT_THROW(env.RequiredArg("empty"), JobDefinitionError);
  EXPECT_EQ(env.IntArg("n", 0), -42);
  EXPECT_EQ(env.IntArg("missing", 17), 17);
  EXPECT_THROW(env.IntArg("bad", 0), JobDefinitionError);
  EXPECT_THROW(env.IntArg("word", 0), JobDefinitionError);
  EXPECT_THROW(env.IntArg("empty", 0), JobDefinitionError);
  EXPECT_THROW(env.IntArg("huge", 0), JobDefinitionError);
  env.SetJobName("job");
  EXPECT_EQ(env.job_name(), "job");
}

TEST(StreamEnvironmentTest, RequiredArgErrorNamesTheKey) {
  StreamEnvironment env({}, 1);
  try {
    env.RequiredArg("output");
    FAIL() << "expected JobDefinitionError";
  } catch (const JobDefinitionError& e) {
    EXPECT_NE(std::string(e.what()).find("output"), std::string::npos) << e.what();
  }
}

// ---- SLUICE_JOB entry point ----

}  // namespace
}  // namespace sluice

SLUICE_JOB(env) {
  env.SetJobName("entry-point-test");
  auto src = env.AddSource<int>(
      []() { return std::make_unique<sluice::VectorSource<int>>(std::vector<int>{1}); }, "src");
  src.Map([](const int& x) { return x + 1; });
}

namespace sluice {
namespace {

TEST(JobEntryPointTest, ExportsAbiVersionAndBuilder) {
  EXPECT_EQ(sluice_abi_version(), kAbiVersion);
  StreamEnvironment env({}, 3);
  sluice_build_job(&env);
  env.Finalize();
  EXPECT_EQ(env.job_name(), "entry-point-test");
  ASSERT_EQ(env.nodes().size(), 2u);
  EXPECT_EQ(env.nodes()[1].parallelism, 3);
}

// ---- running operators ----

TEST(OperatorTest, SourceFactoryEmitsItsRecords) {
  StreamEnvironment env({}, 1);
  AddVectorSource<std::string>(env, {"a", "b"});
  auto o = Instantiate<std::string>(env.nodes()[0]);
  int64_t wait = 0;
  EXPECT_EQ(o->op->PollNext(&wait), SourceStatus::kEndOfInput);
  EXPECT_EQ(o->out.records, (std::vector<std::string>{"a", "b"}));
}

TEST(OperatorTest, MapProcessesRecordsAndSerializedRecords) {
  StreamEnvironment env({}, 1);
  AddIntSource(env).Map([](const int& x) { return std::to_string(x * 2); });
  env.Finalize();
  const NodeSpec& node = env.nodes()[1];
  auto o = Instantiate<std::string>(node);
  int in = 21;
  o->op->ProcessRecord(&in);
  std::vector<uint8_t> bytes = Bytes(int{-5});
  o->op->ProcessSerialized(bytes.data(), bytes.size());
  EXPECT_EQ(o->out.records, (std::vector<std::string>{"42", "-10"}));

  // The node serializes its output type, so a downstream task can decode it.
  ByteWriter w;
  node.serialize_output(&o->out.records[0], w);
  std::string decoded;
  DeserializeRecord(w.data(), w.size(), decoded);
  EXPECT_EQ(decoded, "42");
}

TEST(OperatorTest, MalformedSerializedRecordThrows) {
  StreamEnvironment env({}, 1);
  AddVectorSource<std::string>(env, {}).Map([](const std::string& s) { return s.size(); });
  auto o = Instantiate<size_t>(env.nodes()[1]);
  std::vector<uint8_t> truncated = {5, 'a', 'b'};
  EXPECT_THROW(o->op->ProcessSerialized(truncated.data(), truncated.size()), SerializationError);
  EXPECT_TRUE(o->out.records.empty());
}

TEST(OperatorTest, FilterPassesMatchingRecordsOnly) {
  StreamEnvironment env({}, 1);
  AddIntSource(env).Filter([](const int& x) { return x % 2 == 0; });
  auto o = Instantiate<int>(env.nodes()[1]);
  for (int i = 0; i < 10; ++i) o->op->ProcessRecord(&i);
  std::vector<uint8_t> odd = Bytes(int{11});
  std::vector<uint8_t> even = Bytes(int{12});
  o->op->ProcessSerialized(odd.data(), odd.size());
  o->op->ProcessSerialized(even.data(), even.size());
  EXPECT_EQ(o->out.records, (std::vector<int>{0, 2, 4, 6, 8, 12}));
}

TEST(OperatorTest, FlatMapEmitsZeroOrMoreRecords) {
  StreamEnvironment env({}, 1);
  AddVectorSource<std::string>(env, {}).FlatMap<Word>(
      [](const std::string& line, Collector<Word>& out) {
        std::istringstream in(line);
        std::string word;
        while (in >> word) out.Collect(Word(word, 1));
      });
  auto o = Instantiate<Word>(env.nodes()[1]);
  std::string line = "to be or";
  o->op->ProcessRecord(&line);
  std::string blank = "   ";
  o->op->ProcessRecord(&blank);
  std::vector<uint8_t> bytes = Bytes(std::string("not"));
  o->op->ProcessSerialized(bytes.data(), bytes.size());
  EXPECT_EQ(o->out.records, (std::vector<Word>{{"to", 1}, {"be", 1}, {"or", 1}, {"not", 1}}));
}

TEST(OperatorTest, ReduceEmitsRollingAggregatePerKey) {
  StreamEnvironment env({}, 1);
  AddVectorSource<Word>(env, {})
      .KeyBy([](const Word& w) { return w.first; })
      .Reduce(
          [](const Word& acc, const Word& in) { return Word(acc.first, acc.second + in.second); });
  const NodeSpec& node = env.nodes()[1];
  auto o = Instantiate<Word>(node);
  std::vector<Word> input = {{"a", 1}, {"b", 2}, {"a", 3}, {"b", 4}, {"a", 5}};
  for (size_t i = 0; i < input.size(); ++i) {
    if (i % 2 == 0) {
      o->op->ProcessRecord(&input[i]);
    } else {
      std::vector<uint8_t> bytes = Bytes(input[i]);
      o->op->ProcessSerialized(bytes.data(), bytes.size());
    }
  }
  EXPECT_EQ(o->out.records, (std::vector<Word>{{"a", 1}, {"b", 2}, {"a", 4}, {"b", 6}, {"a", 9}}));

  // Each factory call makes an operator with its own state.
  auto fresh = Instantiate<Word>(node);
  Word a("a", 100);
  fresh->op->ProcessRecord(&a);
  EXPECT_EQ(fresh->out.records, (std::vector<Word>{{"a", 100}}));
}

//! Counts records per key and sums their values; emits (key, count, sum) per key at end of input.
class CountPerKey final
    : public KeyedProcessFunction<std::string, Word, std::tuple<std::string, int64_t, int64_t>> {
 public:
  explicit CountPerKey(std::vector<std::string>* closed) : closed_(closed) {}
  void Open(KeyedContext<std::string>& ctx) override {
    count_ = ctx.GetState<int64_t>("count");
    sum_ = ctx.GetState<int64_t>("sum");
  }
  void ProcessElement(const Word& in, KeyedContext<std::string>& ctx,
                      Collector<std::tuple<std::string, int64_t, int64_t>>&) override {
    EXPECT_EQ(ctx.CurrentKey(), in.first);
    count_.Update(count_.ValueOr(0) + 1);
    sum_.Update(sum_.ValueOr(0) + in.second);
  }
  void EndInput(KeyedContext<std::string>& ctx,
                Collector<std::tuple<std::string, int64_t, int64_t>>& out) override {
    for (const std::string& key : ctx.Keys()) {
      ctx.SetCurrentKey(key);
      const int64_t* count = count_.Get();
      const int64_t* sum = sum_.Get();
      ASSERT_NE(count, nullptr) << key;
      ASSERT_NE(sum, nullptr) << key;
      out.Collect({key, *count, *sum});
    }
  }
  void Close() override { closed_->push_back("closed"); }

 private:
  std::vector<std::string>* closed_;
  ValueState<int64_t> count_;
  ValueState<int64_t> sum_;
};

TEST(OperatorTest, KeyedProcessFunctionKeepsValueStatePerKey) {
  using Out = std::tuple<std::string, int64_t, int64_t>;
  std::vector<std::string> closed;
  StreamEnvironment env({}, 1);
  AddVectorSource<Word>(env, {})
      .KeyBy([](const Word& w) { return w.first; })
      .Process([&closed]() { return std::make_unique<CountPerKey>(&closed); }, "count");
  env.Finalize();
  const NodeSpec& node = env.nodes()[1];
  EXPECT_EQ(node.name, "count");
  EXPECT_EQ(node.inputs[0].kind, PartitionKind::kHash);
  auto o = Instantiate<Out>(node);
  std::vector<Word> input = {{"x", 1}, {"y", 10}, {"x", 2}, {"z", 100}, {"x", 3}, {"y", 20}};
  for (const Word& w : input) {
    std::vector<uint8_t> bytes = Bytes(w);
    o->op->ProcessSerialized(bytes.data(), bytes.size());
  }
  EXPECT_TRUE(o->out.records.empty());
  o->op->EndInput();
  std::vector<Out> got = o->out.records;
  std::sort(got.begin(), got.end());
  // Each key exactly once although it has two states.
  EXPECT_EQ(got, (std::vector<Out>{{"x", 3, 6}, {"y", 2, 30}, {"z", 1, 100}}));
  EXPECT_TRUE(closed.empty());
  o->op->Close();
  EXPECT_EQ(closed, std::vector<std::string>{"closed"});
}

//! Emits the previous value seen for the record's key, then clears the state when the value is 0.
class PreviousValue final : public KeyedProcessFunction<int, std::pair<int, int>, int> {
 public:
  void Open(KeyedContext<int>& ctx) override { last_ = ctx.GetState<int>("last"); }
  void ProcessElement(const std::pair<int, int>& in, KeyedContext<int>&,
                      Collector<int>& out) override {
    out.Collect(last_.ValueOr(-1));
    if (in.second == 0) {
      last_.Clear();
    } else {
      last_.Update(in.second);
    }
  }

 private:
  ValueState<int> last_;
};

TEST(OperatorTest, ValueStateClearRemovesOnlyTheCurrentKey) {
  StreamEnvironment env({}, 1);
  AddVectorSource<std::pair<int, int>>(env, {})
      .KeyBy([](const std::pair<int, int>& p) { return p.first; })
      .Process([]() { return std::make_unique<PreviousValue>(); });
  auto o = Instantiate<int>(env.nodes()[1]);
  std::vector<std::pair<int, int>> input = {{1, 10}, {2, 20}, {1, 0}, {1, 11}, {2, 21}, {1, 12}};
  for (auto& p : input) o->op->ProcessRecord(&p);
  EXPECT_EQ(o->out.records, (std::vector<int>{-1, -1, 10, -1, 20, 11}));
}

TEST(OperatorTest, SinkReceivesRecordsAndEmitsNothing) {
  std::vector<int> received;
  StreamEnvironment env({}, 1);
  AddIntSource(env).SinkTo(
      [&received]() { return std::make_unique<CapturingSink<int>>(&received); });
  auto o = Instantiate<int>(env.nodes()[1]);
  int v = 5;
  o->op->ProcessRecord(&v);
  std::vector<uint8_t> bytes = Bytes(int{6});
  o->op->ProcessSerialized(bytes.data(), bytes.size());
  EXPECT_EQ(received, (std::vector<int>{5, 6}));
  EXPECT_TRUE(o->out.records.empty());
}

// ---- functions as a factory, a std::unique_ptr or a prototype ----

//! Adds `offset` to each record; emits "<records this instance saw>:<value>", so an instance
//! shared between subtasks would show in the output.
class AddOffset final : public ProcessFunction<int, std::string> {
 public:
  explicit AddOffset(int offset) : offset_(offset) {}
  void ProcessElement(const int& in, ProcessContext&, Collector<std::string>& out) override {
    ++seen_;
    out.Collect(std::to_string(seen_) + ":" + std::to_string(in + offset_));
  }
  int seen() const { return seen_; }

 private:
  int offset_;
  int seen_ = 0;
};

//! Per key, the running sum of the values, starting at `start`.
class RunningSum final : public KeyedProcessFunction<std::string, Word, Word> {
 public:
  explicit RunningSum(int64_t start) : start_(start) {}
  void Open(KeyedContext<std::string>& ctx) override { sum_ = ctx.GetState<int64_t>("sum"); }
  void ProcessElement(const Word& in, KeyedContext<std::string>&, Collector<Word>& out) override {
    int64_t sum = sum_.ValueOr(start_) + in.second;
    sum_.Update(sum);
    out.Collect(Word(in.first, sum));
  }

 private:
  int64_t start_;
  ValueState<int64_t> sum_;
};

//! Runs `node`'s operator as two subtasks, one after the other, each over all of `input`, and
//! returns what each emitted and what was left at end of input.
template <typename IN, typename OUT>
std::vector<std::vector<OUT>> RunTwoSubtasks(const NodeSpec& node, std::vector<IN> input) {
  std::vector<std::vector<OUT>> outputs;
  for (int subtask = 0; subtask < 2; ++subtask) {
    auto o = Instantiate<OUT>(node);
    for (IN& in : input) o->op->ProcessRecord(&in);
    o->op->EndInput();
    o->op->Close();
    outputs.push_back(o->out.records);
  }
  return outputs;
}

TEST(FunctionFormsTest, ProcessTakesAFactoryAUniquePtrOrAPrototype) {
  StreamEnvironment env({}, 1);
  auto src = AddIntSource(env);
  const AddOffset prototype(10);
  auto by_factory = src.Process([] { return std::make_unique<AddOffset>(10); }, "factory");
  auto by_unique_ptr = src.Process(std::make_unique<AddOffset>(10), "unique_ptr");
  auto by_object = src.Process(prototype, "object");
  auto by_temporary = src.Process(AddOffset(10));
  static_assert(std::is_same_v<decltype(by_factory), DataStream<std::string>>);
  static_assert(std::is_same_v<decltype(by_unique_ptr), DataStream<std::string>>);
  static_assert(std::is_same_v<decltype(by_object), DataStream<std::string>>);
  static_assert(std::is_same_v<decltype(by_temporary), DataStream<std::string>>);
  env.Finalize();
  ASSERT_EQ(env.nodes().size(), 5u);
  EXPECT_EQ(env.nodes()[4].name, "Process");
  // Each subtask has an instance of its own: both count from 1.
  const std::vector<std::vector<std::string>> expected = {{"1:11", "2:12", "3:13"},
                                                          {"1:11", "2:12", "3:13"}};
  for (uint32_t id = 1; id <= 4; ++id) {
    EXPECT_EQ((RunTwoSubtasks<int, std::string>(env.node(id), {1, 2, 3})), expected)
        << env.node(id).name;
  }
  EXPECT_EQ(prototype.seen(), 0);  // only ever copied
}

TEST(FunctionFormsTest, KeyedProcessTakesAFactoryAUniquePtrOrAPrototype) {
  StreamEnvironment env({}, 1);
  auto keyed = AddVectorSource<Word>(env, {}).KeyBy([](const Word& w) { return w.first; });
  keyed.Process([] { return std::make_unique<RunningSum>(100); });
  keyed.Process(std::make_unique<RunningSum>(100));
  keyed.Process(RunningSum(100));
  env.Finalize();
  ASSERT_EQ(env.nodes().size(), 4u);
  const std::vector<Word> input = {{"a", 1}, {"b", 2}, {"a", 3}};
  const std::vector<Word> sums = {{"a", 101}, {"b", 102}, {"a", 104}};
  for (uint32_t id = 1; id <= 3; ++id) {
    EXPECT_EQ(env.node(id).inputs[0].kind, PartitionKind::kHash);
    EXPECT_EQ((RunTwoSubtasks<Word, Word>(env.node(id), input)),
              (std::vector<std::vector<Word>>{sums, sums}))
        << id;
  }
}

TEST(FunctionFormsTest, SinkToTakesAFactoryAUniquePtrOrAPrototype) {
  std::vector<int> by_factory, by_unique_ptr, by_object;
  StreamEnvironment env({}, 1);
  auto src = AddIntSource(env);
  src.SinkTo([&] { return std::make_unique<CapturingSink<int>>(&by_factory); });
  src.SinkTo(std::make_unique<CapturingSink<int>>(&by_unique_ptr));
  src.SinkTo(CapturingSink<int>(&by_object));
  env.Finalize();
  for (uint32_t id = 1; id <= 3; ++id) {
    EXPECT_EQ(env.node(id).serialize_output, nullptr);
    EXPECT_TRUE((RunTwoSubtasks<int, int>(env.node(id), {4, 5}))[0].empty());
  }
  const std::vector<int> twice = {4, 5, 4, 5};
  EXPECT_EQ(by_factory, twice);
  EXPECT_EQ(by_unique_ptr, twice);
  EXPECT_EQ(by_object, twice);
}

TEST(FunctionFormsTest, AddSourceTakesAFactoryAUniquePtrOrAPrototype) {
  const std::vector<std::string> records = {"a", "b"};
  StreamEnvironment env({}, 1);
  env.AddSource<std::string>([&] { return std::make_unique<VectorSource<std::string>>(records); },
                             "factory");
  env.AddSource<std::string>(std::make_unique<VectorSource<std::string>>(records), "unique_ptr");
  env.AddSource<std::string>(VectorSource<std::string>(records), "object");
  env.Finalize();
  for (const NodeSpec& node : env.nodes()) {
    EXPECT_TRUE(node.is_source);
    for (int subtask = 0; subtask < 2; ++subtask) {
      auto o = Instantiate<std::string>(node);
      int64_t wait = 0;
      EXPECT_EQ(o->op->PollNext(&wait), SourceStatus::kEndOfInput);
      EXPECT_EQ(o->out.records, records) << node.name;
    }
  }
}

//! Not final: a subclass object in a std::unique_ptr<Echo> would be copied as an Echo.
class Echo : public ProcessFunction<int, int> {
 public:
  void ProcessElement(const int& in, ProcessContext&, Collector<int>& out) override {
    out.Collect(in);
  }
};
class LoudEcho final : public Echo {
 public:
  void ProcessElement(const int& in, ProcessContext&, Collector<int>& out) override {
    out.Collect(in * 100);
  }
};

TEST(FunctionFormsTest, AnEmptyOrSlicingUniquePtrIsRefusedWhenTheJobIsBuilt) {
  StreamEnvironment env({}, 1);
  auto src = AddIntSource(env);
  try {
    src.Process(std::unique_ptr<Echo>());
    FAIL() << "expected JobDefinitionError";
  } catch (const JobDefinitionError& e) {
    EXPECT_EQ(std::string(e.what()), "Process: the std::unique_ptr is empty");
  }
  try {
    std::unique_ptr<Echo> loud = std::make_unique<LoudEcho>();
    src.Process(std::move(loud));
    FAIL() << "expected JobDefinitionError";
  } catch (const JobDefinitionError& e) {
    EXPECT_NE(std::string(e.what()).find("subclass"), std::string::npos) << e.what();
  }
  EXPECT_EQ(env.nodes().size(), 1u);  // nothing was added
  src.Process(std::make_unique<LoudEcho>());
  auto o = Instantiate<int>(env.nodes().back());
  int v = 2;
  o->op->ProcessRecord(&v);
  EXPECT_EQ(o->out.records, std::vector<int>{200});
}

// ---- FlatMap without <OUT> ----

void SplitIntoWords(const std::string& line, Collector<Word>& out) {
  std::istringstream in(line);
  std::string word;
  while (in >> word) out.Collect(Word(word, 1));
}

struct CountChars {
  void operator()(const std::string& line, Collector<int64_t>& out) const {
    out.Collect(static_cast<int64_t>(line.size()));
  }
};

TEST(OperatorTest, FlatMapReadsItsOutputTypeOffTheCollector) {
  StreamEnvironment env({}, 1);
  auto lines = AddVectorSource<std::string>(env, {});
  auto by_lambda = lines.FlatMap(
      [](const std::string& line, Collector<Word>& out) { SplitIntoWords(line, out); });
  auto by_function = lines.FlatMap(SplitIntoWords, "Split");
  auto by_pointer = lines.FlatMap(&SplitIntoWords);
  auto by_functor = lines.FlatMap(CountChars{});
  int n = 0;
  auto by_mutable =
      lines.FlatMap([n](const std::string&, Collector<int>& out) mutable { out.Collect(++n); });
  auto by_noexcept = lines.FlatMap(
      [](const std::string& s, Collector<std::string>& out) noexcept { out.Collect(s); });
  // Explicit <OUT> as before, also for a generic lambda.
  auto explicit_out = lines.FlatMap<Word>(SplitIntoWords);
  auto generic = lines.FlatMap<std::string>([](const auto& s, auto& out) { out.Collect(s + s); });
  static_assert(std::is_same_v<decltype(by_lambda), DataStream<Word>>);
  static_assert(std::is_same_v<decltype(by_function), DataStream<Word>>);
  static_assert(std::is_same_v<decltype(by_pointer), DataStream<Word>>);
  static_assert(std::is_same_v<decltype(by_functor), DataStream<int64_t>>);
  static_assert(std::is_same_v<decltype(by_mutable), DataStream<int>>);
  static_assert(std::is_same_v<decltype(by_noexcept), DataStream<std::string>>);
  static_assert(std::is_same_v<decltype(explicit_out), DataStream<Word>>);
  static_assert(std::is_same_v<decltype(generic), DataStream<std::string>>);
  EXPECT_EQ(env.nodes()[2].name, "Split");

  std::string line = "to be";
  const std::vector<Word> words = {{"to", 1}, {"be", 1}};
  for (uint32_t id : {1u, 2u, 3u, 7u}) {
    auto o = Instantiate<Word>(env.node(id));
    o->op->ProcessRecord(&line);
    EXPECT_EQ(o->out.records, words) << id;
  }
  auto chars = Instantiate<int64_t>(env.node(4));
  chars->op->ProcessRecord(&line);
  EXPECT_EQ(chars->out.records, std::vector<int64_t>{5});
  auto counted = Instantiate<int>(env.node(5));
  counted->op->ProcessRecord(&line);
  counted->op->ProcessRecord(&line);
  EXPECT_EQ(counted->out.records, (std::vector<int>{1, 2}));
  auto doubled = Instantiate<std::string>(env.node(8));
  doubled->op->ProcessRecord(&line);
  EXPECT_EQ(doubled->out.records, std::vector<std::string>{"to beto be"});
}

// ---- what the compile-time checks look at ----

TEST(CompileTimeChecksTest, SinkInputTypeIsTheSinkOperatorsType) {
  static_assert(internal::kHasTypedInput<CapturingSink<int>>);
  static_assert(
      std::is_same_v<
          decltype(internal::InputTypeOf(static_cast<const CapturingSink<Word>*>(nullptr))), Word>);
  static_assert(!internal::kHasTypedInput<VectorSource<int>>);  // a StreamOperator: unchecked
  static_assert(internal::SinkInputMustBe<int, int>::value);
}

TEST(CompileTimeChecksTest, FunctionSourceKinds) {
  using internal::FunctionSource;
  using Kind = internal::FunctionSourceKind;
  auto factory = [] { return std::make_unique<AddOffset>(1); };
  static_assert(FunctionSource<decltype(factory)>::kKind == Kind::kFactory);
  static_assert(std::is_same_v<FunctionSource<decltype(factory)>::Function, AddOffset>);
  static_assert(FunctionSource<std::unique_ptr<AddOffset>>::kKind == Kind::kUniquePtr);
  static_assert(FunctionSource<AddOffset>::kKind == Kind::kPrototype);
  static_assert(FunctionSource<AddOffset*>::kKind == Kind::kRawPointer);
  auto raw_factory = [] { return new AddOffset(1); };
  static_assert(FunctionSource<decltype(raw_factory)>::kKind == Kind::kBadFactory);
  static_assert(FunctionSource<int>::kKind == Kind::kOther);
  // Copyability matters only for prototypes: a factory makes its instances itself.
  static_assert(FunctionSource<AddOffset>::kCopyable);
  static_assert(!FunctionSource<std::unique_ptr<std::unique_ptr<int>>>::kCopyable);
  // What tells Reduce(fn, window_fn) from Reduce(fn, name).
  static_assert(internal::kFunctionSourceLike<AddOffset>);
  static_assert(internal::kFunctionSourceLike<decltype(factory)>);
  static_assert(!internal::kFunctionSourceLike<const char*>);
  static_assert(!internal::kFunctionSourceLike<std::string>);
}

TEST(KeyedStateStoreTest, SameNameWithAnotherTypeThrows) {
  KeyedStateStore<std::string> store;
  store.SetCurrentKey("k");
  auto a = store.GetValueState<int>("s");
  a.Update(1);
  auto again = store.GetValueState<int>("s");
  ASSERT_NE(again.Get(), nullptr);
  EXPECT_EQ(*again.Get(), 1);
  EXPECT_THROW(store.GetValueState<std::string>("s"), std::logic_error);
}

TEST(KeyedStateStoreTest, KeysListsEveryKeyOnceAcrossStates) {
  KeyedStateStore<int> store;
  auto a = store.GetValueState<int>("a");
  auto b = store.GetValueState<std::string>("b");
  store.SetCurrentKey(1);
  a.Update(10);
  b.Update("one");
  store.SetCurrentKey(2);
  b.Update("two");
  store.SetCurrentKey(3);
  a.Update(30);
  a.Clear();
  std::vector<int> keys = store.Keys();
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<int>{1, 2}));
}

}  // namespace
}  // namespace sluice
