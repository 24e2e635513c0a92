#include "common/config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/util/edit_distance.h"

namespace sluice::config {
namespace {

struct Unit {
  std::string_view name;
  int64_t factor;
};

// Flink's duration labels, minus the sub-millisecond ones we cannot represent.
constexpr Unit kDurationUnits[] = {{"ms", 1},          {"milli", 1},        {"millis", 1},
                                   {"millisecond", 1}, {"milliseconds", 1}, {"s", 1000},
                                   {"sec", 1000},      {"secs", 1000},      {"second", 1000},
                                   {"seconds", 1000},  {"m", 60'000},       {"min", 60'000},
                                   {"mins", 60'000},   {"minute", 60'000},  {"minutes", 60'000},
                                   {"h", 3'600'000},   {"hour", 3'600'000}, {"hours", 3'600'000},
                                   {"d", 86'400'000},  {"day", 86'400'000}, {"days", 86'400'000}};

constexpr Unit kMemoryUnits[] = {
    {"b", 1},          {"bytes", 1},     {"k", 1LL << 10},  {"kb", 1LL << 10}, {"m", 1LL << 20},
    {"mb", 1LL << 20}, {"g", 1LL << 30}, {"gb", 1LL << 30}, {"t", 1LL << 40},  {"tb", 1LL << 40}};

// Our abseil build keeps its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW=0), so
// std::string_view must be converted before it reaches absl string functions.
absl::string_view AbslView(std::string_view text) { return {text.data(), text.size()}; }

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "FATAL (sluice config): %s\n", message.c_str());
  std::abort();
}

// Parses the whole of `text` as a signed 64-bit integer (no sign prefix '+', no spaces).
std::optional<int64_t> ParseInt64(absl::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// Parses "<digits>[ ]<unit>" where an absent unit means a factor of 1.
template <size_t N>
std::optional<int64_t> ParseWithUnit(std::string_view input, const Unit (&units)[N]) {
  const absl::string_view text = absl::StripAsciiWhitespace(AbslView(input));
  size_t digits = 0;
  while (digits < text.size() && absl::ascii_isdigit(text[digits])) ++digits;
  if (digits == 0) return std::nullopt;
  std::optional<int64_t> number = ParseInt64(text.substr(0, digits));
  if (!number) return std::nullopt;  // Too many digits for int64.
  const std::string unit =
      absl::AsciiStrToLower(absl::StripLeadingAsciiWhitespace(text.substr(digits)));
  if (unit.empty()) return number;
  for (const Unit& u : units) {
    if (u.name != unit) continue;
    if (*number > INT64_MAX / u.factor) return std::nullopt;
    return *number * u.factor;
  }
  return std::nullopt;
}

std::string FormatBound(OptionType type, int64_t value) {
  switch (type) {
    case OptionType::kDuration:
      return absl::StrCat(value, " ms");
    case OptionType::kMemorySize:
      return absl::StrCat(value, " bytes");
    default:
      return absl::StrCat(value);
  }
}

// Returns "" when `value` lies within the option's bounds, else what the bounds are.
std::string CheckBounds(const Option& option, int64_t value) {
  if (value >= option.min && value <= option.max) return "";
  if (option.max == INT64_MAX) return "must be at least " + FormatBound(option.type, option.min);
  if (option.min == INT64_MIN) return "must be at most " + FormatBound(option.type, option.max);
  return absl::StrCat("must be between ", FormatBound(option.type, option.min), " and ",
                      FormatBound(option.type, option.max));
}

// The registered key closest to `key` (ignoring case), if it is within `max_distance` edits.
const Option* ClosestOption(const std::string& key, size_t max_distance) {
  const std::string lower_key = absl::AsciiStrToLower(key);
  const Option* best = nullptr;
  size_t best_distance = max_distance + 1;
  for (const Option& option : AllOptions()) {
    const size_t distance = EditDistance(lower_key, absl::AsciiStrToLower(option.key));
    if (distance < best_distance) {
      best = &option;
      best_distance = distance;
    }
  }
  return best;
}

absl::Status UnknownKeyError(const std::string& key) {
  constexpr size_t kMaxSuggestionDistance = 3;
  std::string message = absl::StrCat("unknown config key '", key, "'");
  if (const Option* best = ClosestOption(key, kMaxSuggestionDistance); best != nullptr) {
    absl::StrAppend(&message, " (did you mean '", best->key, "'?)");
  }
  return absl::InvalidArgumentError(message);
}

struct Entry {
  std::string key;
  std::string value;
  bool is_list = false;  // a YAML list: only Flink keys Sluice ignores may have one
};

// Flattens nested YAML maps into (dotted key, scalar value) entries, in document order.
absl::Status Flatten(const YAML::Node& node, const std::string& prefix, std::vector<Entry>* out) {
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) return absl::InvalidArgumentError("map keys must be scalars");
    const std::string key =
        prefix.empty() ? entry.first.Scalar() : absl::StrCat(prefix, ".", entry.first.Scalar());
    const YAML::Node& value = entry.second;
    if (value.IsMap()) {
      absl::Status status = Flatten(value, key, out);
      if (!status.ok()) return status;
    } else if (value.IsScalar()) {
      out->push_back({key, value.Scalar()});
    } else if (value.IsNull()) {
      out->push_back({key, ""});
    } else {
      out->push_back({key, "", /*is_list=*/true});
    }
  }
  return absl::OkStatus();
}

absl::Status LoadFile(const std::string& path, Configuration* config) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("config file '", path, "' does not exist"));
  }
  std::vector<Entry> entries;
  absl::Status status;
  // yaml-cpp reports errors with exceptions; they stop here.
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (root.IsMap()) {
      status = Flatten(root, "", &entries);
    } else if (!root.IsNull()) {
      status = absl::InvalidArgumentError("top level must be a map of keys to values");
    }
  } catch (const std::exception& e) {
    status = absl::InvalidArgumentError(absl::StrCat("malformed YAML: ", e.what()));
  }
  for (const Entry& entry : entries) {
    if (!status.ok()) break;
    if (entry.is_list && FindOption(entry.key) != nullptr) {
      status = absl::InvalidArgumentError(
          absl::StrCat("value of '", entry.key, "' must be a single value, not a list"));
    } else {
      status = config->Set(entry.key, entry.value);
    }
  }
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat("config file '", path, "': ", status.message()));
}

// "expected one of a, b, c" ("or empty" when the empty value is allowed too).
std::string ExpectedOneOf(const std::vector<std::string>& allowed) {
  std::vector<std::string> named;
  for (const std::string& a : allowed) {
    if (!a.empty()) named.push_back(a);
  }
  bool empty_allowed = named.size() != allowed.size();
  return absl::StrCat("expected one of ", absl::StrJoin(named, ", "),
                      empty_allowed ? " (or empty for the default)" : "");
}

}  // namespace

absl::StatusOr<std::string> ValidateValue(const Option& option, std::string_view raw) {
  const std::string value(absl::StripAsciiWhitespace(AbslView(raw)));
  std::string problem;
  std::optional<int64_t> number;
  switch (option.type) {
    case OptionType::kString:
      if (option.allowed.empty()) return value;
      for (const std::string& allowed : option.allowed) {
        if (absl::EqualsIgnoreCase(allowed, value)) return allowed;
      }
      problem = ExpectedOneOf(option.allowed);
      break;
    case OptionType::kBool:
      if (absl::EqualsIgnoreCase(value, "true") || absl::EqualsIgnoreCase(value, "false")) {
        return value;
      }
      problem = "expected 'true' or 'false'";
      break;
    case OptionType::kDouble: {
      double d = 0;
      if (absl::SimpleAtod(value, &d) && std::isfinite(d)) return value;
      problem = "expected a number";
      break;
    }
    case OptionType::kInt:
      number = ParseInt64(value);
      if (!number) problem = "expected an integer";
      break;
    case OptionType::kDuration:
      number = ParseWithUnit(value, kDurationUnits);
      if (!number) problem = "expected a duration like '10 s' or '500 ms'";
      break;
    case OptionType::kMemorySize:
      number = ParseWithUnit(value, kMemoryUnits);
      if (!number) problem = "expected a memory size like '32kb' or '64 mb'";
      break;
  }
  if (problem.empty() && number) problem = CheckBounds(option, *number);
  if (problem.empty()) return value;
  return absl::InvalidArgumentError(
      absl::StrCat("invalid value '", AbslView(raw), "' for '", option.key, "': ", problem));
}

const Option* FindOption(std::string_view key) {
  for (const Option& option : AllOptions()) {
    if (option.key == key) return &option;
  }
  for (const Option& option : AllOptions()) {
    for (const std::string& alias : option.aliases) {
      if (alias == key) return &option;
    }
  }
  return nullptr;
}

absl::StatusOr<int64_t> ParseDurationMs(std::string_view text) {
  std::optional<int64_t> ms = ParseWithUnit(text, kDurationUnits);
  if (ms) return *ms;
  return absl::InvalidArgumentError(absl::StrCat("invalid duration '", AbslView(text),
                                                 "': expected a duration like '10 s' or '500 ms'"));
}

absl::StatusOr<int64_t> ParseMemoryBytes(std::string_view text) {
  std::optional<int64_t> bytes = ParseWithUnit(text, kMemoryUnits);
  if (bytes) return *bytes;
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid memory size '", AbslView(text), "': expected a memory size like '32kb' or '64 mb'"));
}

absl::Status CheckJobScope(std::string_view key) {
  const Option* option = FindOption(key);
  if (option == nullptr || option->scope == OptionScope::kJob) return absl::OkStatus();
  const char* where = "";
  switch (option->scope) {
    case OptionScope::kJobManager:
      where =
          "a JobManager setting: set it in the JobManager's configuration file "
          "(conf/sluice.yaml) or with -D on `sluice cluster start`";
      break;
    case OptionScope::kTaskManager:
      where =
          "a TaskManager setting: set it in the TaskManagers' configuration file "
          "(conf/sluice.yaml) or with -D on `sluice cluster start`";
      break;
    case OptionScope::kCluster:
      where =
          "a cluster setting: set it in the configuration file of every daemon "
          "(conf/sluice.yaml) or with -D on `sluice cluster start`";
      break;
    case OptionScope::kJob:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(option->key, " is ", where, "; it cannot be set per job"));
}

std::string DescribeOptions() {
  size_t key_width = 3;
  size_t default_width = 7;
  for (const Option& option : AllOptions()) {
    key_width = std::max(key_width, option.key.size());
    default_width = std::max(default_width, option.default_value.size() + 2);
  }
  auto row = [&](absl::string_view key, absl::string_view def, absl::string_view doc) {
    return absl::StrCat("  ", key, std::string(key_width + 2 - key.size(), ' '), def,
                        std::string(default_width + 2 - def.size(), ' '), doc, "\n");
  };
  std::string out = "Configuration keys (set in the YAML file or with -D key=value):\n";
  out += row("KEY", "DEFAULT", "DESCRIPTION");
  for (const Option& option : AllOptions()) {
    std::string doc = option.doc;
    if (!option.allowed.empty()) {
      absl::StrAppend(&doc, " One of: ", absl::StrJoin(option.allowed, ", "), ".");
    } else if (option.min != INT64_MIN && option.max != INT64_MAX) {
      absl::StrAppend(&doc, " Range: ", option.min, "..", option.max, ".");
    }
    out += row(option.key, absl::StrCat("\"", option.default_value, "\""), doc);
  }
  return out;
}

namespace {

const char* ScopeName(OptionScope scope) {
  switch (scope) {
    case OptionScope::kJob:
      return "per job: this file, -D on `sluice cluster start` or -D on `sluice run`";
    case OptionScope::kJobManager:
      return "JobManager";
    case OptionScope::kTaskManager:
      return "TaskManagers";
    case OptionScope::kCluster:
      return "every daemon and the CLI";
  }
  return "";
}

// `text` as comment lines of at most `width` characters, each starting with "# ".
std::string CommentBlock(const std::string& text, size_t width) {
  std::string out;
  std::string line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line.empty() && line.size() + 1 + word.size() > width - 2) {
      absl::StrAppend(&out, "# ", line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
  }
  if (!line.empty()) absl::StrAppend(&out, "# ", line, "\n");
  return out;
}

// A YAML plain scalar when that reads back as the same string, else a double-quoted one.
std::string YamlValue(const std::string& value) {
  bool plain = !value.empty() && value.find_first_of("#:{}[],&*!|>'\"%@`") == std::string::npos &&
               value.front() != ' ' && value.back() != ' ' && value.front() != '-';
  return plain ? value : absl::StrCat("\"", value, "\"");
}

}  // namespace

std::string ReferenceYaml() {
  constexpr size_t kWidth = 100;
  std::string out =
      "# Sluice's configuration file: every key, commented out, with its default value.\n"
      "#\n"
      "# Uncomment a key to change it. The daemons and the CLI read this file when they are given\n"
      "# `--config FILE`, when SLUICE_CONF_DIR names its folder, or from conf/sluice.yaml next to\n"
      "# the installation's bin/; `-D key=value` on the command line wins over it. Keys may be\n"
      "# written flat (a.b.c: v) or nested (a: {b: {c: v}}), as in Flink. Flink's other names of "
      "a\n"
      "# key are accepted too, and Flink keys that Sluice does not implement are named in one\n"
      "# warning at start-up and ignored.\n"
      "#\n"
      "# Generated from the key registry (common/config/options.cc); common_test checks that\n"
      "# this file is up to date.\n";
  for (const Option& option : AllOptions()) {
    std::string doc = option.doc;
    if (!option.allowed.empty()) {
      std::vector<std::string> named;
      for (const std::string& a : option.allowed) {
        if (!a.empty()) named.push_back(a);
      }
      absl::StrAppend(&doc, " One of: ", absl::StrJoin(named, ", "), ".");
    }
    absl::StrAppend(&doc, " Applies to: ", ScopeName(option.scope), ".");
    if (!option.aliases.empty()) {
      absl::StrAppend(&doc, " Also accepted as: ", absl::StrJoin(option.aliases, ", "), ".");
    }
    absl::StrAppend(&out, "\n", CommentBlock(doc, kWidth), "# ", option.key, ": ",
                    YamlValue(option.default_value), "\n");
  }
  return out;
}

absl::StatusOr<std::string> FindConfigFile(const std::string& explicit_path,
                                           const char* conf_dir_env,
                                           const std::string& default_path) {
  if (!explicit_path.empty()) return explicit_path;
  std::error_code ec;
  if (conf_dir_env != nullptr && *conf_dir_env != '\0') {
    const std::filesystem::path dir(conf_dir_env);
    for (const char* name : {"sluice.yaml", "config.yaml", "flink-conf.yaml"}) {
      if (std::filesystem::is_regular_file(dir / name, ec)) return (dir / name).string();
    }
    return absl::NotFoundError(absl::StrCat("SLUICE_CONF_DIR is '", conf_dir_env,
                                            "', which has no sluice.yaml (nor a Flink config.yaml "
                                            "or flink-conf.yaml)"));
  }
  if (!default_path.empty() && std::filesystem::is_regular_file(default_path, ec)) {
    return default_path;
  }
  return std::string();
}

absl::StatusOr<Configuration> Configuration::Load(const std::string& yaml_path,
                                                  const std::vector<std::string>& overrides) {
  Configuration config;
  if (!yaml_path.empty()) {
    absl::Status status = LoadFile(yaml_path, &config);
    if (!status.ok()) return status;
  }
  for (const std::string& override_text : overrides) {
    const size_t eq = override_text.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid override '", override_text, "': expected key=value"));
    }
    const std::string key(absl::StripAsciiWhitespace(override_text.substr(0, eq)));
    absl::Status status = config.Set(key, override_text.substr(eq + 1));
    if (!status.ok()) return status;
  }
  return config;
}

absl::Status Configuration::Set(const std::string& key, const std::string& value) {
  const Option* option = FindOption(key);
  if (option == nullptr) {
    // A Flink key we do not implement, unless it looks like a typo of one of ours.
    constexpr size_t kTypoDistance = 2;
    if (IsFlinkOnlyKey(key) && ClosestOption(key, kTypoDistance) == nullptr) {
      if (std::find(ignored_flink_keys_.begin(), ignored_flink_keys_.end(), key) ==
          ignored_flink_keys_.end()) {
        ignored_flink_keys_.push_back(key);
      }
      return absl::OkStatus();
    }
    return UnknownKeyError(key);
  }
  absl::StatusOr<std::string> validated = ValidateValue(*option, value);
  if (!validated.ok()) return validated.status();
  values_[option->key] = *std::move(validated);
  return absl::OkStatus();
}

std::string Configuration::IgnoredKeysWarning() const {
  if (ignored_flink_keys_.empty()) return "";
  return absl::StrCat("ignoring ", ignored_flink_keys_.size(),
                      " Flink configuration key(s) that Sluice does not implement: ",
                      absl::StrJoin(ignored_flink_keys_, ", "));
}

const std::string& Configuration::RawValue(const std::string& key, OptionType type) const {
  const Option* option = FindOption(key);
  if (option == nullptr) Die(absl::StrCat("config key '", key, "' is not registered"));
  if (option->type != type) Die(absl::StrCat("config key '", key, "' read as the wrong type"));
  auto it = values_.find(option->key);
  return it == values_.end() ? option->default_value : it->second;
}

std::string Configuration::GetString(const std::string& key) const {
  return RawValue(key, OptionType::kString);
}

int64_t Configuration::GetInt(const std::string& key) const {
  std::optional<int64_t> value = ParseInt64(RawValue(key, OptionType::kInt));
  if (!value) Die(absl::StrCat("bad registered default for '", key, "'"));
  return *value;
}

bool Configuration::GetBool(const std::string& key) const {
  return absl::EqualsIgnoreCase(RawValue(key, OptionType::kBool), "true");
}

int64_t Configuration::GetDurationMs(const std::string& key) const {
  absl::StatusOr<int64_t> value = ParseDurationMs(RawValue(key, OptionType::kDuration));
  if (!value.ok()) Die(absl::StrCat("bad registered default for '", key, "'"));
  return *value;
}

int64_t Configuration::GetMemoryBytes(const std::string& key) const {
  absl::StatusOr<int64_t> value = ParseMemoryBytes(RawValue(key, OptionType::kMemorySize));
  if (!value.ok()) Die(absl::StrCat("bad registered default for '", key, "'"));
  return *value;
}

double Configuration::GetDouble(const std::string& key) const {
  double value = 0;
  if (!absl::SimpleAtod(RawValue(key, OptionType::kDouble), &value)) {
    Die(absl::StrCat("bad registered default for '", key, "'"));
  }
  return value;
}

std::vector<std::string> Configuration::ExplicitOverrides() const {
  std::vector<std::string> out;
  out.reserve(values_.size());
  for (const auto& [key, value] : values_) out.push_back(absl::StrCat(key, "=", value));
  return out;
}

bool Configuration::IsSet(const std::string& key) const {
  const Option* option = FindOption(key);
  return option != nullptr && values_.contains(option->key);
}

}  // namespace sluice::config
