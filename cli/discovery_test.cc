#include "cli/discovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace sluice::cli {
namespace {

using ::testing::HasSubstr;

class DiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  config::Configuration Config(std::vector<std::string> defines = {}) {
    return *config::Configuration::Load("", defines);
  }
  std::filesystem::path dir_;
};

TEST_F(DiscoveryTest, FlagWinsOverEverything) {
  Write("jobmanager.address", "127.0.0.1:7000\n");
  config::Configuration config = Config();
  auto jm = FindJobManager(
      {.flag = "h:1", .cluster_dir = dir_.string(), .env = "e:2", .config = &config});
  ASSERT_TRUE(jm.ok()) << jm.status();
  EXPECT_EQ(*jm, "h:1");
}

TEST_F(DiscoveryTest, ClusterDirWinsOverEnvironmentAndConfig) {
  Write("jobmanager.address", "127.0.0.1:7000\n");
  config::Configuration config = Config({"jobmanager.rpc.port=9999"});
  auto jm = FindJobManager({.cluster_dir = dir_.string(), .env = "e:2", .config = &config});
  ASSERT_TRUE(jm.ok()) << jm.status();
  EXPECT_EQ(*jm, "127.0.0.1:7000");
}

TEST_F(DiscoveryTest, EnvironmentWinsOverConfig) {
  config::Configuration config = Config({"jobmanager.rpc.port=9999"});
  auto jm = FindJobManager({.env = "10.0.0.1:6000", .config = &config});
  ASSERT_TRUE(jm.ok()) << jm.status();
  EXPECT_EQ(*jm, "10.0.0.1:6000");
  // An empty variable counts as unset.
  jm = FindJobManager({.env = "", .config = &config});
  ASSERT_TRUE(jm.ok()) << jm.status();
  EXPECT_EQ(*jm, "127.0.0.1:9999");
}

TEST_F(DiscoveryTest, ConfigLastWithIpv6Brackets) {
  config::Configuration config = Config({"jobmanager.rpc.address=::1"});
  auto jm = FindJobManager({.config = &config});
  ASSERT_TRUE(jm.ok()) << jm.status();
  EXPECT_EQ(*jm, "[::1]:6123");
}

TEST_F(DiscoveryTest, ErrorsSayWhatIsWrongAndTheWays) {
  config::Configuration config = Config({"jobmanager.rpc.port=0"});
  EXPECT_THAT(FindJobManager({.config = &config}).status().message(),
              HasSubstr("give --jobmanager HOST:PORT, --dir CLUSTER_DIR, set SLUICE_JOBMANAGER"));
  EXPECT_THAT(FindJobManager({.flag = "nope", .config = &config}).status().message(),
              HasSubstr("--jobmanager expects HOST:PORT, got 'nope'"));
  EXPECT_THAT(FindJobManager({.env = "x:0", .config = &config}).status().message(),
              HasSubstr("SLUICE_JOBMANAGER expects HOST:PORT, got 'x:0'"));
  EXPECT_THAT(FindJobManager({.cluster_dir = dir_.string(), .config = &config}).status().message(),
              HasSubstr("no cluster in"));
  EXPECT_THAT(FindJobManager({.cluster_dir = (dir_ / "absent").string(), .config = &config})
                  .status()
                  .message(),
              HasSubstr("is not a folder"));
  Write("jobmanager.address", "garbage");
  EXPECT_THAT(FindJobManager({.cluster_dir = dir_.string(), .config = &config}).status().message(),
              HasSubstr("not HOST:PORT"));
}

TEST_F(DiscoveryTest, ConfigFileSearch) {
  // --config wins; then SLUICE_CONF_DIR (sluice.yaml, else a Flink config.yaml); then the default.
  Write("default.yaml", "");
  const std::string def = (dir_ / "default.yaml").string();
  EXPECT_EQ(*config::FindConfigFile("/x.yaml", dir_.c_str(), def), "/x.yaml");
  EXPECT_EQ(*config::FindConfigFile("", nullptr, def), def);
  EXPECT_EQ(*config::FindConfigFile("", nullptr, (dir_ / "absent.yaml").string()), "");
  EXPECT_THAT(config::FindConfigFile("", dir_.c_str(), def).status().message(),
              HasSubstr("has no sluice.yaml"));
  Write("config.yaml", "");
  EXPECT_EQ(*config::FindConfigFile("", dir_.c_str(), def), (dir_ / "config.yaml").string());
  Write("sluice.yaml", "");
  EXPECT_EQ(*config::FindConfigFile("", dir_.c_str(), def), (dir_ / "sluice.yaml").string());
}

}  // namespace
}  // namespace sluice::cli
