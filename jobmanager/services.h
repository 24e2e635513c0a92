// gRPC front of the JobManager: the client API and the TaskManager-facing service. Handlers run on
// gRPC's threads and only call into the Dispatcher, ResourceManager and BlobStore.
#pragma once

#include "jobmanager/blob_store.h"
#include "jobmanager/dispatcher.h"
#include "jobmanager/resource_manager.h"
#include "sluice_proto/client.grpc.pb.h"
#include "sluice_proto/cluster.grpc.pb.h"

namespace sluice::jobmanager {

class ClientServiceImpl final : public proto::ClientService::Service {
 public:
  ClientServiceImpl(Dispatcher* dispatcher, ResourceManager* rm, BlobStore* blobs)
      : dispatcher_(dispatcher), rm_(rm), blobs_(blobs) {}
  grpc::Status Submit(grpc::ServerContext* ctx, grpc::ServerReader<proto::SubmitRequest>* reader,
                      proto::SubmitResponse* resp) override;
  grpc::Status ListJobs(grpc::ServerContext*, const proto::ListJobsRequest*,
                        proto::ListJobsResponse* resp) override;
  grpc::Status GetJobStatus(grpc::ServerContext*, const proto::JobIdRequest* req,
                            proto::JobStatus* resp) override;
  grpc::Status CancelJob(grpc::ServerContext*, const proto::JobIdRequest* req,
                         proto::CancelResponse* resp) override;
  grpc::Status ListTaskManagers(grpc::ServerContext*, const proto::ListTaskManagersRequest*,
                                proto::ListTaskManagersResponse* resp) override;
  grpc::Status GetCheckpoints(grpc::ServerContext*, const proto::JobIdRequest* req,
                              proto::CheckpointsResponse* resp) override;
  grpc::Status TriggerSavepoint(grpc::ServerContext*, const proto::SavepointRequest* req,
                                proto::SavepointResponse* resp) override;
  grpc::Status Rescale(grpc::ServerContext*, const proto::RescaleRequest* req,
                       proto::RescaleResponse* resp) override;
  grpc::Status ReadDaemonLog(grpc::ServerContext*, const proto::DaemonLogRequest* req,
                             proto::DaemonLogResponse* resp) override;

 private:
  Dispatcher* dispatcher_;
  ResourceManager* rm_;
  BlobStore* blobs_;
};

class ClusterServiceImpl final : public proto::JobManagerService::Service {
 public:
  ClusterServiceImpl(Dispatcher* dispatcher, ResourceManager* rm, BlobStore* blobs,
                     int64_t heartbeat_interval_ms)
      : dispatcher_(dispatcher),
        rm_(rm),
        blobs_(blobs),
        heartbeat_interval_ms_(heartbeat_interval_ms) {}
  grpc::Status RegisterTaskManager(grpc::ServerContext*, const proto::RegisterRequest* req,
                                   proto::RegisterResponse* resp) override;
  grpc::Status Connect(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<proto::HeartbeatAck, proto::Heartbeat>* stream) override;
  grpc::Status UpdateTaskState(grpc::ServerContext*, const proto::TaskStateUpdate* req,
                               proto::Empty*) override;
  grpc::Status FetchPackage(grpc::ServerContext*, const proto::FetchPackageRequest* req,
                            grpc::ServerWriter<proto::PackageChunk>* writer) override;
  grpc::Status ReportMetrics(grpc::ServerContext*, const proto::TaskMetricsReport* req,
                             proto::TaskMetricsAck* ack) override;
  grpc::Status AcknowledgeCheckpoint(grpc::ServerContext*,
                                     const proto::AcknowledgeCheckpointRequest* req,
                                     proto::Empty*) override;
  grpc::Status ReportCrash(grpc::ServerContext*, const proto::CrashReport* req,
                           proto::Empty*) override;
  grpc::Status DeclineCheckpoint(grpc::ServerContext*, const proto::DeclineCheckpointRequest* req,
                                 proto::Empty*) override;

 private:
  Dispatcher* dispatcher_;
  ResourceManager* rm_;
  BlobStore* blobs_;
  int64_t heartbeat_interval_ms_;
};

}  // namespace sluice::jobmanager
