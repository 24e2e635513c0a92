#ifndef SLUICE_COMMON_CONFIG_CONFIG_H_
#define SLUICE_COMMON_CONFIG_CONFIG_H_

// Typed, validated configuration shared by the JobManager, the TaskManagers and the CLI.
//
// Every key is declared once in options.cc (AllOptions()) with its type, default, bounds and doc,
// using Flink's key names. Values are validated when they are set, so a running daemon never
// sees a malformed value: getters only parse strings that already passed validation.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice::config {

enum class OptionType { kString, kInt, kBool, kDuration, kMemorySize, kDouble };

// Where a key takes effect. Job keys apply per job: `-D` on `sluice run` puts them on top of the
// JobManager's configuration for that job. The others are read once, where a process starts.
enum class OptionScope {
  kJob,
  kJobManager,   // the JobManager daemon
  kTaskManager,  // each TaskManager daemon
  kCluster,      // every daemon (and the CLI, to find the JobManager)
};

// One registered configuration key.
struct Option {
  std::string key = {};
  OptionType type = OptionType::kString;
  std::string default_value = {};
  std::string doc = {};
  // Inclusive bounds for kInt, kDuration (milliseconds) and kMemorySize (bytes).
  int64_t min = INT64_MIN;
  int64_t max = INT64_MAX;
  // Non-empty: the only accepted values of a kString option (matched case-insensitively).
  std::vector<std::string> allowed = {};
  OptionScope scope = OptionScope::kJob;
  // Other names of the same key (Flink's older or newer spellings), accepted when set.
  std::vector<std::string> aliases = {};
};

// The registry of every known key, in declaration order. Defined in options.cc.
const std::vector<Option>& AllOptions();

// Returns the registered option for `key` or one of its aliases, or nullptr.
const Option* FindOption(std::string_view key);

// Whether `key` is one of Flink's configuration keys that Sluice does not implement
// (flink_keys.cc).
bool IsFlinkOnlyKey(std::string_view key);
bool FlinkKeysAreSorted();  // for the test of that list

// OK when `key` may be set per job; otherwise InvalidArgument saying where it must be set (a
// TaskManager key on `sluice run` would be silently ignored). Unknown keys pass: Set() names them.
absl::Status CheckJobScope(std::string_view key);

// Flink duration syntax: a plain integer is milliseconds; otherwise an integer followed by an
// optional space and a unit (ms, s, sec, min, h, d and their long forms), e.g. "10 s", "2min".
absl::StatusOr<int64_t> ParseDurationMs(std::string_view text);

// Memory size syntax: a plain integer is bytes; otherwise an integer followed by a unit
// b, k/kb, m/mb, g/gb, t/tb (case-insensitive, binary multiples: "32kb" == 32768).
absl::StatusOr<int64_t> ParseMemoryBytes(std::string_view text);

// Checks `value` against `option`. Returns the form to store (surrounding whitespace dropped,
// enumerated strings in their registered spelling) or an error that names key and value.
absl::StatusOr<std::string> ValidateValue(const Option& option, std::string_view value);

// A text table of every key with its default and doc, for `--help`.
std::string DescribeOptions();

// The text of conf/sluice.yaml: every key, commented out with its default, under its doc and where
// it applies. The repository's file is this text (common_test checks it).
std::string ReferenceYaml();

// The configuration file a process reads when it starts: `explicit_path` when given (the
// --config option); else, when the environment variable SLUICE_CONF_DIR (`conf_dir_env`) is set,
// its sluice.yaml, or a Flink config.yaml or flink-conf.yaml there (it is an error if the folder
// has none of them); else `default_path` if that file exists (conf/sluice.yaml beside the
// installation's bin/); else "" (no file: defaults and -D only).
absl::StatusOr<std::string> FindConfigFile(const std::string& explicit_path,
                                           const char* conf_dir_env,
                                           const std::string& default_path);

// The effective configuration of one process: explicitly set values on top of the registry's
// defaults. A plain value type: build it once at startup (Load / Set), then read it from any
// thread; concurrent reads are safe, concurrent Set is not.
class Configuration {
 public:
  Configuration() = default;

  // Reads `yaml_path` (empty = no file; a missing file is an error), then applies `overrides`
  // ("key=value" strings from `-D key=value`) on top of it. YAML may use nested maps, dotted
  // keys, or both; they are flattened to dotted keys.
  static absl::StatusOr<Configuration> Load(const std::string& yaml_path,
                                            const std::vector<std::string>& overrides);

  // Validates `value` against the option registered as `key` (or one of its aliases) and stores
  // it. A Flink key Sluice does not implement is recorded in ignored_flink_keys() instead, unless
  // it is so close to one of Sluice's keys that it is more likely a typo; anything else is an
  // error with a suggestion.
  absl::Status Set(const std::string& key, const std::string& value);

  // Getters return the explicitly set value or the default. `key` must be registered with the
  // matching type; anything else is a programming error and aborts the process.
  std::string GetString(const std::string& key) const;
  int64_t GetInt(const std::string& key) const;
  bool GetBool(const std::string& key) const;
  int64_t GetDurationMs(const std::string& key) const;
  int64_t GetMemoryBytes(const std::string& key) const;
  double GetDouble(const std::string& key) const;

  // "key=value" for every explicitly set key, sorted by key. Feeding these back as overrides
  // reproduces this configuration (used to hand config to child processes).
  std::vector<std::string> ExplicitOverrides() const;

  bool IsSet(const std::string& key) const;

  // Flink keys that were set but that Sluice does not implement, in the order they were seen:
  // ignored, and named in one warning where the process starts (IgnoredKeysWarning()).
  const std::vector<std::string>& ignored_flink_keys() const { return ignored_flink_keys_; }
  // "" when no key was ignored, else one line naming every ignored key.
  std::string IgnoredKeysWarning() const;

 private:
  // Returns the raw value (set or default) of `key`, aborting unless it is registered as `type`.
  const std::string& RawValue(const std::string& key, OptionType type) const;

  // Explicitly set values, already validated. Ordered so ExplicitOverrides() is sorted.
  std::map<std::string, std::string> values_;
  std::vector<std::string> ignored_flink_keys_;
};

}  // namespace sluice::config

#endif  // SLUICE_COMMON_CONFIG_CONFIG_H_
