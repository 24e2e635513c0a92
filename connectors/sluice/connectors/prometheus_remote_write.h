// Prometheus remote write 1.0, the part of the Prometheus sink
// (sluice/connectors/prometheus_sink.h) that is not a template: time series checked and encoded as
// a WriteRequest (protobuf, then snappy), and POSTed with retries. Compiled once into the static
// library sluice_connector_prometheus that a job package links; this header stays free of protobuf,
// snappy and HTTP, and the library's symbols are hidden inside each package (several packages
// linking it can share one TaskManager).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/serialization.h"

namespace sluice {

//! One sample of a time series: a value at a time in epoch milliseconds.
struct PrometheusSample {
  double value = 0;
  int64_t timestamp_ms = 0;
  SLUICE_FIELDS(value, timestamp_ms)
};

//! A time series with its samples (Flink's PrometheusTimeSeries): what the Prometheus sink
//! writes. Labels come in any order: the sink sorts them by name in byte order with the metric
//! name as __name__ (first, unless a label name starts with an upper-case letter), as remote
//! write requires. A label whose value is empty is left out (Prometheus reads an empty value as
//! no label). Samples in time order.
struct PrometheusTimeSeries {
  std::string metric_name;
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<PrometheusSample> samples;
  SLUICE_FIELDS(metric_name, labels, samples)
};

namespace prometheus {

//! How a write request is retried after a 5xx, a 429 or no answer (Flink's RetryConfiguration,
//! same defaults): the delay starts at `initial_retry_delay` and doubles up to `max_retry_delay`;
//! after `max_retry_count` retries the write fails.
struct RetryOptions {
  std::chrono::milliseconds initial_retry_delay{30};  //!< default 30 ms
  std::chrono::milliseconds max_retry_delay{5000};    //!< default 5 s
  int max_retry_count = 100;                          //!< default 100
};

//! The endpoint of a remote_write_url, once checked.
struct Endpoint {
  std::string scheme;  //!< "http" or "https"
  std::string host;
  int port = 0;
  std::string path;  //!< "/" when the URL has none
};

//! Parses `url` ("http://host[:port]/path" or https). Throws std::invalid_argument naming the
//! connector and the setting when it is not such a URL.
Endpoint ParseRemoteWriteUrl(const std::string& url);

//! The time series of one write request, checked and with their labels in Prometheus' order.
//! Owned by one sink; task thread only.
class WriteRequestBuilder {
 public:
  WriteRequestBuilder();
  ~WriteRequestBuilder();
  WriteRequestBuilder(const WriteRequestBuilder&) = delete;
  WriteRequestBuilder& operator=(const WriteRequestBuilder&) = delete;

  //! Appends `series` (nothing when it has no samples), its labels and __name__ sorted by name.
  //! Throws std::invalid_argument
  //! (and adds nothing) when the metric name does not match [a-zA-Z_:][a-zA-Z0-9_:]*, a label
  //! name does not match [a-zA-Z_][a-zA-Z0-9_]*, is __name__ or appears twice.
  void Add(const PrometheusTimeSeries& series);

  size_t series() const { return series_; }
  size_t samples() const { return samples_; }
  bool empty() const { return series_ == 0; }

  //! The WriteRequest in protobuf's wire format.
  std::string Serialize() const;
  //! The body of a remote-write POST: Serialize() compressed with snappy (block format).
  std::string EncodeBody() const;
  void Clear();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  size_t series_ = 0;
  size_t samples_ = 0;
};

//! What became of a write request.
struct WriteResult {
  enum class Outcome {
    kWritten,   //!< a 2xx
    kRejected,  //!< a 4xx other than 429: the request is wrong, not retried
    kFailed,    //!< 5xx, 429 or no answer until the retries ran out (or the task was cancelled)
  };
  Outcome outcome = Outcome::kFailed;
  int status = 0;       //!< the last HTTP status; 0 when there was no answer
  std::string message;  //!< the last response's body, or why there was no answer
  int attempts = 0;     //!< requests sent, retries included
  bool cancelled = false;
};

struct RemoteWriterOptions {
  std::string url;  //!< required; checked by the constructor
  RetryOptions retry;
  //! For connecting, sending and waiting for the answer, each; default 10 s.
  std::chrono::milliseconds request_timeout{10000};
  //! Added to every request (e.g. {"Authorization", "Bearer ..."}).
  std::vector<std::pair<std::string, std::string>> http_headers;
};

//! POSTs remote-write bodies to one endpoint over one kept-alive connection, blocking, with
//! retries. Owned by one sink and used on its task thread only.
class RemoteWriter {
 public:
  //! Throws std::invalid_argument when the URL is not valid (ParseRemoteWriteUrl).
  explicit RemoteWriter(RemoteWriterOptions options);
  ~RemoteWriter();
  RemoteWriter(const RemoteWriter&) = delete;
  RemoteWriter& operator=(const RemoteWriter&) = delete;

  //! Sends `body` (EncodeBody's) with the remote-write headers; retries 5xx, 429 and requests
  //! without an answer after the backoff of RetryOptions. `cancelled` is asked while waiting to
  //! retry: true stops the retries (the result says so).
  WriteResult Write(const std::string& body, const std::function<bool()>& cancelled);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

//! The delay before retry number `retry` (0 for the first): initial_retry_delay doubled `retry`
//! times, at most max_retry_delay.
std::chrono::milliseconds RetryDelay(const RetryOptions& retry, int retry_number);

}  // namespace prometheus
}  // namespace sluice
