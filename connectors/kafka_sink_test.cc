// The Kafka sink driven directly (FakeRuntimeContext), two ways:
// - against librdkafka's mock cluster run as a daemon of the test (tests/kafka_mock.h) — a TEST
//   DOUBLE of a Kafka cluster, not a broker: records, keys, partitioners, headers, the flush at
//   a checkpoint, the transactional calls the mock accepts, and bad settings. The mock accepts
//   transactions without enforcing them (a reader sees aborted records, nothing is fenced);
// - so the exactly-once protocol is checked against FakeKafka, a recording fake of the producers
//   with a coordinator of its own (open, committed and aborted transactions per transactional
//   id, fencing by epoch) that injects errors: what is pre-committed, committed and aborted,
//   before and after a restore, with a fenced producer and retriable and abortable errors. Its
//   committed records are the committed-only view the exactly-once checks read.
#include "sluice/connectors/kafka_sink.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "connector_test_util.h"
#include "sluice/testing/fake_runtime_context.h"
#include "tests/kafka_mock.h"

namespace sluice {
namespace {

using namespace connectors_test;
using testing::ConsumeFromMock;
using testing::FakeRuntimeContext;
using testing::KafkaMockCluster;
using testing::KafkaMockMessage;
using StateLists = std::map<std::string, std::vector<std::string>>;

struct Click {
  int64_t user = 0;
  std::string page;
  SLUICE_FIELDS(user, page)
};

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// FakeKafka: the producers and their transaction coordinator, recorded.

class FakeKafka {
 public:
  //! Every call, "op id [value]", in order.
  std::vector<std::string> log;
  //! The committed-only view: records of committed transactions (and of plain producers once
  //! flushed), in commit order.
  std::vector<std::string> committed;
  //! Errors to throw at the next calls "op id" (op: init, begin, produce, flush, commit, abort).
  std::map<std::string, std::deque<KafkaErrorClass>> inject;

  struct Txn {
    int epoch = 0;      // of the producer that holds the id now
    bool open = false;  // a transaction is open under the id
    std::vector<std::string> records;
  };
  std::map<std::string, Txn> txns;

  KafkaProducerFactory Factory() {
    return [this](const KafkaProducerConfig& config) -> std::unique_ptr<KafkaProducerClient> {
      return std::make_unique<Producer>(this, config.transactional_id);
    };
  }

  size_t Count(const std::string& entry) const {
    return static_cast<size_t>(std::count(log.begin(), log.end(), entry));
  }

 private:
  class Producer final : public KafkaProducerClient {
   public:
    Producer(FakeKafka* kafka, std::string id) : kafka_(kafka), id_(std::move(id)) {}
    int32_t PartitionCount(const std::string&) override { return 3; }
    void Produce(const KafkaProducerRecord& r) override {
      Call("produce", std::string(r.value));
      if (id_.empty()) {
        unflushed_.emplace_back(r.value);
      } else {
        kafka_->txns[id_].records.emplace_back(r.value);
      }
    }
    void Flush() override {
      Call("flush");
      kafka_->committed.insert(kafka_->committed.end(), unflushed_.begin(), unflushed_.end());
      unflushed_.clear();
    }
    void InitTransactions() override {
      Call("init");
      Txn& t = kafka_->txns[id_];
      if (t.open) {  // the coordinator aborts what the previous holder of the id left open
        kafka_->log.push_back("abort-lingering " + id_ + " " + std::to_string(t.records.size()));
      }
      t.open = false;
      t.records.clear();
      epoch_ = ++t.epoch;
    }
    void BeginTransaction() override {
      Call("begin");
      kafka_->txns[id_].open = true;
    }
    void CommitTransaction() override {
      Call("commit");
      Txn& t = kafka_->txns[id_];
      kafka_->committed.insert(kafka_->committed.end(), t.records.begin(), t.records.end());
      t.records.clear();
      t.open = false;
    }
    void AbortTransaction() override {
      Call("abort");
      Txn& t = kafka_->txns[id_];
      t.records.clear();
      t.open = false;
    }

   private:
    void Call(const std::string& op, const std::string& value = "") {
      const std::string name = op + " " + id_;
      kafka_->log.push_back(value.empty() ? name : name + " " + value);
      if (!id_.empty() && op != "init" && epoch_ != kafka_->txns[id_].epoch) {
        throw KafkaProducerError(KafkaErrorClass::kFenced,
                                 "kafka sink: producer fenced (" + name + ")");
      }
      auto it = kafka_->inject.find(name);
      if (it != kafka_->inject.end() && !it->second.empty()) {
        const KafkaErrorClass c = it->second.front();
        it->second.pop_front();
        throw KafkaProducerError(c, "kafka sink: injected error (" + name + ")");
      }
    }
    FakeKafka* kafka_;
    std::string id_;
    int epoch_ = 0;
    std::vector<std::string> unflushed_;
  };
};

//! One subtask of a sink, opened (restored from `restored` when given) by the test.
template <typename T = std::string>
struct Subtask {
  Subtask(const KafkaSinkOptions<T>& options, int index, int parallelism,
          const StateLists* restored = nullptr, int attempt = 0)
      : ctx(index, parallelism, "0123456789abcdef0123456789abcdef", attempt, true), sink(options) {
    if (restored) {
      RestoringInit init(*restored);
      sink.InitializeState(init);
    }
    sink.Open(ctx, out);
  }
  void Write(const T& v) { sink.Process(v); }
  StateLists Snapshot(int64_t id) {
    CollectingSnapshot snap(id);
    sink.SnapshotState(snap);
    return snap.lists;
  }
  FakeRuntimeContext ctx;
  CapturingOutput<T> out;
  KafkaSink<T> sink;
};

StateLists Union(const std::vector<StateLists>& snapshots) {
  StateLists all;
  for (const StateLists& s : snapshots) {
    for (const auto& [name, items] : s) {
      all[name].insert(all[name].end(), items.begin(), items.end());
    }
  }
  return all;
}

KafkaSinkOptions<std::string> FakeOptions(FakeKafka& kafka, int pool = 3) {
  KafkaSinkOptions<std::string> o;
  o.bootstrap_servers = "fake:9092";
  o.serializer.topic = "out";
  o.delivery_guarantee = DeliveryGuarantee::kExactlyOnce;
  o.transactional_id_prefix = "tx";
  o.transactional_pool_size = pool;
  o.producer_factory = kafka.Factory();
  return o;
}

using Records = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// The exactly-once protocol, against FakeKafka.

TEST(KafkaSinkProtocolTest, PreCommitsAtTheSnapshotAndCommitsWhenTheCheckpointCompletes) {
  FakeKafka kafka;
  Subtask s(FakeOptions(kafka), 0, 1);
  // Open initializes the whole pool (aborting leftovers) and begins one transaction.
  EXPECT_EQ(kafka.Count("init tx-0-0"), 1u);
  EXPECT_EQ(kafka.Count("init tx-0-1"), 1u);
  EXPECT_EQ(kafka.Count("init tx-0-2"), 1u);
  EXPECT_EQ(kafka.Count("begin tx-0-0"), 1u);
  s.Write("a");
  s.Write("b");
  s.Snapshot(1);
  // Pre-committed: flushed in its still-open transaction; the next records go elsewhere.
  EXPECT_EQ(kafka.Count("flush tx-0-0"), 1u);
  EXPECT_EQ(kafka.Count("commit tx-0-0"), 0u);
  EXPECT_EQ(kafka.Count("begin tx-0-1"), 1u);
  EXPECT_TRUE(kafka.committed.empty());
  EXPECT_EQ(s.sink.PendingCheckpoints(), std::vector<int64_t>{1});
  s.Write("c");
  EXPECT_TRUE(kafka.committed.empty());
  s.sink.NotifyCheckpointComplete(1);
  EXPECT_EQ(kafka.committed, (Records{"a", "b"}));  // c belongs to the next checkpoint
  EXPECT_TRUE(s.sink.PendingCheckpoints().empty());
  s.Snapshot(2);
  EXPECT_EQ(kafka.committed, (Records{"a", "b"}));
  s.sink.NotifyCheckpointComplete(2);
  EXPECT_EQ(kafka.committed, (Records{"a", "b", "c"}));
  EXPECT_EQ(s.sink.Committed(), 2);
  // The slot of checkpoint 1 was reused for checkpoint 2's successor.
  EXPECT_EQ(kafka.Count("begin tx-0-0"), 2u);
}

TEST(KafkaSinkProtocolTest, ALaterCompletionCommitsEarlierPendingCheckpointsInOrder) {
  FakeKafka kafka;
  Subtask s(FakeOptions(kafka), 0, 1);
  s.Write("a");
  s.Snapshot(1);
  s.Write("b");
  s.Snapshot(2);  // checkpoint 1's notification is lost
  s.Write("c");
  EXPECT_EQ(s.sink.PendingCheckpoints(), (std::vector<int64_t>{1, 2}));
  s.sink.NotifyCheckpointComplete(2);
  EXPECT_EQ(kafka.committed, (Records{"a", "b"}));
  s.sink.NotifyCheckpointComplete(1);  // late: nothing left to do
  EXPECT_EQ(kafka.committed, (Records{"a", "b"}));
}

TEST(KafkaSinkProtocolTest, ACheckpointWithoutRecordsPreCommitsNothing) {
  FakeKafka kafka;
  Subtask s(FakeOptions(kafka), 0, 1);
  const StateLists state = s.Snapshot(1);
  EXPECT_TRUE(s.sink.PendingCheckpoints().empty());
  EXPECT_EQ(kafka.Count("flush tx-0-0"), 0u);
  EXPECT_EQ(kafka.Count("begin tx-0-1"), 0u);                 // the open transaction goes on
  ASSERT_EQ(state.at("kafka-sink-transactions").size(), 1u);  // the pool entry only
  s.Write("a");
  s.Snapshot(2);
  s.sink.NotifyCheckpointComplete(2);
  EXPECT_EQ(kafka.committed, (Records{"a"}));
}

TEST(KafkaSinkProtocolTest, PendingTransactionsAreInStateAndAbortedAfterARestore) {
  FakeKafka kafka;
  StateLists state;
  auto zombie = std::make_unique<Subtask<>>(FakeOptions(kafka), 0, 1);
  zombie->Write("a");
  zombie->Write("b");
  state = zombie->Snapshot(1);  // pre-committed, then the task dies before the commit
  zombie->Write("c");           // in the open transaction of the next checkpoint
  ASSERT_EQ(state.at("kafka-sink-transactions").size(), 2u);  // the pool, and checkpoint 1

  // The restore (attempt 1) initializes the same ids: the coordinator aborts both open
  // transactions, the pre-committed one included — librdkafka cannot commit another producer's
  // transaction, so a and b are lost (the limit docs/connectors.md states).
  Subtask restored(FakeOptions(kafka), 0, 1, &state, 1);
  EXPECT_EQ(kafka.Count("abort-lingering tx-0-0 2"), 1u);
  EXPECT_EQ(kafka.Count("abort-lingering tx-0-1 1"), 1u);
  EXPECT_EQ(restored.sink.RestoredUncommittable(), 1);
  EXPECT_TRUE(restored.sink.PendingCheckpoints().empty());

  // The old attempt's producers are fenced: a late commit by it fails, and says why.
  try {
    zombie->sink.NotifyCheckpointComplete(1);
    FAIL() << "a fenced producer committed";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(Contains(e.what(), "kafka sink: the transaction of checkpoint 1")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "fenced")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "'transactional_id_prefix' 'tx'")) << e.what();
  }
  zombie.reset();  // its Close fails to abort (fenced) and says so; the fake's state stays
  EXPECT_TRUE(kafka.committed.empty());

  // The replayed records (those after checkpoint 1) are written once.
  restored.Write("c");
  restored.Snapshot(2);
  restored.sink.NotifyCheckpointComplete(2);
  EXPECT_EQ(kafka.committed, (Records{"c"}));
}

TEST(KafkaSinkProtocolTest, ACommitBeforeTheFailureIsNotRepeatedAfterTheRestore) {
  FakeKafka kafka;
  StateLists state;
  {
    Subtask s(FakeOptions(kafka), 0, 1);
    s.Write("a");
    state = s.Snapshot(1);
    s.sink.NotifyCheckpointComplete(1);
    s.Write("b");  // then the task dies: b is replayed after the restore
    kafka.log.push_back("crash");
    kafka.txns["tx-0-1"].epoch += 100;  // the dead producers can no longer touch anything
  }
  Subtask restored(FakeOptions(kafka), 0, 1, &state, 1);
  EXPECT_EQ(kafka.Count("abort-lingering tx-0-1 1"), 1u);  // b's open transaction
  restored.Write("b");
  restored.Snapshot(2);
  restored.sink.NotifyCheckpointComplete(2);
  EXPECT_EQ(kafka.committed, (Records{"a", "b"}));
}

TEST(KafkaSinkProtocolTest, ARescaleAbortsTheIdsOfSubtasksThatAreGone) {
  FakeKafka kafka;
  std::vector<StateLists> snapshots;
  {
    Subtask s0(FakeOptions(kafka), 0, 3);
    Subtask s1(FakeOptions(kafka), 1, 3);
    Subtask s2(FakeOptions(kafka, 4), 2, 3);  // a larger pool
    for (auto* s : {&s0, &s1, &s2}) s->Write("x");
    for (auto* s : {&s0, &s1, &s2}) snapshots.push_back(s->Snapshot(1));
    kafka.log.clear();
  }
  kafka.log.clear();
  const StateLists all = Union(snapshots);
  Subtask r0(FakeOptions(kafka), 0, 2, &all, 1);
  Subtask r1(FakeOptions(kafka), 1, 2, &all, 1);
  // Subtask 2 of 3 is gone: its ids (pool of 4) are initialized, which aborts them, by 2 % 2 = 0.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(kafka.Count("init tx-2-" + std::to_string(i)), 1u) << i;
  EXPECT_EQ(r0.sink.RestoredUncommittable(), 2);  // its own and subtask 2's
  EXPECT_EQ(r1.sink.RestoredUncommittable(), 1);
}

TEST(KafkaSinkProtocolTest, ARetriableCommitErrorIsRetried) {
  FakeKafka kafka;
  Subtask s(FakeOptions(kafka), 0, 1);
  s.Write("a");
  s.Snapshot(1);
  kafka.inject["commit tx-0-0"] = {KafkaErrorClass::kRetriable, KafkaErrorClass::kRetriable};
  s.sink.NotifyCheckpointComplete(1);
  EXPECT_EQ(kafka.Count("commit tx-0-0"), 3u);
  EXPECT_EQ(kafka.committed, (Records{"a"}));
}

TEST(KafkaSinkProtocolTest, ACommitThatKeepsFailingFailsTheTaskNamingTheSetting) {
  FakeKafka kafka;
  auto options = FakeOptions(kafka);
  options.max_commit_retries = 1;
  Subtask s(options, 0, 1);
  s.Write("a");
  s.Snapshot(1);
  kafka.inject["commit tx-0-0"] = {KafkaErrorClass::kRetriable, KafkaErrorClass::kRetriable};
  try {
    s.sink.NotifyCheckpointComplete(1);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(Contains(e.what(), "kafka sink: committing the transaction of checkpoint 1"))
        << e.what();
    EXPECT_TRUE(Contains(e.what(), "'max_commit_retries'")) << e.what();
  }
  EXPECT_TRUE(kafka.committed.empty());
}

TEST(KafkaSinkProtocolTest, ACoordinatorErrorAtTheStartIsRetried) {
  FakeKafka kafka;
  kafka.inject["init tx-0-1"] = {KafkaErrorClass::kRetriable};  // coordinator not available
  Subtask s(FakeOptions(kafka), 0, 1);
  EXPECT_EQ(kafka.Count("init tx-0-1"), 2u);
  s.Write("a");
  s.Snapshot(1);
  s.sink.NotifyCheckpointComplete(1);
  EXPECT_EQ(kafka.committed, (Records{"a"}));
}

TEST(KafkaSinkProtocolTest, AnAbortableCommitErrorAbortsAndFailsTheTask) {
  FakeKafka kafka;
  Subtask s(FakeOptions(kafka), 0, 1);
  s.Write("a");
  s.Snapshot(1);
  kafka.inject["commit tx-0-0"] = {KafkaErrorClass::kAbortable};
  try {
    s.sink.NotifyCheckpointComplete(1);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(Contains(e.what(), "failed and it was aborted")) << e.what();
  }
  EXPECT_EQ(kafka.Count("abort tx-0-0"), 1u);
  EXPECT_TRUE(kafka.committed.empty());
}

TEST(KafkaSinkProtocolTest, TooManyPendingCheckpointsNameThePoolSize) {
  FakeKafka kafka;
  Subtask s(FakeOptions(kafka, 2), 0, 1);
  s.Write("a");
  s.Snapshot(1);
  s.Write("b");
  try {
    s.Snapshot(2);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(Contains(e.what(), "'transactional_pool_size'")) << e.what();
  }
}

TEST(KafkaSinkProtocolTest, CloseAbortsTheOpenAndThePendingTransactions) {
  FakeKafka kafka;
  {
    Subtask s(FakeOptions(kafka), 0, 1);
    s.Write("a");
    s.Snapshot(1);
    s.Write("b");
    s.sink.Close();
  }
  EXPECT_EQ(kafka.Count("abort tx-0-0"), 1u);
  EXPECT_EQ(kafka.Count("abort tx-0-1"), 1u);
  EXPECT_TRUE(kafka.committed.empty());
}

TEST(KafkaSinkProtocolTest, AtLeastOnceFlushesAtEveryCheckpointAndNoneDoesNot) {
  FakeKafka kafka;
  auto options = FakeOptions(kafka);
  options.delivery_guarantee = DeliveryGuarantee::kAtLeastOnce;
  options.transactional_id_prefix.clear();
  {
    Subtask s(options, 0, 1);
    s.Write("a");
    s.Snapshot(1);
    EXPECT_EQ(kafka.committed, (Records{"a"}));
    EXPECT_EQ(kafka.Count("init "), 0u);  // a plain producer
  }
  options.delivery_guarantee = DeliveryGuarantee::kNone;
  kafka.log.clear();
  Subtask s(options, 0, 1);
  s.Write("b");
  s.Snapshot(2);
  EXPECT_EQ(kafka.Count("flush "), 0u);
}

TEST(KafkaSinkProtocolTest, ExactlyOnceWithoutCheckpointingIsAtLeastOnce) {
  FakeKafka kafka;
  KafkaSink<std::string> sink(FakeOptions(kafka));
  FakeRuntimeContext ctx(0, 1);  // checkpointing off
  CapturingOutput<std::string> out;
  sink.Open(ctx, out);
  sink.Process("a");
  sink.EndInput();
  EXPECT_EQ(kafka.committed, (Records{"a"}));
  EXPECT_EQ(kafka.Count("init tx-0-0"), 0u);
}

TEST(KafkaSinkProtocolTest, MakeKafkaSinkGivesEachSubtaskItsOwnSink) {
  FakeKafka kafka;
  auto factory = MakeKafkaSink(FakeOptions(kafka));
  std::unique_ptr<KafkaSink<std::string>> a = factory();
  std::unique_ptr<KafkaSink<std::string>> b = factory();
  FakeRuntimeContext ctx_a(0, 2, "0123456789abcdef0123456789abcdef", 0, true);
  FakeRuntimeContext ctx_b(1, 2, "0123456789abcdef0123456789abcdef", 0, true);
  CapturingOutput<std::string> out;
  a->Open(ctx_a, out);
  b->Open(ctx_b, out);
  EXPECT_EQ(kafka.Count("begin tx-0-0"), 1u);
  EXPECT_EQ(kafka.Count("begin tx-1-0"), 1u);
}

// ---------------------------------------------------------------------------------------------
// Against the mock cluster.

class KafkaSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(cluster_.Start(3, &error)) << error;
    ASSERT_TRUE(cluster_.CreateTopic("out", 3));
  }
  template <typename T = std::string>
  KafkaSinkOptions<T> Options(DeliveryGuarantee g = DeliveryGuarantee::kAtLeastOnce) {
    KafkaSinkOptions<T> o;
    o.bootstrap_servers = cluster_.bootstrap_servers();
    o.serializer.topic = "out";
    o.delivery_guarantee = g;
    o.properties["linger.ms"] = "200";  // records wait in the producer until a flush sends them
    return o;
  }
  std::vector<KafkaMockMessage> Read(size_t count) {
    return ConsumeFromMock(cluster_.bootstrap_servers(), "out", 3, count);
  }
  static std::vector<std::string> Values(const std::vector<KafkaMockMessage>& messages) {
    std::vector<std::string> v;
    for (const auto& m : messages) v.push_back(m.value);
    std::sort(v.begin(), v.end());
    return v;
  }
  static std::vector<std::string> Numbered(int from, int to) {
    std::vector<std::string> v;
    for (int i = from; i < to; ++i) v.push_back("m" + std::to_string(i));
    std::sort(v.begin(), v.end());
    return v;
  }
  KafkaMockCluster cluster_;
};

TEST_F(KafkaSinkTest, AtLeastOnceEveryRecordIsReadableOnceTheSnapshotReturns) {
  Subtask s(Options(), 0, 1);
  for (int i = 0; i < 200; ++i) s.Write("m" + std::to_string(i));
  s.Snapshot(1);
  EXPECT_EQ(Values(Read(200)), Numbered(0, 200));
}

TEST_F(KafkaSinkTest, KeysHashToOnePartitionEach) {
  auto options = Options();
  options.serializer.key = [](const std::string& v, std::string& key) { key = v.substr(0, 2); };
  Subtask s(options, 0, 1);
  for (int i = 0; i < 60; ++i) s.Write("k" + std::to_string(i % 6) + "-" + std::to_string(i));
  s.Snapshot(1);
  const auto messages = Read(60);
  ASSERT_EQ(messages.size(), 60u);
  std::map<std::string, std::set<int32_t>> partitions_of_key;
  std::set<int32_t> used;
  for (const auto& m : messages) {
    ASSERT_TRUE(m.key.has_value());
    EXPECT_EQ(*m.key, m.value.substr(0, 2));
    partitions_of_key[*m.key].insert(m.partition);
    used.insert(m.partition);
  }
  for (const auto& [key, parts] : partitions_of_key) EXPECT_EQ(parts.size(), 1u) << key;
  EXPECT_GT(used.size(), 1u);
}

TEST_F(KafkaSinkTest, FixedPartitionerWritesSubtaskModPartitions) {
  auto options = Options();
  options.serializer.partitioner = KafkaPartitioner::kFixed;
  Subtask s(options, 4, 5);  // 4 mod 3 partitions = 1
  for (int i = 0; i < 20; ++i) s.Write("m" + std::to_string(i));
  s.Snapshot(1);
  const auto messages = Read(20);
  ASSERT_EQ(messages.size(), 20u);
  for (const auto& m : messages) {
    EXPECT_EQ(m.partition, 1);
    EXPECT_FALSE(m.key.has_value());
  }
}

TEST_F(KafkaSinkTest, RoundRobinAndCustomPartitioners) {
  {
    auto options = Options();
    options.serializer.partitioner = KafkaPartitioner::kRoundRobin;
    Subtask s(options, 0, 1);
    for (int i = 0; i < 30; ++i) s.Write("m" + std::to_string(i));
    s.Snapshot(1);
  }
  std::map<int32_t, int> per_partition;
  for (const auto& m : Read(30)) ++per_partition[m.partition];
  EXPECT_EQ(per_partition, (std::map<int32_t, int>{{0, 10}, {1, 10}, {2, 10}}));

  ASSERT_TRUE(cluster_.CreateTopic("custom", 4));
  auto options = Options();
  options.serializer.topic = "custom";
  options.serializer.custom_partitioner = [](const std::string& v, int32_t n) {
    return static_cast<int32_t>(std::stoi(v) % n);
  };
  Subtask s(options, 0, 1);
  for (int i = 0; i < 12; ++i) s.Write(std::to_string(i));
  s.Snapshot(1);
  const auto messages = ConsumeFromMock(cluster_.bootstrap_servers(), "custom", 4, 12);
  ASSERT_EQ(messages.size(), 12u);
  for (const auto& m : messages) EXPECT_EQ(m.partition, std::stoi(m.value) % 4) << m.value;
}

TEST_F(KafkaSinkTest, JsonValuesHeadersTimestampsAndATopicPerRecord) {
  ASSERT_TRUE(cluster_.CreateTopic("pages-a", 1));
  ASSERT_TRUE(cluster_.CreateTopic("pages-b", 1));
  auto options = Options<Click>();
  options.serializer.topic.clear();
  options.serializer.topic_selector = [](const Click& c) { return "pages-" + c.page; };
  options.serializer.headers = [](const Click& c, std::vector<KafkaHeader>& h) {
    h.push_back({"user", std::to_string(c.user)});
    h.push_back({"source", "sluice"});
  };
  Subtask<Click> s(options, 0, 1);
  s.ctx.SetCurrentTimestamp(1700000000123);
  s.Write(Click{7, "a"});
  s.ctx.SetCurrentTimestamp(kNoTimestamp);
  s.Write(Click{8, "b"});
  s.Snapshot(1);
  const auto a = ConsumeFromMock(cluster_.bootstrap_servers(), "pages-a", 1, 1);
  const auto b = ConsumeFromMock(cluster_.bootstrap_servers(), "pages-b", 1, 1);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].value, R"({"user":7,"page":"a"})");
  EXPECT_EQ(a[0].timestamp, 1700000000123);
  EXPECT_GT(b[0].timestamp, 1700000000123);  // none given: the producer's clock
  using Headers = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(a[0].headers, (Headers{{"user", "7"}, {"source", "sluice"}}));
  EXPECT_EQ(b[0].headers, (Headers{{"user", "8"}, {"source", "sluice"}}));
}

TEST_F(KafkaSinkTest, ExactlyOnceTransactionsAgainstTheMockCluster) {
  // The mock accepts the transactional calls but does not enforce them: this checks that the
  // real producer runs the protocol (init, begin, flush, commit, abort, a restore re-initializing
  // the ids) and that committed records arrive; what is visible when is FakeKafka's business.
  auto options = Options(DeliveryGuarantee::kExactlyOnce);
  options.transactional_id_prefix = "mock-tx";
  options.transactional_pool_size = 3;
  options.transaction_timeout = std::chrono::seconds(60);
  StateLists state;
  {
    Subtask s(options, 0, 1);
    for (int i = 0; i < 50; ++i) s.Write("m" + std::to_string(i));
    s.Snapshot(1);
    for (int i = 50; i < 100; ++i) s.Write("m" + std::to_string(i));
    s.sink.NotifyCheckpointComplete(1);
    EXPECT_EQ(s.sink.Committed(), 1);
    state = s.Snapshot(2);
    s.sink.NotifyCheckpointComplete(2);
    EXPECT_EQ(s.sink.Committed(), 2);
    for (int i = 100; i < 110; ++i) s.Write("m" + std::to_string(i));
    state = s.Snapshot(3);  // pending when the subtask goes
  }
  EXPECT_EQ(Values(Read(110)), Numbered(0, 110));  // the mock shows aborted records too
  Subtask restored(options, 0, 1, &state, 1);
  EXPECT_EQ(restored.sink.RestoredUncommittable(), 1);
  restored.Write("m110");
  restored.Snapshot(4);
  restored.sink.NotifyCheckpointComplete(4);
  EXPECT_EQ(restored.sink.Committed(), 1);
}

TEST_F(KafkaSinkTest, ARecordTheBrokersCannotTakeFailsTheTask) {
  auto options = Options();
  options.properties["message.max.bytes"] = "1000";
  Subtask s(options, 0, 1);
  try {
    s.Write(std::string(5000, 'x'));
    s.Snapshot(1);
    FAIL() << "no error";
  } catch (const KafkaProducerError& e) {
    EXPECT_TRUE(Contains(e.what(), "kafka sink: cannot produce to topic 'out'")) << e.what();
  }
}

TEST_F(KafkaSinkTest, ATopicChosenPerRecordThatDoesNotExistIsNamed) {
  auto options = Options();
  options.serializer.topic.clear();
  options.serializer.topic_selector = [](const std::string& v) { return v; };
  options.serializer.partitioner = KafkaPartitioner::kRoundRobin;
  Subtask s(options, 0, 1);
  s.Write("out");
  try {
    s.Write("nope");
    FAIL() << "no error";
  } catch (const KafkaProducerError& e) {
    EXPECT_TRUE(Contains(e.what(), "kafka sink: topic 'nope' does not exist")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "(setting 'serializer.topic_selector')")) << e.what();
  }
}

TEST_F(KafkaSinkTest, BadSettingsFailWithTheSettingNamed) {
  auto expect_error = [](auto&& fn, const std::vector<std::string>& parts) {
    try {
      fn();
      ADD_FAILURE() << "no error";
    } catch (const std::exception& e) {
      for (const std::string& part : parts) EXPECT_TRUE(Contains(e.what(), part)) << e.what();
    }
  };
  {
    auto options = Options(DeliveryGuarantee::kExactlyOnce);
    expect_error([&] { KafkaSink<std::string> sink(options); },
                 {"kafka sink", "'transactional_id_prefix' is required"});
  }
  {
    auto options = Options();
    options.serializer.topic.clear();
    expect_error([&] { KafkaSink<std::string> sink(options); },
                 {"kafka sink", "'serializer.topic'"});
  }
  {
    auto options = Options();
    options.bootstrap_servers.clear();
    expect_error([&] { KafkaSink<std::string> sink(options); },
                 {"kafka sink", "'bootstrap_servers' is required"});
  }
  {
    auto options = Options();
    options.serializer.topic = "missing";
    expect_error([&] { Subtask s(options, 0, 1); },
                 {"kafka sink: topic 'missing' does not exist", "'serializer.topic'"});
  }
  {
    auto options = Options();
    options.properties["no.such.property"] = "1";
    expect_error([&] { Subtask s(options, 0, 1); },
                 {"kafka sink", "'properties.no.such.property'"});
  }
  {
    auto options = Options();
    options.bootstrap_servers = "127.0.0.1:1";
    options.timeout = std::chrono::seconds(2);
    expect_error(
        [&] { Subtask s(options, 0, 1); },
        {"kafka sink: cannot reach the Kafka brokers at '127.0.0.1:1'", "'bootstrap_servers'"});
  }
  {
    auto options = Options(DeliveryGuarantee::kExactlyOnce);
    options.transactional_id_prefix = "bad";
    options.bootstrap_servers = "127.0.0.1:1";
    options.timeout = std::chrono::seconds(2);
    expect_error([&] { Subtask s(options, 0, 1); },
                 {"kafka sink: cannot reach the Kafka brokers", "'bootstrap_servers'"});
  }
}

}  // namespace
}  // namespace sluice
