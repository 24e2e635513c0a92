// sluice-graph-builder PACKAGE DEFAULT_PARALLELISM DEFAULT_MAX_PARALLELISM [key=value]...
// (DEFAULT_MAX_PARALLELISM 0: derived from each operator's parallelism.)
// Loads the package, runs its builder and writes the serialized JobGraph to stdout. Errors go to
// stderr with exit code 2. Runs user code: started by the JobManager as a separate process.
#include <cstdio>
#include <iostream>

#include "common/package/package.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: sluice-graph-builder PACKAGE DEFAULT_PARALLELISM "
                 "DEFAULT_MAX_PARALLELISM [key=value]...\n");
    return 2;
  }
  std::map<std::string, std::string> args;
  for (int i = 4; i < argc; ++i) {
    std::string kv = argv[i];
    auto eq = kv.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "malformed job argument '%s' (expected key=value)\n", kv.c_str());
      return 2;
    }
    args[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  int parallelism = std::atoi(argv[2]);
  int max_parallelism = std::atoi(argv[3]);
  auto package = sluice::LoadedPackage::Open(argv[1]);
  if (!package.ok()) {
    std::fprintf(stderr, "%s\n", std::string(package.status().message()).c_str());
    return 2;
  }
  auto env = (*package)->Build(args, parallelism, max_parallelism);
  if (!env.ok()) {
    std::fprintf(stderr, "%s\n", std::string(env.status().message()).c_str());
    return 2;
  }
  sluice::proto::JobGraph graph = sluice::ToJobGraph(**env, "job");
  std::string bytes;
  graph.SerializeToString(&bytes);
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 2;
}
