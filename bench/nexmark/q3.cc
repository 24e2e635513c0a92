// Nexmark q3, local item suggestion: who sells in category 10 from Oregon, Idaho or California,
// and which auctions. A regular (unbounded) inner join: a person id comes once, so an auction
// waits in state only until its seller arrives, and a seller stays.
//   SELECT P.name, P.city, P.state, A.id
//   FROM auction AS A INNER JOIN person AS P ON A.seller = P.id
//   WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');
#include <memory>
#include <string>

#include "bench/nexmark/job_streams.h"

namespace {

using sluice::nexmark::Auction;
using sluice::nexmark::Person;

struct Seller {
  std::string name, city, state;
  SLUICE_FIELDS(name, city, state)
};

class Join final : public sluice::KeyedCoProcessFunction<int64_t, Auction, Person, std::string> {
 public:
  void Open(Context& ctx) override {
    seller_ = ctx.GetState<Seller>("seller");
    waiting_ = ctx.GetListState<int64_t>("auctions");
  }
  void ProcessElement1(const Auction& a, Context&, sluice::Collector<std::string>& out) override {
    if (const Seller* s = seller_.Get()) {
      out.Collect(sluice::nexmark::Csv(s->name, s->city, s->state, a.id));
    } else {
      waiting_.Add(a.id);
    }
  }
  void ProcessElement2(const Person& p, Context&, sluice::Collector<std::string>& out) override {
    Seller s{p.name, p.city, p.state};
    for (int64_t id : waiting_.Get())
      out.Collect(sluice::nexmark::Csv(s.name, s.city, s.state, id));
    waiting_.Clear();
    seller_.Update(std::move(s));
  }

 private:
  sluice::ValueState<Seller> seller_;
  sluice::ListState<int64_t> waiting_;
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q3");
  auto events = Events(env);
  auto auctions =
      Auctions(events).Filter([](const Auction& a) { return a.category == 10; }, "category = 10");
  auto persons = Persons(events).Filter(
      [](const Person& p) { return p.state == "OR" || p.state == "ID" || p.state == "CA"; },
      "state in OR, ID, CA");
  Sink(env,
       auctions.Connect(persons)
           .KeyBy([](const Auction& a) { return a.seller; }, [](const Person& p) { return p.id; })
           .Process([] { return std::make_unique<Join>(); }, "q3 join")
           .Uid("join"));
}
