// postgres_lines: the text file source watching `--arg input=DIR` for lines "file N line I", into
// PostgreSQL at `--arg url=...`: every line as a row of table `lines` (file, line, text) through
// the exactly-once sink, and the running count of each file's lines upserted into `file_counts`
// (file primary key, lines) at least once. Rows are flushed every `--arg flush-ms=N` (1000).
// Unbounded.
#include <chrono>
#include <cstdio>
#include <string>

#include "sluice/connectors/file_source.h"
#include "sluice/connectors/postgres_sink.h"
#include "sluice/sluice.h"

struct Line {
  int64_t file = 0;
  int64_t line = 0;
  std::string text;
  SLUICE_FIELDS(file, line, text);
};

struct FileCount {
  int64_t file = 0;
  int64_t lines = 0;
  SLUICE_FIELDS(file, lines);
};

SLUICE_JOB(env) {
  env.SetJobName("postgres-lines");
  sluice::FileSourceOptions source;
  source.monitor_interval = std::chrono::milliseconds(200);
  auto lines = sluice::AddTextFileSource(env, env.RequiredArg("input"), source, "Watched directory")
                   .Uid("source")
                   .Map(
                       [](const std::string& s) {
                         Line l;
                         long long file = 0, line = 0;
                         std::sscanf(s.c_str(), "file %lld line %lld", &file, &line);
                         l.file = file;
                         l.line = line;
                         l.text = s;
                         return l;
                       },
                       "Parse")
                   .Uid("parse");

  sluice::PostgresSinkOptions<Line> rows;
  rows.url = env.RequiredArg("url");
  rows.table = "lines";
  rows.guarantee = sluice::DeliveryGuarantee::kExactlyOnce;
  rows.buffer_flush_interval = std::chrono::milliseconds(env.IntArg("flush-ms", 1000));
  lines.SinkTo(sluice::MakePostgresSink(rows), "Lines").Uid("lines");

  sluice::PostgresSinkOptions<FileCount> counts;
  counts.url = env.RequiredArg("url");
  counts.table = "file_counts";
  counts.key_columns = {"file"};
  lines.Map(
           [](const Line& l) {
             return FileCount{l.file, 1};
           },
           "One")
      .Uid("one")
      .KeyBy([](const FileCount& c) { return c.file; })
      .Reduce(
          [](const FileCount& a, const FileCount& b) {
            return FileCount{a.file, a.lines + b.lines};
          },
          "Count")
      .Uid("count")
      .SinkTo(sluice::MakePostgresSink(counts), "File counts")
      .Uid("counts");
}
