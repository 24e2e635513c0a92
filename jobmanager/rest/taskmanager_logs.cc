#include "jobmanager/rest/taskmanager_logs.h"

#include <grpcpp/grpcpp.h>

#include "common/rpc.h"
#include "sluice_proto/cluster.grpc.pb.h"

namespace sluice::jobmanager::rest {
namespace {

constexpr std::chrono::seconds kTimeout(15);

std::unique_ptr<proto::TaskManagerService::Stub> Stub(const std::string& address) {
  return proto::TaskManagerService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

}  // namespace

absl::StatusOr<std::vector<LogFileInfo>> ListTaskManagerLogs(const std::string& rpc_address) {
  auto ctx = ContextWithDeadline(kTimeout);
  proto::Empty req;
  proto::ListLogsResponse resp;
  grpc::Status s = Stub(rpc_address)->ListLogs(ctx.get(), req, &resp);
  if (!s.ok()) return FromGrpc(s);
  std::vector<LogFileInfo> out;
  for (const auto& e : resp.logs()) out.push_back({e.name(), e.size(), e.mtime_ms()});
  return out;
}

absl::StatusOr<std::string> ReadTaskManagerLog(const std::string& rpc_address,
                                               const std::string& name, uint64_t max_bytes) {
  if (absl::Status s = CheckLogFileName(name); !s.ok()) return s;
  auto ctx = ContextWithDeadline(kTimeout);
  proto::ReadLogRequest req;
  req.set_name(name);
  req.set_max_bytes(max_bytes);
  auto reader = Stub(rpc_address)->ReadLog(ctx.get(), req);
  std::string out;
  proto::LogChunk chunk;
  while (reader->Read(&chunk)) out += chunk.data();
  grpc::Status s = reader->Finish();
  if (!s.ok()) return FromGrpc(s);
  return out;
}

}  // namespace sluice::jobmanager::rest
