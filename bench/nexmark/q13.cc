// Nexmark q13, bounded side input join: each bid with the value of key MOD(auction, 10000) in a
// bounded side input (bids without one are left out). Every subtask reads the side input when it
// opens: `--arg side-input=FILE`, CSV lines "key,value"; without it, Nexmark's generated side
// input, "i,i" for i in [0, 10000).
//   SELECT B.auction, B.bidder, B.price, B.dateTime, S.value
//   FROM (SELECT *, PROCTIME() AS p_time FROM bid) B
//   JOIN side_input FOR SYSTEM_TIME AS OF B.p_time AS S ON mod(B.auction, 10000) = S.key;
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "bench/nexmark/job.h"

namespace {

using sluice::nexmark::Bid;

class SideInputJoin final : public sluice::ProcessFunction<Bid, std::string> {
 public:
  explicit SideInputJoin(std::string path) : path_(std::move(path)) {}
  void Open(sluice::ProcessContext&) override {
    if (path_.empty()) {
      for (int64_t i = 0; i < 10000; ++i) values_.emplace(i, std::to_string(i));
      return;
    }
    std::ifstream in(path_);
    if (!in) throw std::runtime_error("q13: cannot read the side input '" + path_ + "'");
    std::string line;
    for (int64_t n = 1; std::getline(in, line); ++n) {
      const size_t comma = line.find(',');
      size_t used = 0;
      int64_t key = 0;
      try {
        key = std::stoll(line.substr(0, comma), &used);
      } catch (const std::exception&) {
        used = std::string::npos;
      }
      if (comma == std::string::npos || used != comma) {
        throw std::runtime_error("q13: line " + std::to_string(n) + " of '" + path_ +
                                 "' is not \"key,value\": " + line);
      }
      values_[key] = line.substr(comma + 1);
    }
  }
  void ProcessElement(const Bid& b, sluice::ProcessContext&,
                      sluice::Collector<std::string>& out) override {
    auto it = values_.find(b.auction % 10000);
    if (it == values_.end()) return;
    out.Collect(sluice::nexmark::Csv(b.auction, b.bidder, b.price, b.dateTime, it->second));
  }

 private:
  std::string path_;
  std::unordered_map<int64_t, std::string> values_;
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q13");
  const std::string side_input = env.Arg("side-input");
  Sink(env, Bids(Events(env))
                .Process([side_input] { return std::make_unique<SideInputJoin>(side_input); },
                         "q13 side input join"));
}
