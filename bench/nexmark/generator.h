// The Nexmark event generator, as the reference implementation (the nexmark/nexmark repository,
// whose generator comes from Apache Beam's) defines it: event n of the stream is a person, an
// auction or a bid in proportion 1 : 3 : 46 by its id; its fields are drawn from
// java.util.Random(event id), so every event is a pure function of its number and the
// configuration; average sizes 200 / 500 / 100 bytes through the `extra` padding; hot auctions,
// sellers and bidders (ratios 2, 4, 4); 1000 active people and 100 auctions in flight; event
// times advancing by 1e6 / rate microseconds per event from a fixed base time.
//
// Where the reference versions differ (docs/nexmark.md, "The generator"): the bid's channel and
// url (newer nexmark-flink) are kept, drawn after the price from the event's own Random, with
// the channel table and hot urls built from a fixed seed (nexmark-flink draws them unseeded); a
// bidder id is the person's id (nexmark-flink adds the first person id twice); `seed` other than
// 0 changes every event's Random. With `channels` off the events are those of the seeded
// nexmark-flink generator before channels existed, bit for bit (bench/nexmark/generator_test.cc
// checks them against its output).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "bench/nexmark/java_random.h"
#include "bench/nexmark/model.h"

namespace sluice::nexmark {

struct GeneratorConfig {
  //! Events per second of event time (Nexmark's first-event.rate); the generators together.
  double rate = 10000;
  int num_event_generators = 1;
  int person_proportion = 1;
  int auction_proportion = 3;
  int bid_proportion = 46;
  int avg_person_byte_size = 200;
  int avg_auction_byte_size = 500;
  int avg_bid_byte_size = 100;
  int hot_auction_ratio = 2;
  int hot_sellers_ratio = 4;
  int hot_bidders_ratio = 4;
  int64_t num_active_people = 1000;
  int64_t num_in_flight_auctions = 100;
  int64_t base_time = 1436918400000;  // 2015-07-15T00:00:00Z, Beam's fixed base time
  int64_t first_event_id = 1;         // nexmark-flink's table source: ids from 2
  int64_t first_event_number = 1;
  int64_t seed = 0;
  bool channels = true;

  int total_proportion() const { return person_proportion + auction_proportion + bid_proportion; }
  double inter_event_delay_us() const { return 1000000.0 / rate * num_event_generators; }
  int64_t TimestampForEvent(int64_t event_number) const {
    return base_time +
           static_cast<int64_t>(static_cast<double>(event_number) * inter_event_delay_us()) / 1000;
  }
};

namespace internal {

constexpr int64_t kFirstPersonId = 1000;
constexpr int64_t kFirstAuctionId = 1000;
constexpr int64_t kFirstCategoryId = 10;
constexpr int64_t kPersonIdLead = 10;
constexpr int64_t kAuctionIdLead = 10;
constexpr int kNumCategories = 5;
constexpr int64_t kHotSellerRatio = 100;
constexpr int64_t kHotAuctionRatio = 100;
constexpr int64_t kHotBidderRatio = 100;
constexpr int kHotChannelsRatio = 2;
constexpr int kChannelsNumber = 10000;
constexpr int kMinStringLength = 3;

inline const std::array<const char*, 6> kUsStates = {"AZ", "CA", "ID", "OR", "WA", "WY"};
inline const std::array<const char*, 10> kUsCities = {
    "Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
    "Bend",    "Redmond",     "Seattle",       "Kent",  "Cheyenne"};
inline const std::array<const char*, 11> kFirstNames = {
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"};
inline const std::array<const char*, 9> kLastNames = {
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"};
inline const std::array<const char*, 4> kHotChannels = {"Google", "Facebook", "Baidu", "Apple"};

//! LongGenerator.nextLong: uniform in [0, n).
inline int64_t NextLong(JavaRandom& rng, int64_t n) {
  if (n < 2147483647) return rng.NextInt(static_cast<int32_t>(n));
  const int64_t r = rng.NextLong() % n;
  return r < 0 ? -r : r;
}

//! PriceGenerator: log-uniform cents from $1 to $1,000,000.
inline int64_t NextPrice(JavaRandom& rng) {
  return static_cast<int64_t>(std::floor(std::pow(10.0, rng.NextDouble() * 6.0) * 100.0 + 0.5));
}

//! Java's String.trim for these strings: spaces at both ends.
inline std::string Trim(std::string s) {
  size_t b = 0, e = s.size();
  while (b < e && static_cast<unsigned char>(s[b]) <= ' ') ++b;
  while (e > b && static_cast<unsigned char>(s[e - 1]) <= ' ') --e;
  s.erase(e);
  s.erase(0, b);
  return s;
}

inline std::string NextString(JavaRandom& rng, int max_length, char special = ' ') {
  int len = kMinStringLength + rng.NextInt(max_length - kMinStringLength);
  std::string s;
  s.reserve(static_cast<size_t>(len));
  while (len-- > 0) {
    if (rng.NextInt(13) == 0) {
      s += special;
    } else {
      s += static_cast<char>('a' + rng.NextInt(26));
    }
  }
  return Trim(std::move(s));
}

//! nextExactString: six characters per 32-bit draw; Java's int remainder may be negative, so the
//! characters span 'H'..'z'. Two characters at a time: with truncating division, r % 26 and
//! (r / 26) % 26 are m % 26 and m / 26 for m = r % 676, and r / 676 goes on to the next two.
inline std::string NextExactString(JavaRandom& rng, int length) {
  static const auto kPairs = [] {
    std::array<std::array<char, 2>, 2 * 675 + 1> t{};
    for (int m = -675; m <= 675; ++m) {
      t[static_cast<size_t>(m + 675)] = {static_cast<char>('a' + m % 26),
                                         static_cast<char>('a' + m / 26)};
    }
    return t;
  }();
  std::string s(static_cast<size_t>(std::max(length, 0)), '\0');
  char* out = s.data();
  char* const end = out + s.size();
  while (out + 6 <= end) {
    int32_t rnd = rng.NextInt();
    for (int i = 0; i < 3; ++i) {
      const auto& pair = kPairs[static_cast<size_t>(rnd % 676 + 675)];
      out[0] = pair[0];
      out[1] = pair[1];
      out += 2;
      rnd /= 676;
    }
  }
  if (out < end) {
    int32_t rnd = rng.NextInt();
    while (out < end) {
      *out++ = static_cast<char>('a' + rnd % 26);
      rnd /= 26;
    }
  }
  return s;
}

inline std::string NextExtra(JavaRandom& rng, int current_size, int desired_average_size) {
  if (current_size > desired_average_size) return "";
  desired_average_size -= current_size;
  const int delta = static_cast<int>(std::floor(desired_average_size * 0.2 + 0.5));
  const int min_size = desired_average_size - delta;
  const int desired = min_size + (delta == 0 ? 0 : rng.NextInt(2 * delta));
  return NextExactString(rng, desired);
}

inline int64_t LastBase0PersonId(const GeneratorConfig& c, int64_t event_id) {
  const int64_t epoch = event_id / c.total_proportion();
  int64_t offset = event_id % c.total_proportion();
  if (offset >= c.person_proportion) offset = c.person_proportion - 1;
  return epoch * c.person_proportion + offset;
}

inline int64_t NextBase0PersonId(const GeneratorConfig& c, int64_t event_id, JavaRandom& rng) {
  const int64_t num_people = LastBase0PersonId(c, event_id) + 1;
  const int64_t active = std::min(num_people, c.num_active_people);
  const int64_t n = NextLong(rng, active + kPersonIdLead);
  return num_people - active + n;
}

inline int64_t LastBase0AuctionId(const GeneratorConfig& c, int64_t event_id) {
  int64_t epoch = event_id / c.total_proportion();
  int64_t offset = event_id % c.total_proportion();
  if (offset < c.person_proportion) {
    --epoch;
    offset = c.auction_proportion - 1;
  } else if (offset >= c.person_proportion + c.auction_proportion) {
    offset = c.auction_proportion - 1;
  } else {
    offset -= c.person_proportion;
  }
  return epoch * c.auction_proportion + offset;
}

inline int64_t NextBase0AuctionId(const GeneratorConfig& c, int64_t event_id, JavaRandom& rng) {
  const int64_t max_auction = LastBase0AuctionId(c, event_id);
  const int64_t min_auction = std::max<int64_t>(max_auction - c.num_in_flight_auctions, 0);
  return min_auction + NextLong(rng, max_auction - min_auction + 1 + kAuctionIdLead);
}

inline std::string BaseUrl(JavaRandom& rng) {
  std::string url = "https://www.nexmark.com/";
  url += NextString(rng, 5, '_');
  url += '/';
  url += NextString(rng, 5, '_');
  url += '/';
  url += NextString(rng, 5, '_');
  url += "/item.htm?query=1";
  return url;
}

inline uint32_t Reverse32(uint32_t v) {
  uint32_t r = 0;
  for (int i = 0; i < 32; ++i) {
    r = (r << 1) | (v & 1);
    v >>= 1;
  }
  return r;
}

//! The hot urls and the table of 10,000 channels (name, url), built once from a fixed seed.
struct ChannelTable {
  std::array<std::string, 4> hot_urls;
  std::vector<std::pair<std::string, std::string>> channels;

  static const ChannelTable& Get() {
    static const ChannelTable table = [] {
      ChannelTable t;
      JavaRandom rng(0x6e65786d61726bLL);  // "nexmark"
      for (std::string& url : t.hot_urls) url = BaseUrl(rng);
      t.channels.reserve(kChannelsNumber);
      for (int i = 0; i < kChannelsNumber; ++i) {
        std::string url = BaseUrl(rng);
        if (rng.NextInt(10) > 0) {
          // Math.abs(Integer.reverse(i)): abs of INT_MIN stays INT_MIN.
          const auto reversed = static_cast<int32_t>(Reverse32(static_cast<uint32_t>(i)));
          const int64_t shown =
              reversed == INT32_MIN ? int64_t{INT32_MIN} : std::abs(static_cast<int64_t>(reversed));
          url += "&channel_id=" + std::to_string(shown);
        }
        t.channels.emplace_back("channel-" + std::to_string(i), std::move(url));
      }
      return t;
    }();
    return table;
  }
};

inline Person NextPerson(const GeneratorConfig& c, int64_t event_id, JavaRandom& rng,
                         int64_t timestamp) {
  Person p;
  p.id = LastBase0PersonId(c, event_id) + kFirstPersonId;
  p.name = kFirstNames[static_cast<size_t>(rng.NextInt(11))];
  p.name += ' ';
  p.name += kLastNames[static_cast<size_t>(rng.NextInt(9))];
  p.emailAddress = NextString(rng, 7);  // apart: the order of the draws is the generator's
  p.emailAddress += '@';
  p.emailAddress += NextString(rng, 5);
  p.emailAddress += ".com";
  char card[24];
  int a = rng.NextInt(10000), b = rng.NextInt(10000), cc = rng.NextInt(10000),
      d = rng.NextInt(10000);
  std::snprintf(card, sizeof card, "%04d %04d %04d %04d", a, b, cc, d);
  p.creditCard = card;
  p.city = kUsCities[static_cast<size_t>(rng.NextInt(10))];
  p.state = kUsStates[static_cast<size_t>(rng.NextInt(6))];
  const int size = 8 + static_cast<int>(p.name.size() + p.emailAddress.size() +
                                        p.creditCard.size() + p.city.size() + p.state.size());
  p.dateTime = timestamp;
  p.extra = NextExtra(rng, size, c.avg_person_byte_size);
  return p;
}

inline Auction NextAuction(const GeneratorConfig& c, int64_t event_number, int64_t event_id,
                           JavaRandom& rng, int64_t timestamp) {
  Auction a;
  a.id = LastBase0AuctionId(c, event_id) + kFirstAuctionId;
  if (rng.NextInt(c.hot_sellers_ratio) > 0) {
    a.seller = (LastBase0PersonId(c, event_id) / kHotSellerRatio) * kHotSellerRatio;
  } else {
    a.seller = NextBase0PersonId(c, event_id, rng);
  }
  a.seller += kFirstPersonId;
  a.category = kFirstCategoryId + rng.NextInt(kNumCategories);
  a.initialBid = NextPrice(rng);
  const int64_t events_for_auctions =
      (c.num_in_flight_auctions * c.total_proportion()) / c.auction_proportion;
  const int64_t horizon_ms = c.TimestampForEvent(event_number + events_for_auctions) - timestamp;
  a.expires = timestamp + 1 + NextLong(rng, std::max<int64_t>(horizon_ms * 2, 1));
  a.itemName = NextString(rng, 20);
  a.description = NextString(rng, 100);
  a.reserve = a.initialBid + NextPrice(rng);
  a.dateTime = timestamp;
  const int size = 8 + static_cast<int>(a.itemName.size() + a.description.size()) + 40;
  a.extra = NextExtra(rng, size, c.avg_auction_byte_size);
  return a;
}

inline Bid NextBid(const GeneratorConfig& c, int64_t event_id, JavaRandom& rng, int64_t timestamp) {
  Bid b;
  if (rng.NextInt(c.hot_auction_ratio) > 0) {
    b.auction = (LastBase0AuctionId(c, event_id) / kHotAuctionRatio) * kHotAuctionRatio;
  } else {
    b.auction = NextBase0AuctionId(c, event_id, rng);
  }
  b.auction += kFirstAuctionId;
  if (rng.NextInt(c.hot_bidders_ratio) > 0) {
    b.bidder = (LastBase0PersonId(c, event_id) / kHotBidderRatio) * kHotBidderRatio + 1;
  } else {
    b.bidder = NextBase0PersonId(c, event_id, rng);
  }
  b.bidder += kFirstPersonId;
  b.price = NextPrice(rng);
  if (c.channels) {
    const ChannelTable& table = ChannelTable::Get();
    if (rng.NextInt(kHotChannelsRatio) > 0) {
      const auto i = static_cast<size_t>(rng.NextInt(static_cast<int32_t>(kHotChannels.size())));
      b.channel = kHotChannels[i];
      b.url = table.hot_urls[i];
    } else {
      const auto& [channel, url] =
          table.channels[static_cast<size_t>(rng.NextInt(kChannelsNumber))];
      b.channel = channel;
      b.url = url;
    }
  }
  b.dateTime = timestamp;
  b.extra = NextExtra(rng, 32, c.avg_bid_byte_size);
  return b;
}

}  // namespace internal

//! Event `n` (0, 1, 2, ...) of the stream `config` describes.
inline Event GenerateEvent(const GeneratorConfig& config, int64_t n) {
  const int64_t event_number = config.first_event_number + n;
  const int64_t event_id = config.first_event_id + event_number;
  const int64_t timestamp = config.TimestampForEvent(event_number);
  JavaRandom rng(config.seed == 0 ? event_id
                                  : static_cast<int64_t>(static_cast<uint64_t>(event_id) ^
                                                         (static_cast<uint64_t>(config.seed) *
                                                          0x9E3779B97F4A7C15ULL)));
  const int64_t rem = event_id % config.total_proportion();
  Event e;
  if (rem < config.person_proportion) {
    e.event_type = static_cast<int32_t>(EventType::kPerson);
    e.person = internal::NextPerson(config, event_id, rng, timestamp);
  } else if (rem < config.person_proportion + config.auction_proportion) {
    e.event_type = static_cast<int32_t>(EventType::kAuction);
    e.auction = internal::NextAuction(config, event_number, event_id, rng, timestamp);
  } else {
    e.event_type = static_cast<int32_t>(EventType::kBid);
    e.bid = internal::NextBid(config, event_id, rng, timestamp);
  }
  return e;
}

}  // namespace sluice::nexmark
