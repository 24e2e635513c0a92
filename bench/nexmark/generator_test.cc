// The generator against the reference: java.util.Random's documented values, and (with channels
// off) events and sums over the first 100,000 events as the seeded reference generator (nexmark/
// nexmark at 6c465a4, run on OpenJDK 17) printed them; with channels on, the same ids, times and
// types, and channel/url drawn from the fixed tables.
#include "bench/nexmark/generator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "bench/nexmark/java_random.h"
#include "bench/nexmark/json.h"

namespace sluice::nexmark {
namespace {

TEST(JavaRandom, MatchesTheJdk) {
  JavaRandom a(42);
  EXPECT_EQ(a.NextInt(), -1170105035);
  EXPECT_EQ(a.NextInt(), 234785527);
  EXPECT_EQ(a.NextInt(), -1360544799);
  JavaRandom b(42);
  EXPECT_EQ(b.NextInt(10), 0);
  EXPECT_EQ(b.NextInt(10), 3);
  EXPECT_EQ(b.NextInt(10), 8);
  EXPECT_EQ(b.NextInt(16), 0);
  EXPECT_DOUBLE_EQ(b.NextDouble(), 0.30871945533265976);
  EXPECT_EQ(b.NextLong(), 5111195811822994797LL);
  JavaRandom c(0);
  EXPECT_EQ(c.NextInt(13), 5);
  EXPECT_EQ(c.NextInt(26), 18);
  EXPECT_DOUBLE_EQ(c.NextDouble(), 0.24053641567148587);
  EXPECT_EQ(c.NextInt(), -1557280266);
  EXPECT_EQ(c.NextLong(), 5700976833288827063LL);
  JavaRandom d(-7);
  EXPECT_EQ(d.NextInt(1000000007), 577934662);
  EXPECT_EQ(d.NextInt(2), 1);
}

GeneratorConfig Reference() {
  GeneratorConfig c;
  c.channels = false;
  return c;
}

TEST(NexmarkGenerator, FirstEventsAreTheReferences) {
  const GeneratorConfig c = Reference();
  Event e = GenerateEvent(c, 0);  // event id 2
  ASSERT_EQ(e.type(), EventType::kAuction);
  EXPECT_EQ(e.auction->id, 1001);
  EXPECT_EQ(e.auction->itemName, "z ck w");
  EXPECT_EQ(e.auction->description,
            "cwlachrnkfzkygsu edjytotggvasbt z yjjszhhsqtrgzblkaolzkhlldqedvgj "
            "fdbvswemnzshmwipqrzqfkd");
  EXPECT_EQ(e.auction->initialBid, 25626290);
  EXPECT_EQ(e.auction->reserve, 28805847);
  EXPECT_EQ(e.auction->dateTime, 1436918400000);
  EXPECT_EQ(e.auction->expires, 1436918400202);
  EXPECT_EQ(e.auction->seller, 1000);
  EXPECT_EQ(e.auction->category, 12);
  EXPECT_EQ(e.auction->extra.size(), 319u);
  EXPECT_EQ(e.auction->extra.substr(0, 20), "jzlkehMZPLIIwtopffS\\");

  e = GenerateEvent(c, 2);  // event id 4
  ASSERT_EQ(e.type(), EventType::kBid);
  EXPECT_EQ(e.bid->auction, 1000);
  EXPECT_EQ(e.bid->bidder, 1001);
  EXPECT_EQ(e.bid->price, 32530001);
  EXPECT_EQ(e.bid->extra,
            "fdiysaV^]NLVsbolvyqwgticfdrwdyiyofziYMU\\Z`UaTQO][NX\\RM]WPYTOuwogvszlxjrcNOORM");
  EXPECT_EQ(GenerateEvent(c, 3).bid->bidder, 1009);  // event id 5

  e = GenerateEvent(c, 48);  // event id 50
  ASSERT_EQ(e.type(), EventType::kPerson);
  EXPECT_EQ(e.person->id, 1001);
  EXPECT_EQ(e.person->name, "Sarah Smith");
  EXPECT_EQ(e.person->emailAddress, "f  y@yumv.com");
  EXPECT_EQ(e.person->creditCard, "0892 2755 1923 0591");
  EXPECT_EQ(e.person->city, "Los Angeles");
  EXPECT_EQ(e.person->state, "ID");
  EXPECT_EQ(e.person->dateTime, 1436918400004);
  EXPECT_EQ(e.person->extra.size(), 153u);

  e = GenerateEvent(c, 51);  // event id 53
  ASSERT_EQ(e.type(), EventType::kAuction);
  EXPECT_EQ(e.auction->id, 1005);
  EXPECT_EQ(e.auction->itemName, "gcl jljnudyemsv");
  EXPECT_EQ(e.auction->expires, 1436918400038);
  EXPECT_EQ(e.auction->initialBid, 6394586);
  EXPECT_EQ(e.auction->reserve, 27912448);
}

TEST(NexmarkGenerator, SumsOverTheFirst100000EventsAreTheReferences) {
  const GeneratorConfig c = Reference();
  int64_t persons = 0, auctions = 0, bids = 0, time = 0, person_id = 0, auction_id = 0, seller = 0,
          category = 0, initial_bid = 0, reserve = 0, length = 0, bid_auction = 0, bidder = 0,
          price = 0, strings = 0;
  for (int64_t n = 0; n < 100000; ++n) {
    const Event e = GenerateEvent(c, n);
    time += e.Timestamp() - c.base_time;
    if (e.person) {
      ++persons;
      person_id += e.person->id;
      strings += static_cast<int64_t>(e.person->name.size() + e.person->emailAddress.size() +
                                      e.person->creditCard.size() + e.person->city.size() +
                                      e.person->state.size() + e.person->extra.size());
    } else if (e.auction) {
      ++auctions;
      auction_id += e.auction->id;
      seller += e.auction->seller;
      category += e.auction->category;
      initial_bid += e.auction->initialBid;
      reserve += e.auction->reserve;
      length += e.auction->expires - e.auction->dateTime;
      strings += static_cast<int64_t>(e.auction->itemName.size() + e.auction->description.size() +
                                      e.auction->extra.size());
    } else {
      ++bids;
      bid_auction += e.bid->auction;
      bidder += e.bid->bidder;
      price += e.bid->price;
      strings += static_cast<int64_t>(e.bid->extra.size());
    }
  }
  EXPECT_EQ(persons, 2000);
  EXPECT_EQ(auctions, 6000);
  EXPECT_EQ(bids, 92000);
  EXPECT_EQ(time, 499960000);
  EXPECT_EQ(person_id, 4001000);
  EXPECT_EQ(auction_id, 24003000);
  EXPECT_EQ(seller, 11268569);
  EXPECT_EQ(category, 71909);
  EXPECT_EQ(initial_bid, 42852917872);
  EXPECT_EQ(reserve, 84257960243);
  EXPECT_EQ(length, 1006943);
  EXPECT_EQ(bid_auction, 363648112);
  EXPECT_EQ(bidder, 172130989);
  EXPECT_EQ(price, 667953890778);
  EXPECT_EQ(strings, 9306521);
}

TEST(NexmarkGenerator, ChannelsAddChannelAndUrlToBidsAndASeedChangesTheDraws) {
  GeneratorConfig c;  // channels on
  int hot = 0, bids = 0;
  for (int64_t n = 0; n < 2000; ++n) {
    const Event with = GenerateEvent(c, n);
    const Event without = GenerateEvent(Reference(), n);
    ASSERT_EQ(with.event_type, without.event_type);
    EXPECT_EQ(with.Timestamp(), without.Timestamp());
    if (!with.bid) continue;
    ++bids;
    EXPECT_EQ(with.bid->price, without.bid->price);  // drawn before the channel
    ASSERT_FALSE(with.bid->channel.empty());
    EXPECT_EQ(with.bid->url.rfind("https://www.nexmark.com/", 0), 0u) << with.bid->url;
    if (with.bid->channel.rfind("channel-", 0) != 0) ++hot;
  }
  EXPECT_GT(hot, bids / 3);  // half of them, about
  EXPECT_LT(hot, 2 * bids / 3);
  GeneratorConfig seeded = c;
  seeded.seed = 7;
  EXPECT_NE(GenerateEvent(seeded, 2).bid->price, GenerateEvent(c, 2).bid->price);
  EXPECT_EQ(GenerateEvent(seeded, 2).bid->price, GenerateEvent(seeded, 2).bid->price);
}

TEST(NexmarkJson, EventsReadBackAsWrittenAndBadLinesAreRefusedByName) {
  const GeneratorConfig c;
  for (int64_t n : {0, 2, 48}) {  // an auction, a bid, a person
    const Event e = GenerateEvent(c, n);
    const Event back = FromJson(ToJson(e));
    EXPECT_EQ(ToJson(back), ToJson(e));
    EXPECT_EQ(back.event_type, e.event_type);
  }
  auto error_of = [](const std::string& line) {
    try {
      FromJson(line);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(error_of("{not json").find("not a JSON object"), std::string::npos);
  EXPECT_NE(error_of(R"({"event_type":7})").find("event_type must be 0, 1 or 2"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"event_type":2,"person":null,"auction":null,"bid":{"auction":1}})")
                .find("not a Nexmark event"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::nexmark
