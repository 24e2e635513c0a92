// watch_dir: the text file source watching `--arg input=DIR` (a scan every `--arg interval-ms=N`,
// 200 by default) into the file sink at `--arg output=DIR`, line for line. Unbounded.
#include <chrono>

#include "sluice/connectors/file_source.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

SLUICE_JOB(env) {
  env.SetJobName("watch-dir");
  sluice::FileSourceOptions options;
  options.monitor_interval = std::chrono::milliseconds(env.IntArg("interval-ms", 200));
  sluice::AddTextFileSource(env, env.Arg("input"), options, "Watched directory")
      .Uid("source")
      .SinkTo(sluice::MakeFileSink<std::string>(env.Arg("output")), "Lines")
      .Uid("sink");
}
