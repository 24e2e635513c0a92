// Kafka source (Flink's KafkaSource; docs/connectors.md "Kafka"): reads topics, or the topics
// matching a pattern, with each partition a split. Every subtask owns the partitions a fixed
// function of (topic, partition, parallelism, subtask) gives it, so subtasks agree without a
// coordinator, and assigns them to its own consumer by hand (no group rebalancing). The next
// offset of every owned partition is operator state, in a union list: after a restart or a rescale
// each subtask finds the offsets of the partitions it owns now, whoever owned them before. The
// group id, when set, only receives the offsets of completed checkpoints (for monitoring; the
// checkpoint is the truth). Given a WatermarkStrategy, each partition has its own watermark
// generator (idleness and alignment per partition, as the file source's splits). The consumer
// lives in sluice_connector_kafka (kafka_consumer.h), which a package using this header links.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/connectors/kafka_consumer.h"
#include "sluice/connectors/kafka_deserializers.h"
#include "sluice/datastream.h"
#include "sluice/state.h"
#include "sluice/watermarks.h"

namespace sluice {

//! Where a partition starts, or (bounded) where it stops: Flink's OffsetsInitializer.
struct OffsetsInitializer {
  enum class Kind { kEarliest, kLatest, kCommitted, kTimestamp, kOffsets };
  //! Flink's OffsetResetStrategy: for a partition that the group has no committed offset of, or
  //! that an explicit map does not list. kNone fails the source instead.
  enum class Reset { kEarliest, kLatest, kNone };

  Kind kind = Kind::kEarliest;
  Reset reset = Reset::kEarliest;
  int64_t timestamp_ms = 0;
  std::map<KafkaTopicPartition, int64_t> offsets;

  static OffsetsInitializer Earliest() { return {}; }
  static OffsetsInitializer Latest() {
    OffsetsInitializer o;
    o.kind = Kind::kLatest;
    return o;
  }
  //! The group's committed offsets (needs group_id); `reset` where the group has none.
  static OffsetsInitializer CommittedOffsets(Reset reset = Reset::kNone) {
    OffsetsInitializer o;
    o.kind = Kind::kCommitted;
    o.reset = reset;
    return o;
  }
  //! The first offset whose message timestamp is at least `ms` (epoch ms); the end if none is.
  static OffsetsInitializer Timestamp(int64_t ms) {
    OffsetsInitializer o;
    o.kind = Kind::kTimestamp;
    o.timestamp_ms = ms;
    return o;
  }
  //! These offsets; `reset` for the partitions not listed.
  static OffsetsInitializer Offsets(std::map<KafkaTopicPartition, int64_t> offsets,
                                    Reset reset = Reset::kEarliest) {
    OffsetsInitializer o;
    o.kind = Kind::kOffsets;
    o.reset = reset;
    o.offsets = std::move(offsets);
    return o;
  }
};

//! The Kafka source's settings (Flink's KafkaSourceBuilder and its properties).
template <typename T>
struct KafkaSourceOptions {
  //! Required: "host:port[,host:port...]" (bootstrap.servers).
  std::string bootstrap_servers;
  //! The topics to read (setTopics), or, when topic_pattern is set, an ECMAScript regular
  //! expression of whole topic names (setTopicPattern). One of the two is required.
  std::vector<std::string> topics;
  std::string topic_pattern;
  //! The consumer group (group.id): where offsets are committed on checkpoint completion and what
  //! CommittedOffsets reads. Empty (the default): no commits.
  std::string group_id;
  //! Where each partition starts when the job starts without a snapshot. Default: Earliest().
  //! Partitions found later (discovery, or missing from a restored snapshot) start at earliest.
  OffsetsInitializer starting_offsets = OffsetsInitializer::Earliest();
  //! Set (setBounded): each partition stops at this offset, fixed when the job starts (typically
  //! Latest()), and the source ends when every partition reached it; no partition discovery.
  //! Unset (the default): unbounded.
  std::optional<OffsetsInitializer> bounded;
  //! partition.discovery.interval.ms: how often new partitions (and, with a pattern, new topics)
  //! are looked for, on a thread of the consumer; 0 turns it off. Default: 5 minutes.
  std::chrono::milliseconds partition_discovery_interval{std::chrono::minutes(5)};
  //! commit.offsets.on.checkpoint: commit the checkpoint's offsets to group_id when it
  //! completes, asynchronously. Default: true (does nothing without a group id).
  bool commit_offsets_on_checkpoint = true;
  //! client.id.prefix: the client id is "<prefix>-<subtask>". Default: "sluice-kafka-source".
  std::string client_id_prefix = "sluice-kafka-source";
  //! Any librdkafka consumer property ("security.protocol", "fetch.min.bytes", ...), passed as it
  //! is; it overrides the settings above.
  std::map<std::string, std::string> properties;
  //! How long Open waits for metadata and offsets from the brokers. Default: 10 s.
  std::chrono::milliseconds metadata_timeout{10000};
  //! Turns a message into a record; throws when it cannot. Required unless T is std::string
  //! (then the value as it is): KafkaStringDeserializer(), KafkaJsonDeserializer<T>().
  KafkaDeserializer<T> deserializer;
  //! A message the deserializer refuses fails the task with its topic, partition and offset
  //! (false, the default), or is skipped and counted (true).
  bool skip_bad_records = false;
};

//! One entry of the source's union list state.
struct KafkaPartitionOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = kKafkaOffsetEarliest;  //!< next to read
  int64_t stop = -1;                      //!< bounded: the offset to stop at; -1: none
  SLUICE_FIELDS(topic, partition, offset, stop)
};

//! The subtask that reads a partition: Flink's KafkaSourceEnumerator.getSplitOwner, with FNV-1a
//! of the topic name in place of Java's String.hashCode (stable across processes and builds).
inline int KafkaPartitionOwner(const KafkaTopicPartition& tp, int parallelism) {
  uint32_t h = 2166136261u;
  for (char c : tp.topic) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  const int64_t start = static_cast<int64_t>((h * 31u) & 0x7FFFFFFFu);
  return static_cast<int>((start + tp.partition) % parallelism);
}

//! The source operator. Task thread only; its consumer's discovery thread only hands over lists.
template <typename T>
class KafkaSource final : public StreamOperator {
 public:
  explicit KafkaSource(KafkaSourceOptions<T> options,
                       std::optional<WatermarkStrategy<T>> strategy = std::nullopt)
      : options_(std::move(options)), strategy_(std::move(strategy)) {
    if (!options_.deserializer) {
      if constexpr (std::is_same_v<T, std::string>) {
        options_.deserializer = KafkaStringDeserializer();
      } else {
        throw std::invalid_argument("kafka source: setting 'deserializer' is required");
      }
    }
  }
  ~KafkaSource() override { Close(); }

  void InitializeState(InitContext& ctx) override {
    restored_ = ctx.IsRestored();
    if (!restored_) return;
    for (const std::string& item : ctx.OperatorState(kOffsetsState)) {
      KafkaPartitionOffset p;
      internal::DeserializeFrom(item, p);
      restored_offsets_[{p.topic, p.partition}] = p;
    }
  }

  void SnapshotState(SnapshotContext& ctx) override {
    ByteWriter w;
    std::vector<std::pair<KafkaTopicPartition, int64_t>> commit;
    for (const auto& [tp, p] : partitions_) {
      KafkaPartitionOffset item{tp.topic, tp.partition, p.offset, p.stop};
      ctx.AddOperatorState(kOffsetsState, OperatorStateMode::kUnion,
                           internal::SerializeToString(item, w));
      if (p.offset >= 0) commit.emplace_back(tp, p.offset);
    }
    if (options_.commit_offsets_on_checkpoint && !options_.group_id.empty()) {
      pending_commits_[ctx.CheckpointId()] = std::move(commit);
    }
  }

  void NotifyCheckpointComplete(int64_t checkpoint_id) override {
    auto it = pending_commits_.find(checkpoint_id);
    if (it == pending_commits_.end() || !consumer_) return;
    consumer_->CommitAsync(it->second);
    commits_in_flight_ = true;
    pending_commits_.erase(pending_commits_.begin(), std::next(it));
  }

  void Open(RuntimeContext& ctx, Output& out) override {
    StreamOperator::Open(ctx, out);
    if (options_.topics.empty() == options_.topic_pattern.empty()) {
      throw std::invalid_argument(
          "kafka source: set one of 'topics' and 'topic_pattern' (bootstrap servers '" +
          options_.bootstrap_servers + "')");
    }
    KafkaConsumerConfig config;
    config.bootstrap_servers = options_.bootstrap_servers;
    config.group_id = options_.group_id;
    config.client_id = options_.client_id_prefix + "-" + std::to_string(ctx.SubtaskIndex());
    config.properties = options_.properties;
    config.metadata_timeout = options_.metadata_timeout;
    consumer_ = std::make_unique<KafkaConsumer>(std::move(config));
    if (strategy_) {
      watermarks_ = std::make_unique<SourceWatermarks<T>>(*strategy_, ctx, out);
      watermarks_->StartPeriodicEmit();
    }

    // The partitions this subtask owns: those the brokers list now, and those of the snapshot
    // whose topic is still read (a topic dropped from the settings, or deleted, is left behind).
    std::set<KafkaTopicPartition> mine;
    std::set<std::string> topics;
    for (const KafkaTopicPartition& tp :
         consumer_->ListPartitions(options_.topics, options_.topic_pattern)) {
      topics.insert(tp.topic);
      if (Owns(tp)) mine.insert(tp);
    }
    for (const auto& [tp, p] : restored_offsets_) {
      if (Owns(tp) && topics.count(tp.topic) != 0) mine.insert(tp);
    }
    std::vector<KafkaTopicPartition> fresh;  // to start by starting_offsets
    for (const KafkaTopicPartition& tp : mine) {
      auto it = restored_offsets_.find(tp);
      if (it != restored_offsets_.end()) {
        // A stop offset of a bounded run is kept only if this run is bounded too.
        partitions_[tp] = Position{it->second.offset, options_.bounded ? it->second.stop : -1};
      } else if (restored_) {
        partitions_[tp] = Position{kKafkaOffsetEarliest, -1};  // new since the snapshot
      } else {
        fresh.push_back(tp);
      }
    }
    const std::vector<int64_t> starts =
        Resolve(options_.starting_offsets, fresh, "starting_offsets");
    for (size_t i = 0; i < fresh.size(); ++i) partitions_[fresh[i]] = Position{starts[i], -1};
    if (options_.bounded) {
      std::vector<KafkaTopicPartition> unbounded;
      for (const auto& [tp, p] : partitions_) {
        if (p.stop < 0) unbounded.push_back(tp);
      }
      const std::vector<int64_t> stops = Resolve(*options_.bounded, unbounded, "bounded");
      for (size_t i = 0; i < unbounded.size(); ++i) partitions_[unbounded[i]].stop = stops[i];
    }
    std::vector<std::pair<KafkaTopicPartition, int64_t>> assign;
    for (auto& [tp, p] : partitions_) {
      if (Reached(p)) {
        p.done = true;
        continue;
      }
      assign.emplace_back(tp, p.offset);
      AddSplit(tp, p);
    }
    consumer_->Assign(assign);
    if (!options_.bounded && options_.partition_discovery_interval.count() > 0) {
      consumer_->StartDiscovery(options_.topics, options_.topic_pattern,
                                options_.partition_discovery_interval);
    }
  }

  SourceStatus PollNext(int64_t* wait_micros) override {
    TakeDiscovered();
    if (commits_in_flight_) ReportCommits();
    if (options_.bounded && AllDone()) return SourceStatus::kEndOfInput;
    if (watermarks_ && watermarks_->aligned() && !UpdatePaused()) {
      *wait_micros = SourceWatermarks<T>::kPausedWaitMicros;  // every partition is held back
      return SourceStatus::kNothingAvailable;
    }
    std::vector<KafkaTopicPartition> finished;
    const int n = consumer_->Poll(kBatch, [&](const KafkaMessage& m) { OnMessage(m, finished); });
    if (!finished.empty()) consumer_->Unassign(finished);
    if (n > 0) return SourceStatus::kMoreAvailable;
    if (options_.bounded && AllDone()) return SourceStatus::kEndOfInput;
    *wait_micros = kIdleWaitMicros;
    return SourceStatus::kNothingAvailable;
  }

  void Close() override {
    consumer_.reset();  // stops discovery, closes the connections
    watermarks_.reset();
  }

  //! Messages the deserializer refused and skip_bad_records skipped.
  uint64_t SkippedRecords() const { return skipped_; }
  //! Commits to the group that succeeded, as far as the consumer reported them.
  int CommitsSucceeded() const { return commits_ok_; }
  //! The partitions this subtask reads and the next offset of each (tests, diagnostics).
  std::map<KafkaTopicPartition, int64_t> Offsets() const {
    std::map<KafkaTopicPartition, int64_t> out;
    for (const auto& [tp, p] : partitions_) out[tp] = p.offset;
    return out;
  }

 private:
  static constexpr int kBatch = 512;
  static constexpr int64_t kIdleWaitMicros = 5000;
  static constexpr const char* kOffsetsState = "kafka-partition-offsets";

  struct Position {
    Position() = default;
    Position(int64_t offset, int64_t stop) : offset(offset), stop(stop) {}
    int64_t offset = kKafkaOffsetEarliest;  // next to read, or kKafkaOffsetEarliest
    int64_t stop = -1;                      // bounded: stop here
    bool done = false;                      // bounded: reached stop
    bool paused = false;                    // held back by watermark alignment
    typename SourceWatermarks<T>::SplitHandle split;
  };

  bool Owns(const KafkaTopicPartition& tp) const {
    return KafkaPartitionOwner(tp, ctx_->Parallelism()) == ctx_->SubtaskIndex();
  }
  static bool Reached(const Position& p) { return p.stop >= 0 && p.offset >= p.stop; }
  bool AllDone() const {
    for (const auto& [tp, p] : partitions_) {
      if (!p.done) return false;
    }
    return true;
  }

  void AddSplit(const KafkaTopicPartition& tp, Position& p) {
    if (!watermarks_) return;
    watermarks_->AddSplit(ToString(tp));
    p.split = watermarks_->Handle(ToString(tp));
  }

  //! Concrete offsets for `partitions` by `init`; the reset strategy where it has none.
  std::vector<int64_t> Resolve(const OffsetsInitializer& init,
                               const std::vector<KafkaTopicPartition>& partitions,
                               const char* setting) {
    using Kind = OffsetsInitializer::Kind;
    using Reset = OffsetsInitializer::Reset;
    std::vector<int64_t> out;
    if (partitions.empty()) return out;
    auto by_reset = [&](const KafkaTopicPartition& tp, const char* why) -> int64_t {
      if (init.reset == Reset::kNone) {
        throw std::runtime_error("kafka source: partition " + ToString(tp) + " has " + why +
                                 " and the reset strategy is none (setting '" + setting + "')");
      }
      const auto [low, high] = consumer_->QueryWatermarks(tp);
      return init.reset == Reset::kEarliest ? low : high;
    };
    switch (init.kind) {
      case Kind::kEarliest:
      case Kind::kLatest:
        for (const KafkaTopicPartition& tp : partitions) {
          const auto [low, high] = consumer_->QueryWatermarks(tp);
          out.push_back(init.kind == Kind::kEarliest ? low : high);
        }
        break;
      case Kind::kTimestamp:
        out = consumer_->OffsetsForTimes(partitions, init.timestamp_ms);
        break;
      case Kind::kCommitted: {
        out = consumer_->Committed(partitions);
        for (size_t i = 0; i < out.size(); ++i) {
          if (out[i] < 0) out[i] = by_reset(partitions[i], "no committed offset");
        }
        break;
      }
      case Kind::kOffsets:
        for (const KafkaTopicPartition& tp : partitions) {
          auto it = init.offsets.find(tp);
          out.push_back(it != init.offsets.end() ? it->second : by_reset(tp, "no explicit offset"));
        }
        break;
    }
    return out;
  }

  //! Partitions found by the discovery thread that this subtask owns and does not read yet:
  //! read from their earliest offset (Flink's choice for partitions found while running).
  void TakeDiscovered() {
    std::vector<KafkaTopicPartition> found;
    if (!consumer_->TakeDiscovered(&found)) return;
    std::vector<std::pair<KafkaTopicPartition, int64_t>> assign;
    for (const KafkaTopicPartition& tp : found) {
      if (!Owns(tp) || partitions_.count(tp) != 0) continue;
      Position& p = partitions_[tp];
      AddSplit(tp, p);
      assign.emplace_back(tp, p.offset);
    }
    consumer_->Assign(assign);
  }

  //! Watermark alignment (Flink's split-level alignment): partitions whose watermark ran past
  //! what the alignment group allows stop fetching until it catches up. Whether any partition
  //! may be read now.
  bool UpdatePaused() {
    std::vector<KafkaTopicPartition> pause, resume;
    bool any_active = false;
    for (auto& [tp, p] : partitions_) {
      if (p.done) continue;
      const bool held = watermarks_->SplitPaused(ToString(tp));
      if (held != p.paused) (held ? pause : resume).push_back(tp);
      p.paused = held;
      any_active = any_active || !held;
    }
    consumer_->Pause(pause);
    consumer_->Resume(resume);
    return any_active;
  }

  //! Offsets committed to the group are for monitoring only: a failed commit is logged, and the
  //! next checkpoint's commit replaces it.
  void ReportCommits() {
    std::string error;
    commits_ok_ += consumer_->TakeCommitResults(&error);
    if (!error.empty()) {
      std::fprintf(stderr, "kafka source: committing offsets to group '%s' failed: %s\n",
                   options_.group_id.c_str(), error.c_str());
    }
  }

  void OnMessage(const KafkaMessage& m, std::vector<KafkaTopicPartition>& finished) {
    if (!current_ || current_tp_.partition != m.partition || current_tp_.topic != m.topic) {
      current_tp_ = KafkaTopicPartition{std::string(m.topic), m.partition};
      auto it = partitions_.find(current_tp_);
      current_ = it == partitions_.end() ? nullptr : &it->second;
      if (!current_) return;  // not ours (any more)
    }
    Position& p = *current_;
    if (p.done || (p.offset >= 0 && m.offset < p.offset)) return;  // done, or fetched before
    if (p.stop >= 0 && m.offset >= p.stop) {
      Finish(p, finished);
      return;
    }
    bool ok = true;
    try {
      options_.deserializer(m, record_);
    } catch (const std::exception& e) {
      if (!options_.skip_bad_records) {
        throw std::runtime_error("kafka source: cannot deserialize the message at topic '" +
                                 current_tp_.topic + "' partition " + std::to_string(m.partition) +
                                 " offset " + std::to_string(m.offset) + ": " + e.what() +
                                 " (setting 'skip_bad_records' skips such messages)");
      }
      if (skipped_++ == 0) {
        std::fprintf(stderr,
                     "kafka source: skipping messages that do not deserialize (setting "
                     "'skip_bad_records'), the first at topic '%s' partition %d offset %lld: %s\n",
                     current_tp_.topic.c_str(), static_cast<int>(m.partition),
                     static_cast<long long>(m.offset), e.what());
      }
      ok = false;
    }
    if (ok) {
      const int64_t ts = m.timestamp >= 0 ? m.timestamp : kNoTimestamp;
      if (watermarks_) {
        watermarks_->OnRecord(p.split, record_, ts);
      } else {
        if (ts != kNoTimestamp) ctx_->SetCurrentTimestamp(ts);
        out_->Emit(&record_);
      }
    }
    p.offset = m.offset + 1;
    if (Reached(p)) Finish(p, finished);
  }

  void Finish(Position& p, std::vector<KafkaTopicPartition>& finished) {
    p.done = true;
    finished.push_back(current_tp_);
    if (watermarks_) watermarks_->RemoveSplit(ToString(current_tp_));
  }

  KafkaSourceOptions<T> options_;
  std::optional<WatermarkStrategy<T>> strategy_;
  std::unique_ptr<KafkaConsumer> consumer_;
  std::unique_ptr<SourceWatermarks<T>> watermarks_;  // given a strategy
  bool restored_ = false;
  std::map<KafkaTopicPartition, KafkaPartitionOffset> restored_offsets_;  // every subtask's
  std::map<KafkaTopicPartition, Position> partitions_;                    // the ones read here
  KafkaTopicPartition current_tp_;  // of the last message, and its entry (a map node: stable)
  Position* current_ = nullptr;
  std::map<int64_t, std::vector<std::pair<KafkaTopicPartition, int64_t>>> pending_commits_;
  bool commits_in_flight_ = false;
  int commits_ok_ = 0;
  uint64_t skipped_ = 0;
  T record_{};
};

//! Adds a Kafka source: `options` says where and what to read (docs/connectors.md "Kafka").
template <typename T>
DataStream<T> AddKafkaSource(StreamEnvironment& env, const KafkaSourceOptions<T>& options,
                             const std::string& name = "KafkaSource") {
  return env.AddSource<T>([options]() { return std::make_unique<KafkaSource<T>>(options); }, name);
}

//! The same with event time: a watermark generator per partition (records carry the message's
//! timestamp, which the strategy's assigner may replace); idleness by the strategy.
template <typename T>
DataStream<T> AddKafkaSource(StreamEnvironment& env, const KafkaSourceOptions<T>& options,
                             const WatermarkStrategy<T>& strategy,
                             const std::string& name = "KafkaSource") {
  return env.AddSource<T>(
      [options, strategy]() { return std::make_unique<KafkaSource<T>>(options, strategy); }, name);
}

}  // namespace sluice
