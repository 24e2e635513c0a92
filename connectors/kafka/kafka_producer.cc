// KafkaProducerClient over librdkafka's C API: a producer handle whose delivery reports are served
// by rd_kafka_poll on the task thread (in Produce, Flush and the transaction calls); the first
// failed delivery is kept and thrown by the next call. Transaction calls map librdkafka's error
// object onto KafkaErrorClass (fenced, abortable, retriable, fatal).
#include "sluice/connectors/kafka_producer.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace sluice {
namespace {

[[noreturn]] void Fail(KafkaErrorClass c, const std::string& what) {
  throw KafkaProducerError(c, "kafka sink: " + what);
}

bool IsFencedCode(rd_kafka_resp_err_t code) {
  return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
         code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

class LibrdkafkaProducer final : public KafkaProducerClient {
 public:
  explicit LibrdkafkaProducer(KafkaProducerConfig config) : config_(std::move(config)) {
    if (config_.bootstrap_servers.empty()) {
      Fail(KafkaErrorClass::kFatal, "setting 'bootstrap_servers' is required");
    }
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    auto set = [&](const std::string& key, const std::string& value, const std::string& setting) {
      if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) !=
          RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        Fail(KafkaErrorClass::kFatal, "setting '" + setting + "': " + err);
      }
    };
    set("bootstrap.servers", config_.bootstrap_servers, "bootstrap_servers");
    if (!config_.client_id.empty()) set("client.id", config_.client_id, "client_id_prefix");
    // Kafka's default partitioner for keyed records (Java's murmur2), so that a key lands on the
    // partition a Java producer would choose; records without a key are spread at random.
    set("partitioner", "murmur2_random", "properties");
    set("log.connection.close", "false", "properties");
    if (!config_.transactional_id.empty()) {
      set("transactional.id", config_.transactional_id, "transactional_id_prefix");
      set("transaction.timeout.ms", std::to_string(config_.transaction_timeout.count()),
          "transaction_timeout");
    }
    for (const auto& [key, value] : config_.properties) set(key, value, "properties." + key);
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
      auto* self = static_cast<LibrdkafkaProducer*>(opaque);
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && self->delivery_error_.empty()) {
        self->delivery_error_ = std::string("a record to topic '") + rd_kafka_topic_name(m->rkt) +
                                "' was not delivered: " + rd_kafka_err2str(m->err);
        self->delivery_error_fenced_ = IsFencedCode(m->err);
      }
    });
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);  // takes conf on success
    if (!rk_) {
      rd_kafka_conf_destroy(conf);
      Fail(KafkaErrorClass::kFatal, std::string("cannot create the Kafka producer: ") + err);
    }
  }

  ~LibrdkafkaProducer() override {
    // Records still queued are dropped: a sink that needs them flushed has flushed them.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk_, 0);
    rd_kafka_destroy_flags(rk_, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }

  int timeout_ms() const { return static_cast<int>(config_.timeout.count()); }

  int32_t PartitionCount(const std::string& topic) override {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk_, 1, nullptr, &md, timeout_ms());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Fail(KafkaErrorClass::kRetriable,
           "cannot reach the Kafka brokers at '" + config_.bootstrap_servers +
               "' (setting 'bootstrap_servers') within " + std::to_string(timeout_ms()) +
               " ms (setting 'timeout'): " + rd_kafka_err2str(e));
    }
    std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> hold(
        md, rd_kafka_metadata_destroy);
    for (int i = 0; i < md->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& t = md->topics[i];
      if (topic == t.topic && t.err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partition_cnt > 0) {
        return t.partition_cnt;
      }
    }
    Fail(KafkaErrorClass::kFatal,
         "topic '" + topic + "' does not exist at '" + config_.bootstrap_servers + "'");
  }

  void Produce(const KafkaProducerRecord& r) override {
    ThrowDeliveryError();
    const auto deadline = std::chrono::steady_clock::now() + config_.timeout;
    for (;;) {
      rd_kafka_headers_t* headers = nullptr;
      if (r.headers && !r.headers->empty()) {
        headers = rd_kafka_headers_new(r.headers->size());
        for (const KafkaHeader& h : *r.headers) {
          rd_kafka_header_add(headers, h.key.data(), static_cast<ssize_t>(h.key.size()),
                              h.value.data(), static_cast<ssize_t>(h.value.size()));
        }
      }
      rd_kafka_resp_err_t e = rd_kafka_producev(
          rk_, RD_KAFKA_V_TOPIC(std::string(r.topic).c_str()), RD_KAFKA_V_PARTITION(r.partition),
          RD_KAFKA_V_KEY(r.has_key ? const_cast<char*>(r.key.data()) : nullptr,
                         r.has_key ? r.key.size() : 0),
          RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(r.timestamp),
          RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;  // the message owns the headers now
      if (headers) rd_kafka_headers_destroy(headers);
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        Fail(IsFencedCode(e) ? KafkaErrorClass::kFenced : KafkaErrorClass::kAbortable,
             "cannot produce to topic '" + std::string(r.topic) + "': " + rd_kafka_err2str(e));
      }
      if (std::chrono::steady_clock::now() > deadline) {
        Fail(KafkaErrorClass::kRetriable, "the producer's queue stayed full for " +
                                              std::to_string(timeout_ms()) +
                                              " ms (setting 'timeout'): are the brokers at '" +
                                              config_.bootstrap_servers + "' reachable?");
      }
      rd_kafka_poll(rk_, 10);  // back pressure: wait for acknowledgements
    }
    rd_kafka_poll(rk_, 0);
  }

  void Flush() override {
    rd_kafka_resp_err_t e = rd_kafka_flush(rk_, timeout_ms());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Fail(KafkaErrorClass::kRetriable,
           std::to_string(rd_kafka_outq_len(rk_)) + " records were not acknowledged within " +
               std::to_string(timeout_ms()) + " ms (setting 'timeout') by the brokers at '" +
               config_.bootstrap_servers + "'");
    }
    ThrowDeliveryError();
  }

  void InitTransactions() override {
    Check(rd_kafka_init_transactions(rk_, timeout_ms()), "initializing the transactions of");
  }
  void BeginTransaction() override {
    Check(rd_kafka_begin_transaction(rk_), "beginning a transaction of");
  }
  void CommitTransaction() override {
    ThrowDeliveryError();
    Check(rd_kafka_commit_transaction(rk_, timeout_ms()), "committing the transaction of");
  }
  void AbortTransaction() override {
    Check(rd_kafka_abort_transaction(rk_, timeout_ms()), "aborting the transaction of");
    delivery_error_.clear();  // the aborted records' errors are the abort's business
  }

 private:
  void ThrowDeliveryError() {
    rd_kafka_poll(rk_, 0);
    if (delivery_error_.empty()) return;
    Fail(delivery_error_fenced_ ? KafkaErrorClass::kFenced : KafkaErrorClass::kAbortable,
         delivery_error_);
  }

  //! Takes `error` (may be null) and throws it classified.
  void Check(rd_kafka_error_t* error, const char* doing) {
    if (!error) return;
    const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
    KafkaErrorClass c = KafkaErrorClass::kFatal;
    if (IsFencedCode(code)) {
      c = KafkaErrorClass::kFenced;
    } else if (rd_kafka_error_is_fatal(error)) {
      c = KafkaErrorClass::kFatal;
    } else if (rd_kafka_error_txn_requires_abort(error)) {
      c = KafkaErrorClass::kAbortable;
    } else if (rd_kafka_error_is_retriable(error)) {
      c = KafkaErrorClass::kRetriable;
    }
    const std::string what = std::string(doing) + " transactional id '" + config_.transactional_id +
                             "' failed: " + rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    Fail(c, what);
  }

  KafkaProducerConfig config_;
  rd_kafka_t* rk_ = nullptr;
  std::string delivery_error_;  // the first since the last throw (set by rd_kafka_poll's callback)
  bool delivery_error_fenced_ = false;
};

}  // namespace

std::unique_ptr<KafkaProducerClient> MakeKafkaProducer(const KafkaProducerConfig& config) {
  return std::make_unique<LibrdkafkaProducer>(config);
}

}  // namespace sluice
