// Nexmark's three event types (persons, auctions and bids of an online auction) and the event that
// carries one of them, with Nexmark's field names. Times are epoch milliseconds; prices are cents.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sluice/serialization.h"

namespace sluice::nexmark {

struct Person {
  int64_t id = 0;
  std::string name;
  std::string emailAddress;
  std::string creditCard;
  std::string city;
  std::string state;
  int64_t dateTime = 0;
  std::string extra;
  SLUICE_FIELDS(id, name, emailAddress, creditCard, city, state, dateTime, extra)
};

struct Auction {
  int64_t id = 0;
  std::string itemName;
  std::string description;
  int64_t initialBid = 0;
  int64_t reserve = 0;
  int64_t dateTime = 0;
  int64_t expires = 0;
  int64_t seller = 0;
  int64_t category = 0;
  std::string extra;
  SLUICE_FIELDS(id, itemName, description, initialBid, reserve, dateTime, expires, seller, category,
                extra)
};

struct Bid {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  std::string channel;
  std::string url;
  int64_t dateTime = 0;
  std::string extra;
  SLUICE_FIELDS(auction, bidder, price, channel, url, dateTime, extra)
};

//! Nexmark's Event.Type values (the event_type column).
enum class EventType : int32_t { kPerson = 0, kAuction = 1, kBid = 2 };

//! One event: exactly one of person, auction, bid is set, as event_type says.
struct Event {
  int32_t event_type = 0;
  std::optional<Person> person;
  std::optional<Auction> auction;
  std::optional<Bid> bid;
  SLUICE_FIELDS(event_type, person, auction, bid)

  EventType type() const { return static_cast<EventType>(event_type); }
  //! The event's time: its entity's dateTime.
  int64_t Timestamp() const {
    if (person) return person->dateTime;
    if (auction) return auction->dateTime;
    return bid ? bid->dateTime : 0;
  }
};

}  // namespace sluice::nexmark
