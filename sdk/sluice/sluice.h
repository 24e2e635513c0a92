// Umbrella header for job packages.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include "sluice/async_io.h"
#include "sluice/broadcast_process.h"
#include "sluice/broadcast_state.h"
#include "sluice/co_process.h"
#include "sluice/connected_streams.h"
#include "sluice/datastream.h"
#include "sluice/evictors.h"
#include "sluice/interval_join.h"
#include "sluice/job.h"
#include "sluice/key_groups.h"
#include "sluice/output_tag.h"
#include "sluice/serialization.h"
#include "sluice/state.h"
#include "sluice/timers.h"
#include "sluice/triggers.h"
#include "sluice/window_assigners.h"
#include "sluice/window_functions.h"
#include "sluice/window_join.h"
#include "sluice/windowed_stream.h"
#include "sluice/windows.h"
