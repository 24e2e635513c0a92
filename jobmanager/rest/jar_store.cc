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

//! A job package is an ELF shared object (e_type ET_DYN) for this machine's byte order.
absl::Status CheckIsPackage(const std::string& content) {
  constexpr size_t kElfHeader = 64;
  if (content.size() < kElfHeader || content.compare(0, 4,
                                                     "\x7f"
                                                     "ELF") != 0) {
    return absl::InvalidArgumentError(
        "the upload is not a job package: a package is a shared library (.so) built against the "
        "Sluice SDK, and this file is not an ELF file");
  }
  const auto type = static_cast<unsigned char>(content[16]) |
                    (static_cast<unsigned char>(content[17]) << 8);  // little-endian e_type
  if (type != 3) {
    return absl::InvalidArgumentError(
        "the upload is not a job package: it is an ELF file but not a shared library (build the "
        "package with sluice_add_package, or `-shared -fPIC`)");
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
