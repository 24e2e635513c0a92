// customer_service: the HTTP service of examples/enrich.cc (examples/customer_service.h) as a
// program. Prints "http://127.0.0.1:<port>" once it listens, then serves until SIGTERM or SIGINT.
//   build/examples/customer_service [--port N (0: any free one)] [--delay-ms N (2)]
#include "examples/customer_service.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  int port = 0;
  long delay_ms = 2;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    char* end = nullptr;
    if (std::strcmp(argv[i], "--port") == 0 && has_value) {
      port = static_cast<int>(std::strtol(argv[++i], &end, 10));
    } else if (std::strcmp(argv[i], "--delay-ms") == 0 && has_value) {
      delay_ms = std::strtol(argv[++i], &end, 10);
    } else {
      std::fprintf(stderr,
                   "customer_service: unknown argument '%s'\n"
                   "usage: customer_service [--port N] [--delay-ms N]\n",
                   argv[i]);
      return 2;
    }
    if (end == nullptr || *end != '\0' || port < 0 || port > 65535 || delay_ms < 0) {
      std::fprintf(stderr, "customer_service: bad value '%s' for %s\n", argv[i], argv[i - 1]);
      return 2;
    }
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // the server's threads inherit it
  sluice::examples::CustomerService service{std::chrono::milliseconds(delay_ms)};
  const int bound = service.Start("127.0.0.1", port);
  if (bound < 0) {
    std::fprintf(stderr, "customer_service: cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  std::printf("http://127.0.0.1:%d\n", bound);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  service.Stop();
  std::fprintf(stderr, "customer_service: %lld requests served\n",
               static_cast<long long>(service.requests()));
  return 0;
}
