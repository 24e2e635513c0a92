// The PostgreSQL sink's connection to the database (docs/connectors.md "PostgreSQL"): buffering,
// batched writes (COPY for inserts, INSERT ... ON CONFLICT for upserts), retries, and the two-phase
// commit of the exactly-once mode. Compiled once into sluice_connector_postgres (libpqxx stays out
// of the job package's headers); PostgresSink<T> (postgres_sink.h) turns records into rows for it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/connectors/delivery_guarantee.h"

namespace sluice {

//! One row: a value per column in its text form (as PostgreSQL's input functions read it), or
//! nullopt for NULL.
using PostgresRow = std::vector<std::optional<std::string>>;

struct PostgresWriterConfig {
  std::string url;  // a libpq connection string ("host=... dbname=...") or postgresql:// URI
  std::string username;
  std::string password;
  std::string table;  // "name" or "schema.name", each part quoted as an identifier
  std::vector<std::string> columns;
  std::vector<std::string> key_columns;  // non-empty: upsert by these columns
  DeliveryGuarantee guarantee = DeliveryGuarantee::kAtLeastOnce;
  int max_retries = 3;  // autocommitted batches: retries after a lost connection
};

class PostgresWriter {
 public:
  explicit PostgresWriter(PostgresWriterConfig config);
  ~PostgresWriter();
  PostgresWriter(const PostgresWriter&) = delete;
  PostgresWriter& operator=(const PostgresWriter&) = delete;

  //! Connects and checks the settings against the database: the table and columns exist, the key
  //! columns have a unique constraint (upsert), prepared transactions are enabled (exactly once).
  //! Throws std::runtime_error naming the connector and the setting.
  void Open();

  //! Buffers a row. Upserting, a buffered row with the same key is replaced (one batch never
  //! updates a row twice).
  void Add(const PostgresRow& row);
  size_t Buffered() const;

  //! Writes the buffered rows. Exactly once: into the open transaction (begun if none is). Else as
  //! one autocommitted statement, retried up to max_retries times after a lost connection.
  void Flush();

  //! Exactly once: flushes and pre-commits the open transaction as `gid` (PREPARE TRANSACTION).
  //! False when nothing was written since the last one (no transaction to prepare).
  bool Prepare(const std::string& gid);

  //! COMMIT PREPARED on a second connection (the writing one may be inside the next transaction).
  //! A transaction that no longer exists was committed before: false, nothing done.
  bool CommitPrepared(const std::string& gid);

  //! ROLLBACK PREPARED; a transaction that no longer exists is skipped.
  void RollbackPrepared(const std::string& gid);

  //! The gids of this database's prepared transactions that begin with `prefix`.
  std::vector<std::string> PreparedTransactions(const std::string& prefix);

  //! Drops the buffered rows and the open transaction (not the prepared ones).
  void Abort();

  //! `url` with any password replaced by "***", for messages.
  static std::string RedactedUrl(const std::string& url);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
