// Kafka sink (Flink's KafkaSink; docs/connectors.md "Kafka sink"): records to a topic, with a key,
// a partitioner and headers of the job's choosing; none, at least once (flush at every
// checkpoint) or exactly once (Kafka transactions pre-committed at the snapshot and committed when
// the checkpoint completes). The producers live in sluice_connector_kafka (kafka_producer.h),
// which a package using this header links.
//
// The exactly-once protocol, and where librdkafka bounds it. Each subtask owns a pool of
// transactional producers with ids "<prefix>-<subtask>-<slot>" (slot < transactional_pool_size).
// Records go into the open transaction of one of them. At a checkpoint's snapshot that producer is
// flushed (every record acknowledged inside the still-open transaction: the pre-commit), its
// (checkpoint, id) is kept as pending in operator state, and the next records go into a new
// transaction on a free producer of the pool. When a checkpoint completes, every pending
// transaction up to it is committed, in order, by the producer that holds it. At start every
// producer of the pool is initialized (rd_kafka_init_transactions), which makes the coordinator
// abort whatever an earlier attempt left open under that id; ids of subtasks that a restore
// scaled away are aborted the same way by their new owner (subtask % parallelism). Kafka lets
// only the producer that opened a transaction commit it, and librdkafka cannot take over a
// producer's id and epoch (Flink does so through reflection), so a transaction that was pending
// when its task died cannot be committed after the restore: it is aborted with the others, and
// its records are lost if the failure fell between the checkpoint's completion and its commit.
// The sink logs each such transaction after a restore.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/connectors/delivery_guarantee.h"
#include "sluice/connectors/encoders.h"
#include "sluice/connectors/kafka_producer.h"
#include "sluice/datastream.h"
#include "sluice/state.h"

namespace sluice {

//! Which partition a record goes to when the job does not pick one itself.
enum class KafkaPartitioner {
  //! Kafka's default: keyed records by the murmur2 hash of the key (as Java's producer does);
  //! records without a key spread by the producer.
  kDefault,
  //! Flink's FlinkFixedPartitioner: every record of subtask i to partition i mod partitions.
  kFixed,
  //! Kafka's RoundRobinPartitioner: each record to the next partition of its topic.
  kRoundRobin,
};

//! How a record becomes a Kafka record (Flink's KafkaRecordSerializationSchema builder).
template <typename T>
struct KafkaRecordSerializer {
  //! setTopic: required unless topic_selector is set.
  std::string topic;
  //! setTopicSelector: a topic per record. Unset (the default): `topic`.
  std::function<std::string(const T&)> topic_selector;
  //! setKeySerializationSchema: the key's bytes. Unset (the default): records have no key.
  std::function<void(const T&, std::string&)> key;
  //! setValueSerializationSchema: the value's bytes. Unset: the record itself when T is
  //! std::string, one JSON object (JsonLinesEncoder, without a line break) when T has
  //! SLUICE_FIELDS; otherwise required.
  std::function<void(const T&, std::string&)> value;
  //! setPartitioner. Default: kDefault.
  KafkaPartitioner partitioner = KafkaPartitioner::kDefault;
  //! A partitioner of the job's own: the partition (0 <= p < partitions) of a record; it takes
  //! precedence over `partitioner`. Unset (the default): none.
  std::function<int32_t(const T&, int32_t partitions)> custom_partitioner;
  //! setHeaderProvider: the record's headers. Unset (the default): none.
  std::function<void(const T&, std::vector<KafkaHeader>&)> headers;
};

//! The Kafka sink's settings (Flink's KafkaSinkBuilder and its properties).
template <typename T>
struct KafkaSinkOptions {
  //! Required: "host:port[,host:port...]" (setBootstrapServers).
  std::string bootstrap_servers;
  //! setRecordSerializer: topic, key, value, partitioner and headers.
  KafkaRecordSerializer<T> serializer;
  //! setDeliveryGuarantee. Default: kNone, as Flink's.
  DeliveryGuarantee delivery_guarantee = DeliveryGuarantee::kNone;
  //! setTransactionalIdPrefix: required for exactly once, and must differ between jobs writing
  //! to the same cluster (a job fences the producers of another that uses the same prefix).
  std::string transactional_id_prefix;
  //! transaction.timeout.ms: how long the brokers keep a transaction open before aborting it;
  //! must exceed the checkpoint interval plus the time a checkpoint takes, and must not exceed
  //! the brokers' transaction.max.timeout.ms. Default: 15 min (the brokers' default maximum).
  std::chrono::milliseconds transaction_timeout{std::chrono::minutes(15)};
  //! Exactly once: transactional producers per subtask, so at most this many minus one
  //! checkpoints may be pre-committed and not yet completed. Default: 5.
  int transactional_pool_size = 5;
  //! Exactly once: how often a commit, or the initialization of a transactional id, that failed
  //! with a retriable error (a coordinator not available, a timeout) is tried again, 100 ms x the
  //! attempt apart. Default: 5.
  int max_commit_retries = 5;
  //! client.id is "<prefix>-<subtask>". Default: "sluice-kafka-sink".
  std::string client_id_prefix = "sluice-kafka-sink";
  //! Any librdkafka producer property ("linger.ms", "compression.type", ...), passed as it is;
  //! it overrides the settings above.
  std::map<std::string, std::string> properties;
  //! How long Open, flushes and transaction calls wait for the brokers. Default: 30 s.
  std::chrono::milliseconds timeout{30000};
  //! Tests: makes the producers. Unset (the default): librdkafka's (MakeKafkaProducer).
  KafkaProducerFactory producer_factory;
};

//! One entry of the sink's union list state: a subtask's pool, or one pending transaction.
struct KafkaSinkTransaction {
  int32_t subtask = 0;
  int32_t pool_size = 0;
  int64_t checkpoint_id = -1;    //!< -1: the entry describes the pool only
  std::string transactional_id;  //!< the pending transaction's producer
  SLUICE_FIELDS(subtask, pool_size, checkpoint_id, transactional_id)
};

//! The sink operator. Task thread only.
template <typename T>
class KafkaSink final : public SinkOperator<T> {
 public:
  explicit KafkaSink(KafkaSinkOptions<T> options) : options_(std::move(options)) {
    auto& s = options_.serializer;
    if (!s.value) {
      if constexpr (std::is_same_v<T, std::string>) {
        s.value = [](const std::string& v, std::string& out) { out = v; };
      } else if constexpr (internal::HasFields<T>::value) {
        s.value = JsonLinesEncoder<T>();
      } else {
        throw std::invalid_argument("kafka sink: setting 'serializer.value' is required");
      }
    }
    if (options_.bootstrap_servers.empty()) {
      throw std::invalid_argument("kafka sink: setting 'bootstrap_servers' is required");
    }
    if (s.topic.empty() && !s.topic_selector) {
      throw std::invalid_argument(
          "kafka sink: set 'serializer.topic' or 'serializer.topic_selector'");
    }
    if (options_.delivery_guarantee == DeliveryGuarantee::kExactlyOnce) {
      if (options_.transactional_id_prefix.empty()) {
        throw std::invalid_argument(
            "kafka sink: setting 'transactional_id_prefix' is required with the exactly-once "
            "delivery guarantee (setting 'delivery_guarantee')");
      }
      if (options_.transactional_pool_size < 2) {
        throw std::invalid_argument(
            "kafka sink: setting 'transactional_pool_size' must be at least 2");
      }
    }
    if (!options_.producer_factory) options_.producer_factory = MakeKafkaProducer;
  }
  ~KafkaSink() override { Close(); }

  void InitializeState(InitContext& ctx) override {
    for (const std::string& item : ctx.OperatorState(kState)) {
      KafkaSinkTransaction t;
      internal::DeserializeFrom(item, t);
      restored_.push_back(std::move(t));
    }
  }

  void Open(RuntimeContext& ctx, Output& out) override {
    SinkOperator<T>::Open(ctx, out);
    exactly_once_ = options_.delivery_guarantee == DeliveryGuarantee::kExactlyOnce &&
                    ctx.IsCheckpointingEnabled();
    KafkaProducerConfig config = BaseConfig();
    if (exactly_once_) config.transactional_id = TransactionalId(ctx.SubtaskIndex(), 0);
    pool_.push_back(Slot{options_.producer_factory(config), config.transactional_id, false});
    current_ = 0;
    // The brokers and the topic are checked now rather than at the first record.
    if (!options_.serializer.topic.empty()) PartitionCount(options_.serializer.topic);
    if (exactly_once_) {
      AbortLingering();
      for (int i = 0; i < options_.transactional_pool_size; ++i) {
        if (i > 0) {
          config.transactional_id = TransactionalId(ctx.SubtaskIndex(), i);
          pool_.push_back(Slot{options_.producer_factory(config), config.transactional_id, false});
        }
        // Aborts what an earlier attempt left open under this id, and fences its producer.
        KafkaProducerClient& producer = *pool_.back().producer;
        WithRetries("initializing transactional id '" + config.transactional_id + "'",
                    [&] { producer.InitTransactions(); });
      }
      Begin();
    }
    restored_.clear();
  }

  void Process(const T& in) override {
    const KafkaSerializer& s = options_.serializer;
    if (s.topic_selector) topic_ = s.topic_selector(in);
    const std::string& topic = s.topic_selector ? topic_ : s.topic;
    KafkaProducerRecord r;
    r.topic = topic;
    value_.clear();
    s.value(in, value_);
    r.value = value_;
    if (s.key) {
      key_.clear();
      s.key(in, key_);
      r.has_key = true;
      r.key = key_;
    }
    if (s.headers) {
      headers_.clear();
      s.headers(in, headers_);
      r.headers = &headers_;
    }
    r.partition = Partition(in, topic);
    const int64_t ts = this->ctx_->CurrentTimestamp();
    if (ts != kNoTimestamp && ts >= 0) r.timestamp = ts;
    pool_[current_].producer->Produce(r);
    pool_[current_].dirty = true;
  }

  void SnapshotState(SnapshotContext& ctx) override {
    if (!exactly_once_) {
      if (options_.delivery_guarantee != DeliveryGuarantee::kNone) Flush();
      return;
    }
    // Pre-commit: everything of this checkpoint acknowledged inside the open transaction, which
    // stays open until the checkpoint completes. A transaction without records goes on as the
    // next one.
    if (pool_[current_].dirty) {
      pool_[current_].producer->Flush();
      pending_.push_back(Pending{ctx.CheckpointId(), current_});
      current_ = FreeSlot();
      Begin();
    }
    ByteWriter w;
    KafkaSinkTransaction pool{this->ctx_->SubtaskIndex(), options_.transactional_pool_size, -1, ""};
    ctx.AddOperatorState(kState, OperatorStateMode::kUnion, internal::SerializeToString(pool, w));
    for (const Pending& p : pending_) {
      KafkaSinkTransaction t = pool;
      t.checkpoint_id = p.checkpoint_id;
      t.transactional_id = pool_[p.slot].transactional_id;
      ctx.AddOperatorState(kState, OperatorStateMode::kUnion, internal::SerializeToString(t, w));
    }
  }

  void NotifyCheckpointComplete(int64_t checkpoint_id) override {
    while (!pending_.empty() && pending_.front().checkpoint_id <= checkpoint_id) {
      const Pending p = pending_.front();
      Commit(p);
      pending_.erase(pending_.begin());
      ++committed_;
    }
  }

  //! Exactly once: the final checkpoint pre-commits and commits what is left. Else: written now.
  void EndInput() override {
    if (!exactly_once_ && !pool_.empty()) Flush();
  }

  //! Flushes (unless exactly once); aborts the open and the pending transactions (exactly once:
  //! a restore could not commit them either, and open ones hold back read_committed readers).
  void Close() override {
    if (pool_.empty()) return;
    if (!exactly_once_) {
      try {
        Flush();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "kafka sink: records not written at close: %s\n", e.what());
      }
    } else {
      for (const Pending& p : pending_) {
        std::fprintf(stderr,
                     "kafka sink: aborting the transaction of checkpoint %lld (transactional id "
                     "'%s') at close: the checkpoint did not complete before the task ended\n",
                     static_cast<long long>(p.checkpoint_id),
                     pool_[p.slot].transactional_id.c_str());
        TryAbort(p.slot);
      }
      TryAbort(current_);
    }
    pending_.clear();
    pool_.clear();
  }

  //! Transactions committed (tests, diagnostics).
  int Committed() const { return committed_; }
  //! Pending transactions of the restored snapshot that could not be committed (see above).
  int RestoredUncommittable() const { return restored_uncommittable_; }
  //! Checkpoints pre-committed and not yet committed, oldest first.
  std::vector<int64_t> PendingCheckpoints() const {
    std::vector<int64_t> out;
    for (const Pending& p : pending_) out.push_back(p.checkpoint_id);
    return out;
  }

 private:
  using KafkaSerializer = KafkaRecordSerializer<T>;
  static constexpr const char* kState = "kafka-sink-transactions";

  struct Slot {
    std::unique_ptr<KafkaProducerClient> producer;
    std::string transactional_id;
    bool dirty = false;  // records produced in the open transaction (or since the last flush)
    bool open = false;   // a transaction is open (exactly once)
  };
  struct Pending {
    int64_t checkpoint_id;
    size_t slot;
  };

  KafkaProducerConfig BaseConfig() const {
    KafkaProducerConfig config;
    config.bootstrap_servers = options_.bootstrap_servers;
    config.client_id = options_.client_id_prefix + "-" + std::to_string(this->ctx_->SubtaskIndex());
    config.transaction_timeout = options_.transaction_timeout;
    config.timeout = options_.timeout;
    config.properties = options_.properties;
    return config;
  }

  std::string TransactionalId(int subtask, int slot) const {
    return options_.transactional_id_prefix + "-" + std::to_string(subtask) + "-" +
           std::to_string(slot);
  }

  //! Aborts what earlier attempts left open under the ids of subtasks that this one now owns
  //! (its own ids are aborted when its pool is initialized), and reports the restored pending
  //! transactions, which no producer can commit any more.
  void AbortLingering() {
    const int me = this->ctx_->SubtaskIndex();
    const int parallelism = this->ctx_->Parallelism();
    std::map<int, int> pools;  // old subtask -> its pool size
    for (const KafkaSinkTransaction& t : restored_) {
      if (t.subtask % parallelism != me) continue;
      int& size = pools[t.subtask];
      size = std::max(size, t.pool_size);
      if (t.checkpoint_id >= 0) {
        ++restored_uncommittable_;
        std::fprintf(stderr,
                     "kafka sink: the transaction of checkpoint %lld (transactional id '%s') was "
                     "pre-committed before the failure and cannot be committed after a restore "
                     "(a Kafka transaction can be committed only by the producer that opened it); "
                     "it is aborted if it is still open, so its records are lost unless it was "
                     "committed before the failure\n",
                     static_cast<long long>(t.checkpoint_id), t.transactional_id.c_str());
      }
    }
    KafkaProducerConfig config = BaseConfig();
    for (const auto& [subtask, size] : pools) {
      const int first = subtask == me ? options_.transactional_pool_size : 0;
      for (int i = first; i < size; ++i) {
        config.transactional_id = TransactionalId(subtask, i);
        options_.producer_factory(config)->InitTransactions();
      }
    }
  }

  void Begin() {
    pool_[current_].producer->BeginTransaction();
    pool_[current_].dirty = false;
    pool_[current_].open = true;
  }

  size_t FreeSlot() const {
    for (size_t i = 0; i < pool_.size(); ++i) {
      bool used = i == current_;
      for (const Pending& p : pending_) used = used || p.slot == i;
      if (!used) return i;
    }
    throw std::runtime_error(
        "kafka sink: all " + std::to_string(pool_.size()) + " transactional producers of subtask " +
        std::to_string(this->ctx_->SubtaskIndex()) +
        " hold transactions of checkpoints that have not completed yet (checkpoints " +
        std::to_string(pending_.front().checkpoint_id) + " to " +
        std::to_string(pending_.back().checkpoint_id) +
        "): raise setting 'transactional_pool_size' or allow fewer concurrent checkpoints");
  }

  void Flush() {
    pool_[0].producer->Flush();
    pool_[0].dirty = false;
  }

  //! Runs `fn`, again after a retriable error (100 ms x the attempt later), at most
  //! max_commit_retries times more.
  template <typename F>
  void WithRetries(const std::string& what, F&& fn) {
    for (int attempt = 0;; ++attempt) {
      try {
        fn();
        return;
      } catch (const KafkaProducerError& e) {
        if (e.error_class() != KafkaErrorClass::kRetriable) throw;
        if (attempt >= options_.max_commit_retries) {
          throw std::runtime_error("kafka sink: " + what + " failed " +
                                   std::to_string(attempt + 1) +
                                   " times (setting 'max_commit_retries'): " + Cause(e));
        }
        std::fprintf(stderr, "kafka sink: %s failed, trying again: %s\n", what.c_str(),
                     Cause(e).c_str());
        std::this_thread::sleep_for(std::chrono::milliseconds(100 * (attempt + 1)));
      }
    }
  }

  //! Commits `p`'s transaction: a retriable error is tried again; any other fails the task.
  void Commit(const Pending& p) {
    Slot& slot = pool_[p.slot];
    const std::string what = "the transaction of checkpoint " + std::to_string(p.checkpoint_id) +
                             " (transactional id '" + slot.transactional_id + "')";
    try {
      WithRetries("committing " + what, [&] { slot.producer->CommitTransaction(); });
      slot.open = false;
    } catch (const KafkaProducerError& e) {
      switch (e.error_class()) {
        case KafkaErrorClass::kAbortable:
          TryAbort(p.slot);
          throw std::runtime_error("kafka sink: committing " + what +
                                   " failed and it was aborted; its records are lost: " + Cause(e));
        case KafkaErrorClass::kFenced:
          throw std::runtime_error(
              "kafka sink: " + what +
              " cannot be committed: its producer was fenced, another producer took over the "
              "transactional id (does another job use setting 'transactional_id_prefix' '" +
              options_.transactional_id_prefix + "'?): " + Cause(e));
        case KafkaErrorClass::kRetriable:
        case KafkaErrorClass::kFatal:
          break;
      }
      throw std::runtime_error("kafka sink: committing " + what + " failed: " + Cause(e));
    }
  }

  void TryAbort(size_t slot) {
    if (!pool_[slot].open) return;
    pool_[slot].open = false;
    try {
      pool_[slot].producer->AbortTransaction();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
    }
  }

  //! A KafkaProducerError's text without its "kafka sink: ", to quote inside a sentence.
  static std::string Cause(const std::exception& e) {
    std::string_view text = e.what();
    constexpr std::string_view kPrefix = "kafka sink: ";
    if (text.substr(0, kPrefix.size()) == kPrefix) text.remove_prefix(kPrefix.size());
    return std::string(text);
  }

  int32_t PartitionCount(const std::string& topic) {
    auto it = partitions_.find(topic);
    if (it != partitions_.end()) return it->second;
    int32_t n = 0;
    try {
      n = pool_[current_].producer->PartitionCount(topic);
    } catch (const KafkaProducerError& e) {
      if (e.error_class() != KafkaErrorClass::kFatal) throw;
      throw KafkaProducerError(
          KafkaErrorClass::kFatal,
          std::string(e.what()) + " (setting 'serializer." +
              (options_.serializer.topic_selector ? "topic_selector" : "topic") + "')");
    }
    partitions_[topic] = n;
    return n;
  }

  int32_t Partition(const T& in, const std::string& topic) {
    const KafkaSerializer& s = options_.serializer;
    if (!s.custom_partitioner && s.partitioner == KafkaPartitioner::kDefault) {
      return kKafkaAnyPartition;
    }
    const int32_t n = PartitionCount(topic);
    if (s.custom_partitioner) {
      const int32_t p = s.custom_partitioner(in, n);
      if (p < 0 || p >= n) {
        throw std::runtime_error(
            "kafka sink: the custom partitioner (setting "
            "'serializer.custom_partitioner') chose partition " +
            std::to_string(p) + " of topic '" + topic + "', which has " + std::to_string(n) +
            " partitions");
      }
      return p;
    }
    if (s.partitioner == KafkaPartitioner::kFixed) return this->ctx_->SubtaskIndex() % n;
    return static_cast<int32_t>(round_robin_[topic]++ % static_cast<uint64_t>(n));
  }

  KafkaSinkOptions<T> options_;
  bool exactly_once_ = false;
  std::vector<Slot> pool_;        // exactly once: the transactional producers; else one producer
  size_t current_ = 0;            // the slot of the open transaction (or the one producer)
  std::vector<Pending> pending_;  // pre-committed, oldest first
  std::vector<KafkaSinkTransaction> restored_;
  std::map<std::string, int32_t> partitions_;
  std::map<std::string, uint64_t> round_robin_;
  std::string topic_, key_, value_;
  std::vector<KafkaHeader> headers_;
  int committed_ = 0;
  int restored_uncommittable_ = 0;
};

//! A sink factory for SinkTo: stream.SinkTo(MakeKafkaSink(options), "Kafka").
template <typename T>
auto MakeKafkaSink(KafkaSinkOptions<T> options) {
  return [options]() { return std::make_unique<KafkaSink<T>>(options); };
}

}  // namespace sluice
