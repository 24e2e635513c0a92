// Checkpoints and savepoints in S3 on a real cluster, against a real S3-compatible server that
// checks signatures (OpenStack Swift with s3api, tests/s3_server.h): the ledger on RocksDB with
// incremental checkpoints in s3://, a TaskManager killed, a stop-with-savepoint into s3://, the
// savepoint moved to another prefix and resumed — every transaction exactly once; retention
// deleting old checkpoints' objects; a missing bucket refused at submission; a server that
// refuses the credentials, and one that is stopped for 10 s: checkpoints fail, the job keeps
// running, checkpoints complete again once the server is back.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/snapshot/s3_client.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"
#include "tests/ledger_check.h"
#include "tests/s3_server.h"

namespace sluice::testing {
namespace {

constexpr int64_t kAccounts = 1000;

class IntegrationS3 : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(s3_.Start(&error)) << error;
    ASSERT_TRUE(s3_.CreateBucket("sluice", &error)) << error;
    cluster_ = std::make_unique<LocalCluster>();
    ClusterOptions options;
    options.taskmanagers = 3;
    options.slots = 2;
    options.defines = {"s3.endpoint=" + s3_.endpoint(), "s3.access-key=" + s3_.access_key(),
                       "s3.secret-key=" + s3_.secret_key(), "s3.region=" + s3_.region(),
                       "s3.path.style.access=true",
                       // Small parts, so that RocksDB's files of a few MiB go up in several.
                       "s3.upload.min.part.size=5mb", "s3.max-retries=3"};
    absl::Status started = cluster_->Start(options);
    ASSERT_TRUE(started.ok()) << started;
  }

  snapshot::S3Options ClientOptions() const {
    snapshot::S3Options o;
    o.endpoint = s3_.endpoint();
    o.region = s3_.region();
    o.access_key = s3_.access_key();
    o.secret_key = s3_.secret_key();
    o.path_style = true;
    return o;
  }

  //! Every key in the bucket under `prefix`.
  std::vector<std::string> Keys(const std::string& prefix) {
    snapshot::S3Client client(ClientOptions());
    auto listed = client.List("sluice", prefix, /*delimited=*/false);
    EXPECT_TRUE(listed.ok()) << listed.status();
    return listed.ok() ? listed->keys : std::vector<std::string>{};
  }

  //! The chk-<n> folders of a job's checkpoint objects.
  std::set<std::string> CheckpointFolders(const std::string& job) {
    std::set<std::string> folders;
    const std::string prefix = absl::StrCat("checkpoints/", job, "/");
    for (const std::string& key : Keys(prefix)) {
      const std::string rest = key.substr(prefix.size());
      if (absl::StartsWith(rest, "chk-")) folders.insert(rest.substr(0, rest.find('/')));
    }
    return folders;
  }

  std::string RunLedger(int64_t transactions, int64_t rate, const std::string& output,
                        const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"run",
                                     ExamplePackage("ledger"),
                                     "--detached",
                                     "--parallelism",
                                     "2",
                                     "--arg",
                                     absl::StrCat("transactions=", transactions),
                                     "--arg",
                                     absl::StrCat("rate=", rate),
                                     "--arg",
                                     "output=" + output,
                                     "-D",
                                     "state.checkpoints.num-retained=2"};
    for (const std::string& d : RestartingCheckpointDefines("rocksdb", "s3://sluice/checkpoints",
                                                            "s3://sluice/savepoints")) {
      args.push_back(d);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult run = cluster_->Sluice(args);
    EXPECT_TRUE(run.ok()) << run.Describe();
    return run.ok() ? run.LastLine() : "";
  }

  absl::StatusOr<JsonValue> Checkpoints(const std::string& job) {
    CommandResult r = cluster_->Sluice({"checkpoints", job, "--json"});
    if (!r.ok()) return absl::InternalError(r.Describe());
    return ParseJson(r.out);
  }
  int64_t Completed(const std::string& job) {
    absl::StatusOr<JsonValue> c = Checkpoints(job);
    if (!c.ok()) return -1;
    const JsonValue& list = Field(*c, "completed");
    return list.has_list_value() && list.list_value().values_size() > 0
               ? IntField(list.list_value().values(0), "id")
               : 0;
  }
  int64_t Failed(const std::string& job) {
    absl::StatusOr<JsonValue> c = Checkpoints(job);
    return c.ok() ? IntField(*c, "failed") : -1;
  }

  S3Server s3_;
  std::unique_ptr<LocalCluster> cluster_;
};

TEST_F(IntegrationS3, LedgerCheckpointsInS3SurviveAKillAndASavepointMovedToAnotherPrefix) {
  const std::string out = cluster_->NewDir("ledger");
  // About 30 s at 2 x 2,000/s: the first run must still be running when it is stopped.
  constexpr int64_t kTransactions = 120000;
  const std::string first = RunLedger(kTransactions, 2000, out);
  ASSERT_FALSE(first.empty());
  ASSERT_TRUE(cluster_->WaitForAllRunning(first, absl::Minutes(1)).ok()) << cluster_->LogTails();

  // A TaskManager running the job killed: the job restores from checkpoints in S3.
  absl::StatusOr<JsonValue> running = cluster_->WaitForAllRunning(first);
  ASSERT_TRUE(running.ok());
  std::set<std::string> hosts;
  for (const auto& [vertex, s] : Subtasks(*running)) hosts.insert(StringField(*s, "taskmanager"));
  int victim = 0;
  for (int i = 1; i <= 3 && victim == 0; ++i) {
    absl::StatusOr<std::string> id = cluster_->TaskManagerId(i);
    if (id.ok() && hosts.count(*id)) victim = i;
  }
  ASSERT_NE(victim, 0);
  ASSERT_TRUE(cluster_->KillTaskManager(victim).ok());
  ASSERT_TRUE(cluster_->AddTaskManager().ok());
  ASSERT_TRUE(cluster_->WaitForAllRunning(first, absl::Minutes(2)).ok()) << cluster_->LogTails();
  const int64_t before = Completed(first);
  ASSERT_TRUE(WaitUntil([&] { return Completed(first) >= before + 3; }, absl::Minutes(1)))
      << cluster_->LogTails();

  // Retention: two checkpoints are kept, the objects of older ones are gone.
  EXPECT_TRUE(WaitUntil([&] { return CheckpointFolders(first).size() <= 2; }, absl::Seconds(20)))
      << CheckpointFolders(first).size();
  EXPECT_FALSE(CheckpointFolders(first).empty());
  std::vector<std::string> shared = Keys(absl::StrCat("checkpoints/", first, "/shared/"));
  EXPECT_FALSE(shared.empty()) << "incremental RocksDB checkpoints keep SST files in shared/";

  CommandResult stop = cluster_->Sluice({"stop", first, "--json"});
  ASSERT_TRUE(stop.ok()) << stop.Describe() << cluster_->LogTails();
  absl::StatusOr<JsonValue> path = ParseJson(stop.LastLine());
  ASSERT_TRUE(path.ok()) << stop.out;
  const std::string savepoint = StringField(*path, "path");
  ASSERT_TRUE(absl::StartsWith(savepoint, "s3://sluice/savepoints/savepoint-")) << savepoint;
  const int64_t committed = static_cast<int64_t>(ReadLedger(out).size());
  EXPECT_GT(committed, 0);
  EXPECT_LT(committed, kTransactions);

  // Relocatable: copy every object to another prefix, delete the original, resume from the copy.
  snapshot::S3Client client(ClientOptions());
  const std::string from = savepoint.substr(std::string("s3://sluice/").size()) + "/";
  std::vector<std::string> objects = Keys(from);
  ASSERT_FALSE(objects.empty());
  for (const std::string& key : objects) {
    std::string bytes;
    ASSERT_TRUE(client
                    .Get(
                        "sluice", key,
                        [&](std::string_view chunk) {
                          bytes.append(chunk);
                          return absl::OkStatus();
                        },
                        [&] {
                          bytes.clear();
                          return absl::OkStatus();
                        })
                    .ok());
    ASSERT_TRUE(client.Put("sluice", "moved/sp/" + key.substr(from.size()), bytes).ok());
    ASSERT_TRUE(client.Delete("sluice", key).ok());
  }
  const std::string second =
      RunLedger(kTransactions, 2000, out, {"--from-savepoint", "s3://sluice/moved/sp"});
  ASSERT_FALSE(second.empty());
  ASSERT_TRUE(cluster_->WaitForAllRunning(second, absl::Minutes(1)).ok()) << cluster_->LogTails();
  absl::SleepFor(absl::Seconds(3));
  stop = cluster_->Sluice({"stop", second, "--json"});
  ASSERT_TRUE(stop.ok()) << stop.Describe() << cluster_->LogTails();
  EXPECT_GT(static_cast<int64_t>(ReadLedger(out).size()), committed) << "the second run went on";

  // --restore latest lists S3 for the newest snapshot of the job's name: the second savepoint.
  const std::string third = RunLedger(kTransactions, 4000, out, {"--restore", "latest"});
  ASSERT_FALSE(third.empty());
  absl::StatusOr<JsonValue> done = cluster_->WaitEnded(third, absl::Minutes(3));
  ASSERT_TRUE(done.ok()) << done.status() << cluster_->LogTails();
  ASSERT_EQ(StringField(*done, "state"), "FINISHED")
      << StringField(*done, "failure") << cluster_->LogTails();
  ExpectExactlyOnce(ReadLedger(out), kTransactions, kAccounts);
}

TEST_F(IntegrationS3, AMissingBucketIsRefusedAtSubmission) {
  CommandResult run = cluster_->Sluice(
      {"run", ExamplePackage("ledger"), "--detached", "--arg", "transactions=100", "--arg",
       "output=" + cluster_->NewDir("ledger"), "-D", "execution.checkpointing.interval=1s", "-D",
       "state.checkpoints.dir=s3://no-such-bucket/checkpoints"});
  EXPECT_FALSE(run.ok());
  EXPECT_NE(run.err.find("state.checkpoints.dir 's3://no-such-bucket/checkpoints'"),
            std::string::npos)
      << run.Describe();
  EXPECT_NE(run.err.find("bucket does not exist"), std::string::npos) << run.Describe();
  EXPECT_TRUE(cluster_->JobManagerAlive());
}

TEST_F(IntegrationS3, CheckpointsFailWhileTheServerIsDownOrRefusesTheKeyAndTheJobKeepsRunning) {
  const std::string out = cluster_->NewDir("ledger");
  const std::string job =
      RunLedger(10000000, 500, out,
                {"-D", "execution.checkpointing.tolerable-failed-checkpoints=1000", "-D",
                 "execution.checkpointing.timeout=20s"});
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(cluster_->WaitForAllRunning(job, absl::Minutes(1)).ok()) << cluster_->LogTails();
  ASSERT_TRUE(WaitUntil([&] { return Completed(job) >= 2; }, absl::Minutes(1)));

  // Stopped for 10 s: checkpoints fail.
  s3_.Stop();
  absl::SleepFor(absl::Seconds(10));
  std::string error;
  ASSERT_TRUE(s3_.Restart(&error)) << error;
  EXPECT_TRUE(WaitUntil([&] { return Failed(job) >= 1; }, absl::Seconds(60)))
      << "no checkpoint failed while the server was down";
  const int64_t after_outage = Completed(job);
  EXPECT_TRUE(WaitUntil([&] { return Completed(job) >= after_outage + 2; }, absl::Minutes(1)))
      << "checkpoints did not resume" << cluster_->LogTails();

  // The server now refuses the cluster's secret key: checkpoints fail with the server's reason.
  const int64_t failed = Failed(job);
  ASSERT_TRUE(s3_.ChangeServerSecret("changed-secret", &error)) << error;
  // The first failures after the restart may be the server not answering yet (a connection
  // error, retried): wait for one with the server's own reason.
  CommandResult text;
  EXPECT_TRUE(WaitUntil(
      [&] {
        text = cluster_->Sluice({"checkpoints", job});
        return text.out.find("SignatureDoesNotMatch") != std::string::npos;
      },
      absl::Minutes(1)))
      << text.out;
  EXPECT_GT(Failed(job), failed);
  absl::StatusOr<JsonValue> status = cluster_->JobStatus(job);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(StringField(*status, "state"), "RUNNING");
  EXPECT_EQ(IntField(*status, "numRestarts"), 0);

  ASSERT_TRUE(s3_.ChangeServerSecret(s3_.secret_key(), &error)) << error;
  const int64_t resumed = Completed(job);
  EXPECT_TRUE(WaitUntil([&] { return Completed(job) >= resumed + 2; }, absl::Minutes(1)))
      << cluster_->LogTails();
  ASSERT_TRUE(cluster_->Sluice({"cancel", job}).ok());
}

}  // namespace
}  // namespace sluice::testing
