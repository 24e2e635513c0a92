#include "jobmanager/resource_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"

namespace sluice::jobmanager {
namespace {
auto Log() { return log::Get("resourcemanager"); }
}  // namespace

ResourceManager::ResourceManager(TaskManagerGatewayFactory gateways,
                                 std::chrono::milliseconds heartbeat_interval,
                                 std::chrono::milliseconds heartbeat_timeout)
    : gateways_(std::move(gateways)),
      heartbeat_interval_(heartbeat_interval),
      heartbeat_timeout_(heartbeat_timeout) {
  executor_.PostDelayed(heartbeat_interval_, [this] { CheckHeartbeats(); });
}

ResourceManager::~ResourceManager() {
  // Gateways' callbacks may still call ReleaseSlots (a job's release): let the calls in flight end
  // (closed, they fail at once) while our executor still takes posts.
  std::vector<std::shared_ptr<TaskManagerGateway>> gateways;
  executor_.Call([&] {
    for (auto& [id, tm] : taskmanagers_) gateways.push_back(tm.gateway);
  });
  for (const auto& gw : gateways) gw->Close();
  for (const auto& gw : gateways) gw->Drain();
  executor_.Shutdown();
}

void ResourceManager::SetCrashListener(CrashListener listener) {
  executor_.Call([&] { crash_listener_ = std::move(listener); });
}

void ResourceManager::SetLostListener(LostListener listener) {
  executor_.Call([&] { lost_listener_ = std::move(listener); });
}

absl::Status ResourceManager::Register(const proto::RegisterRequest& req) {
  if (req.taskmanager_id().empty() || req.slots() <= 0 || req.rpc_address().empty() ||
      req.data_address().empty()) {
    return absl::InvalidArgumentError("registration needs an id, addresses and at least one slot");
  }
  return executor_.Call([&]() -> absl::Status {
    auto it = taskmanagers_.find(req.taskmanager_id());
    if (it != taskmanagers_.end()) {
      // A TaskManager that registers again has restarted or lost us: its old tasks are gone.
      RemoveLost(req.taskmanager_id(), "lost: it registered again");
    }
    TaskManager tm;
    tm.info = req;
    tm.slot_owner.assign(static_cast<size_t>(req.slots()), "");
    tm.last_heartbeat = std::chrono::steady_clock::now();
    tm.last_heartbeat_ms = WallClockMs();
    if (req.has_network()) tm.network = req.network();
    if (req.has_process()) tm.process = req.process();
    if (req.has_memory()) tm.memory = req.memory();
    tm.gateway = gateways_(req.taskmanager_id(), req.rpc_address());
    taskmanagers_[req.taskmanager_id()] = std::move(tm);
    Log()->info("TaskManager {} registered: rpc {}, data {}, {} slots", req.taskmanager_id(),
                req.rpc_address(), req.data_address(), req.slots());
    return absl::OkStatus();
  });
}

bool ResourceManager::Heartbeat(const proto::Heartbeat& heartbeat) {
  return executor_.Call([&] {
    auto it = taskmanagers_.find(heartbeat.taskmanager_id());
    if (it == taskmanagers_.end()) return false;
    it->second.last_heartbeat = std::chrono::steady_clock::now();
    it->second.last_heartbeat_ms = WallClockMs();
    if (heartbeat.has_network()) it->second.network = heartbeat.network();
    if (heartbeat.has_process()) it->second.process = heartbeat.process();
    if (heartbeat.has_memory()) it->second.memory = heartbeat.memory();
    return true;
  });
}

void ResourceManager::ConnectionLost(const std::string& tm_id, const std::string& detail) {
  executor_.Post([this, tm_id, detail] {
    if (!taskmanagers_.count(tm_id)) return;
    RemoveLost(tm_id,
               absl::StrCat("lost: its connection to the JobManager dropped (", detail, ")"));
  });
}

void ResourceManager::CheckHeartbeats() {
  auto now = std::chrono::steady_clock::now();
  std::vector<std::string> timed_out;
  for (const auto& [id, tm] : taskmanagers_) {
    if (now - tm.last_heartbeat > heartbeat_timeout_) timed_out.push_back(id);
  }
  for (const auto& id : timed_out) {
    RemoveLost(id, absl::StrCat("lost: no heartbeat for ", heartbeat_timeout_.count(), " ms"));
  }
  auto period = std::max(std::chrono::milliseconds(10),
                         std::min(heartbeat_interval_, heartbeat_timeout_ / 4));
  executor_.PostDelayed(period, [this] { CheckHeartbeats(); });
}

void ResourceManager::RemoveLost(const std::string& tm_id, const std::string& what) {
  auto it = taskmanagers_.find(tm_id);
  if (it == taskmanagers_.end()) return;
  std::string address = it->second.info.rpc_address();
  // Calls still queued for it fail at once instead of waiting out their deadlines one by one.
  it->second.gateway->Close();
  taskmanagers_.erase(it);
  std::string full = absl::StrCat("TaskManager ", tm_id, " (", address, ") ", what);
  Log()->warn("{}", full);
  constexpr size_t kRecentLosses = 64;
  if (recent_losses_.size() >= kRecentLosses) recent_losses_.erase(recent_losses_.begin());
  recent_losses_[tm_id] = {full, address};
  if (lost_listener_) lost_listener_(tm_id, full);
}

void ResourceManager::Crashed(const std::string& tm_id, const std::string& signal,
                              const std::string& task) {
  executor_.Post([this, tm_id, signal, task] {
    std::string what = absl::StrCat(
        "crashed (", signal, ")",
        task.empty() ? " outside of a task" : absl::StrCat(" while running task '", task, "'"),
        "; its log has the stack");
    if (taskmanagers_.count(tm_id)) {
      RemoveLost(tm_id, what);
      return;
    }
    auto it = recent_losses_.find(tm_id);
    if (it == recent_losses_.end()) return;
    std::string corrected =
        absl::StrCat("TaskManager ", tm_id, " (", it->second.second, ") ", what);
    Log()->warn("{}", corrected);
    if (crash_listener_) crash_listener_(tm_id, it->second.first, corrected);
    it->second.first = corrected;
  });
}

absl::StatusOr<std::vector<SlotAssignment>> ResourceManager::AllocateSlots(
    const std::string& job_id, int slots) {
  return executor_.Call([&]() -> absl::StatusOr<std::vector<SlotAssignment>> {
    int free = 0, total = 0;
    for (const auto& [id, tm] : taskmanagers_) {
      total += static_cast<int>(tm.slot_owner.size());
      free += static_cast<int>(std::count(tm.slot_owner.begin(), tm.slot_owner.end(), ""));
    }
    if (slots > free) {
      int releasing = 0;
      for (const auto& [id, tm] : taskmanagers_) {
        for (const auto& owner : tm.slot_owner) releasing += releasing_.count(owner) > 0;
      }
      std::string message =
          absl::StrCat("not enough task slots: the job needs ", slots, " slot(s), ", free, " of ",
                       total, " are free on ", taskmanagers_.size(), " TaskManager(s)");
      if (slots <= free + releasing) {
        return absl::UnavailableError(
            absl::StrCat(message, "; ", releasing, " more are being released by ended jobs"));
      }
      return absl::FailedPreconditionError(message);
    }
    std::vector<SlotAssignment> out;
    for (int i = 0; i < slots; ++i) {
      TaskManager* best = nullptr;
      long best_free = 0;
      for (auto& [id, tm] : taskmanagers_) {
        long f = std::count(tm.slot_owner.begin(), tm.slot_owner.end(), "");
        if (f > best_free) {
          best = &tm;
          best_free = f;
        }
      }
      auto slot = std::find(best->slot_owner.begin(), best->slot_owner.end(), "");
      *slot = job_id;
      out.push_back({best->info.taskmanager_id(), best->info.data_address(), best->gateway});
    }
    return out;
  });
}

void ResourceManager::BeginRelease(const std::string& job_id) {
  executor_.Post([this, job_id] { releasing_.insert(job_id); });
}

void ResourceManager::ReleaseSlots(const std::string& job_id) {
  executor_.Post([this, job_id] {
    releasing_.erase(job_id);
    for (auto& [id, tm] : taskmanagers_) {
      for (auto& owner : tm.slot_owner) {
        if (owner == job_id) owner.clear();
      }
    }
  });
}

std::vector<proto::TaskManagerInfo> ResourceManager::List() {
  return executor_.Call([&] {
    std::vector<proto::TaskManagerInfo> out;
    for (const auto& [id, tm] : taskmanagers_) {
      proto::TaskManagerInfo info;
      info.set_id(id);
      info.set_address(tm.info.rpc_address());
      info.set_data_address(tm.info.data_address());
      info.set_slots(static_cast<int>(tm.slot_owner.size()));
      info.set_free_slots(
          static_cast<int>(std::count(tm.slot_owner.begin(), tm.slot_owner.end(), "")));
      if (tm.network) *info.mutable_network() = *tm.network;
      if (tm.process) *info.mutable_process() = *tm.process;
      if (tm.memory) *info.mutable_memory() = *tm.memory;
      info.set_last_heartbeat_ms(tm.last_heartbeat_ms);
      info.set_metrics_address(tm.info.metrics_address());
      for (const std::string& job : tm.slot_owner) info.add_slot_jobs(job);
      out.push_back(info);
    }
    return out;
  });
}

std::shared_ptr<TaskManagerGateway> ResourceManager::Gateway(const std::string& tm_id) {
  return executor_.Call([&]() -> std::shared_ptr<TaskManagerGateway> {
    auto it = taskmanagers_.find(tm_id);
    return it == taskmanagers_.end() ? nullptr : it->second.gateway;
  });
}

}  // namespace sluice::jobmanager
