// The REST API's handlers, one file per area: cluster (config, overview, TaskManagers, logs), jobs
// (details, plan, exceptions, vertices, back pressure, watermarks, metrics, cancel), checkpoints
// (history, details, config, savepoints, stop, rescale) and jars (upload, list, run, delete).
// Each calls the same JobManager services the gRPC client API calls, so the CLI and the REST API
// can never disagree. Paths, verbs, status codes and field names are Flink's (docs/operations.md,
// "REST API").
#pragma once

#include <string>

#include "common/config/config.h"
#include "jobmanager/blob_store.h"
#include "jobmanager/dispatcher.h"
#include "jobmanager/resource_manager.h"
#include "jobmanager/rest/jar_store.h"
#include "jobmanager/rest/operations.h"
#include "jobmanager/rest/router.h"

namespace sluice::jobmanager::rest {

struct RestContext {
  Dispatcher* dispatcher = nullptr;
  ResourceManager* resource_manager = nullptr;
  JarStore* jars = nullptr;
  Operations* operations = nullptr;
  const config::Configuration* config = nullptr;  // the JobManager's
  std::string log_dir;                            // env.log.dir; empty: no logs served
  std::string web_address;                        // "http://host:port", once listening
  std::string metrics_address;                    // the JobManager's Prometheus host:port
};

void AddClusterRoutes(Router& router, const RestContext* ctx);
void AddJobRoutes(Router& router, const RestContext* ctx);
void AddCheckpointRoutes(Router& router, const RestContext* ctx);
void AddJarRoutes(Router& router, const RestContext* ctx);

//! The REST API's id of a vertex: its number as 32 hex digits (Flink's JobVertexID form).
std::string RestVertexId(const std::string& vertex_id);
//! The vertex of `status` whose REST id is `rest_id`; nullptr when none.
const proto::VertexStatus* FindRestVertex(const proto::JobStatus& status,
                                          const std::string& rest_id);

}  // namespace sluice::jobmanager::rest
