// tcp_baseline: raw TCP over loopback, the baseline of the network exchange benchmark
// (bench/README.md, "Network stack"). A sender thread writes BYTES bytes in CHUNK-byte send()s to
// a receiver thread that recv()s them into a CHUNK-byte buffer, over one 127.0.0.1 connection with
// TCP_NODELAY (as the data plane's connections). No framing, no copies beyond the kernel's.
//   usage: tcp_baseline [bytes (2000000000)] [chunk (32768)]
// Prints one line of key=value pairs: bytes, chunk, wall_s, bytes_per_s, cpu_s (both threads).
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

}  // namespace

int main(int argc, char** argv) {
  uint64_t bytes = 2'000'000'000;
  uint64_t chunk = 32 * 1024;
  if (argc > 3 || (argc > 1 && !ParsePositive(argv[1], &bytes)) ||
      (argc > 2 && !ParsePositive(argv[2], &chunk))) {
    std::fprintf(stderr, "usage: %s [bytes (positive)] [chunk (positive)]\n", argv[0]);
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

  uint64_t received = 0;
  std::chrono::steady_clock::time_point end;
  double cpu_start = ProcessCpuSeconds();
  auto start = std::chrono::steady_clock::now();
  std::thread receiver([&] {
    std::vector<char> buf(chunk);
    while (received < bytes) {
      ssize_t n = recv(in, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) Die("recv");
      received += static_cast<uint64_t>(n);
    }
    end = std::chrono::steady_clock::now();
  });
  std::vector<char> buf(chunk, 'x');
  for (uint64_t sent = 0; sent < bytes;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(chunk, bytes - sent));
    ssize_t n = send(out, buf.data(), want, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Die("send");
    sent += static_cast<uint64_t>(n);
  }
  receiver.join();
  double cpu_s = ProcessCpuSeconds() - cpu_start;
  close(out);
  close(in);

  double wall_s = std::chrono::duration<double>(end - start).count();
  std::printf("bytes=%llu chunk=%llu wall_s=%.4f bytes_per_s=%.0f cpu_s=%.3f\n",
              static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(chunk),
              wall_s, static_cast<double>(bytes) / wall_s, cpu_s);
  return 0;
}
