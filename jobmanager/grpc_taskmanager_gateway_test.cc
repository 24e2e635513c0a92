#include "jobmanager/grpc_taskmanager_gateway.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace sluice::jobmanager {
namespace {

// A TaskManager's control service on a real loopback socket that records the calls it gets and,
// when told to, holds TriggerCheckpoint until released (a TaskManager that does not answer).
// A test double of the TaskManager: only the control service, no tasks.
class FakeTaskManager final : public proto::TaskManagerService::Service {
 public:
  explicit FakeTaskManager(bool hang_triggers) : hang_(hang_triggers) {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(this);
    server_ = b.BuildAndStart();
  }
  ~FakeTaskManager() override {
    Release();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }
  std::vector<std::string> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

  grpc::Status TriggerCheckpoint(grpc::ServerContext* ctx, const proto::TriggerCheckpointRequest* r,
                                 proto::Empty*) override {
    Record("trigger " + r->attempt_id());
    if (hang_) {
      while (!release_.WaitForNotificationWithTimeout(absl::Milliseconds(10))) {
        if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      }
    }
    return grpc::Status::OK;
  }
  grpc::Status NotifyCheckpoint(grpc::ServerContext*, const proto::CheckpointNotification* r,
                                proto::Empty*) override {
    Record("notify " + r->attempt_id());
    return grpc::Status::OK;
  }
  grpc::Status CancelTask(grpc::ServerContext*, const proto::CancelTaskRequest* r,
                          proto::Empty*) override {
    Record("cancel " + r->attempt_id());
    return grpc::Status::OK;
  }

 private:
  void Record(std::string call) {
    absl::MutexLock lock(&mu_);
    calls_.push_back(std::move(call));
  }

  const bool hang_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  absl::Notification release_;
  absl::Mutex mu_;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
};

// Regression (fault probe, defect 2): every RPC of a job went through one serial executor, so a
// call to a frozen TaskManager held up the calls to the healthy ones for its whole deadline.
TEST(GrpcTaskManagerGateway, ASlowTaskManagerHoldsUpOnlyItsOwnCalls) {
  FakeTaskManager frozen(/*hang_triggers=*/true);
  FakeTaskManager healthy(/*hang_triggers=*/false);
  GrpcTaskManagerGateway to_frozen("tm-frozen", frozen.address(), std::chrono::seconds(30));
  GrpcTaskManagerGateway to_healthy("tm-healthy", healthy.address(), std::chrono::seconds(30));

  std::promise<absl::Status> frozen_done, healthy_done;
  to_frozen.TriggerCheckpoint("a1", 7, 0, false, false,
                              [&](const absl::Status& s) { frozen_done.set_value(s); });
  to_healthy.TriggerCheckpoint("b1", 7, 0, false, false,
                               [&](const absl::Status& s) { healthy_done.set_value(s); });
  auto healthy_future = healthy_done.get_future();
  ASSERT_EQ(healthy_future.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "the healthy TaskManager's call waited for the frozen one";
  EXPECT_TRUE(healthy_future.get().ok());
  auto frozen_future = frozen_done.get_future();
  EXPECT_EQ(frozen_future.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);

  // Calls to one TaskManager keep their order behind the one in flight.
  std::promise<void> notified;
  to_frozen.NotifyCheckpoint("a1", 7, true, [&](const absl::Status&) { notified.set_value(); });
  frozen.Release();
  EXPECT_TRUE(frozen_future.get().ok());
  notified.get_future().wait();
  EXPECT_EQ(frozen.calls(), (std::vector<std::string>{"trigger a1", "notify a1"}));
}

TEST(GrpcTaskManagerGateway, ACallThatMissesItsDeadlineFailsNamingTheTaskManager) {
  FakeTaskManager frozen(/*hang_triggers=*/true);
  GrpcTaskManagerGateway gw("tm-frozen", frozen.address(), std::chrono::milliseconds(300));
  std::promise<absl::Status> done;
  gw.TriggerCheckpoint("a1", 9, 0, false, false, [&](const absl::Status& s) { done.set_value(s); });
  absl::Status s = done.get_future().get();
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_NE(s.message().find("the trigger of checkpoint 9 to TaskManager tm-frozen"),
            std::string::npos)
      << s;
}

TEST(GrpcTaskManagerGateway, CloseCancelsTheCallInFlightAndFailsQueuedOnesAtOnce) {
  FakeTaskManager frozen(/*hang_triggers=*/true);
  GrpcTaskManagerGateway gw("tm-gone", frozen.address(), std::chrono::seconds(60));
  std::promise<absl::Status> first, second;
  gw.TriggerCheckpoint("a1", 1, 0, false, false,
                       [&](const absl::Status& s) { first.set_value(s); });
  gw.Cancel("a1", [&](const absl::Status& s) { second.set_value(s); });
  // Let the trigger reach the server before the gateway is closed.
  ASSERT_TRUE([&] {
    for (int i = 0; i < 500 && frozen.calls().empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return !frozen.calls().empty();
  }());
  gw.Close();
  auto f1 = first.get_future();
  auto f2 = second.get_future();
  ASSERT_EQ(f1.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_EQ(f2.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_FALSE(f1.get().ok());
  absl::Status queued = f2.get();
  EXPECT_EQ(queued.code(), absl::StatusCode::kUnavailable) << queued;
  EXPECT_NE(queued.message().find("is gone"), std::string::npos) << queued;
  EXPECT_EQ(frozen.calls(), std::vector<std::string>{"trigger a1"}) << "the cancel was not sent";
}

}  // namespace
}  // namespace sluice::jobmanager
