// The Prometheus sink (sluice/connectors/prometheus_sink.h, connectors/prometheus/): its requests
// against a real Prometheus with the remote-write receiver on, read back through Prometheus'
// query API; its retries, failures and discards against a local endpoint that answers as scripted;
// the request's bytes against prompb's field numbers; two packages linking it in one process.
#include "sluice/connectors/prometheus_sink.h"

#include <dlfcn.h>
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <snappy.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "connector_test_util.h"
#include "remote.pb.h"
#include "sluice/testing/fake_runtime_context.h"
#include "tests/prometheus_process.h"

namespace sluice {
namespace {

using namespace connectors_test;
using testing::FakeRuntimeContext;
using testing::PrometheusProcess;
using Json = nlohmann::json;
using Series = PrometheusTimeSeries;

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

//! Polls `done` until it holds or `timeout` passes (never a measure of speed: a noisy machine only
//! makes it poll longer).
bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

//! Decodes a remote-write body: snappy, then the WriteRequest.
std::optional<prometheus::WriteRequest> Decode(const std::string& body) {
  std::string raw;
  if (!snappy::Uncompress(body.data(), body.size(), &raw)) return std::nullopt;
  prometheus::WriteRequest request;
  if (!request.ParseFromString(raw)) return std::nullopt;
  return request;
}

std::vector<std::pair<std::string, std::string>> LabelsOf(const prometheus::TimeSeries& ts) {
  std::vector<std::pair<std::string, std::string>> labels;
  for (const auto& l : ts.labels()) labels.emplace_back(l.name(), l.value());
  return labels;
}

size_t SamplesIn(const prometheus::WriteRequest& request) {
  size_t n = 0;
  for (const auto& ts : request.timeseries()) n += ts.samples_size();
  return n;
}

//! A remote-write endpoint on 127.0.0.1 that answers each POST with the next status of its
//! script (204 once the script is done) and keeps what it received. Its own thread serves.
class ScriptedEndpoint {
 public:
  struct Answer {
    int status;
    std::string body;
  };
  struct Received {
    httplib::Headers headers;
    std::string body;
  };

  explicit ScriptedEndpoint(std::vector<Answer> script = {}) : script_(std::move(script)) {
    server_.Post("/api/v1/write", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      received_.push_back(Received{req.headers, req.body});
      const size_t i = received_.size() - 1;
      const Answer answer = i < script_.size() ? script_[i] : Answer{204, ""};
      res.status = answer.status;
      if (!answer.body.empty()) res.set_content(answer.body, "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~ScriptedEndpoint() {
    WaitFor([this] { return server_.is_running(); }, std::chrono::seconds(10));
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/write"; }
  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  httplib::Server server_;
  std::mutex mu_;
  std::vector<Answer> script_;
  std::vector<Received> received_;
  int port_ = 0;
  std::thread thread_;
};

//! A sink opened on a fake task, as a TaskManager would run it.
template <typename T>
struct OpenSink {
  explicit OpenSink(PrometheusSinkOptions<T> options)
      : ctx(0, 1, "0123456789abcdef0123456789abcdef", 0, /*checkpointing=*/true),
        sink(MakePrometheusSink<T>(std::move(options))()) {
    sink->Open(ctx, out);
  }
  ~OpenSink() { sink->Close(); }
  void Checkpoint(int64_t id) {
    CollectingSnapshot snapshot(id);
    sink->SnapshotState(snapshot);
    sink->NotifyCheckpointComplete(id);
  }
  //! The message of what `fn` throws; empty when it throws nothing.
  static std::string Thrown(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }
  FakeRuntimeContext ctx;
  CapturingOutput<int> out;
  std::unique_ptr<PrometheusSink<T>> sink;
};

PrometheusSinkOptions<Series> FastRetries(const std::string& url) {
  PrometheusSinkOptions<Series> o;
  o.remote_write_url = url;
  o.retry.initial_retry_delay = std::chrono::milliseconds(1);
  o.retry.max_retry_delay = std::chrono::milliseconds(4);
  o.max_time_in_buffer = std::chrono::milliseconds(0);
  return o;
}

Series One(const std::string& name, std::vector<std::pair<std::string, std::string>> labels,
           double value, int64_t ts) {
  return Series{name, std::move(labels), {{value, ts}}};
}

// ---------------------------------------------------------------------------------------------
// The request's bytes.

// WriteRequest{timeseries: [{labels: [__name__="m", a="b"], samples: [{value: 1.0, ts: 2}]}]},
// assembled by hand from prompb's field numbers and wire types, not by our generated code.
const std::string kGoldenRequest = [] {
  const std::string name_label = std::string("\x0a\x08__name__\x12\x01m", 13);
  const std::string a_label = std::string(
      "\x0a\x01"
      "a"
      "\x12\x01"
      "b",
      6);
  const std::string sample = std::string("\x09\x00\x00\x00\x00\x00\x00\xf0\x3f\x10\x02", 11);
  const std::string series = "\x0a" + std::string(1, static_cast<char>(name_label.size())) +
                             name_label + "\x0a" +
                             std::string(1, static_cast<char>(a_label.size())) + a_label + "\x12" +
                             std::string(1, static_cast<char>(sample.size())) + sample;
  return "\x0a" + std::string(1, static_cast<char>(series.size())) + series;
}();

TEST(PrometheusRemoteWrite, RequestBytesHavePrompbFieldNumbers) {
  prometheus::WriteRequestBuilder batch;
  batch.Add(Series{"m", {{"a", "b"}}, {{1.0, 2}}});
  EXPECT_EQ(batch.Serialize(), kGoldenRequest);
  std::string raw;
  const std::string body = batch.EncodeBody();
  ASSERT_TRUE(snappy::Uncompress(body.data(), body.size(), &raw));
  EXPECT_EQ(raw, kGoldenRequest);
}

TEST(PrometheusRemoteWrite, LabelsSortedByNameEmptyValuesLeftOut) {
  prometheus::WriteRequestBuilder batch;
  batch.Add(Series{"up", {{"zone", "z"}, {"Host", "h"}, {"app", "a"}, {"empty", ""}}, {{1, 5}}});
  batch.Add(Series{"no_samples", {}, {}});  // checked, but nothing to write
  std::optional<prometheus::WriteRequest> request = Decode(batch.EncodeBody());
  ASSERT_TRUE(request);
  ASSERT_EQ(request->timeseries_size(), 1);
  using L = std::vector<std::pair<std::string, std::string>>;
  // Byte order: an upper-case name sorts before __name__.
  EXPECT_EQ(LabelsOf(request->timeseries(0)),
            (L{{"Host", "h"}, {"__name__", "up"}, {"app", "a"}, {"zone", "z"}}));
  EXPECT_EQ(batch.series(), 1u);
  EXPECT_EQ(batch.samples(), 1u);
}

TEST(PrometheusRemoteWrite, RetryDelayDoublesUpToTheMax) {
  prometheus::RetryOptions r;  // Flink's defaults: 30 ms doubling to 5 s
  EXPECT_EQ(prometheus::RetryDelay(r, 0).count(), 30);
  EXPECT_EQ(prometheus::RetryDelay(r, 1).count(), 60);
  EXPECT_EQ(prometheus::RetryDelay(r, 7).count(), 3840);
  EXPECT_EQ(prometheus::RetryDelay(r, 8).count(), 5000);
  EXPECT_EQ(prometheus::RetryDelay(r, 1000).count(), 5000);
}

// ---------------------------------------------------------------------------------------------
// Bad input: clear errors naming the connector and the setting.

TEST(PrometheusSink, MalformedUrlsFailWhenTheJobIsBuilt) {
  for (const std::string url :
       {"", "localhost:9090/api/v1/write", "ftp://127.0.0.1/api/v1/write", "http://",
        "http:///api/v1/write", "http://127.0.0.1:99999/api/v1/write",
        "http://127.0.0.1:abc/api/v1/write", "http://127.0.0.1:/x", "http://user:pw@host/x",
        "http://host name/x"}) {
    PrometheusSinkOptions<Series> o;
    o.remote_write_url = url;
    const std::string error = OpenSink<Series>::Thrown([&] { MakePrometheusSink(o); });
    EXPECT_TRUE(Contains(error, "prometheus sink: remote_write_url '" + url + "' is not valid"))
        << url << ": " << error;
  }
  for (const std::string url : {"http://127.0.0.1:9090/api/v1/write", "https://prom.example/w",
                                "http://[::1]:9090/api/v1/write", "http://host"}) {
    PrometheusSinkOptions<Series> o;
    o.remote_write_url = url;
    EXPECT_EQ(OpenSink<Series>::Thrown([&] { MakePrometheusSink(o); }), "") << url;
  }
  EXPECT_EQ(prometheus::ParseRemoteWriteUrl("http://host").path, "/");
  EXPECT_EQ(prometheus::ParseRemoteWriteUrl("https://host/w").port, 443);
  EXPECT_EQ(prometheus::ParseRemoteWriteUrl("http://[::1]:9/w").host, "::1");

  PrometheusSinkOptions<int> no_mapping;
  no_mapping.remote_write_url = "http://127.0.0.1:9090/api/v1/write";
  EXPECT_TRUE(Contains(OpenSink<int>::Thrown([&] { MakePrometheusSink(no_mapping); }),
                       "prometheus sink: to_time_series is required"));
}

TEST(PrometheusSink, InvalidNamesFailTheRecordNamingIt) {
  ScriptedEndpoint endpoint;
  OpenSink<Series> s(FastRetries(endpoint.url()));
  const std::vector<std::pair<Series, std::string>> cases = {
      {One("1abc", {}, 1, 1), "metric name '1abc' is not valid"},
      {One("a-b", {}, 1, 1), "metric name 'a-b' is not valid"},
      {One("", {}, 1, 1), "metric name '' is not valid"},
      {One("ok:metric", {{"a-b", "x"}}, 1, 1), "label name 'a-b' of metric 'ok:metric'"},
      {One("ok", {{"le:x", "x"}}, 1, 1), "label name 'le:x' of metric 'ok'"},
      {One("ok", {{"__name__", "x"}}, 1, 1), "label '__name__' of metric 'ok'"},
      {One("ok", {{"a", "x"}, {"a", "y"}}, 1, 1), "label 'a' appears twice in metric 'ok'"},
  };
  for (const auto& [series, expected] : cases) {
    const std::string error = OpenSink<Series>::Thrown([&] { s.sink->ProcessRecord(&series); });
    EXPECT_TRUE(Contains(error, "prometheus sink: " + expected)) << error;
  }
  s.Checkpoint(1);
  EXPECT_TRUE(endpoint.received().empty());  // nothing invalid was buffered
}

TEST(PrometheusSink, UnreachableEndpointFailsNamingTheUrlSetting) {
  PrometheusSinkOptions<Series> o =
      FastRetries("http://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort()) + "/w");
  o.retry.max_retry_count = 1;
  OpenSink<Series> s(o);
  s.sink->Process(One("m", {}, 1, 1));
  const std::string error = OpenSink<Series>::Thrown([&] { s.Checkpoint(1); });
  EXPECT_TRUE(Contains(error,
                       "prometheus sink: a write request of 1 samples in 1 series to "
                       "remote_write_url '" +
                           o.remote_write_url + "' failed after 2 attempts"))
      << error;
  EXPECT_TRUE(Contains(error, "no answer")) << error;
}

// ---------------------------------------------------------------------------------------------
// Retries and errors against the scripted endpoint.

TEST(PrometheusSink, RetriesOn5xxAnd429ThenSucceeds) {
  ScriptedEndpoint endpoint({{503, "overloaded"}, {429, "slow down"}, {500, "oops"}});
  PrometheusSinkOptions<Series> o = FastRetries(endpoint.url());
  o.max_batch_size_in_samples = 2;
  OpenSink<Series> s(o);
  s.sink->Process(One("requests_total", {{"code", "200"}, {"app", "web"}}, 7, 1000));
  EXPECT_TRUE(endpoint.received().empty());
  s.sink->Process(One("requests_total", {{"code", "500"}, {"app", "web"}}, 2.5, 1000));

  std::vector<ScriptedEndpoint::Received> received = endpoint.received();
  ASSERT_EQ(received.size(), 4u);  // 503, 429, 500, then 204
  EXPECT_EQ(s.sink->stats().write_request_retries, 3u);
  EXPECT_EQ(s.sink->stats().samples_out, 2u);
  EXPECT_EQ(s.sink->stats().write_requests_out, 1u);
  for (const auto& r : received) {
    EXPECT_EQ(r.body, received[0].body);  // the same request, sent again
    auto header = [&](const char* name) {
      auto it = r.headers.find(name);
      return it == r.headers.end() ? std::string("(none)") : it->second;
    };
    EXPECT_EQ(header("Content-Encoding"), "snappy");
    EXPECT_EQ(header("Content-Type"), "application/x-protobuf");
    EXPECT_EQ(header("X-Prometheus-Remote-Write-Version"), "0.1.0");
    EXPECT_EQ(header("User-Agent").rfind("Sluice/", 0), 0u) << header("User-Agent");
  }
  std::optional<prometheus::WriteRequest> request = Decode(received[0].body);
  ASSERT_TRUE(request);
  ASSERT_EQ(request->timeseries_size(), 2);
  using L = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(LabelsOf(request->timeseries(0)),
            (L{{"__name__", "requests_total"}, {"app", "web"}, {"code", "200"}}));
  EXPECT_EQ(LabelsOf(request->timeseries(1)),
            (L{{"__name__", "requests_total"}, {"app", "web"}, {"code", "500"}}));
  EXPECT_EQ(request->timeseries(1).samples(0).value(), 2.5);
  EXPECT_EQ(request->timeseries(1).samples(0).timestamp(), 1000);
}

TEST(PrometheusSink, RetriesRunOutThenTheJobFails) {
  ScriptedEndpoint endpoint(std::vector<ScriptedEndpoint::Answer>(10, {503, "down for now"}));
  PrometheusSinkOptions<Series> o = FastRetries(endpoint.url());
  o.retry.max_retry_count = 2;
  OpenSink<Series> s(o);
  s.sink->Process(One("m", {}, 1, 1));
  const std::string error = OpenSink<Series>::Thrown([&] { s.sink->EndInput(); });
  EXPECT_TRUE(Contains(error, "remote_write_url '" + endpoint.url() +
                                  "' failed after 3 attempts (retry.max_retry_count 2): HTTP "
                                  "503: down for now"))
      << error;
  EXPECT_EQ(endpoint.received().size(), 3u);
}

TEST(PrometheusSink, ClientErrorIsNotRetriedAndFailsWithTheAnswerWhenConfigured) {
  ScriptedEndpoint endpoint({{400, "invalid label set"}});
  PrometheusSinkOptions<Series> o = FastRetries(endpoint.url());
  o.on_non_retryable_error = PrometheusErrorBehavior::kFail;
  OpenSink<Series> s(o);
  s.sink->Process(One("m", {}, 1, 1));
  const std::string error = OpenSink<Series>::Thrown([&] { s.Checkpoint(1); });
  EXPECT_TRUE(Contains(error, "prometheus sink: the endpoint at remote_write_url '" +
                                  endpoint.url() +
                                  "' rejected a write request of 1 samples in 1 series with HTTP "
                                  "400: invalid label set"))
      << error;
  EXPECT_EQ(endpoint.received().size(), 1u);
}

TEST(PrometheusSink, ClientErrorIsDiscardedAndCountedByDefault) {
  ScriptedEndpoint endpoint({{400, "out of order sample"}, {204, ""}, {404, "no such path"}});
  PrometheusSinkOptions<Series> o = FastRetries(endpoint.url());
  OpenSink<Series> s(o);
  s.sink->Process(Series{"m", {}, {{1, 1}, {2, 2}}});
  s.Checkpoint(1);  // 400: dropped, counted
  s.sink->Process(One("m", {}, 3, 3));
  s.Checkpoint(2);  // 204
  EXPECT_EQ(s.sink->stats().samples_dropped, 2u);
  EXPECT_EQ(s.sink->stats().write_requests_dropped, 1u);
  EXPECT_EQ(s.sink->stats().samples_out, 1u);
  EXPECT_EQ(s.sink->stats().write_request_retries, 0u);
  // A 404 says the URL is wrong: it fails whatever the behaviour.
  s.sink->Process(One("m", {}, 4, 4));
  const std::string error = OpenSink<Series>::Thrown([&] { s.Checkpoint(3); });
  EXPECT_TRUE(Contains(error, "HTTP 404: no such path (check remote_write_url")) << error;
  EXPECT_EQ(endpoint.received().size(), 3u);
}

TEST(PrometheusSink, CancelledTaskStopsWaitingToRetry) {
  ScriptedEndpoint endpoint({{503, "down"}});
  PrometheusSinkOptions<Series> o = FastRetries(endpoint.url());
  o.retry.initial_retry_delay = o.retry.max_retry_delay = std::chrono::minutes(10);
  OpenSink<Series> s(o);
  s.ctx.cancelled = true;
  s.sink->Process(One("m", {}, 1, 1));
  EXPECT_TRUE(Contains(OpenSink<Series>::Thrown([&] { s.sink->EndInput(); }),
                       "prometheus sink: cancelled while retrying"));
  EXPECT_EQ(endpoint.received().size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// When requests are sent.

TEST(PrometheusSink, BatchesByMaxSamplesAndNeverSplitsASeries) {
  ScriptedEndpoint endpoint;
  PrometheusSinkOptions<Series> o = FastRetries(endpoint.url());
  o.max_batch_size_in_samples = 3;
  OpenSink<Series> s(o);
  for (int i = 0; i < 7; ++i) s.sink->Process(One("m", {}, i, i));
  EXPECT_EQ(endpoint.received().size(), 2u);
  s.Checkpoint(1);  // the seventh sample
  s.sink->Process(Series{"big", {}, {{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}}});
  s.sink->Process(One("m", {}, 8, 8));
  s.sink->Process(One("m", {}, 9, 9));
  s.sink->Process(Series{"pair", {}, {{1, 1}, {2, 2}}});  // 2 + 2 > 3: the two go first
  s.sink->EndInput();
  std::vector<size_t> sizes;
  for (const auto& r : endpoint.received()) {
    std::optional<prometheus::WriteRequest> request = Decode(r.body);
    ASSERT_TRUE(request);
    sizes.push_back(SamplesIn(*request));
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 1, 5, 2, 2}));
  EXPECT_EQ(s.sink->stats().samples_out, 16u);
}

TEST(PrometheusSink, CheckpointsFlushUnlessTheGuaranteeIsNone) {
  ScriptedEndpoint endpoint;
  PrometheusSinkOptions<Series> o = FastRetries(endpoint.url());
  OpenSink<Series> at_least_once(o);
  at_least_once.sink->Process(One("m", {}, 1, 1));
  at_least_once.Checkpoint(1);
  EXPECT_EQ(endpoint.received().size(), 1u);

  o.guarantee = DeliveryGuarantee::kNone;
  OpenSink<Series> none(o);
  none.sink->Process(One("m", {}, 2, 2));
  none.Checkpoint(1);
  EXPECT_EQ(endpoint.received().size(), 1u);
  none.sink->EndInput();
  EXPECT_EQ(endpoint.received().size(), 2u);

  o.guarantee = DeliveryGuarantee::kExactlyOnce;
  EXPECT_TRUE(Contains(OpenSink<Series>::Thrown([&] { MakePrometheusSink(o); }),
                       "prometheus sink: guarantee kExactlyOnce is not possible"));
}

TEST(PrometheusSink, SendsWhatIsBufferedEveryMaxTimeInBuffer) {
  ScriptedEndpoint endpoint;
  PrometheusSinkOptions<Series> o = FastRetries(endpoint.url());
  o.max_time_in_buffer = std::chrono::milliseconds(1000);
  OpenSink<Series> s(o);
  s.sink->Process(One("m", {}, 1, 1));
  s.ctx.AdvanceTo(999);
  EXPECT_EQ(endpoint.received().size(), 0u);
  s.ctx.AdvanceTo(1000);
  EXPECT_EQ(endpoint.received().size(), 1u);
  s.ctx.AdvanceTo(3500);  // nothing buffered: nothing sent
  EXPECT_EQ(endpoint.received().size(), 1u);
  s.sink->Process(One("m", {}, 2, 2));
  s.ctx.AdvanceTo(4000);
  EXPECT_EQ(endpoint.received().size(), 2u);
}

struct Reading {
  std::string sensor;
  double celsius = 0;
  int64_t time_ms = 0;
  SLUICE_FIELDS(sensor, celsius, time_ms)
};

TEST(PrometheusSink, MapsOwnRecordsWithToTimeSeries) {
  ScriptedEndpoint endpoint;
  PrometheusSinkOptions<Reading> o;
  o.remote_write_url = endpoint.url();
  o.to_time_series = [](const Reading& r) {
    return Series{"temperature_celsius", {{"sensor", r.sensor}}, {{r.celsius, r.time_ms}}};
  };
  OpenSink<Reading> s(o);
  s.sink->Process(Reading{"s1", 21.5, 1234});
  s.sink->EndInput();
  ASSERT_EQ(endpoint.received().size(), 1u);
  std::optional<prometheus::WriteRequest> request = Decode(endpoint.received()[0].body);
  ASSERT_TRUE(request);
  ASSERT_EQ(request->timeseries_size(), 1);
  EXPECT_EQ(request->timeseries(0).labels(1).value(), "s1");
  EXPECT_EQ(request->timeseries(0).samples(0).value(), 21.5);
  EXPECT_EQ(request->timeseries(0).samples(0).timestamp(), 1234);
}

// ---------------------------------------------------------------------------------------------
// Against a real Prometheus.

class RealPrometheus : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(testing::kPrometheusBinary)) {
      GTEST_SKIP() << testing::kPrometheusBinary
                   << " is missing: Debian's prometheus package installs it "
                      "(scripts/install-deps.sh)";
    }
    testing::PrometheusProcessOptions options;
    options.remote_write_receiver = true;
    prometheus_ = std::make_unique<PrometheusProcess>(dir_.str(), options);
    ASSERT_TRUE(WaitFor([&] { return prometheus_->Ready(); })) << prometheus_->Log();
  }
  void TearDown() override { prometheus_.reset(); }  // killed before dir_ goes

  std::string WriteUrl() const { return prometheus_->Url() + "/api/v1/write"; }

  //! The samples of the series `selector` selects in the 10 minutes before `at_ms`: its labels
  //! and its (timestamp ms, value) pairs; one series expected.
  struct Found {
    std::map<std::string, std::string> labels;
    std::vector<std::pair<int64_t, double>> samples;
  };
  std::optional<Found> Samples(const std::string& selector, int64_t at_ms) {
    std::optional<Json> data = prometheus_->QueryData(selector + "[10m]", at_ms / 1000.0);
    if (!data || (*data)["resultType"] != "matrix" || (*data)["result"].size() != 1) {
      return std::nullopt;
    }
    Found found;
    const Json& series = (*data)["result"][0];
    for (const auto& [name, value] : series["metric"].items()) found.labels[name] = value;
    for (const Json& v : series["values"]) {
      found.samples.emplace_back(std::llround(v[0].get<double>() * 1000),
                                 std::stod(v[1].get<std::string>()));
    }
    return found;
  }

  TempDir dir_;
  std::unique_ptr<PrometheusProcess> prometheus_;
};

TEST_F(RealPrometheus, WrittenSeriesAreServedWithTheirLabelsValuesAndTimestamps) {
  const int64_t base = (NowMs() - 5 * 60 * 1000) / 1000 * 1000;
  PrometheusSinkOptions<Series> o = FastRetries(WriteUrl());
  o.max_batch_size_in_samples = 4;
  std::vector<std::pair<int64_t, double>> temperatures, requests;
  {
    OpenSink<Series> s(o);
    for (int i = 0; i < 10; ++i) {
      const int64_t t = base + 1000 * i;
      s.sink->Process(One("sluice_test_temperature_celsius",
                          {{"room", "kitchen"}, {"building", "b1"}, {"floor", ""}}, 20.5 + i, t));
      temperatures.emplace_back(t, 20.5 + i);
      if (i == 4) s.Checkpoint(1);
    }
    for (int i = 0; i < 2; ++i) {
      Series r{"sluice_test_requests_total", {{"code", "200"}}, {}};
      for (int j = 0; j < 3; ++j) {
        const int64_t t = base + 500 * (3 * i + j);
        r.samples.push_back({static_cast<double>(3 * i + j + 1), t});
        requests.emplace_back(t, 3 * i + j + 1);
      }
      s.sink->Process(r);
    }
    s.sink->EndInput();
    EXPECT_EQ(s.sink->stats().samples_out, 16u);
    EXPECT_EQ(s.sink->stats().write_request_retries, 0u);
  }

  std::optional<Found> found;
  const int64_t at = base + 60 * 1000;
  ASSERT_TRUE(WaitFor([&] {
    found = Samples("sluice_test_temperature_celsius", at);
    return found && found->samples.size() == temperatures.size();
  })) << prometheus_->Log();
  EXPECT_EQ(found->labels,
            (std::map<std::string, std::string>{{"__name__", "sluice_test_temperature_celsius"},
                                                {"building", "b1"},
                                                {"room", "kitchen"}}));
  EXPECT_EQ(found->samples, temperatures);

  found = Samples("sluice_test_requests_total{code=\"200\"}", at);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->samples, requests);
  EXPECT_EQ(found->labels.size(), 2u);
  // And an instant query sees the latest value, as a dashboard would.
  std::optional<Json> now = prometheus_->QueryData("sluice_test_temperature_celsius", at / 1000.0);
  ASSERT_TRUE(now && (*now)["result"].size() == 1) << (now ? now->dump() : "no answer");
  EXPECT_EQ((*now)["result"][0]["value"][1], "29.5");
}

TEST_F(RealPrometheus, OutOfOrderSampleFailsWithPrometheusAnswerOrIsDiscarded) {
  const int64_t base = (NowMs() - 5 * 60 * 1000) / 1000 * 1000;
  const Series labels_only{"sluice_test_ooo", {{"k", "v"}}, {}};
  auto at = [&](int64_t offset_ms, double value) {
    Series s = labels_only;
    s.samples.push_back({value, base + offset_ms});
    return s;
  };
  PrometheusSinkOptions<Series> o = FastRetries(WriteUrl());
  o.max_batch_size_in_samples = 1;
  o.on_non_retryable_error = PrometheusErrorBehavior::kFail;
  {
    OpenSink<Series> s(o);
    s.sink->Process(at(10000, 1));
  }
  {
    // Older than what Prometheus has: rejected with 400, not retried; with kFail the job fails.
    OpenSink<Series> s(o);
    const std::string error = OpenSink<Series>::Thrown([&] { s.sink->Process(at(5000, 2)); });
    EXPECT_TRUE(Contains(error, "with HTTP 400: out of order sample")) << error;
    EXPECT_EQ(s.sink->stats().write_request_retries, 0u);
  }
  {
    o.on_non_retryable_error = PrometheusErrorBehavior::kDiscardAndContinue;
    OpenSink<Series> s(o);
    s.sink->Process(at(5000, 2));
    s.sink->Process(at(20000, 3));
    s.sink->EndInput();
    EXPECT_EQ(s.sink->stats().samples_dropped, 1u);
    EXPECT_EQ(s.sink->stats().samples_out, 1u);
  }
  std::optional<Found> found = Samples("sluice_test_ooo", base + 60 * 1000);
  ASSERT_TRUE(found) << prometheus_->Log();
  EXPECT_EQ(found->samples,
            (std::vector<std::pair<int64_t, double>>{{base + 10000, 1}, {base + 20000, 3}}));
}

// ---------------------------------------------------------------------------------------------
// Two job packages linking the library, loaded into one process as a TaskManager may load them.

TEST(PrometheusPackages, TwoPackagesLinkingTheLibraryLoadIntoOneProcess) {
  std::vector<void*> handles;
  std::vector<int64_t (*)(char*, int64_t)> encoders;
  for (const char* path : {PROMETHEUS_TEST_PACKAGE_A, PROMETHEUS_TEST_PACKAGE_B}) {
    // As the TaskManager loads packages (common/package/package.cc).
    void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle, nullptr) << dlerror();
    handles.push_back(handle);
    auto encode =
        reinterpret_cast<int64_t (*)(char*, int64_t)>(dlsym(handle, "SluicePrometheusTestEncode"));
    ASSERT_NE(encode, nullptr) << path;
    encoders.push_back(encode);
  }
  EXPECT_NE(encoders[0], encoders[1]);  // two copies of the code, each package its own
  for (auto encode : encoders) {
    char buf[256];
    const int64_t n = encode(buf, sizeof buf);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), kGoldenRequest);
  }
  // Lite messages register no descriptor in the process-wide pool, which is what lets two copies
  // coexist: full ones would, and the second package's registration would abort the process.
  EXPECT_EQ(google::protobuf::DescriptorPool::generated_pool()->FindFileByName("remote.proto"),
            nullptr);
  for (void* h : handles) dlclose(h);
}

}  // namespace
}  // namespace sluice
