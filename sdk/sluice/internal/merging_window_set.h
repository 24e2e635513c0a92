// MergingWindowSet: the session windows in flight for one key, and for each the "state window"
// whose namespace holds its contents (Flink's MergingWindowSet). When windows merge, the merged
// window keeps the state window of one of them, so only the others' state has to be merged into
// it, and timers and trigger state stay keyed by the actual windows. The window operator loads a
// set from keyed state for the current key, changes it, and writes it back (Persist): it
// snapshots and restores with the key. Task thread only.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sluice {
namespace internal {

template <typename W>
class MergingWindowSet {
 public:
  //! Calls `merge(members, cover)` for each group of windows to merge (the assigner's).
  using MergeWindowsFn = std::function<void(
      std::vector<W>, const std::function<void(const std::vector<W>&, const W&)>&)>;
  //! Told of a merge: the resulting window, the in-flight windows merged into it (not the new
  //! window), the state window the result keeps, and the state windows to merge into it.
  using MergeFunction =
      std::function<void(const W& merge_result, const std::vector<W>& merged_windows,
                         const W& state_window_result, const std::vector<W>& merged_state_windows)>;

  MergingWindowSet(MergeWindowsFn merge_windows, const std::vector<std::pair<W, W>>& restored)
      : merge_windows_(std::move(merge_windows)) {
    for (const auto& [window, state_window] : restored) mapping_.emplace(window, state_window);
    initial_ = mapping_;
  }

  //! The state window of in-flight `window`, or null when it is not in flight.
  const W* GetStateWindow(const W& window) const {
    auto it = mapping_.find(window);
    return it == mapping_.end() ? nullptr : &it->second;
  }

  //! Forgets `window` (its contents were purged for good).
  void RetireWindow(const W& window) {
    if (mapping_.erase(window) == 0) {
      throw std::logic_error("window " + window.ToString() + " is not in the in-flight window set");
    }
  }

  //! Adds `new_window`, merging it with the windows in flight as the assigner says; returns the
  //! window it ended up in (itself, or the result of a merge). `merge` is called for each merge
  //! before the mapping is final; it may throw, leaving the set to be discarded.
  W AddWindow(const W& new_window, const MergeFunction& merge) {
    std::vector<W> windows;
    windows.reserve(mapping_.size() + 1);
    for (const auto& [w, s] : mapping_) windows.push_back(w);
    windows.push_back(new_window);

    std::vector<std::pair<W, std::vector<W>>> merge_results;
    merge_windows_(std::move(windows), [&](const std::vector<W>& members, const W& cover) {
      merge_results.emplace_back(cover, members);
    });

    W result_window = new_window;
    bool merged_new_window = false;
    for (auto& [merge_result, merged_windows] : merge_results) {
      auto self = std::find(merged_windows.begin(), merged_windows.end(), new_window);
      if (self != merged_windows.end()) {
        merged_windows.erase(self);
        merged_new_window = true;
        result_window = merge_result;
      }
      // The merged windows keep the state window of the first of them; the others' state
      // windows are merged into it.
      W merged_state_window = mapping_.at(merged_windows.front());
      std::vector<W> merged_state_windows;
      for (const W& w : merged_windows) {
        auto it = mapping_.find(w);
        if (it != mapping_.end()) {
          merged_state_windows.push_back(it->second);
          mapping_.erase(it);
        }
      }
      mapping_[merge_result] = merged_state_window;
      std::erase(merged_state_windows, merged_state_window);
      // A new window inside an existing one merges nothing: it never had state of its own.
      bool only_itself = merged_windows.size() == 1 && merged_windows.front() == merge_result;
      if (!only_itself) {
        merge(merge_result, merged_windows, mapping_.at(merge_result), merged_state_windows);
      }
    }
    if (merge_results.empty() || (result_window == new_window && !merged_new_window)) {
      mapping_[result_window] = result_window;
    }
    return result_window;
  }

  //! Whether the set changed since it was loaded (then write Entries() back).
  bool Changed() const { return mapping_ != initial_; }
  std::vector<std::pair<W, W>> Entries() const {
    return std::vector<std::pair<W, W>>(mapping_.begin(), mapping_.end());
  }
  size_t size() const { return mapping_.size(); }

 private:
  MergeWindowsFn merge_windows_;
  std::map<W, W> mapping_;  // window -> state window, ordered so that merges are deterministic
  std::map<W, W> initial_;
};

}  // namespace internal
}  // namespace sluice
