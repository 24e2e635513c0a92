#include "taskmanager/metrics_reporter.h"

#include <algorithm>

#include "common/clock.h"

namespace sluice::taskmanager {
namespace {

// Counters only grow; a smaller value would be a bug elsewhere and must not wrap to a huge rate.
uint64_t Delta(uint64_t prev, uint64_t cur) { return cur > prev ? cur - prev : 0; }

double MsPerSecond(int64_t prev_ns, int64_t cur_ns, double seconds) {
  double ms = static_cast<double>(cur_ns - prev_ns) / 1e6 / seconds;
  return std::clamp(ms, 0.0, 1000.0);
}

}  // namespace

MetricsSample TakeSample(const TaskMetrics& m) {
  MetricsSample s;
  s.records_in = m.records_in.load(std::memory_order_relaxed);
  s.records_out = m.records_out.load(std::memory_order_relaxed);
  s.bytes_in = m.bytes_in.load(std::memory_order_relaxed);
  s.bytes_out = m.bytes_out.load(std::memory_order_relaxed);
  // A wait in progress counts up to now (read `since` first: if the wait ends in between, its time
  // is already in the total or is counted at the next sample, never twice).
  int64_t now = SteadyNowNs();
  int64_t idle_since = m.idle_since_ns.load(std::memory_order_relaxed);
  int64_t bp_since = m.backpressured_since_ns.load(std::memory_order_relaxed);
  s.idle_ns = m.idle_ns.load(std::memory_order_relaxed);
  s.backpressured_ns = m.backpressured_ns.load(std::memory_order_relaxed);
  if (idle_since != 0 && m.idle_since_ns.load(std::memory_order_relaxed) == idle_since) {
    s.idle_ns += std::max<int64_t>(0, now - idle_since);
  }
  if (bp_since != 0 && m.backpressured_since_ns.load(std::memory_order_relaxed) == bp_since) {
    s.backpressured_ns += std::max<int64_t>(0, now - bp_since);
  }
  s.in_pool_usage = m.in_pool_usage ? m.in_pool_usage() : 0.0;
  s.out_pool_usage = m.out_pool_usage ? m.out_pool_usage() : 0.0;
  s.input_watermark = m.input_watermark.load(std::memory_order_relaxed);
  s.output_watermark = m.output_watermark.load(std::memory_order_relaxed);
  s.late_records_dropped = m.late_records_dropped.load(std::memory_order_relaxed);
  s.watermark_inputs = m.GetWatermarkInputs();
  s.alignment = m.GetAlignment();
  s.alignment_max_allowed = m.alignment_max_allowed.load(std::memory_order_relaxed);
  return s;
}

proto::SubtaskMetrics ComputeRates(const MetricsSample& prev, const MetricsSample& cur,
                                   std::chrono::nanoseconds elapsed) {
  proto::SubtaskMetrics m;
  m.set_num_records_in(cur.records_in);
  m.set_num_records_out(cur.records_out);
  m.set_num_bytes_in(cur.bytes_in);
  m.set_num_bytes_out(cur.bytes_out);
  m.set_in_pool_usage(cur.in_pool_usage);
  m.set_out_pool_usage(cur.out_pool_usage);
  m.set_current_input_watermark(cur.input_watermark);
  m.set_current_output_watermark(cur.output_watermark);
  m.set_num_late_records_dropped(cur.late_records_dropped);
  m.set_watermark_held_by(cur.watermark_inputs.held_by);
  m.set_watermark_unchanged_since_ms(cur.watermark_inputs.unchanged_since_ms);
  for (const std::string& idle : cur.watermark_inputs.idle) m.add_idle_inputs(idle);
  m.set_reported_at_ms(WallClockMs());
  if (!cur.alignment.group.empty()) {
    m.set_alignment_group(cur.alignment.group);
    m.set_alignment_watermark(cur.alignment.watermark);
    m.set_alignment_max_drift_ms(cur.alignment.max_drift_ms);
    m.set_alignment_max_allowed_watermark(cur.alignment_max_allowed);
    m.set_alignment_paused_splits(cur.alignment.paused_splits);
  }
  double seconds = std::chrono::duration<double>(elapsed).count();
  if (seconds <= 0) return m;
  double idle = MsPerSecond(prev.idle_ns, cur.idle_ns, seconds);
  double backpressured = MsPerSecond(prev.backpressured_ns, cur.backpressured_ns, seconds);
  m.set_idle_time_ms_per_second(idle);
  m.set_back_pressured_time_ms_per_second(backpressured);
  m.set_busy_time_ms_per_second(std::max(0.0, 1000.0 - idle - backpressured));
  m.set_num_records_in_per_second(static_cast<double>(Delta(prev.records_in, cur.records_in)) /
                                  seconds);
  m.set_num_records_out_per_second(static_cast<double>(Delta(prev.records_out, cur.records_out)) /
                                   seconds);
  m.set_num_bytes_in_per_second(static_cast<double>(Delta(prev.bytes_in, cur.bytes_in)) / seconds);
  m.set_num_bytes_out_per_second(static_cast<double>(Delta(prev.bytes_out, cur.bytes_out)) /
                                 seconds);
  return m;
}

MetricsReporter::MetricsReporter(std::string taskmanager_id, std::chrono::milliseconds interval,
                                 Collect collect, Send send)
    : taskmanager_id_(std::move(taskmanager_id)),
      interval_(interval),
      collect_(std::move(collect)),
      send_(std::move(send)) {}

MetricsReporter::~MetricsReporter() { Shutdown(); }

void MetricsReporter::Start() {
  executor_.PostDelayed(interval_, [this] { Tick(); });
}

void MetricsReporter::Shutdown() { executor_.Shutdown(); }

void MetricsReporter::Tick() {
  // Scheduled first so that a slow RPC delays the next report but never stops the series.
  executor_.PostDelayed(interval_, [this] { Tick(); });
  auto now = std::chrono::steady_clock::now();
  proto::TaskMetricsReport report;
  report.set_taskmanager_id(taskmanager_id_);
  std::map<std::string, Previous> next;  // drops the tasks the TaskManager no longer holds
  for (TaskSample& t : collect_()) {
    auto it = previous_.find(t.attempt_id);
    proto::SubtaskMetrics m;
    if (t.done) {
      if (it != previous_.end() && it->second.final_sent) {
        next[t.attempt_id] = it->second;
        continue;
      }
      // A task that has ended processes nothing: its final report carries the counters, no rates.
      m = ComputeRates(t.sample, t.sample, std::chrono::nanoseconds(0));
      m.set_in_pool_usage(0);
      m.set_out_pool_usage(0);
      // An ended source holds its alignment group back no more.
      if (!m.alignment_group().empty()) {
        m.set_alignment_watermark(INT64_MAX);
        m.set_alignment_paused_splits(0);
      }
    } else if (it == previous_.end()) {
      // First sighting: the task started at an unknown moment since the last tick, so rates over
      // the interval would be guesses. This sample is the baseline; the next tick reports.
      next[t.attempt_id] = Previous{t.sample, now, false};
      // An aligned source joins its group at once, or it would run free for another interval.
      if (t.sample.alignment.group.empty()) continue;
      m = ComputeRates(t.sample, t.sample, std::chrono::nanoseconds(0));
      m.set_alignment_only(true);
      m.set_job_id(t.job_id);
      m.set_attempt_id(t.attempt_id);
      *report.add_subtasks() = std::move(m);
      continue;
    } else {
      m = ComputeRates(it->second.sample, t.sample, now - it->second.taken_at);
    }
    m.set_job_id(t.job_id);
    m.set_attempt_id(t.attempt_id);
    *report.add_subtasks() = std::move(m);
    next[t.attempt_id] = Previous{t.sample, now, t.done};
  }
  previous_ = std::move(next);
  if (report.subtasks_size() > 0) send_(report);
}

}  // namespace sluice::taskmanager
