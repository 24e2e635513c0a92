// A library that claims to be a job package (it exports the ABI version) but has no builder entry
// point. Submitting it must be refused with a message about the missing entry point.
#include <cstdint>

#include "sluice/runtime.h"

extern "C" __attribute__((visibility("default"))) uint32_t sluice_abi_version() {
  return sluice::kAbiVersion;
}
