#include "jobmanager/resource_manager.h"

#include <chrono>

#include "gtest/gtest.h"
#include "jobmanager/grpc_taskmanager_gateway.h"

namespace sluice::jobmanager {
namespace {

using std::chrono::milliseconds;

proto::RegisterRequest Registration(const std::string& id) {
  proto::RegisterRequest req;
  req.set_taskmanager_id(id);
  req.set_rpc_address("127.0.0.1:1");
  req.set_data_address("127.0.0.1:2");
  req.set_slots(2);
  return req;
}

proto::Heartbeat HeartbeatWithNetwork(const std::string& id, int used, int peak) {
  proto::Heartbeat hb;
  hb.set_taskmanager_id(id);
  proto::NetworkMemoryStats* n = hb.mutable_network();
  n->set_total_segments(256);
  n->set_segment_size(32 * 1024);
  n->set_used_segments(used);
  n->set_peak_used_segments(peak);
  return hb;
}

TEST(ResourceManager, ListShowsNetworkMemoryOfTheLatestHeartbeat) {
  ResourceManager rm(GrpcTaskManagerGatewayFactory(), milliseconds(500), milliseconds(60000));
  ASSERT_TRUE(rm.Register(Registration("tm-a")).ok());

  std::vector<proto::TaskManagerInfo> before = rm.List();
  ASSERT_EQ(before.size(), 1u);
  EXPECT_FALSE(before[0].has_network()) << "the registration had no figures, nor a heartbeat yet";

  ASSERT_TRUE(rm.Heartbeat(HeartbeatWithNetwork("tm-a", 10, 12)));
  ASSERT_TRUE(rm.Heartbeat(HeartbeatWithNetwork("tm-a", 3, 40)));
  std::vector<proto::TaskManagerInfo> after = rm.List();
  ASSERT_EQ(after.size(), 1u);
  ASSERT_TRUE(after[0].has_network());
  EXPECT_EQ(after[0].network().total_segments(), 256);
  EXPECT_EQ(after[0].network().segment_size(), 32 * 1024);
  EXPECT_EQ(after[0].network().used_segments(), 3);
  EXPECT_EQ(after[0].network().peak_used_segments(), 40);

  // A heartbeat without figures keeps the last ones.
  proto::Heartbeat bare;
  bare.set_taskmanager_id("tm-a");
  ASSERT_TRUE(rm.Heartbeat(bare));
  EXPECT_EQ(rm.List()[0].network().used_segments(), 3);
}

TEST(ResourceManager, HeartbeatOfUnknownTaskManagerIsRefused) {
  ResourceManager rm(GrpcTaskManagerGatewayFactory(), milliseconds(500), milliseconds(60000));
  EXPECT_FALSE(rm.Heartbeat(HeartbeatWithNetwork("tm-unknown", 1, 1)));
  EXPECT_TRUE(rm.List().empty());
}

TEST(ResourceManager, RegistrationCarriesNetworkMemoryUntilTheFirstHeartbeat) {
  ResourceManager rm(GrpcTaskManagerGatewayFactory(), milliseconds(500), milliseconds(60000));
  proto::RegisterRequest req = Registration("tm-a");
  *req.mutable_network() = HeartbeatWithNetwork("tm-a", 0, 0).network();
  ASSERT_TRUE(rm.Register(req).ok());
  std::vector<proto::TaskManagerInfo> list = rm.List();
  ASSERT_EQ(list.size(), 1u);
  ASSERT_TRUE(list[0].has_network());
  EXPECT_EQ(list[0].network().total_segments(), 256);
  EXPECT_EQ(list[0].network().used_segments(), 0);

  ASSERT_TRUE(rm.Heartbeat(HeartbeatWithNetwork("tm-a", 7, 9)));
  EXPECT_EQ(rm.List()[0].network().used_segments(), 7);
}

TEST(ResourceManager, ReRegistrationForgetsTheOldFigures) {
  ResourceManager rm(GrpcTaskManagerGatewayFactory(), milliseconds(500), milliseconds(60000));
  ASSERT_TRUE(rm.Register(Registration("tm-a")).ok());
  ASSERT_TRUE(rm.Heartbeat(HeartbeatWithNetwork("tm-a", 5, 5)));
  ASSERT_TRUE(rm.Register(Registration("tm-a")).ok());
  std::vector<proto::TaskManagerInfo> list = rm.List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_FALSE(list[0].has_network());
}

TEST(ResourceManager, SlotsOfAnEndedJobAreUnavailableUntilReleasedNotMissing) {
  ResourceManager rm(GrpcTaskManagerGatewayFactory(), milliseconds(500), milliseconds(60000));
  ASSERT_TRUE(rm.Register(Registration("tm-a")).ok());  // 2 slots
  ASSERT_TRUE(rm.AllocateSlots("job-a", 2).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(rm.AllocateSlots("job-b", 1).status()));

  rm.BeginRelease("job-a");
  // Enough once job-a's slots are back: ask again (Unavailable); more than exist: refused.
  EXPECT_TRUE(absl::IsUnavailable(rm.AllocateSlots("job-b", 2).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(rm.AllocateSlots("job-b", 3).status()));

  rm.ReleaseSlots("job-a");
  EXPECT_TRUE(rm.AllocateSlots("job-b", 2).ok());
}

}  // namespace
}  // namespace sluice::jobmanager
