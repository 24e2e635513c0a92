// What the windowed counting queries share (q5, q11, q12): a count of bids per key and window,
// and the row "key,count,window start,window end".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/nexmark/job.h"

namespace sluice::nexmark {

class CountBids final : public AggregateFunction<Bid, int64_t, int64_t> {
 public:
  int64_t CreateAccumulator() override { return 0; }
  int64_t Add(const Bid&, int64_t n) override { return n + 1; }
  int64_t GetResult(const int64_t& n) override { return n; }
  int64_t Merge(int64_t a, const int64_t& b) override { return a + b; }
};

//! "key,count,start,end" for the window it is called for.
class CountRow final : public ProcessWindowFunction<int64_t, std::string, int64_t, TimeWindow> {
 public:
  void Process(const int64_t& key, Context& ctx, const std::vector<int64_t>& counts,
               Collector<std::string>& out) override {
    out.Collect(Csv(key, counts.at(0), ctx.Window().Start(), ctx.Window().End()));
  }
};

}  // namespace sluice::nexmark
