#include "common/util/sha256.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sluice {
namespace {

// OpenSSL fails a SHA-256 digest only when it is broken (no default provider, out of memory):
// an invariant of the installation, not an input error.
void CheckOpenSsl(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "sluice: OpenSSL SHA-256: %s failed\n", what);
  std::abort();
}

}  // namespace

void Sha256::FreeContext::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  CheckOpenSsl(ctx_ != nullptr, "EVP_MD_CTX_new");
  CheckOpenSsl(EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1, "EVP_DigestInit_ex");
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(const void* data, size_t n) {
  CheckOpenSsl(EVP_DigestUpdate(ctx_.get(), data, n) == 1, "EVP_DigestUpdate");
}

std::string Sha256::HexDigest() {
  if (!digest_.empty()) return digest_;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  CheckOpenSsl(EVP_DigestFinal_ex(ctx_.get(), digest, &size) == 1, "EVP_DigestFinal_ex");
  static constexpr char kHex[] = "0123456789abcdef";
  digest_.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    digest_ += kHex[digest[i] >> 4];
    digest_ += kHex[digest[i] & 0xf];
  }
  return digest_;
}

std::string Sha256Hex(std::string_view data) {
  Sha256 sha;
  sha.Update(data.data(), data.size());
  return sha.HexDigest();
}

absl::StatusOr<std::string> Sha256File(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (file == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open '", path, "'"));
  Sha256 sha;
  char chunk[64 * 1024];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), file.get())) > 0) sha.Update(chunk, n);
  if (std::ferror(file.get())) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read '", path, "'"));
  }
  return sha.HexDigest();
}

}  // namespace sluice
