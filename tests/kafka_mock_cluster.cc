// kafka_mock_cluster: librdkafka's mock cluster (rdkafka_mock.h) as a small daemon of the tests —
// a TEST DOUBLE, not a Kafka broker. It speaks enough of Kafka's protocol (metadata, produce,
// fetch, list offsets, offset commit and fetch) for librdkafka clients, kcat included, to produce
// and consume, so the engine's tasks, the tests and kcat can share one cluster. Not for anything
// but tests: it keeps everything in memory and knows nothing of durability or replication.
//
//   kafka_mock_cluster [BROKERS]     (default 3)
//
// Prints its bootstrap servers on the first line of stdout, then reads commands on stdin, one per
// line, answering "ok" or "error: ..." on a line:
//   topic NAME PARTITIONS    create a topic
//   down BROKER_ID           take a broker down (its connections are closed, it accepts none)
//   up BROKER_ID             bring it back
// It runs until SIGTERM, or until stdin closes (its parent is gone).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

int main(int argc, char** argv) {
  const int brokers = argc > 1 ? std::atoi(argv[1]) : 3;
  char err[512];
  // The mock cluster needs a client handle to run on; this producer never produces.
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "4", err, sizeof err);  // no notice about its brokers
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "kafka_mock_cluster: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!cluster) {
    std::fprintf(stderr, "kafka_mock_cluster: cannot create the mock cluster\n");
    return 1;
  }
  std::cout << rd_kafka_mock_cluster_bootstraps(cluster) << std::endl;

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string command;
    in >> command;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (command == "topic") {
      std::string name;
      int partitions = 0;
      in >> name >> partitions;
      e = rd_kafka_mock_topic_create(cluster, name.c_str(), partitions, 1);
    } else if (command == "down" || command == "up") {
      int id = 0;
      in >> id;
      e = command == "down" ? rd_kafka_mock_broker_set_down(cluster, id)
                            : rd_kafka_mock_broker_set_up(cluster, id);
    } else {
      std::cout << "error: unknown command '" << command << "'" << std::endl;
      continue;
    }
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cout << "ok" << std::endl;
    } else {
      std::cout << "error: " << rd_kafka_err2str(e) << std::endl;
    }
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
