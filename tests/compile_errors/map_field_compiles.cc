// Positive case: records with standard containers, durations, time points and variants serialize
// and print out of the box.
// EXPECT_COMPILES
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <variant>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {
struct Session {
  int64_t user = 0;
  std::map<std::string, int64_t> clicks_per_page;
  std::set<std::string> tags;
  std::chrono::milliseconds length{0};
  std::chrono::system_clock::time_point start;
  std::variant<std::monostate, int64_t, std::string> referrer;
  SLUICE_FIELDS(user, clicks_per_page, tags, length, start, referrer)
};
}  // namespace

SLUICE_JOB(env) {
  sluice::GeneratorOptions gen;
  sluice::AddGenerator(
      env, gen,
      [](uint64_t i) {
        Session s;
        s.user = static_cast<int64_t>(i % 10);
        s.clicks_per_page["/"] = 1;
        return s;
      },
      "Sessions")
      .KeyBy([](const Session& s) { return s.user; })
      .Reduce([](const Session& a, const Session& b) {
        Session merged = a;
        for (const auto& [page, n] : b.clicks_per_page) merged.clicks_per_page[page] += n;
        return merged;
      })
      .SinkTo(sluice::MakePrintSink<Session>());
}
