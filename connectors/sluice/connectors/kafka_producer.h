// The Kafka sink's client (docs/connectors.md "Kafka sink"): one librdkafka producer, optionally
// transactional, behind a small interface so that the sink's transaction protocol can be tested
// with a recording fake that injects errors (a fenced producer, a retriable or abortable commit).
// The real one is compiled into sluice_connector_kafka (librdkafka stays out of the job package's
// headers). KafkaSink<T> (kafka_sink.h) owns its producers and calls them from the task thread
// only; librdkafka's own threads only report deliveries. Errors are KafkaProducerError, a
// std::runtime_error naming the connector, the setting and how the error may be handled.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

//! Kafka's "no partition chosen": librdkafka's partitioner picks one (RD_KAFKA_PARTITION_UA).
inline constexpr int32_t kKafkaAnyPartition = -1;

struct KafkaHeader {
  std::string key;
  std::string value;
};

//! A record to produce; the views are copied by Produce.
struct KafkaProducerRecord {
  std::string_view topic;
  int32_t partition = kKafkaAnyPartition;
  bool has_key = false;  //!< false: no key (null), not an empty one
  std::string_view key;
  std::string_view value;
  int64_t timestamp = 0;  //!< epoch ms; 0: the producer's clock
  const std::vector<KafkaHeader>* headers = nullptr;
};

//! What a failed producer call means for the caller (librdkafka's error classes).
enum class KafkaErrorClass {
  kRetriable,  //!< the same call may succeed if tried again (a coordinator not available, ...)
  kAbortable,  //!< the transaction must be aborted; the producer can go on with a new one
  kFenced,     //!< another producer took over the transactional id; this one is unusable
  kFatal,      //!< anything else: the producer is unusable
};

class KafkaProducerError : public std::runtime_error {
 public:
  KafkaProducerError(KafkaErrorClass error_class, const std::string& what)
      : std::runtime_error(what), error_class_(error_class) {}
  KafkaErrorClass error_class() const { return error_class_; }

 private:
  KafkaErrorClass error_class_;
};

struct KafkaProducerConfig {
  std::string bootstrap_servers;  //!< required
  std::string client_id;
  //! Empty: a plain producer. Set: a transactional one (transactional.id; InitTransactions first).
  std::string transactional_id;
  std::chrono::milliseconds transaction_timeout{std::chrono::minutes(15)};
  //! How long metadata look-ups, flushes and transaction calls wait.
  std::chrono::milliseconds timeout{30000};
  //! Passed to librdkafka as they are (after the settings above, so they win).
  std::map<std::string, std::string> properties;
};

//! One producer. Task thread only.
class KafkaProducerClient {
 public:
  virtual ~KafkaProducerClient() = default;
  //! The partition count of `topic`. Throws when the brokers cannot be reached or the topic does
  //! not exist.
  virtual int32_t PartitionCount(const std::string& topic) = 0;
  //! Queues a record (waiting while librdkafka's queue is full). Throws the first delivery error
  //! seen since the last call, if any.
  virtual void Produce(const KafkaProducerRecord& record) = 0;
  //! Waits until every queued record is acknowledged; throws on a delivery error or a timeout.
  virtual void Flush() = 0;
  //! Transactional producers: registers the transactional id with its coordinator, which aborts
  //! any transaction an earlier producer of that id left open (and fences that producer).
  virtual void InitTransactions() = 0;
  virtual void BeginTransaction() = 0;
  //! Flushes, then commits. Throws KafkaProducerError with its class on failure.
  virtual void CommitTransaction() = 0;
  virtual void AbortTransaction() = 0;
};

using KafkaProducerFactory =
    std::function<std::unique_ptr<KafkaProducerClient>(const KafkaProducerConfig&)>;

//! A librdkafka producer (sluice_connector_kafka). Throws when librdkafka refuses a property.
std::unique_ptr<KafkaProducerClient> MakeKafkaProducer(const KafkaProducerConfig& config);

}  // namespace sluice
