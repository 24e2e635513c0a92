// A job package that writes to Prometheus, built twice (prometheus_test_package_a and _b) for
// prometheus_sink_test, which loads both into one process as a TaskManager may: each holds its
// own copy of sluice_connector_prometheus and of the generated remote-write messages.
//   args: url (the remote-write endpoint), count (records, 10), rate (records per second, 0:
//         unlimited), base_ms (the first sample's time, 0), metric (sluice_test_package_total)
#include <cstdint>
#include <cstring>
#include <string>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/prometheus_sink.h"
#include "sluice/sluice.h"

SLUICE_JOB(env) {
  env.SetJobName(PROMETHEUS_TEST_PACKAGE);
  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(env.IntArg("count", 10));
  gen.splits = 1;  // one series, in time order
  gen.rate = static_cast<double>(env.IntArg("rate", 0));
  sluice::PrometheusSinkOptions<int64_t> options;
  options.remote_write_url = env.RequiredArg("url");
  const int64_t base_ms = env.IntArg("base_ms", 0);
  const std::string metric = env.Arg("metric", "sluice_test_package_total");
  options.to_time_series = [base_ms, metric](const int64_t& i) {
    return sluice::PrometheusTimeSeries{
        metric, {{"package", "test"}}, {{static_cast<double>(i), base_ms + 1000 * i}}};
  };
  sluice::AddGenerator(
      env, gen, [](uint64_t i) { return static_cast<int64_t>(i); }, "Numbers")
      .SinkTo(sluice::MakePrometheusSink(options), "Prometheus");
}

//! For the test: the WriteRequest (uncompressed) of one series, as this package's copy of the
//! library encodes it, into `out` (`capacity` bytes); its size, or -1 when it does not fit.
extern "C" __attribute__((visibility("default"))) int64_t SluicePrometheusTestEncode(
    char* out, int64_t capacity) {
  sluice::prometheus::WriteRequestBuilder batch;
  batch.Add(sluice::PrometheusTimeSeries{"m", {{"a", "b"}}, {{1.0, 2}}});
  const std::string bytes = batch.Serialize();
  if (static_cast<int64_t>(bytes.size()) > capacity) return -1;
  std::memcpy(out, bytes.data(), bytes.size());
  return static_cast<int64_t>(bytes.size());
}
