// A job package compiled as C++17: one line that says which standard to use.
// EXPECT_ERROR: Sluice job packages need C\+\+20: compile with -std=c\+\+20
// FLAGS: -std=c++17
#include "sluice/sluice.h"

SLUICE_JOB(env) { env.SetJobName("old standard"); }
