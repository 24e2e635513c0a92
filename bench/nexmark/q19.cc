// Nexmark q19, auction top-10: per auction, its ten highest bids with their rank (equal prices by
// time, then bidder). The result updates rows: when a bid enters the ten, the rows from its rank
// down are written with their new ranks; at the end of the input every auction's final ten (in
// output/final).
//   SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC)
//                            AS rank_number FROM bid)
//   WHERE rank_number <= 10;
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "bench/nexmark/job.h"

namespace {

using sluice::nexmark::Bid;

constexpr size_t kTop = 10;

std::string Row(const Bid& b, size_t rank) {
  return sluice::nexmark::BidColumns(b) + "," + std::to_string(rank);
}

class TopBids final : public sluice::KeyedProcessFunction<int64_t, Bid, std::string> {
 public:
  void Open(sluice::KeyedContext<int64_t>& ctx) override { top_ = ctx.GetListState<Bid>("top"); }
  void ProcessElement(const Bid& b, sluice::KeyedContext<int64_t>&,
                      sluice::Collector<std::string>& out) override {
    std::vector<Bid> top = top_.Get();
    auto at = std::find_if(top.begin(), top.end(),
                           [&](const Bid& t) { return sluice::nexmark::HigherBid(b, t); });
    const auto rank = static_cast<size_t>(at - top.begin());
    if (rank >= kTop) return;  // not in the ten
    top.insert(at, b);
    if (top.size() > kTop) top.pop_back();
    for (size_t i = rank; i < top.size(); ++i) out.Collect(Row(top[i], i + 1));
    top_.Update(std::move(top));
  }
  void EndInput(sluice::KeyedContext<int64_t>& ctx, sluice::Collector<std::string>&) override {
    for (const int64_t auction : ctx.Keys()) {
      ctx.SetCurrentKey(auction);
      const std::vector<Bid> top = top_.Get();
      for (size_t i = 0; i < top.size(); ++i) {
        ctx.Output(sluice::nexmark::FinalRows(), Row(top[i], i + 1));
      }
    }
  }

 private:
  sluice::ListState<Bid> top_;
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q19");
  SinkUpdating(env, Bids(Events(env))
                        .KeyBy([](const Bid& b) { return b.auction; })
                        .Process([] { return std::make_unique<TopBids>(); }, "Top 10")
                        .Uid("top"));
}
