#include "common/metrics/prometheus_text.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace sluice::metrics {

std::string PrometheusText::SanitizeName(const std::string& name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == ':';
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(out.begin(), '_');
  return out;
}

std::string PrometheusText::EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string PrometheusText::FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::floor(value) == value && std::fabs(value) < 9.0e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrCat(value);
}

void PrometheusText::Add(const std::string& name, const std::string& help, Type type,
                         const Labels& labels, double value) {
  const std::string metric = SanitizeName(name);
  auto [it, inserted] = families_.try_emplace(metric, Family{help, type, {}});
  if (inserted) order_.push_back(metric);
  std::string line = metric;
  if (!labels.empty()) {
    line += "{";
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) line += ",";
      absl::StrAppend(&line, SanitizeName(labels[i].first), "=\"",
                      EscapeLabelValue(labels[i].second), "\"");
    }
    line += "}";
  }
  absl::StrAppend(&line, " ", FormatValue(value));
  it->second.lines.push_back(std::move(line));
}

std::string PrometheusText::Render() const {
  std::string out;
  for (const std::string& name : order_) {
    const Family& f = families_.at(name);
    std::string help;
    for (char c : f.help) {  // HELP escapes backslash and line feed
      if (c == '\\') {
        help += "\\\\";
      } else if (c == '\n') {
        help += "\\n";
      } else {
        help.push_back(c);
      }
    }
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ",
                    f.type == Type::kCounter ? "counter" : "gauge", "\n");
    for (const std::string& line : f.lines) absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace sluice::metrics
