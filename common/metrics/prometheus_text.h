// Prometheus' text exposition format (version 0.0.4), written by hand with a tested helper since
// Debian's prometheus-cpp is not packaged for this release: metric families with HELP and TYPE,
// samples with labels. Names follow Flink's Prometheus reporter (flink_<scope>_<metric>, dots
// and other characters outside [a-zA-Z0-9_:] turned into '_'), so that Flink users' dashboards
// and alerts find the same series.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sluice::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  enum class Type { kGauge, kCounter };

  //! Adds one sample of metric `name` (sanitized); the family's HELP and TYPE are written once,
  //! before its first sample, whatever order samples are added in.
  void Add(const std::string& name, const std::string& help, Type type, const Labels& labels,
           double value);

  //! The whole exposition, families in the order they were first added.
  std::string Render() const;

  //! `name` with every character outside [a-zA-Z0-9_:] replaced by '_' (and a leading digit
  //! prefixed with '_').
  static std::string SanitizeName(const std::string& name);
  //! A label value escaped for the text format (backslash, double quote, line feed).
  static std::string EscapeLabelValue(const std::string& value);
  //! A sample value: integers without a fraction, NaN and infinities as Prometheus spells them.
  static std::string FormatValue(double value);

 private:
  struct Family {
    std::string help;
    Type type;
    std::vector<std::string> lines;
  };
  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

}  // namespace sluice::metrics
