// The JobMaster without processes: TaskManagers are in-process gateways that record the calls
// they get, and the test answers as TaskManagers would, with task state updates and checkpoint
// acknowledgements. Nothing here waits on time: every wait is for a condition, with a generous
// limit, and restarts have no backoff unless a test needs one that never ends.
#include "jobmanager/job_master.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/executor.h"
#include "common/snapshot/metadata.h"
#include "gtest/gtest.h"
#include "jobmanager/resource_manager.h"
#include "jobmanager/taskmanager_gateway.h"

namespace sluice::jobmanager {

//! Reaches into the JobMaster for what its public API must never do (tests only).
class JobMasterTestPeer {
 public:
  //! Asks the JobMaster's state machine for `to` on the JobMaster's executor.
  static bool SetJobState(JobMaster& jm, JobState to) {
    return jm.executor_.Call([&] { return jm.SetJobState(to); });
  }
};

namespace {

using std::chrono::milliseconds;

//! A TaskManager as the JobMaster sees it: records every call and answers it OK on its own thread
//! (Unavailable once closed, or for deployments while `FailDeployments`).
class RecordingGateway final : public TaskManagerGateway {
 public:
  struct Call {
    std::string kind;  // deploy, cancel, release, trigger, notify
    std::string attempt_id;
    int64_t checkpoint_id = 0;
    bool stop = false;
    bool complete = false;
    proto::TaskDeployment deployment;
  };
  static Call Of(std::string kind, std::string attempt_id, int64_t checkpoint_id = 0) {
    Call c;
    c.kind = std::move(kind);
    c.attempt_id = std::move(attempt_id);
    c.checkpoint_id = checkpoint_id;
    return c;
  }

  RecordingGateway(std::string id, std::string address)
      : id_(std::move(id)), address_(std::move(address)), executor_("gw-" + id_) {}
  ~RecordingGateway() override { executor_.Shutdown(); }

  const std::string& id() const override { return id_; }
  const std::string& address() const override { return address_; }

  void Deploy(proto::TaskDeployment deployment, Done done) override {
    Call c = Of("deploy", deployment.attempt_id());
    c.deployment = std::move(deployment);
    Record(std::move(c), std::move(done));
  }
  void Cancel(std::string attempt_id, Done done) override {
    Record(Of("cancel", std::move(attempt_id)), std::move(done));
  }
  void ReleaseJob(std::string job_id, Done done) override {
    Record(Of("release", std::move(job_id)), std::move(done));
  }
  void TriggerCheckpoint(std::string attempt_id, int64_t checkpoint_id, int64_t, bool stop, bool,
                         Done done) override {
    Call c = Of("trigger", std::move(attempt_id), checkpoint_id);
    c.stop = stop;
    Record(std::move(c), std::move(done));
  }
  void NotifyCheckpoint(std::string attempt_id, int64_t checkpoint_id, bool complete,
                        Done done) override {
    Call c = Of("notify", std::move(attempt_id), checkpoint_id);
    c.complete = complete;
    Record(std::move(c), std::move(done));
  }
  void Close() override {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  void Drain() override {
    executor_.Call([] {});
  }

  void FailDeployments(bool fail) {
    absl::MutexLock lock(&mu_);
    fail_deployments_ = fail;
  }
  std::vector<Call> Calls(const std::string& kind) {
    absl::MutexLock lock(&mu_);
    std::vector<Call> out;
    for (const Call& c : calls_) {
      if (c.kind == kind) out.push_back(c);
    }
    return out;
  }

 private:
  void Record(Call call, Done done) {
    absl::Status answer;
    {
      absl::MutexLock lock(&mu_);
      if (closed_) {
        answer = absl::UnavailableError(
            absl::StrCat(call.kind, " not sent: TaskManager ", id_, " is gone"));
      } else if (call.kind == "deploy" && fail_deployments_) {
        answer = absl::InternalError("no room for the task");
      }
      calls_.push_back(std::move(call));
    }
    executor_.Post([done = std::move(done), answer] {
      if (done) done(answer);
    });
  }

  const std::string id_;
  const std::string address_;
  absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool fail_deployments_ ABSL_GUARDED_BY(mu_) = false;
  SerialExecutor executor_;
};

//! Waits until `condition` holds; false after a limit no healthy run comes near.
bool WaitUntil(const std::function<bool()>& condition) {
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > limit) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

proto::RegisterRequest Registration(const std::string& id, int slots) {
  proto::RegisterRequest req;
  req.set_taskmanager_id(id);
  req.set_rpc_address(id + ":1");
  req.set_data_address(id + ":2");
  req.set_slots(slots);
  return req;
}

//! Source -> (hash) -> Sink, both at `parallelism`: two tasks, `parallelism` slots.
proto::JobGraph TwoTaskGraph(int parallelism) {
  proto::JobGraph g;
  g.set_name("two-tasks");
  for (const char* name : {"Source", "Sink"}) {
    proto::JobNode* n = g.add_nodes();
    n->set_id(static_cast<uint32_t>(g.nodes_size() - 1));
    n->set_name(name);
    n->set_uid(name);
    n->set_parallelism(parallelism);
    n->set_max_parallelism(128);
    n->set_is_source(n->id() == 0);
    n->set_chainable(true);
    if (n->id() == 1) {
      proto::JobEdge* e = n->add_inputs();
      e->set_source_id(0);
      e->set_partitioner(proto::HASH);
    }
  }
  return g;
}

// The real class, before the fixture takes its name (the suite is named after the class it tests).
using Master = JobMaster;

class JobMaster : public ::testing::Test {
 protected:
  void TearDown() override {
    if (jm_) {
      EXPECT_EQ(jm_->IllegalTransitions(), expected_illegal_) << "a refused job state transition";
      for (const auto& [id, gw] : Gateways()) gw->Drain();
      jm_.reset();
    }
    rm_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  //! TaskManagers "tm-a", "tm-b", ... with `slots` slots each.
  void StartCluster(int taskmanagers, int slots) {
    rm_ = std::make_unique<ResourceManager>(
        [this](const std::string& id, const std::string& address) {
          auto gw = std::make_shared<RecordingGateway>(id, address);
          absl::MutexLock lock(&mu_);
          gateways_[id] = gw;
          return gw;
        },
        milliseconds(100), std::chrono::hours(1));
    rm_->SetLostListener([this](const std::string& id, const std::string& reason) {
      if (jm_) jm_->OnTaskManagerLost(id, reason);
    });
    for (int i = 0; i < taskmanagers; ++i) {
      ASSERT_TRUE(rm_->Register(Registration(std::string("tm-") + char('a' + i), slots)).ok());
    }
  }

  //! Submits the two-task job at `parallelism` and starts it. With `checkpoints`, its snapshots go
  //! to a fresh folder (no periodic checkpoints: the tests trigger savepoints).
  void Submit(int parallelism, bool checkpoints, const std::string& restart_delay = "0 ms",
              bool start = true) {
    JobSpec spec;
    spec.job_id = "job-0001-test";
    spec.name = "two-tasks";
    spec.package_sha256 = "0123";
    spec.graph = TwoTaskGraph(parallelism);
    auto plan = BuildExecutionPlan(spec.graph);
    ASSERT_TRUE(plan.ok()) << plan.status();
    spec.plan = *std::move(plan);
    ASSERT_TRUE(spec.config.Set("restart-strategy.type", "fixed-delay").ok());
    ASSERT_TRUE(spec.config.Set("restart-strategy.fixed-delay.attempts", "10").ok());
    ASSERT_TRUE(spec.config.Set("restart-strategy.fixed-delay.delay", restart_delay).ok());
    if (checkpoints) {
      dir_ = absl::StrCat(::testing::TempDir(), "/job_master_test_", getpid(), "_",
                          ::testing::UnitTest::GetInstance()->current_test_info()->name());
      std::filesystem::remove_all(dir_);
      auto storage = snapshot::OpenStorage(dir_ + "/checkpoints/" + spec.job_id);
      ASSERT_TRUE(storage.ok()) << storage.status();
      spec.checkpoint_storage = std::shared_ptr<snapshot::SnapshotStorage>(std::move(*storage));
    }
    auto slots = rm_->AllocateSlots(spec.job_id, spec.plan.RequiredSlots());
    ASSERT_TRUE(slots.ok()) << slots.status();
    jm_ = std::make_unique<Master>(std::move(spec), *std::move(slots), rm_.get(), nullptr);
    if (start) jm_->Start();
  }

  std::map<std::string, std::shared_ptr<RecordingGateway>> Gateways() {
    absl::MutexLock lock(&mu_);
    return gateways_;
  }
  std::shared_ptr<RecordingGateway> Gateway(const std::string& id) { return Gateways().at(id); }

  //! Every call of `kind` to any TaskManager, with the TaskManager it went to.
  std::vector<std::pair<std::string, RecordingGateway::Call>> AllCalls(const std::string& kind) {
    std::vector<std::pair<std::string, RecordingGateway::Call>> out;
    for (const auto& [id, gw] : Gateways()) {
      for (auto& c : gw->Calls(kind)) out.emplace_back(id, std::move(c));
    }
    return out;
  }
  //! The deployments of attempt `attempt` (0 = the first).
  std::vector<std::pair<std::string, RecordingGateway::Call>> Deployments(int attempt) {
    std::vector<std::pair<std::string, RecordingGateway::Call>> out;
    for (auto& d : AllCalls("deploy")) {
      if (d.second.deployment.attempt_number() == attempt) out.push_back(std::move(d));
    }
    return out;
  }

  //! Waits for `n` deployments of `attempt` and answers each with RUNNING; they are returned.
  std::vector<std::pair<std::string, RecordingGateway::Call>> RunAttempt(int attempt, size_t n) {
    EXPECT_TRUE(WaitUntil([&] { return Deployments(attempt).size() == n; }))
        << Deployments(attempt).size() << " deployments of attempt " << attempt;
    auto deployed = Deployments(attempt);
    for (const auto& [tm, call] : deployed) Report(tm, call.attempt_id, proto::RUNNING);
    EXPECT_TRUE(WaitUntil([&] { return AllSubtasks("RUNNING") && State() == "RUNNING"; }))
        << jm_->Status().DebugString();
    return deployed;
  }

  void Report(const std::string& tm, const std::string& attempt_id, proto::TaskState state,
              const std::string& failure = "") {
    proto::TaskStateUpdate u;
    u.set_taskmanager_id(tm);
    u.set_job_id(jm_->Summary().id());
    u.set_attempt_id(attempt_id);
    u.set_state(state);
    u.set_failure(failure);
    jm_->OnTaskStateUpdate(u);
  }

  void Acknowledge(const std::string& attempt_id, int64_t checkpoint_id) {
    proto::AcknowledgeCheckpointRequest ack;
    ack.set_job_id(jm_->Summary().id());
    ack.set_attempt_id(attempt_id);
    ack.set_checkpoint_id(checkpoint_id);
    jm_->OnAcknowledgeCheckpoint(ack);
  }

  std::string State() { return jm_->Status().state(); }
  bool AllSubtasks(const std::string& state) {
    proto::JobStatus s = jm_->Status();
    for (const auto& v : s.vertices()) {
      for (const auto& st : v.subtasks()) {
        if (st.state() != state) return false;
      }
    }
    return s.vertices_size() > 0;
  }

  std::unique_ptr<ResourceManager> rm_;
  std::unique_ptr<Master> jm_;
  std::string dir_;
  int64_t expected_illegal_ = 0;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<RecordingGateway>> gateways_ ABSL_GUARDED_BY(mu_);
};

int FreeSlots(ResourceManager& rm) {
  int free = 0;
  for (const auto& tm : rm.List()) free += tm.free_slots();
  return free;
}

TEST_F(JobMaster, DeploysEverySubtaskToItsSlotAndFinishesOnceEveryOneHas) {
  StartCluster(2, 2);
  Submit(2, /*checkpoints=*/false);
  auto deployed = RunAttempt(0, 4);
  for (const auto& [tm, call] : deployed) {
    // Slot i runs subtask i of every task; the slots are spread over the TaskManagers.
    EXPECT_EQ(tm, call.deployment.subtask_index() == 0 ? "tm-a" : "tm-b");
    EXPECT_EQ(call.deployment.job_id(), "job-0001-test");
    EXPECT_EQ(call.deployment.parallelism(), 2);
  }
  EXPECT_EQ(FreeSlots(*rm_), 2);
  for (const auto& [tm, call] : deployed) Report(tm, call.attempt_id, proto::FINISHED);
  ASSERT_TRUE(WaitUntil([&] { return State() == "FINISHED"; })) << State();
  ASSERT_TRUE(WaitUntil([&] { return AllCalls("release").size() == 2; }))
      << "every TaskManager of the job releases it";
  EXPECT_TRUE(WaitUntil([&] { return FreeSlots(*rm_) == 4; })) << "and its slots come back";
}

TEST_F(JobMaster, ATaskFailureCancelsTheOthersAndRestartsEverySubtask) {
  StartCluster(2, 2);
  Submit(2, /*checkpoints=*/false);
  auto first = RunAttempt(0, 4);
  Report(first[0].first, first[0].second.attempt_id, proto::FAILED, "boom");
  ASSERT_TRUE(WaitUntil([&] { return AllCalls("cancel").size() == 3; }));
  EXPECT_EQ(State(), "RESTARTING");
  EXPECT_TRUE(Deployments(1).empty()) << "not before every subtask of the attempt ended";
  for (const auto& [tm, call] : AllCalls("cancel")) Report(tm, call.attempt_id, proto::CANCELED);

  RunAttempt(1, 4);
  proto::JobStatus s = jm_->Status();
  EXPECT_EQ(s.num_restarts(), 1);
  EXPECT_NE(s.last_restart_cause().find("boom"), std::string::npos) << s.last_restart_cause();
}

TEST_F(JobMaster, RestartsAgainWithANewAttemptAndIgnoresUpdatesOfTheOldOnes) {
  StartCluster(2, 2);
  Submit(2, /*checkpoints=*/false);
  auto first = RunAttempt(0, 4);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto failed = Deployments(attempt - 1).back();
    Report(failed.first, failed.second.attempt_id, proto::FAILED, absl::StrCat("boom ", attempt));
    ASSERT_TRUE(WaitUntil([&] { return AllCalls("cancel").size() == 3u * attempt; }));
    for (const auto& [tm, call] : AllCalls("cancel")) {
      Report(tm, call.attempt_id, proto::CANCELED);  // earlier ones are no-ops by now
    }
    RunAttempt(attempt, 4);
  }
  // A late word from the first attempt changes nothing.
  Report(first[0].first, first[0].second.attempt_id, proto::FAILED, "late");
  Report(first[1].first, first[1].second.attempt_id, proto::FINISHED);
  proto::JobStatus s = jm_->Status();
  EXPECT_EQ(s.state(), "RUNNING");
  EXPECT_EQ(s.num_restarts(), 2);
  EXPECT_TRUE(AllSubtasks("RUNNING"));
}

TEST_F(JobMaster, ALostTaskManagerFailsItsSubtasksAndTheJobRestartsOnTheOthers) {
  StartCluster(2, 2);
  Submit(2, /*checkpoints=*/false);
  RunAttempt(0, 4);
  rm_->ConnectionLost("tm-a", "the stream broke");
  ASSERT_TRUE(WaitUntil([&] { return Gateway("tm-b")->Calls("cancel").size() == 2; }));
  EXPECT_TRUE(Gateway("tm-a")->Calls("cancel").empty()) << "no calls to a lost TaskManager";
  for (const auto& c : Gateway("tm-b")->Calls("cancel"))
    Report("tm-b", c.attempt_id, proto::CANCELED);

  for (const auto& [tm, call] : RunAttempt(1, 4)) EXPECT_EQ(tm, "tm-b");
  proto::JobStatus s = jm_->Status();
  EXPECT_NE(s.last_restart_cause().find("TaskManager tm-a"), std::string::npos)
      << s.last_restart_cause();
}

// Regression: a TaskManager lost between submission and start asked CREATED -> RESTARTING, which
// the job state table refuses; the request was dropped without a word.
TEST_F(JobMaster, ATaskManagerLostBeforeTheJobStartsMakesItRestartOnTheOthers) {
  StartCluster(2, 2);
  Submit(2, /*checkpoints=*/false, "0 ms", /*start=*/false);
  rm_->ConnectionLost("tm-a", "the stream broke");
  ASSERT_TRUE(WaitUntil([&] { return rm_->List().size() == 1; }));  // the JobMaster was told
  jm_->Start();
  // Its deployments to tm-a fail at once; those to tm-b are cancelled.
  ASSERT_TRUE(WaitUntil([&] { return Gateway("tm-b")->Calls("cancel").size() == 2; }));
  for (const auto& c : Gateway("tm-b")->Calls("cancel"))
    Report("tm-b", c.attempt_id, proto::CANCELED);
  for (const auto& [tm, call] : RunAttempt(1, 4)) EXPECT_EQ(tm, "tm-b");
}

TEST_F(JobMaster, ACancelWhileRestartingEndsCanceledWithoutRedeploying) {
  StartCluster(2, 2);
  Submit(2, /*checkpoints=*/false, /*restart_delay=*/"3600 s");
  auto first = RunAttempt(0, 4);
  Report(first[0].first, first[0].second.attempt_id, proto::FAILED, "boom");
  ASSERT_TRUE(WaitUntil([&] { return AllCalls("cancel").size() == 3; }));
  for (const auto& [tm, call] : AllCalls("cancel")) Report(tm, call.attempt_id, proto::CANCELED);
  // Every subtask ended: the redeployment waits out its backoff of an hour.
  ASSERT_TRUE(WaitUntil([&] {
    proto::JobStatus s = jm_->Status();
    int ended = 0;
    for (const auto& v : s.vertices()) {
      for (const auto& st : v.subtasks())
        ended += st.state() == "CANCELED" || st.state() == "FAILED";
    }
    return ended == 4;
  }));
  EXPECT_EQ(State(), "RESTARTING");
  jm_->Cancel();
  ASSERT_TRUE(WaitUntil([&] { return State() == "CANCELED"; })) << State();
  EXPECT_TRUE(Deployments(1).empty());
  EXPECT_TRUE(WaitUntil([&] { return FreeSlots(*rm_) == 4; }));
}

TEST_F(JobMaster, ARescaleStopsWithASavepointAndRedeploysAtTheNewParallelism) {
  StartCluster(2, 2);
  Submit(2, /*checkpoints=*/true);
  auto first = RunAttempt(0, 4);
  proto::JobGraph graph = TwoTaskGraph(3);
  auto plan = BuildExecutionPlan(graph);
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto rescaled = std::async(std::launch::async, [&] { return jm_->Rescale(3, graph, *plan); });

  ASSERT_TRUE(WaitUntil([&] { return AllCalls("trigger").size() == 4; }));
  EXPECT_EQ(jm_->Status().rescale(), "2 -> 3");
  for (const auto& [tm, call] : AllCalls("trigger")) {
    EXPECT_TRUE(call.stop) << "a rescale stops the subtasks after its savepoint";
    Acknowledge(call.attempt_id, call.checkpoint_id);
  }
  absl::StatusOr<std::string> path = rescaled.get();
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_TRUE(std::filesystem::exists(*path + "/_metadata")) << *path;
  // Told that it completed, the subtasks finish; then the job comes back at 3.
  ASSERT_TRUE(WaitUntil([&] { return AllCalls("notify").size() == 4; }));
  for (const auto& [tm, call] : first) Report(tm, call.attempt_id, proto::FINISHED);

  for (const auto& [tm, call] : RunAttempt(1, 6)) EXPECT_EQ(call.deployment.parallelism(), 3);
  proto::JobStatus s = jm_->Status();
  EXPECT_EQ(s.rescale(), "") << "the rescale is over once every subtask runs";
  EXPECT_EQ(s.vertices(0).parallelism(), 3);
  EXPECT_EQ(s.num_restarts(), 0) << "a rescale is no restart";
}

TEST_F(JobMaster, StopWithSavepointWritesTheSavepointBeforeTheSubtasksAreToldAndFinishes) {
  StartCluster(2, 2);
  Submit(2, /*checkpoints=*/true);
  auto first = RunAttempt(0, 4);
  const std::string target = dir_ + "/savepoints";
  std::filesystem::create_directories(target);
  auto stopped = std::async(std::launch::async,
                            [&] { return jm_->TriggerSavepoint(target, /*stop=*/true, false); });

  ASSERT_TRUE(WaitUntil([&] { return AllCalls("trigger").size() == 4; }));
  for (const auto& [tm, call] : AllCalls("trigger")) {
    EXPECT_TRUE(call.stop);
    Acknowledge(call.attempt_id, call.checkpoint_id);
  }
  absl::StatusOr<std::string> path = stopped.get();
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(path->rfind(target, 0), 0u) << *path;
  EXPECT_TRUE(std::filesystem::exists(*path + "/_metadata")) << *path;
  // The completion notice went out only once the folder was written, before the answer.
  EXPECT_EQ(AllCalls("notify").size(), 4u);
  for (const auto& [tm, call] : AllCalls("notify")) EXPECT_TRUE(call.complete);
  for (const auto& [tm, call] : first) Report(tm, call.attempt_id, proto::FINISHED);
  ASSERT_TRUE(WaitUntil([&] { return State() == "FINISHED"; })) << State();

  proto::CheckpointsResponse checkpoints = jm_->Checkpoints();
  ASSERT_GE(checkpoints.completed_size(), 1);
  EXPECT_EQ(checkpoints.completed(0).kind(), "savepoint");
  EXPECT_EQ(checkpoints.completed(0).path(), *path);
}

// The coordinator reports a savepoint it could not write; the JobMaster fails the job over to the
// stop's checkpoint instead of letting the subtasks finish without their savepoint.
TEST_F(JobMaster, AStopWhoseSavepointCannotBeWrittenFailsOverInsteadOfFinishing) {
  StartCluster(2, 2);
  Submit(2, /*checkpoints=*/true);
  RunAttempt(0, 4);
  const std::string target = dir_ + "/a-file-not-a-folder";
  std::ofstream(target) << "x";
  auto stopped = std::async(std::launch::async,
                            [&] { return jm_->TriggerSavepoint(target, /*stop=*/true, false); });
  ASSERT_TRUE(WaitUntil([&] { return AllCalls("trigger").size() == 4; }));
  for (const auto& [tm, call] : AllCalls("trigger")) {
    Acknowledge(call.attempt_id, call.checkpoint_id);
  }
  absl::StatusOr<std::string> path = stopped.get();
  EXPECT_FALSE(path.ok()) << *path;
  EXPECT_TRUE(AllCalls("notify").empty()) << "never told to finish without the savepoint";
  ASSERT_TRUE(WaitUntil([&] { return jm_->Status().num_restarts() == 1; })) << State();
}

TEST_F(JobMaster, ASavepointKeepsTheJobRunningAndTheNextOneFollows) {
  StartCluster(2, 2);
  Submit(2, /*checkpoints=*/true);
  RunAttempt(0, 4);
  const std::string target = dir_ + "/savepoints";
  std::filesystem::create_directories(target);
  std::vector<std::string> paths;
  for (size_t round = 1; round <= 2; ++round) {
    auto taken = std::async(std::launch::async,
                            [&] { return jm_->TriggerSavepoint(target, /*stop=*/false, false); });
    ASSERT_TRUE(WaitUntil([&] { return AllCalls("trigger").size() == 4 * round; }));
    for (const auto& [tm, call] : AllCalls("trigger")) {
      EXPECT_FALSE(call.stop);
      Acknowledge(call.attempt_id, call.checkpoint_id);  // earlier ones are ignored
    }
    absl::StatusOr<std::string> path = taken.get();
    ASSERT_TRUE(path.ok()) << path.status();
    EXPECT_TRUE(std::filesystem::exists(*path + "/_metadata")) << *path;
    paths.push_back(*path);
  }
  EXPECT_NE(paths[0], paths[1]);
  EXPECT_EQ(State(), "RUNNING");
  EXPECT_TRUE(AllSubtasks("RUNNING"));
  // Copied and unpinned: the first savepoint's checkpoint gave way to the second's.
  proto::CheckpointsResponse checkpoints = jm_->Checkpoints();
  int retained = 0;
  for (const auto& c : checkpoints.completed()) retained += c.kind() == "checkpoint";
  EXPECT_EQ(retained, 1);
}

TEST_F(JobMaster, AnIllegalTransitionIsRefusedLoggedAndCounted) {
  StartCluster(1, 2);
  Submit(2, /*checkpoints=*/false);
  auto deployed = RunAttempt(0, 4);
  for (const auto& [tm, call] : deployed) Report(tm, call.attempt_id, proto::FINISHED);
  ASSERT_TRUE(WaitUntil([&] { return State() == "FINISHED"; }));

  EXPECT_FALSE(JobMasterTestPeer::SetJobState(*jm_, JobState::kRunning));
  EXPECT_EQ(State(), "FINISHED");
  EXPECT_EQ(jm_->IllegalTransitions(), 1);
  expected_illegal_ = 1;

  // What the API is asked of a finished job is no transition at all: nothing more is refused.
  jm_->Cancel();
  Report(deployed[0].first, deployed[0].second.attempt_id, proto::FAILED, "late");
  EXPECT_EQ(State(), "FINISHED");
  EXPECT_EQ(jm_->IllegalTransitions(), 1);
}
}  // namespace
}  // namespace sluice::jobmanager
