// The PostgreSQL sink (docs/connectors.md "PostgreSQL"): rows into a table, batched; inserted
// (COPY) or upserted by key (INSERT ... ON CONFLICT); at least once, or exactly once by two-phase
// commit. A job package that uses it links sluice_connector_postgres (libpqxx).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "sluice/connectors/delivery_guarantee.h"
#include "sluice/connectors/encoders.h"
#include "sluice/connectors/postgres_writer.h"
#include "sluice/datastream.h"

namespace sluice {

//! The PostgreSQL sink's settings (named after Flink's JDBC connector: url, username, password,
//! table-name, sink.buffer-flush.max-rows, sink.buffer-flush.interval, sink.max-retries).
template <typename T>
struct PostgresSinkOptions {
  //! A libpq connection string ("host=127.0.0.1 port=5432 dbname=shop") or URI
  //! ("postgresql://host:5432/shop"). libpq's environment variables (PGPASSWORD, ...) apply too.
  std::string url;
  std::string username;
  std::string password;
  //! "name" or "schema.name"; each part is quoted as an identifier (case matters).
  std::string table;
  //! The columns written, in the order of the row's values. Unset: the names in T's
  //! SLUICE_FIELDS.
  std::vector<std::string> columns;
  //! Set: upsert by these columns (INSERT ... ON CONFLICT (keys) DO UPDATE), which needs a unique
  //! constraint or index on them; a replayed row overwrites itself, so at least once is effectively
  //! once. Unset: rows are inserted (COPY).
  std::vector<std::string> key_columns;
  DeliveryGuarantee guarantee = DeliveryGuarantee::kAtLeastOnce;
  //! A record's values, one per column, as text PostgreSQL reads (nullopt: NULL). Unset: T's
  //! SLUICE_FIELDS (numbers in decimal, bool as true/false, strings as they are, an empty
  //! std::optional as NULL, anything else as its ToString).
  std::function<void(const T&, PostgresRow&)> row_converter;
  //! Buffered rows are written when this many are buffered, every `buffer_flush_interval` of
  //! processing time (0: only by count), and at every checkpoint (unless the guarantee is none).
  size_t buffer_flush_max_rows = 5000;
  std::chrono::milliseconds buffer_flush_interval = std::chrono::seconds(1);
  //! Autocommitted batches only: how often a batch is tried again after a lost connection.
  int max_retries = 3;
  //! The first part of the names of the prepared transactions (exactly once):
  //! "<prefix>:<job>:<attempt>:<subtask>:<checkpoint>".
  std::string transaction_prefix = "sluice";
};

namespace internal {

template <typename F>
void PostgresText(std::optional<std::string>& out, const F& f) {
  if constexpr (IsOptional<F>::value) {
    if (f) {
      PostgresText(out, *f);
    } else {
      out.reset();
    }
    return;
  } else {
    if (!out) out.emplace();
    std::string& s = *out;
    s.clear();
    if constexpr (std::is_same_v<F, bool>) {
      s += f ? "true" : "false";
    } else if constexpr (std::is_arithmetic_v<F> && !std::is_same_v<F, char>) {
      AppendNumber(s, f);
    } else if constexpr (std::is_same_v<F, std::string>) {
      s += f;
    } else {
      s += ToString(f);
    }
  }
}

template <typename T>
std::vector<std::string> SluiceFieldNameList() {
  std::vector<std::string> names;
  std::string_view rest(T::SluiceFieldNames());
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    names.emplace_back(name);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return names;
}

}  // namespace internal

//! Writes records as rows of a PostgreSQL table.
//!
//! kNone / kAtLeastOnce: each batch is one autocommitted statement (COPY, or an upsert), retried
//! after a lost connection; at least once flushes at every checkpoint.
//!
//! kExactlyOnce (with checkpointing): a subtask writes into one open transaction; at a checkpoint
//! it is pre-committed (PREPARE TRANSACTION "<prefix>:<job>:<attempt>:<subtask>:<checkpoint>") and
//! its name kept in operator state; when the checkpoint completes it is committed (COMMIT
//! PREPARED). After a restore subtask 0 commits the prepared transactions named in the snapshot
//! (one committed before is skipped) and rolls back those of earlier attempts of the job, whose
//! records will be replayed. Without checkpointing it behaves as at least once.
template <typename T>
class PostgresSink : public SinkOperator<T> {
 public:
  explicit PostgresSink(PostgresSinkOptions<T> options) : options_(std::move(options)) {
    if (options_.columns.empty()) {
      if constexpr (internal::HasFields<T>::value) {
        options_.columns = internal::SluiceFieldNameList<T>();
      }
    }
    if (!options_.row_converter) {
      if constexpr (internal::HasFields<T>::value) {
        options_.row_converter = [](const T& v, PostgresRow& row) {
          row.resize(std::tuple_size_v<decltype(const_cast<T&>(v).SluiceTie())>);
          size_t i = 0;
          std::apply([&](const auto&... f) { (internal::PostgresText(row[i++], f), ...); },
                     const_cast<T&>(v).SluiceTie());
        };
      } else {
        options_.row_converter = [](const T& v, PostgresRow& row) {
          row.resize(1);
          internal::PostgresText(row[0], v);
        };
      }
    }
  }

  void InitializeState(InitContext& ctx) override {
    restored_pending_ = ctx.OperatorState(kPendingState);
  }

  void Open(RuntimeContext& ctx, Output& out) override {
    SinkOperator<T>::Open(ctx, out);
    ctx_ = &ctx;
    exactly_once_ =
        options_.guarantee == DeliveryGuarantee::kExactlyOnce && ctx.IsCheckpointingEnabled();
    PostgresWriterConfig config;
    config.url = options_.url;
    config.username = options_.username;
    config.password = options_.password;
    config.table = options_.table;
    config.columns = options_.columns;
    config.key_columns = options_.key_columns;
    config.guarantee = exactly_once_ ? DeliveryGuarantee::kExactlyOnce
                                     : (options_.guarantee == DeliveryGuarantee::kNone
                                            ? DeliveryGuarantee::kNone
                                            : DeliveryGuarantee::kAtLeastOnce);
    config.max_retries = options_.max_retries;
    writer_ = std::make_unique<PostgresWriter>(std::move(config));
    writer_->Open();
    gid_base_ = options_.transaction_prefix + ":" + ctx.JobId() + ":" +
                std::to_string(ctx.AttemptNumber()) + ":" + std::to_string(ctx.SubtaskIndex()) +
                ":";
    if (exactly_once_ && ctx.SubtaskIndex() == 0) Recover();
    restored_pending_.clear();
    if (options_.buffer_flush_interval.count() > 0) ScheduleFlush();
  }

  void Process(const T& in) override {
    options_.row_converter(in, row_);
    writer_->Add(row_);
    if (writer_->Buffered() >= options_.buffer_flush_max_rows) writer_->Flush();
  }

  void SnapshotState(SnapshotContext& ctx) override {
    if (exactly_once_) {
      const std::string gid = gid_base_ + std::to_string(ctx.CheckpointId());
      if (writer_->Prepare(gid)) pending_.push_back(Pending{ctx.CheckpointId(), gid});
      for (const Pending& p : pending_) {
        ctx.AddOperatorState(kPendingState, OperatorStateMode::kUnion, p.gid);
      }
    } else if (options_.guarantee != DeliveryGuarantee::kNone) {
      writer_->Flush();
    }
  }

  void NotifyCheckpointComplete(int64_t checkpoint_id) override {
    while (!pending_.empty() && pending_.front().checkpoint_id <= checkpoint_id) {
      writer_->CommitPrepared(pending_.front().gid);
      pending_.erase(pending_.begin());
    }
  }

  //! Exactly once: the final checkpoint pre-commits and commits what is left. Else: written now.
  void EndInput() override {
    if (!exactly_once_) writer_->Flush();
  }

  void Close() override {
    if (writer_ == nullptr) return;
    if (!exactly_once_) {
      writer_->Flush();
    }
    writer_->Abort();
  }

 private:
  static constexpr const char* kPendingState = "pending-transactions";
  struct Pending {
    int64_t checkpoint_id;
    std::string gid;
  };

  void ScheduleFlush() {
    ctx_->ScheduleProcessingTime(
        ctx_->CurrentProcessingTime() + options_.buffer_flush_interval.count(), [this] {
          writer_->Flush();
          ScheduleFlush();
        });
  }

  //! "<prefix>:<job>:<attempt>:..." -> job and attempt; false for a name of another form.
  static bool ParseGid(const std::string& gid, const std::string& prefix, std::string& job,
                       int& attempt) {
    if (gid.rfind(prefix + ":", 0) != 0) return false;
    const size_t j = prefix.size() + 1;
    const size_t a = gid.find(':', j);
    if (a == std::string::npos) return false;
    job = gid.substr(j, a - j);
    attempt = std::atoi(gid.c_str() + a + 1);
    return true;
  }

  //! Commits the snapshot's prepared transactions; rolls back the other prepared transactions of
  //! this job's earlier attempts and of the job the snapshot came from (a savepoint's).
  void Recover() {
    const std::set<std::string> restored(restored_pending_.begin(), restored_pending_.end());
    std::set<std::string> jobs = {ctx_->JobId()};
    std::string job;
    int attempt = 0;
    for (const std::string& gid : restored) {
      if (ParseGid(gid, options_.transaction_prefix, job, attempt)) jobs.insert(job);
    }
    for (const std::string& gid :
         writer_->PreparedTransactions(options_.transaction_prefix + ":")) {
      if (restored.count(gid) > 0) {
        writer_->CommitPrepared(gid);
      } else if (ParseGid(gid, options_.transaction_prefix, job, attempt) && jobs.count(job) > 0 &&
                 (job != ctx_->JobId() || attempt < ctx_->AttemptNumber())) {
        writer_->RollbackPrepared(gid);
      }
    }
  }

  PostgresSinkOptions<T> options_;
  RuntimeContext* ctx_ = nullptr;
  std::unique_ptr<PostgresWriter> writer_;
  bool exactly_once_ = false;
  std::string gid_base_;
  PostgresRow row_;
  std::vector<Pending> pending_;
  std::vector<std::string> restored_pending_;
};

template <typename T>
auto MakePostgresSink(PostgresSinkOptions<T> options) {
  return [options]() { return std::make_unique<PostgresSink<T>>(options); };
}

}  // namespace sluice
