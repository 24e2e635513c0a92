#include "jobmanager/services.h"

#include <chrono>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/util/log_files.h"

namespace sluice::jobmanager {

grpc::Status ClientServiceImpl::Submit(grpc::ServerContext* ctx,
                                       grpc::ServerReader<proto::SubmitRequest>* reader,
                                       proto::SubmitResponse* resp) {
  proto::SubmitRequest msg;
  if (!reader->Read(&msg) || !msg.has_header()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "submission must start with a header");
  }
  proto::SubmitHeader header = msg.header();
  auto upload = blobs_->StartUpload();
  if (!upload.ok()) return ToGrpc(upload.status());
  while (reader->Read(&msg)) {
    if (!msg.has_chunk()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "unexpected second header");
    }
    absl::Status s = (*upload)->Append(msg.chunk());
    if (!s.ok()) return ToGrpc(s);
  }
  auto sha = (*upload)->Commit(header.package_sha256(), header.package_size());
  if (!sha.ok()) return ToGrpc(sha.status());
  auto result = dispatcher_->Submit(header, *sha, ctx->deadline());
  if (!result.ok()) return ToGrpc(result.status());
  *resp = *result;
  return grpc::Status::OK;
}

grpc::Status ClientServiceImpl::ListJobs(grpc::ServerContext*, const proto::ListJobsRequest*,
                                         proto::ListJobsResponse* resp) {
  for (auto& j : dispatcher_->List()) *resp->add_jobs() = std::move(j);
  return grpc::Status::OK;
}

grpc::Status ClientServiceImpl::GetJobStatus(grpc::ServerContext*, const proto::JobIdRequest* req,
                                             proto::JobStatus* resp) {
  auto s = dispatcher_->Status(req->job_id());
  if (!s.ok()) return ToGrpc(s.status());
  *resp = *std::move(s);
  return grpc::Status::OK;
}

grpc::Status ClientServiceImpl::CancelJob(grpc::ServerContext*, const proto::JobIdRequest* req,
                                          proto::CancelResponse* resp) {
  auto s = dispatcher_->Cancel(req->job_id());
  if (!s.ok()) return ToGrpc(s.status());
  resp->set_state(*s);
  return grpc::Status::OK;
}

grpc::Status ClientServiceImpl::ListTaskManagers(grpc::ServerContext*,
                                                 const proto::ListTaskManagersRequest*,
                                                 proto::ListTaskManagersResponse* resp) {
  for (auto& tm : rm_->List()) *resp->add_taskmanagers() = std::move(tm);
  return grpc::Status::OK;
}

grpc::Status ClientServiceImpl::ReadDaemonLog(grpc::ServerContext*,
                                              const proto::DaemonLogRequest* req,
                                              proto::DaemonLogResponse* resp) {
  if (req->daemon() == "jobmanager") return ToGrpc(AnswerOwnLogRequest(*req, resp));
  std::vector<std::string> ids;
  for (const proto::TaskManagerInfo& tm : rm_->List()) {
    if (tm.id() != req->daemon()) {
      ids.push_back(tm.id());
      continue;
    }
    // The CLI waits 10 s for the whole answer: no longer for the TaskManager's part of it.
    auto call = ContextWithDeadline(std::chrono::seconds(10));
    return proto::TaskManagerService::NewStub(MakeChannel(tm.address()))
        ->ReadOwnLog(call.get(), *req, resp);
  }
  return grpc::Status(
      grpc::StatusCode::NOT_FOUND,
      absl::StrCat("no daemon '", req->daemon(), "': name 'jobmanager' or a TaskManager id (",
                   ids.empty() ? "none is registered" : absl::StrJoin(ids, ", "), ")"));
}

grpc::Status ClientServiceImpl::GetCheckpoints(grpc::ServerContext*, const proto::JobIdRequest* req,
                                               proto::CheckpointsResponse* resp) {
  auto r = dispatcher_->Checkpoints(req->job_id());
  if (!r.ok()) return ToGrpc(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status ClientServiceImpl::TriggerSavepoint(grpc::ServerContext*,
                                                 const proto::SavepointRequest* req,
                                                 proto::SavepointResponse* resp) {
  auto path = dispatcher_->TriggerSavepoint(*req);
  if (!path.ok()) return ToGrpc(path.status());
  resp->set_path(*path);
  return grpc::Status::OK;
}

grpc::Status ClientServiceImpl::Rescale(grpc::ServerContext*, const proto::RescaleRequest* req,
                                        proto::RescaleResponse* resp) {
  auto path = dispatcher_->Rescale(*req);
  if (!path.ok()) return ToGrpc(path.status());
  resp->set_savepoint_path(*path);
  return grpc::Status::OK;
}

grpc::Status ClusterServiceImpl::AcknowledgeCheckpoint(
    grpc::ServerContext*, const proto::AcknowledgeCheckpointRequest* req, proto::Empty*) {
  dispatcher_->OnAcknowledgeCheckpoint(*req);
  return grpc::Status::OK;
}

grpc::Status ClusterServiceImpl::ReportCrash(grpc::ServerContext*, const proto::CrashReport* req,
                                             proto::Empty*) {
  rm_->Crashed(req->taskmanager_id(), req->signal(), req->task());
  return grpc::Status::OK;
}

grpc::Status ClusterServiceImpl::DeclineCheckpoint(grpc::ServerContext*,
                                                   const proto::DeclineCheckpointRequest* req,
                                                   proto::Empty*) {
  dispatcher_->OnDeclineCheckpoint(*req);
  return grpc::Status::OK;
}

grpc::Status ClusterServiceImpl::RegisterTaskManager(grpc::ServerContext*,
                                                     const proto::RegisterRequest* req,
                                                     proto::RegisterResponse* resp) {
  absl::Status s = rm_->Register(*req);
  if (!s.ok()) return ToGrpc(s);
  resp->set_heartbeat_interval_ms(heartbeat_interval_ms_);
  return grpc::Status::OK;
}

grpc::Status ClusterServiceImpl::Connect(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<proto::HeartbeatAck, proto::Heartbeat>* stream) {
  proto::Heartbeat hb;
  std::string tm_id;
  while (stream->Read(&hb)) {
    tm_id = hb.taskmanager_id();
    proto::HeartbeatAck ack;
    ack.set_registered(rm_->Heartbeat(hb));
    if (!stream->Write(ack)) break;
    if (!ack.registered()) return grpc::Status::OK;
  }
  if (!tm_id.empty()) {
    rm_->ConnectionLost(tm_id, ctx->IsCancelled() ? "stream cancelled" : "stream closed");
  }
  return grpc::Status::OK;
}

grpc::Status ClusterServiceImpl::UpdateTaskState(grpc::ServerContext*,
                                                 const proto::TaskStateUpdate* req, proto::Empty*) {
  dispatcher_->OnTaskStateUpdate(*req);
  return grpc::Status::OK;
}

grpc::Status ClusterServiceImpl::ReportMetrics(grpc::ServerContext*,
                                               const proto::TaskMetricsReport* req,
                                               proto::TaskMetricsAck* ack) {
  *ack = dispatcher_->OnMetricsReport(*req);
  return grpc::Status::OK;
}

grpc::Status ClusterServiceImpl::FetchPackage(grpc::ServerContext*,
                                              const proto::FetchPackageRequest* req,
                                              grpc::ServerWriter<proto::PackageChunk>* writer) {
  auto path = blobs_->PathOf(req->sha256());
  if (!path.ok()) return ToGrpc(path.status());
  std::ifstream in(*path, std::ios::binary);
  if (!in) return grpc::Status(grpc::StatusCode::INTERNAL, "cannot read stored package");
  std::string buf(1 << 20, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    proto::PackageChunk chunk;
    chunk.set_data(buf.data(), static_cast<size_t>(n));
    if (!writer->Write(chunk)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  }
  return grpc::Status::OK;
}

}  // namespace sluice::jobmanager
