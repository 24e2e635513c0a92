#include "taskmanager/eventtime/status_watermark_valve.h"

#include <algorithm>

namespace sluice::taskmanager {

StatusWatermarkValve::StatusWatermarkValve(int num_channels)
    : channels_(static_cast<size_t>(num_channels)) {}

StatusWatermarkValve::Output StatusWatermarkValve::InputWatermark(int channel, int64_t watermark) {
  Output out;
  Channel& ch = channels_[static_cast<size_t>(channel)];
  // Watermarks of an idle channel, or while the whole input is idle, are ignored (Flink).
  if (output_idle_ || ch.idle) return out;
  if (watermark > ch.watermark) {
    ch.watermark = watermark;
    if (!ch.aligned && watermark >= last_output_) ch.aligned = true;
    OutputNewMinAcrossAligned(&out);
  }
  return out;
}

StatusWatermarkValve::Output StatusWatermarkValve::InputWatermarkStatus(int channel, bool idle) {
  Channel& ch = channels_[static_cast<size_t>(channel)];
  if (idle) return MarkIdle(channel);
  Output out;
  if (!ch.idle) return out;
  ch.idle = false;
  // It counts again only once it has caught up with what was already let through.
  if (ch.watermark >= last_output_) ch.aligned = true;
  if (output_idle_) {
    output_idle_ = false;
    out.idle = false;
  }
  return out;
}

StatusWatermarkValve::Output StatusWatermarkValve::MarkIdle(int channel) {
  Output out;
  Channel& ch = channels_[static_cast<size_t>(channel)];
  if (ch.idle) return out;
  ch.idle = true;
  ch.aligned = false;
  const bool all_idle =
      std::all_of(channels_.begin(), channels_.end(), [](const Channel& c) { return c.idle; });
  if (all_idle) {
    // Let the highest watermark through first: nothing holds event time back any more.
    OutputMaxAcrossAll(&out);
    output_idle_ = true;
    out.idle = true;
  } else if (ch.watermark == last_output_) {
    // The channel that held the minimum went idle: the minimum may move on.
    OutputNewMinAcrossAligned(&out);
  }
  return out;
}

void StatusWatermarkValve::OutputNewMinAcrossAligned(Output* out) {
  int64_t min = INT64_MAX;
  bool any = false;
  for (const Channel& c : channels_) {
    if (c.aligned && !c.idle) {
      any = true;
      min = std::min(min, c.watermark);
    }
  }
  if (any && min > last_output_) {
    last_output_ = min;
    out->watermark = min;
  }
}

void StatusWatermarkValve::OutputMaxAcrossAll(Output* out) {
  int64_t max = INT64_MIN;
  for (const Channel& c : channels_) max = std::max(max, c.watermark);
  if (max > last_output_) {
    last_output_ = max;
    out->watermark = max;
  }
}

int StatusWatermarkValve::HoldingChannel() const {
  int holding = -1;
  for (size_t i = 0; i < channels_.size(); ++i) {
    const Channel& c = channels_[i];
    if (!c.aligned || c.idle) continue;
    if (holding < 0 || c.watermark < channels_[static_cast<size_t>(holding)].watermark) {
      holding = static_cast<int>(i);
    }
  }
  return holding;
}

}  // namespace sluice::taskmanager
