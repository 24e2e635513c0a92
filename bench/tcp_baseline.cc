// tcp_baseline: raw TCP over loopback, the baselines of the network exchange benchmark
// (bench/README.md, "Network stack"), over one 127.0.0.1 connection with TCP_NODELAY (as the data
// plane's connections), a sender thread and a receiver thread.
//   raw (default): the sender writes BYTES bytes in CHUNK-byte send()s; the receiver recv()s them
//     into a CHUNK-byte buffer. No framing, no copies beyond the kernel's.
//   records: the least a two-thread exchange of the benchmark's records must do. The sender
//     serializes BYTES / 100 records of 100 bytes (int64 id, int64 created_ns, 84-byte payload),
//     each behind a 4-byte length as the data plane frames them, into CHUNK-byte buffers and
//     send()s each full one; the receiver recv()s into a 256 KiB buffer and reads every record's
//     fields back. No credit, no hand-off between threads.
//   usage: tcp_baseline [bytes (2000000000)] [chunk (32768)] [raw|records]
// Prints one line of key=value pairs: mode, bytes (payload), chunk, wall_s, bytes_per_s, cpu_s
// (both threads); records mode adds records, records_per_s and a checksum of the ids read.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"

namespace {

using sluice::bench::ParsePositive;
using sluice::bench::ProcessCpuSeconds;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "tcp_baseline: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

void NoDelay(int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) Die("setsockopt");
}

//! When a transfer started (before the first send) and ended (the receiver's last byte).
struct Timing {
  std::chrono::steady_clock::time_point start, end;
};

void SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Die("send");
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void RawTransfer(int out, int in, uint64_t bytes, uint64_t chunk, Timing* t) {
  uint64_t received = 0;
  std::thread receiver([&] {
    std::vector<char> buf(chunk);
    while (received < bytes) {
      ssize_t n = recv(in, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) Die("recv");
      received += static_cast<uint64_t>(n);
    }
    t->end = std::chrono::steady_clock::now();
  });
  std::vector<char> buf(chunk, 'x');
  for (uint64_t sent = 0; sent < bytes;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(chunk, bytes - sent));
    SendAll(out, buf.data(), want);
    sent += want;
  }
  receiver.join();
}

//! The benchmark's record: 100 bytes serialized.
struct Record {
  int64_t id = 0;
  int64_t created_ns = 0;
  char payload[84] = {};
};
constexpr uint32_t kRecordBytes = 100;
constexpr size_t kFrameBytes = 4 + kRecordBytes;

//! Returns the sum of the ids read (so that reading them is not optimized away).
uint64_t RecordTransfer(int out, int in, uint64_t records, uint64_t chunk, Timing* t) {
  uint64_t checksum = 0;
  std::thread receiver([&] {
    std::vector<char> buf(256 * 1024);
    char carry[kFrameBytes];  // a frame split over two reads
    size_t carried = 0;
    uint64_t got = 0;
    auto read_record = [&](const char* frame) {
      uint32_t len;
      std::memcpy(&len, frame, 4);
      if (len != kRecordBytes) Die("bad frame");
      Record r;
      std::memcpy(&r.id, frame + 4, 8);
      std::memcpy(&r.created_ns, frame + 12, 8);
      std::memcpy(r.payload, frame + 20, sizeof(r.payload));
      checksum += static_cast<uint64_t>(r.id) + static_cast<uint64_t>(r.payload[0]);
      ++got;
    };
    while (got < records) {
      ssize_t n = recv(in, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) Die("recv");
      const char* p = buf.data();
      size_t left = static_cast<size_t>(n);
      if (carried > 0) {
        size_t take = std::min(kFrameBytes - carried, left);
        std::memcpy(carry + carried, p, take);
        carried += take;
        p += take;
        left -= take;
        if (carried < kFrameBytes) continue;
        read_record(carry);
        carried = 0;
      }
      for (; left >= kFrameBytes; p += kFrameBytes, left -= kFrameBytes) read_record(p);
      std::memcpy(carry, p, left);
      carried = left;
    }
    t->end = std::chrono::steady_clock::now();
  });
  std::vector<char> buf(std::max<uint64_t>(chunk, kFrameBytes));
  size_t used = 0;
  Record r;
  std::memset(r.payload, 'x', sizeof(r.payload));
  for (uint64_t i = 0; i < records; ++i) {
    if (used + kFrameBytes > buf.size()) {
      SendAll(out, buf.data(), used);
      used = 0;
    }
    r.id = static_cast<int64_t>(i);
    char* f = buf.data() + used;
    std::memcpy(f, &kRecordBytes, 4);
    std::memcpy(f + 4, &r.id, 8);
    std::memcpy(f + 12, &r.created_ns, 8);
    std::memcpy(f + 20, r.payload, sizeof(r.payload));
    used += kFrameBytes;
  }
  SendAll(out, buf.data(), used);
  receiver.join();
  return checksum;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t bytes = 2'000'000'000;
  uint64_t chunk = 32 * 1024;
  std::string mode = argc > 3 ? argv[3] : "raw";
  if (argc > 4 || (argc > 1 && !ParsePositive(argv[1], &bytes)) ||
      (argc > 2 && !ParsePositive(argv[2], &chunk)) || (mode != "raw" && mode != "records") ||
      (mode == "records" && bytes < kRecordBytes)) {
    std::fprintf(stderr,
                 "usage: %s [bytes (positive; records: at least 100)] [chunk (positive)] "
                 "[raw|records]\n",
                 argv[0]);
    return 2;
  }

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) Die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("bind");
  if (listen(listener, 1) != 0) Die("listen");
  socklen_t len = sizeof(addr);
  if (getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) Die("getsockname");

  int out = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (out < 0) Die("socket");
  if (connect(out, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("connect");
  int in = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (in < 0) Die("accept");
  close(listener);
  NoDelay(out);
  NoDelay(in);

  Timing t;
  uint64_t records = bytes / kRecordBytes;
  uint64_t checksum = 0;
  double cpu_start = ProcessCpuSeconds();
  t.start = std::chrono::steady_clock::now();
  if (mode == "raw") {
    RawTransfer(out, in, bytes, chunk, &t);
  } else {
    checksum = RecordTransfer(out, in, records, chunk, &t);
    bytes = records * kRecordBytes;
  }
  double cpu_s = ProcessCpuSeconds() - cpu_start;
  close(out);
  close(in);

  double wall_s = std::chrono::duration<double>(t.end - t.start).count();
  std::printf("mode=%s bytes=%llu chunk=%llu wall_s=%.4f bytes_per_s=%.0f cpu_s=%.3f", mode.c_str(),
              static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(chunk),
              wall_s, static_cast<double>(bytes) / wall_s, cpu_s);
  if (mode == "records") {
    std::printf(" records=%llu records_per_s=%.0f checksum=%llu",
                static_cast<unsigned long long>(records), static_cast<double>(records) / wall_s,
                static_cast<unsigned long long>(checksum));
  }
  std::printf("\n");
  return 0;
}
