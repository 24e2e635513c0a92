// Umbrella header for job packages.
#pragma once

#include "sluice/datastream.h"
#include "sluice/job.h"
#include "sluice/key_groups.h"
#include "sluice/serialization.h"
#include "sluice/state.h"
#include "sluice/timers.h"
