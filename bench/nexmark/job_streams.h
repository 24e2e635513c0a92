// The persons and auctions of the event stream, as Nexmark's `person` and `auction` views (the
// bids are in job.h).
#pragma once

#include "bench/nexmark/job.h"

namespace sluice::nexmark {

inline DataStream<Person> Persons(DataStream<Event> events) {
  return events.Filter([](const Event& e) { return e.person.has_value(); }, "Persons")
      .Map([](const Event& e) { return *e.person; }, "Person");
}

inline DataStream<Auction> Auctions(DataStream<Event> events) {
  return events.Filter([](const Event& e) { return e.auction.has_value(); }, "Auctions")
      .Map([](const Event& e) { return *e.auction; }, "Auction");
}

}  // namespace sluice::nexmark
