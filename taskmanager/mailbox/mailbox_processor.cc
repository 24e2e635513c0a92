#include "taskmanager/mailbox/mailbox_processor.h"

#include <algorithm>

namespace sluice::taskmanager {

MailboxProcessor::TimerId MailboxProcessor::ScheduleAt(Clock::time_point when,
                                                       std::function<void()> action) {
  TimerId id = next_id_++;
  scheduled_.emplace(std::make_pair(when, id), std::move(action));
  when_.emplace(id, when);
  return id;
}

void MailboxProcessor::Cancel(TimerId id) {
  auto it = when_.find(id);
  if (it == when_.end()) return;
  scheduled_.erase(std::make_pair(it->second, id));
  when_.erase(it);
}

void MailboxProcessor::RunDue(Clock::time_point now) {
  while (!scheduled_.empty() && scheduled_.begin()->first.first <= now) {
    auto node = scheduled_.extract(scheduled_.begin());
    when_.erase(node.key().second);
    node.mapped()();  // may schedule more, or throw
  }
}

void MailboxProcessor::Run(const DefaultAction& action) {
  while (true) {
    if (mailbox_->HasMail()) mailbox_->RunAll();
    if (!scheduled_.empty()) {
      Clock::time_point now = Clock::now();
      if (scheduled_.begin()->first.first <= now) RunDue(now);
    }
    Step step = action();
    if (step.kind == Step::Kind::kProgress) continue;
    if (step.kind == Step::Kind::kDone) return;
    Clock::time_point until = step.idle_until;
    if (!scheduled_.empty()) until = std::min(until, scheduled_.begin()->first.first);
    if (mailbox_->HasMail() || until <= Clock::now()) continue;
    network::WaitTimer idle(idle_);
    mailbox_->Wait(until);
  }
}

}  // namespace sluice::taskmanager
