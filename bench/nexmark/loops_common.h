// What the hand-written Nexmark loops (nexmark_loops.cc) share: the run (generator configuration
// and event count), the event loop, and the sink that counts the result lines and their bytes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "bench/nexmark/generator.h"
#include "bench/nexmark/job.h"
#include "bench/nexmark/model.h"

namespace sluice::nexmark::loops {

//! Keeps the compiler from dropping the computation of what `p` points to.
inline void DoNotOptimize(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

//! Where a loop's result lines go: counted, with their bytes (without a newline), then discarded.
struct Sink {
  int64_t results = 0;
  int64_t bytes = 0;
  void Write(const std::string& line) {
    DoNotOptimize(line.data());
    ++results;
    bytes += static_cast<int64_t>(line.size());
  }
};

//! The events a loop runs on: n = 0 .. events - 1 of the generator `config`.
struct Run {
  GeneratorConfig config;
  int64_t events = 0;
};

//! Generates the events in order, calling `fn(Event&)` on each as it is generated.
template <typename Fn>
void ForEachEvent(const Run& run, Fn&& fn) {
  for (int64_t n = 0; n < run.events; ++n) {
    Event e = GenerateEvent(run.config, n);
    fn(e);
  }
}

//! The same for the bids only: `fn(Bid&)`.
template <typename Fn>
void ForEachBid(const Run& run, Fn&& fn) {
  ForEachEvent(run, [&](Event& e) {
    if (e.bid) fn(*e.bid);
  });
}

}  // namespace sluice::nexmark::loops
