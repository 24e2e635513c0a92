#include <httplib.h>
#include <snappy.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <thread>

#include "remote.pb.h"
#include "sluice/connectors/prometheus_remote_write.h"

namespace sluice::prometheus {
namespace {

constexpr char kConnector[] = "prometheus sink: ";
constexpr size_t kMaxMessageChars = 1024;

bool IsNameStart(char c, bool colon) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (colon && c == ':');
}
bool IsNameChar(char c, bool colon) { return IsNameStart(c, colon) || (c >= '0' && c <= '9'); }
//! Prometheus' metric name ([a-zA-Z_:][a-zA-Z0-9_:]*, colon) or label name (without).
bool IsValidName(const std::string& name, bool colon) {
  if (name.empty() || !IsNameStart(name[0], colon)) return false;
  return std::all_of(name.begin() + 1, name.end(), [&](char c) { return IsNameChar(c, colon); });
}

[[noreturn]] void InvalidUrl(const std::string& url, const std::string& why) {
  throw std::invalid_argument(std::string(kConnector) + "remote_write_url '" + url +
                              "' is not valid: " + why +
                              " (expected e.g. http://127.0.0.1:9090/api/v1/write)");
}

std::string Clip(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  if (s.size() > kMaxMessageChars) {
    s.resize(kMaxMessageChars);
    s += "...";
  }
  return s;
}

}  // namespace

Endpoint ParseRemoteWriteUrl(const std::string& url) {
  Endpoint e;
  const size_t sep = url.find("://");
  if (sep == std::string::npos) InvalidUrl(url, "it must start with http:// or https://");
  e.scheme = url.substr(0, sep);
  std::transform(e.scheme.begin(), e.scheme.end(), e.scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (e.scheme != "http" && e.scheme != "https") {
    InvalidUrl(url, "the scheme must be http or https, not '" + e.scheme + "'");
  }
  const std::string rest = url.substr(sep + 3);
  const size_t path_at = rest.find_first_of("/?#");
  const std::string authority = rest.substr(0, path_at);
  e.path = path_at == std::string::npos ? "/" : rest.substr(path_at);
  if (!e.path.empty() && e.path[0] != '/') e.path = "/" + e.path;
  if (const size_t hash = e.path.find('#'); hash != std::string::npos) e.path.resize(hash);
  for (char c : url) {
    if (std::isspace(static_cast<unsigned char>(c)) ||
        std::iscntrl(static_cast<unsigned char>(c))) {
      InvalidUrl(url, "it holds a space or a control character");
    }
  }
  if (authority.find('@') != std::string::npos) {
    InvalidUrl(url, "credentials in the URL are not supported (send them in http_headers)");
  }
  std::string port;
  if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
    const size_t close = authority.find(']');
    if (close == std::string::npos) InvalidUrl(url, "the IPv6 address lacks its ']'");
    e.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') InvalidUrl(url, "unexpected '" + after + "' after the host");
      port = after.substr(1);
      if (port.empty()) InvalidUrl(url, "the port is empty");
    }
  } else {
    const size_t colon = authority.rfind(':');
    e.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) InvalidUrl(url, "the port is empty");
    }
  }
  if (e.host.empty()) InvalidUrl(url, "the host is missing");
  if (port.empty()) {
    e.port = e.scheme == "https" ? 443 : 80;
  } else {
    if (port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      InvalidUrl(url, "the port '" + port + "' is not a number");
    }
    e.port = std::stoi(port);
    if (e.port < 1 || e.port > 65535) {
      InvalidUrl(url, "the port " + port + " is not between 1 and 65535");
    }
  }
  return e;
}

std::chrono::milliseconds RetryDelay(const RetryOptions& retry, int retry_number) {
  int64_t delay = std::max<int64_t>(retry.initial_retry_delay.count(), 0);
  const int64_t max = std::max<int64_t>(retry.max_retry_delay.count(), 0);
  for (int i = 0; i < retry_number && delay < max; ++i) delay = std::max<int64_t>(delay * 2, 1);
  return std::chrono::milliseconds(std::min(delay, max));
}

// ---------------------------------------------------------------------------------------------

struct WriteRequestBuilder::Impl {
  WriteRequest request;
  std::vector<std::pair<std::string, std::string>> labels;  // scratch: sorted labels
};

WriteRequestBuilder::WriteRequestBuilder() : impl_(std::make_unique<Impl>()) {}
WriteRequestBuilder::~WriteRequestBuilder() = default;

void WriteRequestBuilder::Add(const PrometheusTimeSeries& in) {
  if (!IsValidName(in.metric_name, /*colon=*/true)) {
    throw std::invalid_argument(std::string(kConnector) + "metric name '" + in.metric_name +
                                "' is not valid: it must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  auto& labels = impl_->labels;
  labels.clear();
  for (const auto& [name, value] : in.labels) {
    if (name == "__name__") {
      throw std::invalid_argument(std::string(kConnector) + "label '__name__' of metric '" +
                                  in.metric_name + "': the metric name goes in metric_name");
    }
    if (!IsValidName(name, /*colon=*/false)) {
      throw std::invalid_argument(std::string(kConnector) + "label name '" + name +
                                  "' of metric '" + in.metric_name +
                                  "' is not valid: it must match [a-zA-Z_][a-zA-Z0-9_]*");
    }
    labels.emplace_back(name, value);
  }
  // The remote-write spec: label names sorted in byte order, __name__ among them (first, unless
  // a name starts with an upper-case letter), no label with an empty value.
  labels.emplace_back("__name__", in.metric_name);
  std::sort(labels.begin(), labels.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 1; i < labels.size(); ++i) {
    if (labels[i].first == labels[i - 1].first) {
      throw std::invalid_argument(std::string(kConnector) + "label '" + labels[i].first +
                                  "' appears twice in metric '" + in.metric_name + "'");
    }
  }
  if (in.samples.empty()) return;

  TimeSeries* ts = impl_->request.add_timeseries();
  for (auto& [label, value] : labels) {
    if (value.empty()) continue;
    Label* l = ts->add_labels();
    l->set_name(std::move(label));
    l->set_value(std::move(value));
  }
  for (const PrometheusSample& s : in.samples) {
    Sample* out = ts->add_samples();
    out->set_value(s.value);
    out->set_timestamp(s.timestamp_ms);
  }
  ++series_;
  samples_ += in.samples.size();
}

std::string WriteRequestBuilder::Serialize() const { return impl_->request.SerializeAsString(); }

std::string WriteRequestBuilder::EncodeBody() const {
  const std::string raw = Serialize();
  std::string body;
  snappy::Compress(raw.data(), raw.size(), &body);
  return body;
}

void WriteRequestBuilder::Clear() {
  impl_->request.Clear();
  series_ = 0;
  samples_ = 0;
}

// ---------------------------------------------------------------------------------------------

struct RemoteWriter::Impl {
  RemoteWriterOptions options;
  Endpoint endpoint;
  std::unique_ptr<httplib::Client> client;
  httplib::Headers headers;
};

RemoteWriter::RemoteWriter(RemoteWriterOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->endpoint = ParseRemoteWriteUrl(options.url);
  const Endpoint& e = impl_->endpoint;
  const bool ipv6 = e.host.find(':') != std::string::npos;
  const std::string origin =
      e.scheme + "://" + (ipv6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port);
  impl_->client = std::make_unique<httplib::Client>(origin);
  if (!impl_->client->is_valid()) {
    InvalidUrl(options.url, "the HTTP client does not accept '" + origin + "'");
  }
  const int64_t ms = std::max<int64_t>(options.request_timeout.count(), 1);
  const time_t sec = static_cast<time_t>(ms / 1000);
  const time_t usec = static_cast<time_t>((ms % 1000) * 1000);
  impl_->client->set_connection_timeout(sec, usec);
  impl_->client->set_read_timeout(sec, usec);
  impl_->client->set_write_timeout(sec, usec);
  impl_->client->set_keep_alive(true);
  impl_->headers = {
      {"Content-Encoding", "snappy"},
      {"X-Prometheus-Remote-Write-Version", "0.1.0"},
      {"User-Agent", "Sluice/" SLUICE_VERSION " prometheus-sink"},
  };
  for (const auto& [name, value] : options.http_headers) impl_->headers.emplace(name, value);
  impl_->options = std::move(options);
}

RemoteWriter::~RemoteWriter() = default;

WriteResult RemoteWriter::Write(const std::string& body, const std::function<bool()>& cancelled) {
  const RetryOptions& retry = impl_->options.retry;
  WriteResult result;
  for (int attempt = 0;; ++attempt) {
    result.attempts = attempt + 1;
    httplib::Result res = impl_->client->Post(impl_->endpoint.path.c_str(), impl_->headers, body,
                                              "application/x-protobuf");
    if (res) {
      result.status = res->status;
      result.message = Clip(res->body);
      if (res->status >= 200 && res->status < 300) {
        result.outcome = WriteResult::Outcome::kWritten;
        return result;
      }
      if (res->status != 429 && res->status < 500) {
        result.outcome = WriteResult::Outcome::kRejected;
        return result;
      }
    } else {
      result.status = 0;
      result.message = "no answer (" + httplib::to_string(res.error()) + ")";
    }
    if (attempt >= retry.max_retry_count) {
      result.outcome = WriteResult::Outcome::kFailed;
      return result;
    }
    // Wait in short slices so that a cancelled task does not sit out a long backoff.
    const auto until = std::chrono::steady_clock::now() + RetryDelay(retry, attempt);
    for (auto now = std::chrono::steady_clock::now(); now < until;
         now = std::chrono::steady_clock::now()) {
      if (cancelled && cancelled()) {
        result.outcome = WriteResult::Outcome::kFailed;
        result.cancelled = true;
        return result;
      }
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          until - now, std::chrono::milliseconds(50)));
    }
  }
}

}  // namespace sluice::prometheus
