// S3 checkpoint upload: a checkpoint's RocksDB files uploaded by Sluice's S3 snapshot storage
// against `aws s3 cp --recursive` of the same files (Debian's AWS CLI v2, /usr/bin/aws), in the
// same run, to the same S3-compatible server the benchmark starts on loopback (OpenStack Swift
// with s3api, tests/s3_server.h).
//
//   build/bench/s3_upload_bench [MIB=1024] [FILES=16] [ROUNDS=3]
//
// The files are incompressible (pseudo-random), FILES of MIB/FILES each, as a RocksDB checkpoint's
// SST files. Sluice uploads them as a TaskManager does at a checkpoint: through
// SnapshotStorage::UploadFiles, several files at once, each in parallel parts
// (s3.upload.min.part.size 16 MiB, s3.upload.max.concurrent.uploads 4). The AWS CLI runs with its
// defaults (10 concurrent requests, 8 MiB parts). Rounds alternate which goes first; each round's
// objects are deleted before the next. Prints MiB/s of both, the CPU seconds each client used,
// and the ratio of their speeds (goal ≥ 1.0).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/snapshot/s3_client.h"
#include "common/snapshot/storage.h"
#include "tests/s3_server.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using sluice::snapshot::S3Client;
using sluice::snapshot::S3Options;

//! CPU seconds (user + system) of this process, or of its waited-for children.
double CpuSeconds(int who) {
  rusage u{};
  ::getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "s3_upload_bench: %s\n", what.c_str());
  std::exit(1);
}

std::vector<std::string> MakeFiles(const fs::path& dir, size_t mib, size_t files) {
  fs::create_directories(dir);
  std::mt19937_64 rng(42);
  std::vector<std::string> paths;
  const size_t bytes = mib * (1 << 20) / files;
  std::vector<uint64_t> buf(bytes / 8 + 1);
  for (size_t f = 0; f < files; ++f) {
    for (auto& w : buf) w = rng();
    const std::string path = (dir / absl::StrCat("0000", 10 + f, ".sst")).string();
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(buf.data()), bytes);
    paths.push_back(path);
  }
  return paths;
}

//! Runs a command; dies when it fails.
void Run(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::fflush(stdout);  // or the child prints what is buffered again
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (const std::string& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::freopen("/dev/null", "w", stdout);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) Die(absl::StrCat(args[0], " failed"));
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::stoul(argv[1]) : 1024;
  const size_t files = argc > 2 ? std::stoul(argv[2]) : 16;
  const int rounds = argc > 3 ? std::stoi(argv[3]) : 3;
  if (!fs::exists("/usr/bin/aws")) Die("/usr/bin/aws is missing (apt-get install awscli)");

  const fs::path scratch = fs::temp_directory_path() / absl::StrCat("s3-upload-bench-", ::getpid());
  const std::vector<std::string> paths = MakeFiles(scratch / "chk", mib, files);
  sluice::testing::S3Server server;
  std::string error;
  if (!server.Start(&error) || !server.CreateBucket("bench", &error)) Die(error);

  S3Options o;
  o.endpoint = server.endpoint();
  o.region = server.region();
  o.access_key = server.access_key();
  o.secret_key = server.secret_key();
  o.path_style = true;
  S3Client client(o);
  const std::vector<std::string> aws_env = {
      "AWS_ACCESS_KEY_ID=" + server.access_key(), "AWS_SECRET_ACCESS_KEY=" + server.secret_key(),
      "AWS_DEFAULT_REGION=" + server.region(),    "AWS_CONFIG_FILE=/dev/null",
      "AWS_SHARED_CREDENTIALS_FILE=/dev/null",    "AWS_EC2_METADATA_DISABLED=true"};

  auto clear = [&](const std::string& prefix) {
    auto listed = client.List("bench", prefix, /*delimited=*/false);
    if (!listed.ok()) Die(std::string(listed.status().message()));
    for (const std::string& k : listed->keys) (void)client.Delete("bench", k);
  };
  struct Timing {
    double wall = 0;
    double cpu = 0;  // the client's
  };
  auto sluice_upload = [&](int round) {
    auto storage = sluice::snapshot::OpenS3Storage(absl::StrCat("s3://bench/sluice-", round), o);
    if (!storage.ok()) Die(std::string(storage.status().message()));
    std::vector<std::pair<std::string, std::string>> uploads;
    for (const std::string& p : paths) {
      uploads.emplace_back(p, "shared/" + fs::path(p).filename().string());
    }
    const auto start = Clock::now();
    const double cpu = CpuSeconds(RUSAGE_SELF);
    auto done = (*storage)->UploadFiles(uploads, 4);
    const Timing t{std::chrono::duration<double>(Clock::now() - start).count(),
                   CpuSeconds(RUSAGE_SELF) - cpu};
    if (!done.ok()) Die(std::string(done.status().message()));
    clear(absl::StrCat("sluice-", round, "/"));
    return t;
  };
  // The server's processes are not waited for until the end: RUSAGE_CHILDREN counts aws only.
  auto aws_upload = [&](int round) {
    const auto start = Clock::now();
    const double cpu = CpuSeconds(RUSAGE_CHILDREN);
    Run({"/usr/bin/aws", "s3", "cp", "--recursive", "--only-show-errors", "--endpoint-url",
         server.endpoint(), (scratch / "chk").string(), absl::StrCat("s3://bench/aws-", round)},
        aws_env);
    const Timing t{std::chrono::duration<double>(Clock::now() - start).count(),
                   CpuSeconds(RUSAGE_CHILDREN) - cpu};
    clear(absl::StrCat("aws-", round, "/"));
    return t;
  };

  std::printf("%zu MiB in %zu files, Swift s3api on loopback\n", mib, files);
  std::printf("round  aws s3 cp MiB/s (client CPU s)  sluice MiB/s (client CPU s)  ratio\n");
  for (int r = 0; r < rounds; ++r) {
    Timing aws;
    Timing ours;
    if (r % 2 == 0) {
      aws = aws_upload(r);
      ours = sluice_upload(r);
    } else {
      ours = sluice_upload(r);
      aws = aws_upload(r);
    }
    std::printf("%5d  %15.1f (%5.2f)            %12.1f (%5.2f)         %5.2f\n", r, mib / aws.wall,
                aws.cpu, mib / ours.wall, ours.cpu, aws.wall / ours.wall);
    std::fflush(stdout);
  }
  std::error_code ec;
  fs::remove_all(scratch, ec);
  return 0;
}
