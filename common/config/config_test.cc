#include "common/config/config.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sluice::config {
namespace {

// gmock is not linked into our tests, hence this stand-in for HasSubstr.
::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

// Writes `contents` to a fresh file under the test temp dir and returns its path.
std::string WriteFile(const std::string& name, const std::string& contents) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << contents;
  return path;
}

std::string ErrorOf(const absl::StatusOr<Configuration>& config) {
  EXPECT_FALSE(config.ok());
  return std::string(config.status().message());
}

TEST(OptionsTest, RegistryIsConsistent) {
  std::set<std::string> keys;
  for (const Option& option : AllOptions()) {
    EXPECT_TRUE(keys.insert(option.key).second) << "duplicate key " << option.key;
    EXPECT_FALSE(option.doc.empty()) << option.key;
    absl::StatusOr<std::string> value = ValidateValue(option, option.default_value);
    EXPECT_TRUE(value.ok()) << "default of " << option.key << ": " << value.status();
  }
}

TEST(ConfigurationTest, Defaults) {
  const Configuration config;
  EXPECT_EQ(config.GetString("jobmanager.rpc.address"), "127.0.0.1");
  EXPECT_EQ(config.GetInt("jobmanager.rpc.port"), 6123);
  EXPECT_EQ(config.GetString("jobmanager.address-file"), "");
  EXPECT_EQ(config.GetInt("taskmanager.numberOfTaskSlots"), 1);
  EXPECT_EQ(config.GetDurationMs("heartbeat.interval"), 10'000);
  EXPECT_EQ(config.GetDurationMs("heartbeat.timeout"), 50'000);
  EXPECT_EQ(config.GetDurationMs("execution.buffer-timeout"), 100);
  EXPECT_EQ(config.GetDurationMs("jobmanager.graph-builder.timeout"), 60'000);
  EXPECT_EQ(config.GetMemoryBytes("taskmanager.memory.segment-size"), 32 * 1024);
  EXPECT_EQ(config.GetInt("taskmanager.network.busy-poll-us"), 500);
  EXPECT_EQ(config.GetString("log.level"), "info");
  EXPECT_FALSE(config.IsSet("heartbeat.interval"));
  EXPECT_TRUE(config.ExplicitOverrides().empty());
}

TEST(ConfigurationTest, LoadWithoutFileOrOverridesGivesDefaults) {
  absl::StatusOr<Configuration> config = Configuration::Load("", {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetInt("parallelism.default"), 1);
}

TEST(ConfigurationTest, YamlNestedAndDottedKeysMix) {
  const std::string path = WriteFile("mixed.yaml", R"(
jobmanager:
  rpc:
    address: jm.example.com
    port: 7000
  bind-host: 0.0.0.0
taskmanager.numberOfTaskSlots: 4
taskmanager:
  memory.segment-size: 64 kb
heartbeat.interval: 2 s
log.level: DEBUG
)");
  absl::StatusOr<Configuration> config = Configuration::Load(path, {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetString("jobmanager.rpc.address"), "jm.example.com");
  EXPECT_EQ(config->GetInt("jobmanager.rpc.port"), 7000);
  EXPECT_EQ(config->GetString("jobmanager.bind-host"), "0.0.0.0");
  EXPECT_EQ(config->GetInt("taskmanager.numberOfTaskSlots"), 4);
  EXPECT_EQ(config->GetMemoryBytes("taskmanager.memory.segment-size"), 64 * 1024);
  EXPECT_EQ(config->GetDurationMs("heartbeat.interval"), 2000);
  EXPECT_EQ(config->GetString("log.level"), "debug");
  EXPECT_TRUE(config->IsSet("jobmanager.rpc.port"));
  EXPECT_FALSE(config->IsSet("heartbeat.timeout"));
}

TEST(ConfigurationTest, NestedEqualsDotted) {
  const std::string nested = WriteFile("nested.yaml", "taskmanager: {numberOfTaskSlots: 2}\n");
  const std::string dotted = WriteFile("dotted.yaml", "taskmanager.numberOfTaskSlots: 2\n");
  absl::StatusOr<Configuration> a = Configuration::Load(nested, {});
  absl::StatusOr<Configuration> b = Configuration::Load(dotted, {});
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->ExplicitOverrides(), b->ExplicitOverrides());
  EXPECT_EQ(a->GetInt("taskmanager.numberOfTaskSlots"), 2);
}

TEST(ConfigurationTest, EmptyFileIsFine) {
  absl::StatusOr<Configuration> config = Configuration::Load(WriteFile("empty.yaml", ""), {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->ExplicitOverrides().empty());
}

TEST(ConfigurationTest, OverridesWinOverFile) {
  const std::string path =
      WriteFile("base.yaml", "parallelism.default: 3\nheartbeat.timeout: 5 s\n");
  absl::StatusOr<Configuration> config =
      Configuration::Load(path, {"parallelism.default=8", "taskmanager.host = tm-1"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetInt("parallelism.default"), 8);
  EXPECT_EQ(config->GetDurationMs("heartbeat.timeout"), 5000);
  EXPECT_EQ(config->GetString("taskmanager.host"), "tm-1");
}

TEST(ConfigurationTest, OverrideValueMayContainEquals) {
  absl::StatusOr<Configuration> config = Configuration::Load("", {"taskmanager.resource-id=a=b"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetString("taskmanager.resource-id"), "a=b");
}

TEST(ConfigurationTest, OverrideWithoutEqualsIsAnError) {
  EXPECT_TRUE(Contains(ErrorOf(Configuration::Load("", {"parallelism.default"})),
                       "'parallelism.default': expected key=value"));
}

TEST(ConfigurationTest, UnknownKeyNamesTheKey) {
  EXPECT_EQ(ErrorOf(Configuration::Load("", {"no.such.key=1"})),
            "unknown config key 'no.such.key'");
  const std::string path = WriteFile("unknown.yaml", "jobmanager:\n  rpc:\n    prot: 1\n");
  const std::string error = ErrorOf(Configuration::Load(path, {}));
  EXPECT_TRUE(Contains(error, "unknown config key 'jobmanager.rpc.prot'"));
  EXPECT_TRUE(Contains(error, "did you mean 'jobmanager.rpc.port'?"));
  EXPECT_TRUE(Contains(error, path));
}

TEST(ConfigurationTest, UnknownKeySuggestsCaseInsensitiveMatch) {
  Configuration config;
  EXPECT_TRUE(Contains(std::string(config.Set("taskmanager.numberoftaskslots", "2").message()),
                       "did you mean 'taskmanager.numberOfTaskSlots'?"));
}

TEST(ConfigurationTest, BadValuesNameKeyAndValue) {
  struct Case {
    std::string key;
    std::string value;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"heartbeat.interval", "abc",
       "invalid value 'abc' for 'heartbeat.interval': expected a duration like '10 s' or "
       "'500 ms'"},
      {"heartbeat.interval", "10 parsecs", "expected a duration"},
      {"heartbeat.interval", "0", "'heartbeat.interval': must be at least 1 ms"},
      {"execution.buffer-timeout", "-1", "expected a duration"},
      {"jobmanager.rpc.port", "http",
       "invalid value 'http' for 'jobmanager.rpc.port': "
       "expected an integer"},
      {"jobmanager.rpc.port", "12x", "expected an integer"},
      {"jobmanager.rpc.port", "70000", "must be between 0 and 65535"},
      {"taskmanager.numberOfTaskSlots", "0", "must be between 1 and 1024"},
      {"taskmanager.memory.segment-size", "lots",
       "'taskmanager.memory.segment-size': "
       "expected a memory size"},
      {"taskmanager.memory.segment-size", "512b", "must be between 1024 bytes and 16777216 bytes"},
      {"log.level", "loud", "invalid value 'loud' for 'log.level': expected one of trace, debug"},
      {"taskmanager.network.busy-poll-us", "-1", "must be between 0 and 1000000"},
      {"taskmanager.network.busy-poll-us", "500us", "expected an integer"},
  };
  for (const Case& c : cases) {
    Configuration config;
    absl::Status status = config.Set(c.key, c.value);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.key << "=" << c.value;
    EXPECT_TRUE(Contains(std::string(status.message()), c.expected));
    EXPECT_FALSE(config.IsSet(c.key));
  }
}

TEST(ConfigurationTest, BadValueInFileNamesFileKeyAndValue) {
  const std::string path = WriteFile("bad_value.yaml", "heartbeat:\n  timeout: soon\n");
  const std::string error = ErrorOf(Configuration::Load(path, {}));
  EXPECT_TRUE(Contains(error, path));
  EXPECT_TRUE(Contains(error, "invalid value 'soon' for 'heartbeat.timeout'"));
}

// No bool or double option is registered yet, so their validation is checked directly.
TEST(ValidateValueTest, BoolAndDouble) {
  const Option flag{.key = "test.flag", .type = OptionType::kBool, .default_value = "false"};
  EXPECT_EQ(*ValidateValue(flag, "TRUE"), "TRUE");
  EXPECT_TRUE(ValidateValue(flag, "false").ok());
  EXPECT_TRUE(Contains(std::string(ValidateValue(flag, "yes").status().message()),
                       "invalid value 'yes' for 'test.flag': expected 'true' or 'false'"));

  const Option ratio{.key = "test.ratio", .type = OptionType::kDouble, .default_value = "0.5"};
  EXPECT_TRUE(ValidateValue(ratio, "1e-3").ok());
  EXPECT_TRUE(Contains(std::string(ValidateValue(ratio, "half").status().message()),
                       "invalid value 'half' for 'test.ratio': expected a number"));
  EXPECT_FALSE(ValidateValue(ratio, "nan").ok());
}

TEST(ParseTest, Durations) {
  const std::vector<std::pair<std::string, int64_t>> good = {
      {"0", 0},           {"250", 250},      {"100ms", 100},      {"100 ms", 100},
      {"10 s", 10'000},   {"10s", 10'000},   {"3 sec", 3000},     {"2min", 120'000},
      {"2 MIN", 120'000}, {"1h", 3'600'000}, {"1 d", 86'400'000}, {" 5 s ", 5000},
      {"7 seconds", 7000}};
  for (const auto& [text, ms] : good) {
    absl::StatusOr<int64_t> parsed = ParseDurationMs(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_EQ(*parsed, ms) << text;
  }
  for (const std::string bad : {"", "s", "abc", "-1", "1.5 s", "10 parsecs", "10 s x",
                                "99999999999999999999", "9999999999999999 d"}) {
    EXPECT_FALSE(ParseDurationMs(bad).ok()) << bad;
  }
}

TEST(ParseTest, MemorySizes) {
  const std::vector<std::pair<std::string, int64_t>> good = {
      {"0", 0},          {"4096", 4096},      {"12b", 12},       {"32kb", 32768},
      {"32 KB", 32768},  {"32k", 32768},      {"1m", 1 << 20},   {"64 mb", 64 << 20},
      {"2g", 2LL << 30}, {"1 GB", 1LL << 30}, {"1tb", 1LL << 40}};
  for (const auto& [text, bytes] : good) {
    absl::StatusOr<int64_t> parsed = ParseMemoryBytes(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_EQ(*parsed, bytes) << text;
  }
  for (const std::string bad : {"", "kb", "lots", "-1kb", "1.5mb", "10 kib", "99999999999 gb"}) {
    EXPECT_FALSE(ParseMemoryBytes(bad).ok()) << bad;
  }
}

TEST(ConfigurationTest, MissingFileIsAnError) {
  absl::StatusOr<Configuration> config = Configuration::Load("/nonexistent/sluice.yaml", {});
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(ErrorOf(config), "/nonexistent/sluice.yaml"));
}

TEST(ConfigurationTest, MalformedYamlNamesTheFile) {
  const std::string path = WriteFile("malformed.yaml", "jobmanager: [unclosed\n  rpc: {\n");
  const std::string error = ErrorOf(Configuration::Load(path, {}));
  EXPECT_TRUE(Contains(error, path));
  EXPECT_TRUE(Contains(error, "malformed YAML"));
}

TEST(ConfigurationTest, ListValueIsAnError) {
  const std::string path = WriteFile("list.yaml", "taskmanager.host: [a, b]\n");
  EXPECT_TRUE(Contains(ErrorOf(Configuration::Load(path, {})), "'taskmanager.host'"));
}

// A Flink 1.19+ config.yaml (nested keys, as Flink ships it) with keys Sluice lacks.
TEST(ConfigurationTest, FlinkConfigYamlLoadsWithItsUnknownKeysIgnored) {
  const std::string path = WriteFile("flink-config.yaml", R"(
env:
  java:
    opts:
      all: --add-exports=java.base/sun.net.util=ALL-UNNAMED
jobmanager:
  bind-host: localhost
  rpc:
    address: localhost
    port: 6123
  memory:
    process:
      size: 1600m
  execution:
    failover-strategy: region
taskmanager:
  bind-host: localhost
  host: localhost
  numberOfTaskSlots: 4
  memory:
    process:
      size: 1728m
parallelism:
  default: 2
pipeline:
  max-parallelism: 256
  jars: [a.jar, b.jar]
state:
  backend: rocksdb
execution:
  runtime-mode: STREAMING
  checkpointing:
    dir: file:///tmp/flink-checkpoints
high-availability:
  type: NONE
rest:
  address: localhost
  port: 8082
)");
  absl::StatusOr<Configuration> config = Configuration::Load(path, {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetInt("taskmanager.numberOfTaskSlots"), 4);
  EXPECT_EQ(config->GetInt("parallelism.default"), 2);
  EXPECT_EQ(config->GetInt("pipeline.max-parallelism"), 256);
  EXPECT_EQ(config->GetInt("rest.port"), 8082);
  // Flink's other names land on Sluice's keys.
  EXPECT_EQ(config->GetString("state.backend.type"), "rocksdb");
  EXPECT_TRUE(config->IsSet("state.backend"));
  EXPECT_EQ(config->GetString("state.checkpoints.dir"), "file:///tmp/flink-checkpoints");
  // taskmanager.memory.process.size is Sluice's too (the TaskManager's memory budget).
  EXPECT_EQ(config->ExplicitOverrides().size(), 13u);
  EXPECT_EQ(config->ignored_flink_keys(),
            (std::vector<std::string>{"env.java.opts.all", "jobmanager.memory.process.size",
                                      "jobmanager.execution.failover-strategy", "pipeline.jars",
                                      "execution.runtime-mode", "high-availability.type"}));
  const std::string warning = config->IgnoredKeysWarning();
  EXPECT_TRUE(Contains(warning,
                       "ignoring 6 Flink configuration key(s) that Sluice does not "
                       "implement: env.java.opts.all, jobmanager.memory.process.size"))
      << warning;
}

TEST(ConfigurationTest, NothingIgnoredMeansNoWarning) {
  absl::StatusOr<Configuration> config = Configuration::Load("", {"parallelism.default=2"});
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->ignored_flink_keys().empty());
  EXPECT_EQ(config->IgnoredKeysWarning(), "");
}

TEST(ConfigurationTest, TyposAreErrorsEvenInFlinkFamilies) {
  // Neither Sluice's nor Flink's: an error with a suggestion, as before.
  EXPECT_TRUE(Contains(ErrorOf(Configuration::Load("", {"taskmanager.numberOfTaskSlot=2"})),
                       "did you mean 'taskmanager.numberOfTaskSlots'?"));
  // In a Flink family that Sluice ignores, but one letter from a key of Sluice's: a typo.
  EXPECT_TRUE(Contains(ErrorOf(Configuration::Load("", {"metrics.reporter.prom.prot=9250"})),
                       "did you mean 'metrics.reporter.prom.port'?"));
  // Far from every key of Sluice's: one of Flink's, ignored.
  absl::StatusOr<Configuration> config =
      Configuration::Load("", {"metrics.reporter.jmx.factory.class=x"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ignored_flink_keys().size(), 1u);
}

TEST(ConfigurationTest, AliasesSetTheKeyTheyStandFor) {
  absl::StatusOr<Configuration> config =
      Configuration::Load("", {"restart-strategy=fixed-delay", "state.backend=hashmap",
                               "execution.checkpointing.incremental=true"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetString("restart-strategy.type"), "fixed-delay");
  EXPECT_TRUE(config->GetBool("state.backend.incremental"));
  // Errors name the key as the user wrote it.
  EXPECT_TRUE(Contains(ErrorOf(Configuration::Load("", {"state.backend=filesystem"})),
                       "expected one of hashmap, rocksdb"));
}

TEST(ConfigurationTest, EmptyChoiceIsNamedInWords) {
  const std::string error = ErrorOf(Configuration::Load("", {"restart-strategy.type=sometimes"}));
  EXPECT_TRUE(Contains(error,
                       "expected one of none, fixed-delay, exponential-delay, "
                       "failure-rate (or empty for the default)"))
      << error;
}

TEST(FlinkKeysTest, ListIsSortedAndDisjointFromSluiceKeys) {
  EXPECT_TRUE(FlinkKeysAreSorted());
  for (const Option& option : AllOptions()) {
    EXPECT_FALSE(IsFlinkOnlyKey(option.key)) << option.key;
    for (const std::string& alias : option.aliases) EXPECT_FALSE(IsFlinkOnlyKey(alias)) << alias;
  }
}

// conf/sluice.yaml is ReferenceYaml(): a key added to the registry must show up in the file.
TEST(ReferenceYamlTest, RepositoryFileIsUpToDate) {
  const std::string path = std::string(SLUICE_SOURCE_DIR) + "/conf/sluice.yaml";
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text != ReferenceYaml()) {
    const std::string fresh = WriteFile("sluice.yaml", ReferenceYaml());
    FAIL() << path << " is out of date with the key registry; regenerate it with\n  cp " << fresh
           << " " << path;
  }
}

TEST(ReferenceYamlTest, LoadsAsIsAndWithEveryKeyUncommented) {
  const std::string as_is = WriteFile("reference.yaml", ReferenceYaml());
  absl::StatusOr<Configuration> config = Configuration::Load(as_is, {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->ExplicitOverrides().empty());
  // Every "# key: default" line uncommented: every default is valid and reads back unchanged.
  std::string uncommented;
  for (const Option& option : AllOptions()) {
    const std::string line_start = "# " + option.key + ": ";
    const std::string text = ReferenceYaml();
    const size_t at = text.find("\n" + line_start);
    ASSERT_NE(at, std::string::npos) << option.key;
    const size_t end = text.find('\n', at + 1);
    uncommented += text.substr(at + 3, end - at - 3) + "\n";
  }
  absl::StatusOr<Configuration> all =
      Configuration::Load(WriteFile("uncommented.yaml", uncommented), {});
  ASSERT_TRUE(all.ok()) << all.status();
  for (const Option& option : AllOptions()) {
    EXPECT_TRUE(all->IsSet(option.key)) << option.key;
  }
  EXPECT_EQ(all->GetString("metrics.reporter.prom.port"), "9249-9299");
  EXPECT_EQ(all->GetString("restart-strategy.type"), "");
}

TEST(ConfigurationTest, TopLevelScalarIsAnError) {
  const std::string path = WriteFile("scalar.yaml", "just a string\n");
  EXPECT_TRUE(Contains(ErrorOf(Configuration::Load(path, {})), "top level must be a map"));
}

TEST(ConfigurationTest, ExplicitOverridesAreSortedAndRoundTrip) {
  const std::string path = WriteFile("explicit.yaml", "taskmanager.rpc.port: 9000\n");
  absl::StatusOr<Configuration> config = Configuration::Load(
      path, {"parallelism.default=2", "heartbeat.interval=500 ms", "parallelism.default=3"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ExplicitOverrides(),
            std::vector<std::string>({"heartbeat.interval=500 ms", "parallelism.default=3",
                                      "taskmanager.rpc.port=9000"}));

  absl::StatusOr<Configuration> copy = Configuration::Load("", config->ExplicitOverrides());
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(copy->ExplicitOverrides(), config->ExplicitOverrides());
  EXPECT_EQ(copy->GetDurationMs("heartbeat.interval"), 500);
}

TEST(ConfigurationTest, DescribeOptionsListsEveryKey) {
  const std::string table = DescribeOptions();
  for (const Option& option : AllOptions()) EXPECT_TRUE(Contains(table, option.key));
  EXPECT_TRUE(Contains(table, "0..65535"));
}

TEST(ConfigurationDeathTest, UnregisteredKeyAborts) {
  const Configuration config;
  EXPECT_DEATH(config.GetString("no.such.key"), "not registered");
  EXPECT_DEATH(config.GetInt("heartbeat.interval"), "wrong type");
}

}  // namespace
}  // namespace sluice::config
