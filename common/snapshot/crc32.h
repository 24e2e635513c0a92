// zlib's CRC-32 (the checksum of proto::StateFile and of the `_metadata` payload).
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string_view>

namespace sluice::snapshot {

//! Extends `crc` (the CRC-32 of the bytes so far; 0 for none) with `data`:
//! Crc32Extend(Crc32(a), b) == Crc32(a + b).
inline uint32_t Crc32Extend(uint32_t crc, std::string_view data) {
  // zlib returns the initial value (0) for a null buffer, which an empty string_view may have.
  if (data.empty()) return crc;
  // crc32_z takes a size_t length, so inputs over 4 GiB need no chunking.
  return static_cast<uint32_t>(
      crc32_z(crc, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

//! CRC-32 of `data`, as zlib's crc32().
inline uint32_t Crc32(std::string_view data) { return Crc32Extend(0, data); }

}  // namespace sluice::snapshot
