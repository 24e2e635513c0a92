// A sink of std::string on a stream of size_t: compiled before, then misread memory at run time.
// EXPECT_ERROR: SinkTo: the sink's input type must be the stream's record type
#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

SLUICE_JOB(env) {
  sluice::GeneratorOptions gen;
  sluice::AddGenerator(
      env, gen, [](uint64_t i) { return std::to_string(i); }, "Numbers")
      .Map([](const std::string& s) { return s.size(); })
      .SinkTo(sluice::MakePrintSink<std::string>());
}
