// SHA-256 of job packages: the blob store names them by it, and TaskManagers verify what they
// fetch. The digest itself is OpenSSL's (EVP), which gRPC links anyway.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace sluice {

//! Incremental SHA-256. Not thread-safe; movable, not copyable.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  //! Feeds `n` bytes. Must not be called after HexDigest().
  void Update(const void* data, size_t n);

  //! Finalizes on the first call and returns the digest as 64 lowercase hex characters; later
  //! calls return the same digest.
  std::string HexDigest();

 private:
  struct FreeContext {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, FreeContext> ctx_;
  std::string digest_;  // set once finalized
};

//! SHA-256 of `data` as lowercase hex.
std::string Sha256Hex(std::string_view data);

//! SHA-256 of the file at `path` as lowercase hex, read in chunks.
absl::StatusOr<std::string> Sha256File(const std::string& path);

}  // namespace sluice
