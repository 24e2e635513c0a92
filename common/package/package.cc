#include "common/package/package.h"

#include <dlfcn.h>

#include "absl/strings/str_cat.h"

namespace sluice {

absl::StatusOr<std::unique_ptr<LoadedPackage>> LoadedPackage::Open(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a job package (cannot load it as a shared library): ", dlerror()));
  }
  using AbiFn = uint32_t (*)();
  auto abi = reinterpret_cast<AbiFn>(dlsym(handle, "sluice_abi_version"));
  if (!abi) {
    return absl::InvalidArgumentError(
        "not a job package: no 'sluice_abi_version' symbol (build it with the Sluice SDK and "
        "SLUICE_JOB)");
  }
  uint32_t version = abi();
  if (version != kAbiVersion) {
    return absl::InvalidArgumentError(absl::StrCat("package built for SDK ABI version ", version,
                                                   ", this cluster runs ABI version ", kAbiVersion,
                                                   "; rebuild the package against this SDK"));
  }
  auto build = reinterpret_cast<BuildFn>(dlsym(handle, "sluice_build_job"));
  if (!build) {
    return absl::InvalidArgumentError(
        "job package has no entry point 'sluice_build_job' (define the job with SLUICE_JOB)");
  }
  return std::unique_ptr<LoadedPackage>(new LoadedPackage(path, build));
}

absl::StatusOr<std::unique_ptr<StreamEnvironment>> LoadedPackage::Build(
    const std::map<std::string, std::string>& args, int default_parallelism,
    int default_max_parallelism) const {
  auto env = std::make_unique<StreamEnvironment>(args, default_parallelism);
  // The job's own SetMaxParallelism, called by build_, wins over the configured default.
  if (default_max_parallelism > 0) env->SetMaxParallelism(default_max_parallelism);
  try {
    build_(env.get());
    env->Finalize();
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("the job's builder failed: ", e.what()));
  } catch (...) {
    return absl::InvalidArgumentError("the job's builder threw a non-standard exception");
  }
  return env;
}

proto::JobGraph ToJobGraph(const StreamEnvironment& env, const std::string& fallback_name) {
  proto::JobGraph graph;
  graph.set_name(env.job_name().empty() ? fallback_name : env.job_name());
  graph.set_default_parallelism(env.default_parallelism());
  graph.set_buffer_timeout_ms(env.buffer_timeout_ms());
  graph.set_auto_watermark_interval_ms(env.auto_watermark_interval_ms());
  for (const NodeSpec& n : env.nodes()) {
    proto::JobNode* node = graph.add_nodes();
    node->set_id(n.id);
    node->set_uid(n.uid);
    node->set_name(n.name);
    node->set_parallelism(n.parallelism);
    node->set_max_parallelism(n.max_parallelism);
    node->set_is_source(n.is_source);
    node->set_chainable(n.chainable);
    for (const EdgeSpec& e : n.inputs) {
      proto::JobEdge* edge = node->add_inputs();
      edge->set_source_id(e.source_id);
      edge->set_partitioner(static_cast<proto::Partitioner>(e.kind));
      edge->set_side_output(e.side_output);
      edge->set_input(e.input);
    }
  }
  return graph;
}

}  // namespace sluice
