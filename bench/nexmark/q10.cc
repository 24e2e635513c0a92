// Nexmark q10, log to a partitioned file system: every bid, as CSV, into the directory of its UTC
// day and minute (dt=yyyy-MM-dd/hm=HH:mm), part files rolled every minute and at every checkpoint.
//   CREATE TABLE fs_sink (auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3),
//     extra VARCHAR, dt STRING, hm STRING) PARTITIONED BY (dt, hm) WITH ('connector' =
//     'filesystem', 'format' = 'csv', 'sink.rolling-policy.rollover-interval' = '1min', ...);
//   INSERT INTO fs_sink SELECT auction, bidder, price, dateTime, extra,
//     DATE_FORMAT(dateTime, 'yyyy-MM-dd'), DATE_FORMAT(dateTime, 'HH:mm') FROM bid;
// As in Flink's filesystem sink, the partition columns are the directories, not columns of the
// files.
#include <chrono>
#include <string>

#include "bench/nexmark/job.h"

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q10");
  sluice::FileSinkOptions<Bid> options;
  options.bucket_assigner =
      sluice::DateTimeBuckets<Bid>([](const Bid& b) { return b.dateTime; }, "dt=%Y-%m-%d/hm=%H:%M");
  options.encoder = [](const Bid& b, std::string& out) {
    out += Csv(b.auction, b.bidder, b.price, b.dateTime, b.extra);
  };
  options.rollover_interval = std::chrono::minutes(1);
  SinkPartitioned(env, Bids(Events(env)), std::move(options));
}
