// What every Nexmark query package shares: its events (generated, or read from a JSON-lines file)
// with Nexmark's event time, and its sink (CSV lines through the exactly-once file sink, or a
// blackhole). Arguments (--arg key=value):
//   events=FILE       read events from FILE (json.h) instead of generating them
//   events-count=N    events to generate (default 10,000,000; 0: unbounded)
//   rate=R            events per second of event time (default 10,000,000, as Nexmark's runs)
//   seed=S            the generator's seed (default 0: the reference's draws)
//   splits=N          generator splits (default 8)
//   throttle=N        at most N events per second of wall-clock time per source subtask
//                     (default 0: as fast as they go)
//   output=DIR        results as CSV lines in DIR (exactly once; q10 in its partitions
//                     dt=…/hm=…); without it, a blackhole. A
//                     query whose rows update writes every change there, and the final value
//                     of every row, when the input ends, in DIR/final.
// Event time is each event's dateTime; watermarks trail it by 4 s (Nexmark's DDL).
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bench/nexmark/generator.h"
#include "bench/nexmark/json.h"
#include "bench/nexmark/model.h"
#include "sluice/connectors/encoders.h"
#include "sluice/connectors/file_source.h"
#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace sluice::nexmark {

inline WatermarkStrategy<Event> EventTime() {
  return WatermarkStrategy<Event>::ForBoundedOutOfOrderness(std::chrono::seconds(4))
      .WithTimestampAssigner([](const Event& e, int64_t) { return e.Timestamp(); });
}

inline GeneratorConfig ConfigFromArgs(const StreamEnvironment& env) {
  GeneratorConfig c;
  const std::string rate = env.Arg("rate", "10000000");
  try {
    c.rate = std::stod(rate);
  } catch (const std::exception&) {
    c.rate = 0;
  }
  if (!(c.rate > 0)) throw JobDefinitionError("rate must be a positive number, not '" + rate + "'");
  c.seed = env.IntArg("seed", 0);
  return c;
}

//! The query's input.
inline DataStream<Event> Events(StreamEnvironment& env) {
  const std::string file = env.Arg("events");
  if (!file.empty()) {
    return AddTextFileSource(env, file, "Events file")
        .Map([](const std::string& line) { return FromJson(line); }, "Parse events")
        .AssignTimestampsAndWatermarks(EventTime(), "Event time");
  }
  const int64_t count = env.IntArg("events-count", 10000000);
  const int64_t splits = env.IntArg("splits", 8);
  if (count < 0) throw JobDefinitionError("events-count must not be negative");
  if (splits < 1 || splits > 4096) throw JobDefinitionError("splits must be in 1..4096");
  const int64_t throttle = env.IntArg("throttle", 0);
  if (throttle < 0) throw JobDefinitionError("throttle must not be negative");
  GeneratorOptions options;
  options.count = static_cast<uint64_t>(count);
  options.splits = static_cast<uint32_t>(splits);
  options.rate = static_cast<double>(throttle);
  const GeneratorConfig config = ConfigFromArgs(env);
  return AddGenerator(
      env, options, [config](uint64_t n) { return GenerateEvent(config, static_cast<int64_t>(n)); },
      EventTime(), "Nexmark generator");
}

//! All of a bid's columns, in the `bid` view's order: auction, bidder, price, channel, url,
//! dateTime, extra.
inline std::string BidColumns(const Bid& b);

//! Only the bids, as Nexmark's `bid` view.
inline DataStream<Bid> Bids(DataStream<Event> events) {
  return events.FlatMap(
      [](const Event& e, Collector<Bid>& out) {
        if (e.bid) out.Collect(*e.bid);
      },
      "Bids");
}

//! The query's results: CSV lines into `output` when given, else a blackhole.
inline void Sink(StreamEnvironment& env, DataStream<std::string> lines) {
  const std::string output = env.Arg("output");
  if (output.empty()) {
    lines.SinkTo(MakeDiscardingSink<std::string>(), "Blackhole").Uid("sink");
  } else {
    lines.SinkTo(MakeFileSink<std::string>(output), "Results").Uid("sink");
  }
}

//! A query that writes through the file sink's buckets (q10): rows into `output` as `options` lays
//! them out, or a blackhole without `output`.
template <typename T>
void SinkPartitioned(StreamEnvironment& env, DataStream<T> rows, FileSinkOptions<T> options) {
  const std::string output = env.Arg("output");
  if (output.empty()) {
    rows.SinkTo(MakeDiscardingSink<T>(), "Blackhole").Uid("sink");
  } else {
    rows.SinkTo(MakeFileSink<T>(output, std::move(options)), "Results").Uid("sink");
  }
}

//! Where a query whose SQL result updates rows (a non-windowed aggregation, a top-N) puts the
//! final value of every row when its input ends.
inline const OutputTag<std::string>& FinalRows() {
  static const OutputTag<std::string> tag("final");
  return tag;
}

//! An updating query's results: every change of a row into `output`, and the final value of
//! every row (the side output FinalRows() of `updates`' operator) into `output`/final.
inline void SinkUpdating(StreamEnvironment& env, DataStream<std::string> updates) {
  const std::string output = env.Arg("output");
  auto final_rows = updates.GetSideOutput(FinalRows());
  if (output.empty()) {
    updates.SinkTo(MakeDiscardingSink<std::string>(), "Blackhole").Uid("sink");
    final_rows.SinkTo(MakeDiscardingSink<std::string>(), "Blackhole (final)").Uid("final-sink");
  } else {
    updates.SinkTo(MakeFileSink<std::string>(output), "Results").Uid("sink");
    final_rows.SinkTo(MakeFileSink<std::string>(output + "/final"), "Final rows").Uid("final-sink");
  }
}

//! At the end of an updating query's input: `row(key)` for every key of the subtask (the current
//! key set to it), written to FinalRows() when it returns a row.
template <typename K, typename RowFn>
void WriteFinalRows(KeyedContext<K>& ctx, RowFn row) {
  for (const K& key : ctx.Keys()) {
    ctx.SetCurrentKey(key);
    if (std::optional<std::string> r = row(key)) ctx.Output(FinalRows(), *r);
  }
}

//! The same where a key's row is one value state: `row(key, value)` for every key holding one.
template <typename K, typename V, typename RowFn>
void WriteFinalRows(KeyedContext<K>& ctx, const ValueState<V>& state, RowFn row) {
  WriteFinalRows(ctx, [&](const K& key) -> std::optional<std::string> {
    const V* v = state.Get();
    return v ? std::optional<std::string>(row(key, *v)) : std::nullopt;
  });
}

// ---- CSV: numbers as plain decimals, times as epoch milliseconds, a string quoted only when it
// holds a comma or a quote (doubling its quotes).

inline void CsvAppend(std::string& out, int64_t v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}
//! A string quoted only when it holds a comma or a quote (or a line break, which Nexmark's strings
//! never hold), quotes doubled: the file sink's CSV rule.
inline void CsvAppend(std::string& out, std::string_view s) {
  sluice::internal::AppendCsvString(out, s);
}
inline void CsvAppend(std::string& out, const std::string& s) {
  CsvAppend(out, std::string_view(s));
}
inline void CsvAppend(std::string& out, const char* s) { CsvAppend(out, std::string_view(s)); }
//! A DECIMAL(_, 3) held as thousandths: "90.800".
struct Milli {
  int64_t thousandths;
};
inline void CsvAppend(std::string& out, Milli m) {
  int64_t v = m.thousandths;
  if (v < 0) {
    out += '-';
    v = -v;
  }
  out += std::to_string(v / 1000);
  out += '.';
  const int64_t frac = v % 1000;
  if (frac < 100) out += '0';
  if (frac < 10) out += '0';
  out += std::to_string(frac);
}

//! One CSV line of the given columns.
template <typename... Cols>
std::string Csv(const Cols&... cols) {
  std::string out;
  out.reserve(128);
  bool first = true;
  auto column = [&](const auto& col) {
    if (!first) out += ',';
    first = false;
    CsvAppend(out, col);
  };
  (column(cols), ...);
  return out;
}

inline std::string BidColumns(const Bid& b) {
  return Csv(b.auction, b.bidder, b.price, b.channel, b.url, b.dateTime, b.extra);
}

//! Whether bid `a` ranks before bid `b` by price, highest first (ROW_NUMBER() OVER (ORDER BY
//! price DESC)); equal prices, which SQL leaves in any order, go by time, then bidder, then extra,
//! so that results can be compared.
inline bool HigherBid(const Bid& a, const Bid& b) {
  if (a.price != b.price) return a.price > b.price;
  if (a.dateTime != b.dateTime) return a.dateTime < b.dateTime;
  if (a.bidder != b.bidder) return a.bidder < b.bidder;
  return a.extra < b.extra;
}

}  // namespace sluice::nexmark
