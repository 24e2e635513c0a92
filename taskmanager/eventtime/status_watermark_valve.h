// StatusWatermarkValve: the input watermark of a task with several input channels, as Flink's
// valve of the same name computes it. Each channel has a watermark and a status (active or idle);
// the task's input watermark is the minimum over the active channels that have caught up
// ("aligned"): an idle channel does not hold it back, and one that becomes active again counts
// only once its watermark reaches the valve's output. When every channel is idle the valve first
// lets the highest channel watermark through, then reports itself idle. The output never goes
// backwards. A channel's end of partition changes nothing: at the end of a bounded input (or a
// drain) its producer sent the maximum watermark first, and after a plain stop no watermark may
// advance. Task thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace sluice::taskmanager {

class StatusWatermarkValve {
 public:
  //! What to forward downstream after an input event, in this order: watermark, then status.
  struct Output {
    std::optional<int64_t> watermark;
    std::optional<bool> idle;
  };

  explicit StatusWatermarkValve(int num_channels);

  Output InputWatermark(int channel, int64_t watermark);
  Output InputWatermarkStatus(int channel, bool idle);

  //! The last watermark the valve let through (INT64_MIN before the first).
  int64_t output_watermark() const { return last_output_; }
  bool output_idle() const { return output_idle_; }
  //! The active aligned channel with the lowest watermark (the one holding the input watermark
  //! back), or -1 when there is none.
  int HoldingChannel() const;
  int64_t channel_watermark(int channel) const { return channels_[channel].watermark; }
  bool channel_idle(int channel) const { return channels_[channel].idle; }

 private:
  struct Channel {
    int64_t watermark = INT64_MIN;
    bool idle = false;
    bool aligned = true;
  };
  void OutputNewMinAcrossAligned(Output* out);
  void OutputMaxAcrossAll(Output* out);
  Output MarkIdle(int channel);

  std::vector<Channel> channels_;
  int64_t last_output_ = INT64_MIN;
  bool output_idle_ = false;
};

}  // namespace sluice::taskmanager
