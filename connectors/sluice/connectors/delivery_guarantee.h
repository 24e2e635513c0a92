// What a sink promises about its records after failures (Flink's DeliveryGuarantee).
#pragma once

namespace sluice {

enum class DeliveryGuarantee {
  //! Records may be lost or written twice after a failure: nothing is flushed at checkpoints.
  kNone,
  //! Nothing is lost: everything buffered is written at every checkpoint; a restart replays the
  //! records since the last checkpoint, so some may be written twice.
  kAtLeastOnce,
  //! Each record's effect exactly once: writes are transactions pre-committed at a checkpoint and
  //! committed when that checkpoint completes.
  kExactlyOnce,
};

inline const char* DeliveryGuaranteeName(DeliveryGuarantee g) {
  switch (g) {
    case DeliveryGuarantee::kNone:
      return "none";
    case DeliveryGuarantee::kAtLeastOnce:
      return "at-least-once";
    case DeliveryGuarantee::kExactlyOnce:
      return "exactly-once";
  }
  return "?";
}

}  // namespace sluice
