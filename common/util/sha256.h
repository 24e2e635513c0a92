#ifndef SLUICE_COMMON_UTIL_SHA256_H_
#define SLUICE_COMMON_UTIL_SHA256_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice {

// Incremental SHA-256 (FIPS 180-4), used to content-address job artifacts in the blob store.
// Self-contained so that the common library does not depend on OpenSSL. Not thread-safe.
class Sha256 {
 public:
  Sha256();

  // Feeds `n` bytes. Must not be called after HexDigest().
  void Update(const void* data, size_t n);

  // Finalizes on the first call and returns the digest as 64 lowercase hex characters;
  // later calls return the same digest.
  std::string HexDigest();

 private:
  void Compress(const uint8_t block[64]);

  uint32_t state_[8];
  uint8_t buffer_[64];
  size_t buffered_ = 0;       // Bytes in buffer_ not yet compressed.
  uint64_t total_bytes_ = 0;  // Message length so far, for the final padding.
  std::string digest_;        // Set once finalized.
};

// SHA-256 of `data` as lowercase hex.
std::string Sha256Hex(std::string_view data);

// SHA-256 of the file at `path` as lowercase hex, read in chunks.
absl::StatusOr<std::string> Sha256File(const std::string& path);

}  // namespace sluice

#endif  // SLUICE_COMMON_UTIL_SHA256_H_
