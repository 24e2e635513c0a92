// Nexmark q8, monitor new users: the people who registered and opened an auction within the
// same 10-second window. Per person id, each window remembers the person's name and whether an
// auction of theirs came; when the watermark passes the window's end, a person with an auction
// is written once.
//   SELECT P.id, P.name, P.starttime
//   FROM (SELECT id, name, window_start AS starttime, window_end AS endtime
//         FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
//         GROUP BY id, name, window_start, window_end) P
//   JOIN (SELECT seller, window_start AS starttime, window_end AS endtime
//         FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
//         GROUP BY seller, window_start, window_end) A
//   ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime;
#include <memory>
#include <optional>
#include <string>

#include "bench/nexmark/job_streams.h"

namespace {

using sluice::nexmark::Auction;
using sluice::nexmark::Person;

constexpr int64_t kWindowMs = 10000;

class NewUsers final
    : public sluice::KeyedCoProcessFunction<int64_t, Person, Auction, std::string> {
 public:
  void Open(Context& ctx) override {
    names_ = ctx.GetMapState<int64_t, std::string>("person-by-window");
    auctions_ = ctx.GetMapState<int64_t, bool>("auction-by-window");
  }
  void ProcessElement1(const Person& p, Context& ctx, sluice::Collector<std::string>&) override {
    if (const int64_t start = Start(p.dateTime, ctx); start >= 0) names_.Put(start, p.name);
  }
  void ProcessElement2(const Auction& a, Context& ctx, sluice::Collector<std::string>&) override {
    if (const int64_t start = Start(a.dateTime, ctx); start >= 0) auctions_.Put(start, true);
  }
  void OnTimer(int64_t end, Context& ctx, sluice::Collector<std::string>& out) override {
    const int64_t start = end - kWindowMs;
    std::optional<std::string> name = names_.Get(start);
    if (name && auctions_.Get(start)) {
      out.Collect(sluice::nexmark::Csv(ctx.CurrentKey(), *name, start));
    }
    names_.Remove(start);
    auctions_.Remove(start);
  }

 private:
  //! The window's start, its end's timer registered; -1 when the window has fired already.
  static int64_t Start(int64_t time, Context& ctx) {
    const int64_t start = time - time % kWindowMs;
    if (start + kWindowMs - 1 <= ctx.TimerService().CurrentWatermark()) return -1;  // late
    ctx.TimerService().RegisterEventTimeTimer(start + kWindowMs);
    return start;
  }

  sluice::MapState<int64_t, std::string> names_;
  sluice::MapState<int64_t, bool> auctions_;
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q8");
  auto events = Events(env);
  Sink(env,
       Persons(events)
           .Connect(Auctions(events))
           .KeyBy([](const Person& p) { return p.id; }, [](const Auction& a) { return a.seller; })
           .Process([] { return std::make_unique<NewUsers>(); }, "q8 join")
           .Uid("join"));
}
