// KafkaConsumer over librdkafka's C API: a consumer handle whose main queue is forwarded to the
// consumer queue (rd_kafka_poll_set_consumer), so one non-blocking rd_kafka_consumer_poll serves
// messages, errors and commit results on the task thread.
#include "sluice/connectors/kafka_consumer.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <thread>

namespace sluice {

std::string ToString(const KafkaTopicPartition& tp) {
  return tp.topic + "-" + std::to_string(tp.partition);
}

namespace {

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("kafka source: " + what);
}

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

PartitionList MakeList(const std::vector<KafkaTopicPartition>& partitions) {
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const KafkaTopicPartition& tp : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
  }
  return list;
}

}  // namespace

class KafkaConsumer::Impl {
 public:
  explicit Impl(KafkaConsumerConfig config) : config_(std::move(config)) {
    if (config_.bootstrap_servers.empty()) Fail("setting 'bootstrap_servers' is required");
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    auto set = [&](const std::string& key, const std::string& value, const char* setting) {
      if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) !=
          RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        Fail("setting '" + std::string(setting) + "': " + err);
      }
    };
    set("bootstrap.servers", config_.bootstrap_servers, "bootstrap_servers");
    // librdkafka assigns partitions only to a consumer with a group id, though one that never
    // subscribes joins no group: without a group_id the source uses a name of its own and never
    // commits or reads committed offsets.
    set("group.id", config_.group_id.empty() ? "sluice-kafka-source-uncommitted" : config_.group_id,
        "group_id");
    if (!config_.client_id.empty()) set("client.id", config_.client_id, "client_id");
    // The checkpoint holds the offsets: librdkafka never commits or stores them on its own.
    set("enable.auto.commit", "false", "properties");
    set("enable.auto.offset.store", "false", "properties");
    // An offset that is gone (retention) restarts the partition at its earliest offset.
    set("auto.offset.reset", "earliest", "properties");
    set("log.connection.close", "false", "properties");
    for (const auto& [key, value] : config_.properties) {
      set(key, value, ("properties." + key).c_str());
    }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_offset_commit_cb(conf, [](rd_kafka_t*, rd_kafka_resp_err_t e,
                                                rd_kafka_topic_partition_list_t*, void* opaque) {
      auto* self = static_cast<Impl*>(opaque);
      std::lock_guard<std::mutex> lock(self->mu_);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++self->commits_ok_;
      } else {
        self->commit_error_ = rd_kafka_err2str(e);
      }
    });
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);  // takes conf on success
    if (!rk_) {
      rd_kafka_conf_destroy(conf);
      Fail(std::string("cannot create the Kafka client: ") + err);
    }
    rd_kafka_poll_set_consumer(rk_);
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (discovery_.joinable()) discovery_.join();
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }

  int timeout_ms() const { return static_cast<int>(config_.metadata_timeout.count()); }

  std::vector<KafkaTopicPartition> ListPartitions(const std::vector<std::string>& topics,
                                                  const std::string& pattern) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk_, 1, nullptr, &md, timeout_ms());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Fail("cannot reach the Kafka brokers at '" + config_.bootstrap_servers +
           "' (setting 'bootstrap_servers') within " + std::to_string(timeout_ms()) +
           " ms (setting 'metadata_timeout'): " + rd_kafka_err2str(e));
    }
    std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> hold(
        md, rd_kafka_metadata_destroy);
    std::vector<KafkaTopicPartition> out;
    auto add = [&](const rd_kafka_metadata_topic_t& t) {
      for (int p = 0; p < t.partition_cnt; ++p) out.push_back({t.topic, t.partitions[p].id});
    };
    if (!pattern.empty()) {
      std::regex re;
      try {
        re = std::regex(pattern);
      } catch (const std::regex_error& x) {
        Fail("setting 'topic_pattern': '" + pattern + "' is not a regular expression: " + x.what());
      }
      for (int i = 0; i < md->topic_cnt; ++i) {
        const rd_kafka_metadata_topic_t& t = md->topics[i];
        if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR && std::regex_match(t.topic, re)) add(t);
      }
    } else {
      for (const std::string& name : topics) {
        const rd_kafka_metadata_topic_t* found = nullptr;
        for (int i = 0; i < md->topic_cnt; ++i) {
          if (name == md->topics[i].topic) found = &md->topics[i];
        }
        if (!found || found->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
            found->partition_cnt == 0) {
          Fail("topic '" + name + "' does not exist at '" + config_.bootstrap_servers +
               "' (setting 'topics')");
        }
        add(*found);
      }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  void StartDiscovery(std::vector<std::string> topics, std::string pattern,
                      std::chrono::milliseconds interval) {
    discovery_ =
        std::thread([this, topics = std::move(topics), pattern = std::move(pattern), interval] {
          std::unique_lock<std::mutex> lock(mu_);
          while (!cv_.wait_for(lock, interval, [this] { return stop_; })) {
            lock.unlock();
            std::vector<KafkaTopicPartition> found;
            bool ok = true;
            try {
              found = ListPartitions(topics, pattern);
            } catch (const std::exception&) {
              ok = false;  // the brokers may be back at the next round
            }
            lock.lock();
            if (ok) {
              discovered_ = std::move(found);
              has_discovered_ = true;
            }
          }
        });
  }

  bool TakeDiscovered(std::vector<KafkaTopicPartition>* partitions) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!has_discovered_) return false;
    *partitions = std::move(discovered_);
    has_discovered_ = false;
    return true;
  }

  std::pair<int64_t, int64_t> QueryWatermarks(const KafkaTopicPartition& tp) {
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk_, tp.topic.c_str(), tp.partition,
                                                             &low, &high, timeout_ms());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Fail("cannot read the offsets of partition " + ToString(tp) + " within " +
           std::to_string(timeout_ms()) + " ms: " + rd_kafka_err2str(e));
    }
    return {low, high};
  }

  std::vector<int64_t> OffsetsForTimes(const std::vector<KafkaTopicPartition>& partitions,
                                       int64_t timestamp_ms) {
    PartitionList list = MakeList(partitions);
    for (int i = 0; i < list->cnt; ++i) list->elems[i].offset = timestamp_ms;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk_, list.get(), timeout_ms());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Fail("cannot look up the offsets for timestamp " + std::to_string(timestamp_ms) +
           " (setting 'starting_offsets'): " + rd_kafka_err2str(e));
    }
    std::vector<int64_t> out;
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& el = list->elems[i];
      if (el.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        Fail("cannot look up the offset for timestamp " + std::to_string(timestamp_ms) +
             " of partition " + ToString(partitions[i]) + ": " + rd_kafka_err2str(el.err));
      }
      out.push_back(el.offset >= 0 ? el.offset : QueryWatermarks(partitions[i]).second);
    }
    return out;
  }

  std::vector<int64_t> Committed(const std::vector<KafkaTopicPartition>& partitions) {
    if (config_.group_id.empty()) {
      Fail("starting from committed offsets needs setting 'group_id'");
    }
    PartitionList list = MakeList(partitions);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk_, list.get(), timeout_ms());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Fail("cannot read the committed offsets of group '" + config_.group_id +
           "' (setting 'group_id'): " + rd_kafka_err2str(e));
    }
    std::vector<int64_t> out;
    for (int i = 0; i < list->cnt; ++i) out.push_back(list->elems[i].offset);
    return out;
  }

  void Assign(const std::vector<std::pair<KafkaTopicPartition, int64_t>>& partitions) {
    if (partitions.empty()) return;
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
    for (const auto& [tp, offset] : partitions) {
      rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset =
          offset;
    }
    CheckError(rd_kafka_incremental_assign(rk_, list.get()), "assign partitions");
  }

  void Unassign(const std::vector<KafkaTopicPartition>& partitions) {
    if (partitions.empty()) return;
    CheckError(rd_kafka_incremental_unassign(rk_, MakeList(partitions).get()),
               "unassign partitions");
  }

  void Pause(const std::vector<KafkaTopicPartition>& partitions, bool pause) {
    if (partitions.empty()) return;
    PartitionList list = MakeList(partitions);
    rd_kafka_resp_err_t e = pause ? rd_kafka_pause_partitions(rk_, list.get())
                                  : rd_kafka_resume_partitions(rk_, list.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Fail(std::string("cannot ") + (pause ? "pause" : "resume") +
           " partitions: " + rd_kafka_err2str(e));
    }
  }

  int Poll(int max, const std::function<void(const KafkaMessage&)>& fn) {
    int n = 0;
    while (n < max) {
      std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> m(
          rd_kafka_consumer_poll(rk_, 0), rd_kafka_message_destroy);
      if (!m) break;
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        HandleError(m.get());
        continue;
      }
      rd_kafka_timestamp_type_t type;
      KafkaMessage msg;
      msg.topic = rd_kafka_topic_name(m->rkt);
      msg.partition = m->partition;
      msg.offset = m->offset;
      msg.timestamp = rd_kafka_message_timestamp(m.get(), &type);
      if (m->key) msg.key = std::string_view(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) {
        msg.value = std::string_view(static_cast<const char*>(m->payload), m->len);
      }
      fn(msg);
      ++n;
    }
    return n;
  }

  void CommitAsync(const std::vector<std::pair<KafkaTopicPartition, int64_t>>& offsets) {
    if (config_.group_id.empty() || offsets.empty()) return;
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const auto& [tp, offset] : offsets) {
      rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset =
          offset;
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(rk_, list.get(), 1);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::lock_guard<std::mutex> lock(mu_);
      commit_error_ = rd_kafka_err2str(e);
    }
  }

  int TakeCommitResults(std::string* last_error) {
    std::lock_guard<std::mutex> lock(mu_);
    const int ok = commits_ok_;
    commits_ok_ = 0;
    if (last_error) *last_error = commit_error_;
    commit_error_.clear();
    return ok;
  }

 private:
  void CheckError(rd_kafka_error_t* error, const char* what) {
    if (!error) return;
    std::string text = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    Fail(std::string("cannot ") + what + ": " + text);
  }

  //! Errors that retrying cannot fix fail the task; the rest (brokers down, timeouts) librdkafka
  //! recovers from by itself.
  void HandleError(const rd_kafka_message_t* m) {
    char fatal[512];
    if (rd_kafka_fatal_error(rk_, fatal, sizeof fatal) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Fail(std::string("fatal client error: ") + fatal);
    }
    switch (m->err) {
      case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
      case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
      case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
      case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED: {
        std::string where =
            m->rkt ? std::string(rd_kafka_topic_name(m->rkt)) + "-" + std::to_string(m->partition)
                   : std::string("the consumer");
        Fail(where + ": " + rd_kafka_err2str(m->err));
      }
      default:
        return;
    }
  }

  KafkaConsumerConfig config_;
  rd_kafka_t* rk_ = nullptr;
  std::thread discovery_;
  std::mutex mu_;  // guards what follows (the discovery thread and commit callbacks write it)
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<KafkaTopicPartition> discovered_;
  bool has_discovered_ = false;
  int commits_ok_ = 0;
  std::string commit_error_;
};

KafkaConsumer::KafkaConsumer(KafkaConsumerConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}
KafkaConsumer::~KafkaConsumer() = default;

std::vector<KafkaTopicPartition> KafkaConsumer::ListPartitions(
    const std::vector<std::string>& topics, const std::string& pattern) {
  return impl_->ListPartitions(topics, pattern);
}
void KafkaConsumer::StartDiscovery(std::vector<std::string> topics, std::string pattern,
                                   std::chrono::milliseconds interval) {
  impl_->StartDiscovery(std::move(topics), std::move(pattern), interval);
}
bool KafkaConsumer::TakeDiscovered(std::vector<KafkaTopicPartition>* partitions) {
  return impl_->TakeDiscovered(partitions);
}
std::pair<int64_t, int64_t> KafkaConsumer::QueryWatermarks(const KafkaTopicPartition& tp) {
  return impl_->QueryWatermarks(tp);
}
std::vector<int64_t> KafkaConsumer::OffsetsForTimes(
    const std::vector<KafkaTopicPartition>& partitions, int64_t timestamp_ms) {
  return impl_->OffsetsForTimes(partitions, timestamp_ms);
}
std::vector<int64_t> KafkaConsumer::Committed(const std::vector<KafkaTopicPartition>& partitions) {
  return impl_->Committed(partitions);
}
void KafkaConsumer::Assign(const std::vector<std::pair<KafkaTopicPartition, int64_t>>& p) {
  impl_->Assign(p);
}
void KafkaConsumer::Unassign(const std::vector<KafkaTopicPartition>& partitions) {
  impl_->Unassign(partitions);
}
void KafkaConsumer::Pause(const std::vector<KafkaTopicPartition>& partitions) {
  impl_->Pause(partitions, true);
}
void KafkaConsumer::Resume(const std::vector<KafkaTopicPartition>& partitions) {
  impl_->Pause(partitions, false);
}
int KafkaConsumer::Poll(int max, const std::function<void(const KafkaMessage&)>& fn) {
  return impl_->Poll(max, fn);
}
void KafkaConsumer::CommitAsync(const std::vector<std::pair<KafkaTopicPartition, int64_t>>& o) {
  impl_->CommitAsync(o);
}
int KafkaConsumer::TakeCommitResults(std::string* last_error) {
  return impl_->TakeCommitResults(last_error);
}

}  // namespace sluice
