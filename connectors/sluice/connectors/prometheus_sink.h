// The Prometheus sink: time series written to a Prometheus remote-write endpoint (remote write
// 1.0: protobuf, snappy, HTTP POST), in batches, with retries; at least once with checkpoints
// (docs/connectors.md "Prometheus remote write"). A package that includes this links the
// sluice_connector_prometheus library (connectors/prometheus/), which does the encoding and the
// HTTP.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/connectors/delivery_guarantee.h"
#include "sluice/connectors/prometheus_remote_write.h"
#include "sluice/datastream.h"

namespace sluice {

//! What the sink does when Prometheus rejects a write request with a 4xx other than 429 (a
//! request that is wrong and would be rejected again: an out-of-order or duplicate sample, a
//! malformed label). 401, 403 and 404 say the sink is misconfigured: they always fail.
enum class PrometheusErrorBehavior {
  kDiscardAndContinue,  //!< drop the request's samples, count them, log, go on (the default)
  kFail,                //!< fail the job, with Prometheus' answer in the message
};

//! What a Prometheus sink has done, per subtask (Flink's numSamplesOut, numSamplesDropped, ...).
struct PrometheusSinkStats {
  uint64_t samples_out = 0;             //!< samples Prometheus accepted
  uint64_t samples_dropped = 0;         //!< samples of rejected requests (kDiscardAndContinue)
  uint64_t write_requests_out = 0;      //!< requests Prometheus accepted
  uint64_t write_requests_dropped = 0;  //!< requests rejected and discarded
  uint64_t write_request_retries = 0;   //!< retries after a 5xx, a 429 or no answer
};

//! How a PrometheusSink writes (Flink's PrometheusSink builder settings, same defaults).
template <typename T>
struct PrometheusSinkOptions {
  //! Required: the remote-write endpoint, e.g. "http://127.0.0.1:9090/api/v1/write" (a
  //! Prometheus started with --web.enable-remote-write-receiver). http or https.
  std::string remote_write_url;
  //! The time series a record writes. Required unless T is PrometheusTimeSeries.
  std::function<PrometheusTimeSeries(const T&)> to_time_series;
  //! A batch is sent once it holds this many samples (a series is never split: one larger than
  //! this goes alone); default 500.
  size_t max_batch_size_in_samples = 500;
  //! Buffered samples are sent at least this often, by processing time (0: only when a batch is
  //! full, at checkpoints and at end of input); default 5 s.
  std::chrono::milliseconds max_time_in_buffer = std::chrono::seconds(5);
  //! Retries of a request after a 5xx, a 429 or no answer: 30 ms doubling up to 5 s, 100 times.
  prometheus::RetryOptions retry;
  //! For connecting, sending, and waiting for the answer, each; default 10 s.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(10);
  //! kAtLeastOnce (default): everything buffered is written at every checkpoint. kNone: only by
  //! batch size, time and end of input. (Remote write has no transactions: no kExactlyOnce.)
  DeliveryGuarantee guarantee = DeliveryGuarantee::kAtLeastOnce;
  //! After a 4xx other than 429: discard the request, count it and go on (default, as Flink's:
  //! after a restart, replayed samples older than what Prometheus holds are rejected as out of
  //! order, and failing would fail every restart again), or fail the job.
  PrometheusErrorBehavior on_non_retryable_error = PrometheusErrorBehavior::kDiscardAndContinue;
  //! Sent with every request, e.g. {{"Authorization", "Bearer ..."}}.
  std::vector<std::pair<std::string, std::string>> http_headers;
};

//! Writes time series to Prometheus by remote write. Records are buffered into a write request;
//! it is sent (blocking the task thread, so a slow Prometheus back-pressures the job) when it
//! holds max_batch_size_in_samples samples, every max_time_in_buffer, at every checkpoint and at
//! end of input. At least once with checkpoints: a checkpoint completes only after everything
//! before its barrier was accepted, and after a restart the records since are written again
//! (unless the guarantee is kNone).
//! Prometheus wants each series' samples in time order: records of one series must reach one
//! subtask in order (parallelism 1, or after a keyed operator keyed by PrometheusSeriesKey).
//! Owned by its task, which runs it on its task thread; Close drops what was not sent.
template <typename T>
class PrometheusSink : public SinkOperator<T> {
 public:
  explicit PrometheusSink(PrometheusSinkOptions<T> options) : options_(std::move(options)) {}

  void Open(RuntimeContext& ctx, Output& out) override {
    SinkOperator<T>::Open(ctx, out);
    ctx_ = &ctx;
    prometheus::RemoteWriterOptions w;
    w.url = options_.remote_write_url;
    w.retry = options_.retry;
    w.request_timeout = options_.request_timeout;
    w.http_headers = options_.http_headers;
    writer_ = std::make_unique<prometheus::RemoteWriter>(std::move(w));
    if (options_.max_time_in_buffer.count() > 0) ScheduleFlush();
  }

  void Process(const T& in) override {
    if constexpr (std::is_same_v<T, PrometheusTimeSeries>) {
      if (!options_.to_time_series) {
        Add(in);
        return;
      }
    }
    Add(options_.to_time_series(in));
  }

  //! At least once: everything received before the barrier is written before the checkpoint.
  void SnapshotState(SnapshotContext&) override {
    if (options_.guarantee != DeliveryGuarantee::kNone) Flush();
  }
  void EndInput() override { Flush(); }
  void Close() override { writer_.reset(); }

  const PrometheusSinkStats& stats() const { return stats_; }

 private:
  void Add(const PrometheusTimeSeries& series) {
    const size_t n = series.samples.size();
    if (!batch_.empty() && batch_.samples() + n > options_.max_batch_size_in_samples) Flush();
    batch_.Add(series);
    if (batch_.samples() >= options_.max_batch_size_in_samples) Flush();
  }

  void Flush() {
    if (batch_.empty()) return;
    const std::string body = batch_.EncodeBody();
    const size_t samples = batch_.samples();
    const size_t series = batch_.series();
    batch_.Clear();
    RuntimeContext* ctx = ctx_;
    const prometheus::WriteResult r = writer_->Write(body, [ctx] { return ctx->IsCancelled(); });
    stats_.write_request_retries += static_cast<uint64_t>(r.attempts - 1);
    using Outcome = prometheus::WriteResult::Outcome;
    const std::string what = "a write request of " + std::to_string(samples) + " samples in " +
                             std::to_string(series) + " series";
    if (r.outcome == Outcome::kWritten) {
      stats_.samples_out += samples;
      ++stats_.write_requests_out;
    } else if (r.outcome == Outcome::kRejected) {
      const bool misconfigured = r.status == 401 || r.status == 403 || r.status == 404;
      const std::string rejected = "prometheus sink: the endpoint at remote_write_url '" +
                                   options_.remote_write_url + "' rejected " + what +
                                   " with HTTP " + std::to_string(r.status) + ": " + r.message;
      if (misconfigured || options_.on_non_retryable_error == PrometheusErrorBehavior::kFail) {
        throw std::runtime_error(
            rejected + (misconfigured ? " (check remote_write_url and http_headers)"
                                      : " (not retried; on_non_retryable_error = kFail)"));
      }
      stats_.samples_dropped += samples;
      ++stats_.write_requests_dropped;
      std::fprintf(stderr, "%s; discarded (%llu samples discarded so far)\n", rejected.c_str(),
                   static_cast<unsigned long long>(stats_.samples_dropped));
    } else if (r.cancelled) {
      throw std::runtime_error("prometheus sink: cancelled while retrying " + what);
    } else {
      throw std::runtime_error(
          "prometheus sink: " + what + " to remote_write_url '" + options_.remote_write_url +
          "' failed after " + std::to_string(r.attempts) + " attempts (retry.max_retry_count " +
          std::to_string(options_.retry.max_retry_count) + "): " +
          (r.status == 0 ? r.message : "HTTP " + std::to_string(r.status) + ": " + r.message));
    }
  }

  //! Sends what is buffered every max_time_in_buffer of processing time.
  void ScheduleFlush() {
    ctx_->ScheduleProcessingTime(
        ctx_->CurrentProcessingTime() + options_.max_time_in_buffer.count(), [this] {
          if (!writer_) return;  // closed
          Flush();
          ScheduleFlush();
        });
  }

  PrometheusSinkOptions<T> options_;
  RuntimeContext* ctx_ = nullptr;
  std::unique_ptr<prometheus::RemoteWriter> writer_;
  prometheus::WriteRequestBuilder batch_;
  PrometheusSinkStats stats_;
};

//! A key that tells series apart (metric name and sorted labels), to KeyBy before the sink so
//! that each series goes to one subtask.
inline std::string PrometheusSeriesKey(const PrometheusTimeSeries& series) {
  std::vector<std::pair<std::string, std::string>> labels = series.labels;
  std::sort(labels.begin(), labels.end());
  std::string key = series.metric_name;
  for (const auto& [name, value] : labels) {
    if (value.empty()) continue;
    key += '\0';
    key += name;
    key += '\0';
    key += value;
  }
  return key;
}

//! A factory for SinkTo. The URL is checked here, when the job is built, so that a malformed one
//! fails the submission with a message naming remote_write_url; so is a missing to_time_series.
template <typename T>
auto MakePrometheusSink(PrometheusSinkOptions<T> options) {
  prometheus::ParseRemoteWriteUrl(options.remote_write_url);
  if (!std::is_same_v<T, PrometheusTimeSeries> && !options.to_time_series) {
    throw std::invalid_argument(
        "prometheus sink: to_time_series is required for records other than "
        "PrometheusTimeSeries");
  }
  if (options.guarantee == DeliveryGuarantee::kExactlyOnce) {
    throw std::invalid_argument(
        "prometheus sink: guarantee kExactlyOnce is not possible with remote write (no "
        "transactions): use kAtLeastOnce");
  }
  if (options.max_batch_size_in_samples == 0) {
    throw std::invalid_argument("prometheus sink: max_batch_size_in_samples must be at least 1");
  }
  if (options.retry.max_retry_count < 0) {
    throw std::invalid_argument("prometheus sink: retry.max_retry_count must not be negative");
  }
  return [options]() { return std::make_unique<PrometheusSink<T>>(options); };
}

}  // namespace sluice
