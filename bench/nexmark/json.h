// Nexmark events as JSON lines, one event per line:
//   {"event_type":0|1|2,"person":{...}|null,"auction":{...}|null,"bid":{...}|null}
// with Nexmark's field names and dateTime / expires as epoch milliseconds. The generator tool
// (nexmark_gen) writes them; the queries read them with --arg events=FILE.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "bench/nexmark/model.h"
#include "sluice/connectors/encoders.h"

namespace sluice::nexmark {

namespace internal {

inline void Field(std::string& out, const char* name, std::string_view value, bool first = false) {
  if (!first) out += ',';
  out += '"';
  out += name;
  out += "\":";
  sluice::internal::AppendJsonString(out, value);
}

inline void Field(std::string& out, const char* name, int64_t value, bool first = false) {
  if (!first) out += ',';
  out += '"';
  out += name;
  out += "\":";
  out += std::to_string(value);
}

}  // namespace internal

//! One JSON line (without the newline).
inline std::string ToJson(const Event& e) {
  using internal::Field;
  std::string out = "{\"event_type\":" + std::to_string(e.event_type) + ",\"person\":";
  if (e.person) {
    const Person& p = *e.person;
    out += '{';
    Field(out, "id", p.id, true);
    Field(out, "name", p.name);
    Field(out, "emailAddress", p.emailAddress);
    Field(out, "creditCard", p.creditCard);
    Field(out, "city", p.city);
    Field(out, "state", p.state);
    Field(out, "dateTime", p.dateTime);
    Field(out, "extra", p.extra);
    out += '}';
  } else {
    out += "null";
  }
  out += ",\"auction\":";
  if (e.auction) {
    const Auction& a = *e.auction;
    out += '{';
    Field(out, "id", a.id, true);
    Field(out, "itemName", a.itemName);
    Field(out, "description", a.description);
    Field(out, "initialBid", a.initialBid);
    Field(out, "reserve", a.reserve);
    Field(out, "dateTime", a.dateTime);
    Field(out, "expires", a.expires);
    Field(out, "seller", a.seller);
    Field(out, "category", a.category);
    Field(out, "extra", a.extra);
    out += '}';
  } else {
    out += "null";
  }
  out += ",\"bid\":";
  if (e.bid) {
    const Bid& b = *e.bid;
    out += '{';
    Field(out, "auction", b.auction, true);
    Field(out, "bidder", b.bidder);
    Field(out, "price", b.price);
    Field(out, "channel", b.channel);
    Field(out, "url", b.url);
    Field(out, "dateTime", b.dateTime);
    Field(out, "extra", b.extra);
    out += '}';
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

// Reading: every field is required (from_json uses at()).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Person, id, name, emailAddress, creditCard, city, state,
                                   dateTime, extra)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Auction, id, itemName, description, initialBid, reserve,
                                   dateTime, expires, seller, category, extra)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Bid, auction, bidder, price, channel, url, dateTime, extra)

//! Parses one JSON line; throws std::invalid_argument naming what is wrong.
inline Event FromJson(std::string_view line) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    throw std::invalid_argument("not a JSON object: " + std::string(line.substr(0, 200)));
  }
  try {
    Event e;
    e.event_type = j.at("event_type").get<int32_t>();
    static const char* const kBodies[] = {"person", "auction", "bid"};
    if (e.event_type < 0 || e.event_type > 2) {
      throw std::invalid_argument("event_type must be 0, 1 or 2, not " +
                                  std::to_string(e.event_type) + ": " +
                                  std::string(line.substr(0, 200)));
    }
    const nlohmann::json& body = j.at(kBodies[e.event_type]);
    if (e.event_type == 0) {
      e.person = body.get<Person>();
    } else if (e.event_type == 1) {
      e.auction = body.get<Auction>();
    } else {
      e.bid = body.get<Bid>();
    }
    return e;
  } catch (const nlohmann::json::exception& ex) {
    throw std::invalid_argument(std::string("not a Nexmark event (") + ex.what() +
                                "): " + std::string(line.substr(0, 200)));
  }
}

}  // namespace sluice::nexmark
