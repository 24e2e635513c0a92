// The persons and auctions of the event stream, as Nexmark's `person` and `auction` views (the
// bids are in job.h).
#pragma once

#include "bench/nexmark/job.h"

namespace sluice::nexmark {

inline DataStream<Person> Persons(DataStream<Event> events) {
  return events.FlatMap(
      [](const Event& e, Collector<Person>& out) {
        if (e.person) out.Collect(*e.person);
      },
      "Persons");
}

inline DataStream<Auction> Auctions(DataStream<Event> events) {
  return events.FlatMap(
      [](const Event& e, Collector<Auction>& out) {
        if (e.auction) out.Collect(*e.auction);
      },
      "Auctions");
}

}  // namespace sluice::nexmark
