// KafkaMockCluster: starts tests/kafka_mock_cluster.cc — librdkafka's mock cluster, a TEST
// DOUBLE, not a Kafka broker — as a child process, reads its bootstrap servers, sends it commands
// (create a topic, take a broker down and up) and produces messages to it with librdkafka's
// producer. The engine's tasks, the test and kcat all reach the same cluster over TCP. The child is
// killed by its pid and reaped when the object goes (and exits by itself if the test dies, when
// its stdin closes). Needs KAFKA_MOCK_CLUSTER_BINARY (the daemon's path) defined at compile time.
#pragma once

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace sluice::testing {

class KafkaMockCluster {
 public:
  KafkaMockCluster() = default;
  KafkaMockCluster(const KafkaMockCluster&) = delete;
  KafkaMockCluster& operator=(const KafkaMockCluster&) = delete;
  ~KafkaMockCluster() {
    if (producer_) {
      rd_kafka_flush(producer_, 5000);
      rd_kafka_destroy(producer_);
    }
    if (to_child_) std::fclose(to_child_);
    if (from_child_) std::fclose(from_child_);
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  //! Starts the daemon with `brokers` brokers (ids 1..brokers); false with `error` set on failure.
  bool Start(int brokers, std::string* error) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) {
      *error = "pipe failed";
      return false;
    }
    const std::string count = std::to_string(brokers);
    const char* argv[] = {KAFKA_MOCK_CLUSTER_BINARY, count.c_str(), nullptr};
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::close(in[1]);
      ::close(out[0]);
      ::execv(argv[0], const_cast<char* const*>(argv));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_child_ = ::fdopen(in[1], "w");
    from_child_ = ::fdopen(out[0], "r");
    if (pid_ < 0 || !ReadLine(&bootstrap_) || bootstrap_.empty()) {
      *error = std::string("the mock cluster did not start: ") + KAFKA_MOCK_CLUSTER_BINARY;
      return false;
    }
    return true;
  }

  //! "127.0.0.1:port,..." of every broker.
  const std::string& bootstrap_servers() const { return bootstrap_; }
  pid_t pid() const { return pid_; }

  //! Sends one command line; its answer ("ok" or "error: ...").
  std::string Command(const std::string& line) {
    std::fprintf(to_child_, "%s\n", line.c_str());
    std::fflush(to_child_);
    std::string answer;
    if (!ReadLine(&answer)) return "error: the mock cluster is gone";
    return answer;
  }
  bool CreateTopic(const std::string& name, int partitions) {
    return Command("topic " + name + " " + std::to_string(partitions)) == "ok";
  }
  bool BrokerDown(int id) { return Command("down " + std::to_string(id)) == "ok"; }
  bool BrokerUp(int id) { return Command("up " + std::to_string(id)) == "ok"; }

  //! Queues one message for a partition, with a timestamp (epoch ms; 0: now). Flush sends them.
  bool Produce(const std::string& topic, int32_t partition, const std::string& value,
               int64_t timestamp_ms = 0) {
    if (!producer_ && !StartProducer()) return false;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        producer_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
        RD_KAFKA_V_END);
    rd_kafka_poll(producer_, 0);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  //! Waits until every produced message is acknowledged; false if some failed or it took > 30 s.
  bool Flush() {
    if (!producer_) return true;
    return rd_kafka_flush(producer_, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR && failed_ == 0;
  }

 private:
  bool ReadLine(std::string* line) {
    char buf[4096];
    if (!from_child_ || !std::fgets(buf, sizeof buf, from_child_)) return false;
    *line = buf;
    while (!line->empty() && (line->back() == '\n' || line->back() == '\r')) line->pop_back();
    return true;
  }

  bool StartProducer() {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_.c_str(), err, sizeof err) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "linger.ms", "1", err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return false;
    }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
      if (m->err) ++static_cast<KafkaMockCluster*>(opaque)->failed_;
    });
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!producer_) rd_kafka_conf_destroy(conf);
    return producer_ != nullptr;
  }

  pid_t pid_ = -1;
  FILE* to_child_ = nullptr;
  FILE* from_child_ = nullptr;
  std::string bootstrap_;
  rd_kafka_t* producer_ = nullptr;
  int failed_ = 0;
};

}  // namespace sluice::testing

// Reading back what a test wrote to the mock cluster (appended for the Kafka sink's tests).
#include <chrono>
#include <optional>
#include <utility>
#include <vector>

namespace sluice::testing {

//! A message as a test reads it back from the mock cluster.
struct KafkaMockMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp = -1;
  std::optional<std::string> key;  //!< none: the message has no key
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

//! Reads partitions 0..partitions-1 of `topic` from their start until `count` messages arrived or
//! `deadline` passed, then polls a little longer so that any message too many shows. The mock
//! does not enforce transactions, so this sees aborted and open transactions' records too.
inline std::vector<KafkaMockMessage> ConsumeFromMock(
    const std::string& bootstrap, const std::string& topic, int partitions, size_t count,
    std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  std::vector<KafkaMockMessage> out;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "kafka-mock-reader", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return out;
  }
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  const auto end = std::chrono::steady_clock::now() + deadline;
  int extra_polls = 5;  // after `count`: 5 x 100 ms more
  while (std::chrono::steady_clock::now() < end && extra_polls > 0) {
    if (out.size() >= count) --extra_polls;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      KafkaMockMessage msg;
      msg.partition = m->partition;
      msg.offset = m->offset;
      msg.timestamp = rd_kafka_message_timestamp(m, nullptr);
      if (m->key) msg.key.emplace(static_cast<const char*>(m->key), m->key_len);
      msg.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          msg.headers.emplace_back(
              name, value ? std::string(static_cast<const char*>(value), size) : std::string());
        }
      }
      out.push_back(std::move(msg));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

}  // namespace sluice::testing
