#include "jobmanager/rest/jar_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "jobmanager/rest/json.h"

namespace sluice::jobmanager::rest {
namespace {

namespace fs = std::filesystem;

bool IsHex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

template <typename T>
T ReadLittleEndian(const std::string& bytes, size_t at) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<T>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  }
  return v;
}

//! A job package is a 64-bit little-endian ELF shared library (ET_DYN without an interpreter: a
//! position-independent executable is ET_DYN too) that exports the SDK's entry point.
absl::Status CheckIsPackage(const std::string& content) {
  constexpr size_t kElfHeader = 64;
  constexpr uint32_t kProgramInterpreter = 3;  // PT_INTERP
  auto refuse = [](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the upload is not a job package: ", why,
        " (a package is a shared library built against the Sluice SDK with SLUICE_JOB)"));
  };
  if (content.size() < kElfHeader || content.compare(0, 4,
                                                     "\x7f"
                                                     "ELF") != 0) {
    return refuse("it is not an ELF file");
  }
  if (content[4] != 2 || content[5] != 1)
    return refuse("it is not a 64-bit little-endian ELF file");
  if (ReadLittleEndian<uint16_t>(content, 16) != 3) return refuse("it is not a shared library");
  const uint64_t phoff = ReadLittleEndian<uint64_t>(content, 32);
  const uint16_t phentsize = ReadLittleEndian<uint16_t>(content, 54);
  const uint16_t phnum = ReadLittleEndian<uint16_t>(content, 56);
  for (uint64_t i = 0; i < phnum; ++i) {
    const uint64_t at = phoff + i * phentsize;
    if (phentsize < 4 || at + 4 > content.size()) return refuse("its program headers are cut off");
    if (ReadLittleEndian<uint32_t>(content, at) == kProgramInterpreter) {
      return refuse("it is an executable program, not a shared library");
    }
  }
  if (content.find("sluice_build_job") == std::string::npos) {
    return refuse("it has no Sluice entry point (sluice_build_job)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status JarStore::Init() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create web.upload.dir '", dir_, "': ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> JarStore::ShaOf(const std::string& jar_id) {
  std::string sha = jar_id;
  if (sha.size() == 67 && sha.compare(64, 3, ".so") == 0) sha.resize(64);
  if (!IsHex64(sha)) {
    return absl::InvalidArgumentError(absl::StrCat("'", jar_id.substr(0, 80),
                                                   "' is not a jar id (\"<sha256>.so\", as "
                                                   "POST /jars/upload answers)"));
  }
  return sha;
}

std::string JarStore::DisplayName(const std::string& client_file_name) {
  std::string name = client_file_name;
  const size_t slash = name.find_last_of("/\\");
  if (slash != std::string::npos) name = name.substr(slash + 1);
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : '_');
    if (out.size() >= 128) break;
  }
  return out.empty() ? "package.so" : out;
}

absl::StatusOr<JarInfo> JarStore::Upload(const std::string& client_file_name,
                                         const std::string& content) {
  if (absl::Status s = CheckIsPackage(content); !s.ok()) return s;
  auto upload = blobs_->StartUpload();
  if (!upload.ok()) return upload.status();
  if (absl::Status s = (*upload)->Append(content); !s.ok()) return s;
  auto sha = (*upload)->Commit("", content.size());
  if (!sha.ok()) return sha.status();
  JarInfo jar{absl::StrCat(*sha, ".so"), *sha, DisplayName(client_file_name), WallClockMs()};
  absl::MutexLock lock(&mu_);
  const std::string path = absl::StrCat(dir_, "/", *sha, ".json");
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << Json{{"name", jar.name}, {"uploaded", jar.uploaded_ms}}.dump();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot write ", path, ": ", ec.message()));
  return jar;
}

absl::StatusOr<JarInfo> JarStore::Read(const std::string& sha256) {
  std::ifstream in(absl::StrCat(dir_, "/", sha256, ".json"));
  if (!in) return absl::NotFoundError(absl::StrCat("no jar with id '", sha256, ".so'"));
  std::stringstream text;
  text << in.rdbuf();
  Json j = Json::parse(text.str(), nullptr, false);
  JarInfo jar{absl::StrCat(sha256, ".so"), sha256, "package.so", 0};
  if (j.is_object()) {
    if (j.contains("name") && j["name"].is_string()) jar.name = j["name"].get<std::string>();
    if (j.contains("uploaded") && j["uploaded"].is_number_integer()) {
      jar.uploaded_ms = j["uploaded"].get<int64_t>();
    }
  }
  return jar;
}

std::vector<JarInfo> JarStore::List() {
  absl::MutexLock lock(&mu_);
  std::vector<JarInfo> jars;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.size() != 69 || file.compare(64, 5, ".json") != 0) continue;
    auto jar = Read(file.substr(0, 64));
    if (jar.ok() && blobs_->PathOf(jar->sha256).ok()) jars.push_back(*jar);
  }
  std::sort(jars.begin(), jars.end(), [](const JarInfo& a, const JarInfo& b) {
    return a.uploaded_ms != b.uploaded_ms ? a.uploaded_ms > b.uploaded_ms : a.id < b.id;
  });
  return jars;
}

absl::StatusOr<JarInfo> JarStore::Find(const std::string& jar_id) {
  auto sha = ShaOf(jar_id);
  if (!sha.ok()) return absl::NotFoundError(sha.status().message());
  absl::MutexLock lock(&mu_);
  auto jar = Read(*sha);
  if (!jar.ok()) return jar.status();
  if (!blobs_->PathOf(*sha).ok()) {
    return absl::NotFoundError(absl::StrCat("the package of jar '", jar_id, "' is gone"));
  }
  return jar;
}

absl::Status JarStore::Delete(const std::string& jar_id, bool remove_package) {
  auto sha = ShaOf(jar_id);
  if (!sha.ok()) return absl::NotFoundError(sha.status().message());
  absl::MutexLock lock(&mu_);
  std::error_code ec;
  if (!fs::remove(absl::StrCat(dir_, "/", *sha, ".json"), ec)) {
    return absl::NotFoundError(absl::StrCat("no jar with id '", jar_id, "'"));
  }
  if (remove_package) blobs_->Remove(*sha).IgnoreError();
  return absl::OkStatus();
}

absl::StatusOr<std::string> JarStore::PackagePath(const JarInfo& jar) const {
  return blobs_->PathOf(jar.sha256);
}

}  // namespace sluice::jobmanager::rest
