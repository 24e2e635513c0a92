// The entry point of a job package.
//
//   SLUICE_JOB(env) {
//     env.SetJobName("my job");
//     env.AddSource<...>(...).Map(...).SinkTo(...);
//   }
//
// expands to the two exported symbols the host looks for: sluice_abi_version and sluice_build_job.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include "sluice/datastream.h"

#define SLUICE_JOB(env_name)                                                        \
  static void SluiceDefineJob(::sluice::StreamEnvironment& env_name);               \
  extern "C" __attribute__((visibility("default"))) uint32_t sluice_abi_version() { \
    return ::sluice::kAbiVersion;                                                   \
  }                                                                                 \
  extern "C" __attribute__((visibility("default"))) void sluice_build_job(          \
      ::sluice::StreamEnvironment* env) {                                           \
    SluiceDefineJob(*env);                                                          \
  }                                                                                 \
  static void SluiceDefineJob(::sluice::StreamEnvironment& env_name)
