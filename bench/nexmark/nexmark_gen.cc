// nexmark_gen: writes Nexmark events as JSON lines (bench/nexmark/json.h), for the queries'
// --arg events=FILE and their validation.
//   build/bench/nexmark/nexmark_gen --events-count N [--rate R] [--seed S] [--out FILE (stdout)]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench/nexmark/generator.h"
#include "bench/nexmark/json.h"

int main(int argc, char** argv) {
  sluice::nexmark::GeneratorConfig config;
  long long count = -1;
  const char* out_path = nullptr;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    char* end = nullptr;
    const std::string arg = argv[i];
    if (arg == "--events-count" && has_value) {
      count = std::strtoll(argv[++i], &end, 10);
    } else if (arg == "--rate" && has_value) {
      config.rate = std::strtod(argv[++i], &end);
    } else if (arg == "--seed" && has_value) {
      config.seed = std::strtoll(argv[++i], &end, 10);
    } else if (arg == "--out" && has_value) {
      out_path = argv[++i];
      end = const_cast<char*>("");
    } else {
      std::fprintf(stderr,
                   "nexmark_gen: unknown argument '%s'\n"
                   "usage: nexmark_gen --events-count N [--rate R] [--seed S] [--out FILE]\n",
                   argv[i]);
      return 2;
    }
    if (end == nullptr || *end != '\0') {
      std::fprintf(stderr, "nexmark_gen: bad value '%s' for %s\n", argv[i], argv[i - 1]);
      return 2;
    }
  }
  if (count < 0 || !(config.rate > 0)) {
    std::fprintf(stderr, "nexmark_gen: --events-count N (>= 0) is required, --rate must be > 0\n");
    return 2;
  }
  std::FILE* out = out_path ? std::fopen(out_path, "w") : stdout;
  if (out == nullptr) {
    std::fprintf(stderr, "nexmark_gen: cannot write %s: %s\n", out_path, std::strerror(errno));
    return 1;
  }
  for (long long n = 0; n < count; ++n) {
    std::string line = sluice::nexmark::ToJson(sluice::nexmark::GenerateEvent(config, n));
    line += '\n';
    if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) {
      std::fprintf(stderr, "nexmark_gen: write failed: %s\n", std::strerror(errno));
      return 1;
    }
  }
  if ((out_path && std::fclose(out) != 0) || (!out_path && std::fflush(out) != 0)) {
    std::fprintf(stderr, "nexmark_gen: write failed: %s\n", std::strerror(errno));
    return 1;
  }
  return 0;
}
