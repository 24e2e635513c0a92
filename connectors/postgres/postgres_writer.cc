#include "sluice/connectors/postgres_writer.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <pqxx/pqxx>
#include <pqxx/tablewriter>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace sluice {
namespace {

constexpr char kPrefix[] = "postgres sink: ";

[[noreturn]] void Fail(const std::string& message) { throw std::runtime_error(kPrefix + message); }

//! A libpq error message on one line.
std::string OneLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

bool IsUri(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

std::string PercentEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

//! A value of a key=value connection string: quoted, its quotes and backslashes escaped.
std::string ConnValue(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

//! The connection string with the username and password settings and defaults added.
std::string ConnectionString(const PostgresWriterConfig& c) {
  std::vector<std::pair<std::string, std::string>> extra;
  if (!c.username.empty()) extra.emplace_back("user", c.username);
  if (!c.password.empty()) extra.emplace_back("password", c.password);
  if (c.url.find("connect_timeout") == std::string::npos)
    extra.emplace_back("connect_timeout", "10");
  if (c.url.find("application_name") == std::string::npos) {
    extra.emplace_back("application_name", "sluice");
  }
  std::string s = c.url;
  if (IsUri(c.url)) {
    char sep = c.url.find('?') == std::string::npos ? '?' : '&';
    for (const auto& [k, v] : extra) {
      s += sep + k + "=" + PercentEncode(v);
      sep = '&';
    }
  } else {
    for (const auto& [k, v] : extra) s += " " + k + "=" + ConnValue(v);
  }
  return s;
}

//! Errors worth retrying on a fresh connection: connection exceptions (08), transaction rollbacks
//! such as serialization failures and deadlocks (40), insufficient resources (53), operator
//! intervention such as a server shutting down (57P).
bool Transient(const std::string& sqlstate) {
  return sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("40", 0) == 0 ||
         sqlstate.rfind("53", 0) == 0 || sqlstate.rfind("57P", 0) == 0;
}

}  // namespace

struct PostgresWriter::Impl {
  PostgresWriterConfig config;
  std::string conninfo;
  std::string quoted_table;
  std::vector<std::string> quoted_columns;
  std::string column_list;  // "(c1,c2)"
  std::string upsert_tail;  // " ON CONFLICT (k) DO UPDATE SET c=EXCLUDED.c" (empty: insert)
  std::vector<size_t> key_index;

  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<pqxx::nontransaction> session;  // statements run as sent: BEGIN/PREPARE by hand
  std::unique_ptr<pqxx::connection> commit_conn;
  bool in_transaction = false;

  // Inserting: the buffered rows as COPY text. Upserting: rows[0, used) are buffered (the rest
  // keep their strings' capacity).
  std::string copy_data;
  std::vector<PostgresRow> rows;
  size_t used = 0;
  std::unordered_map<std::string, size_t> by_key;  // upsert: buffered row of each key
  std::string key_scratch;
  std::string sql;

  bool Upsert() const { return !config.key_columns.empty(); }
  bool ExactlyOnce() const { return config.guarantee == DeliveryGuarantee::kExactlyOnce; }

  std::unique_ptr<pqxx::connection> Connect() {
    try {
      return std::make_unique<pqxx::connection>(conninfo);
    } catch (const std::exception& e) {
      Fail("cannot connect to the database (url '" + RedactedUrl(config.url) +
           "'): " + OneLine(e.what()));
    }
  }

  void EnsureSession() {
    if (session) return;
    conn = Connect();
    session = std::make_unique<pqxx::nontransaction>(*conn, "sluice-postgres-sink");
  }

  void DropSession() {
    session.reset();
    conn.reset();
    in_transaction = false;
  }

  void KeyOf(const PostgresRow& row, std::string& out) const {
    out.clear();
    for (size_t i : key_index) {
      const auto& v = row[i];
      if (!v) {
        out += '\0';  // NULL never conflicts in PostgreSQL, but one batch still keeps one per key
        continue;
      }
      out += std::to_string(v->size());
      out += ':';
      out += *v;
    }
  }

  //! Appends `row` as a line of COPY's text format: a tab between values, \\N for NULL,
  //! backslash, tab and line breaks escaped (safe for UTF-8, whose multi-byte characters never
  //! hold those bytes).
  void AppendCopyLine(const PostgresRow& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) copy_data += '\t';
      if (!row[i]) {
        copy_data += "\\N";
        continue;
      }
      const std::string& v = *row[i];
      auto has = [&](char c) { return std::memchr(v.data(), c, v.size()) != nullptr; };
      if (!(has('\\') || has('\t') || has('\n') || has('\r'))) {
        copy_data += v;
        continue;
      }
      for (char c : v) {
        switch (c) {
          case '\\':
            copy_data += "\\\\";
            break;
          case '\t':
            copy_data += "\\t";
            break;
          case '\n':
            copy_data += "\\n";
            break;
          case '\r':
            copy_data += "\\r";
            break;
          default:
            copy_data += c;
        }
      }
    }
    copy_data += '\n';
  }

  //! COPY ... FROM STDIN of the buffered lines, sent as one block.
  void WriteCopy() {
    // libpqxx 6's stream_to takes tuples only; tablewriter sends text as it is (and adds the
    // last line break itself).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    pqxx::tablewriter copy(*session, quoted_table, quoted_columns.begin(), quoted_columns.end());
#pragma GCC diagnostic pop
    copy_data.pop_back();
    copy.write_raw_line(copy_data);
    copy_data += '\n';
    copy.complete();
  }

  void WriteUpsert() {
    sql.clear();
    sql += "INSERT INTO " + quoted_table + " " + column_list + " VALUES ";
    for (size_t r = 0; r < used; ++r) {
      if (r > 0) sql += ',';
      sql += '(';
      const PostgresRow& row = rows[r];
      for (size_t i = 0; i < row.size(); ++i) {
        if (i > 0) sql += ',';
        if (row[i]) {
          sql += session->quote(*row[i]);
        } else {
          sql += "NULL";
        }
      }
      sql += ')';
    }
    sql += upsert_tail;
    session->exec0(sql);
  }

  void WriteBatch() {
    if (ExactlyOnce() && !in_transaction) {
      session->exec0("BEGIN");
      in_transaction = true;
    }
    if (Upsert()) {
      WriteUpsert();
    } else {
      WriteCopy();
    }
  }

  void Clear() {
    copy_data.clear();
    used = 0;
    by_key.clear();
  }
};

PostgresWriter::PostgresWriter(PostgresWriterConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
}

PostgresWriter::~PostgresWriter() = default;

std::string PostgresWriter::RedactedUrl(const std::string& url) {
  std::string out = url;
  if (IsUri(url)) {
    // postgresql://user:secret@host/ -> postgresql://user:***@host/
    const size_t start = url.find("://") + 3;
    const size_t at = url.find('@', start);
    const size_t colon = url.find(':', start);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      out = url.substr(0, colon + 1) + "***" + url.substr(at);
    }
    const size_t p = out.find("password=");
    if (p != std::string::npos) {
      const size_t end = out.find('&', p);
      out = out.substr(0, p + 9) + "***" + (end == std::string::npos ? "" : out.substr(end));
    }
    return out;
  }
  const size_t p = out.find("password");
  if (p == std::string::npos) return out;
  size_t v = out.find('=', p);
  if (v == std::string::npos) return out;
  ++v;
  while (v < out.size() && out[v] == ' ') ++v;
  size_t end = v;
  if (end < out.size() && out[end] == '\'') {
    ++end;
    while (end < out.size() && out[end] != '\'') end += out[end] == '\\' ? 2 : 1;
    end = std::min(end + 1, out.size());
  } else {
    while (end < out.size() && out[end] != ' ') ++end;
  }
  return out.substr(0, v) + "***" + out.substr(end);
}

void PostgresWriter::Open() {
  Impl& m = *impl_;
  const PostgresWriterConfig& c = m.config;
  if (c.url.empty()) Fail("the setting 'url' is empty (a libpq connection string or URI)");
  if (c.table.empty()) Fail("the setting 'table' is empty");
  if (c.columns.empty()) Fail("the setting 'columns' is empty");
  for (const std::string& k : c.key_columns) {
    auto it = std::find(c.columns.begin(), c.columns.end(), k);
    if (it == c.columns.end()) {
      Fail("key column '" + k + "' (setting 'key_columns') is not one of the sink's columns");
    }
    m.key_index.push_back(static_cast<size_t>(it - c.columns.begin()));
  }
  m.conninfo = ConnectionString(c);
  m.EnsureSession();

  // Quoted identifiers, so a column named "userId" or "order" is that column.
  m.quoted_table.clear();
  size_t start = 0;
  for (;;) {
    const size_t dot = c.table.find('.', start);
    if (!m.quoted_table.empty()) m.quoted_table += '.';
    m.quoted_table += m.session->quote_name(c.table.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  m.quoted_columns.clear();
  m.column_list = "(";
  for (const std::string& col : c.columns) {
    m.quoted_columns.push_back(m.session->quote_name(col));
    if (m.column_list.size() > 1) m.column_list += ',';
    m.column_list += m.quoted_columns.back();
  }
  m.column_list += ')';
  m.upsert_tail.clear();
  if (m.Upsert()) {
    m.upsert_tail = " ON CONFLICT (";
    for (size_t i = 0; i < m.key_index.size(); ++i) {
      if (i > 0) m.upsert_tail += ',';
      m.upsert_tail += m.quoted_columns[m.key_index[i]];
    }
    m.upsert_tail += ") DO ";
    std::string set;
    for (size_t i = 0; i < c.columns.size(); ++i) {
      if (std::find(m.key_index.begin(), m.key_index.end(), i) != m.key_index.end()) continue;
      if (!set.empty()) set += ',';
      set += m.quoted_columns[i] + "=EXCLUDED." + m.quoted_columns[i];
    }
    m.upsert_tail += set.empty() ? "NOTHING" : "UPDATE SET " + set;
  }

  // The planner checks the table, the columns and (upserting) that a unique constraint matches
  // the key, without running anything.
  std::string probe = "EXPLAIN INSERT INTO " + m.quoted_table + " " + m.column_list + " VALUES (";
  for (size_t i = 0; i < c.columns.size(); ++i) probe += i > 0 ? ",NULL" : "NULL";
  probe += ")" + m.upsert_tail;
  try {
    m.session->exec(probe);
  } catch (const pqxx::sql_error& e) {
    Fail("table '" + c.table + "' cannot take the sink's rows (settings 'table', 'columns'" +
         (m.Upsert() ? ", 'key_columns'" : "") + "): " + OneLine(e.what()));
  }
  if (m.ExactlyOnce()) {
    const pqxx::result r = m.session->exec("SHOW max_prepared_transactions");
    if (r.empty() || r[0][0].as<int>() <= 0) {
      Fail(
          "exactly-once needs prepared transactions, but the server's max_prepared_transactions "
          "is 0: set it (postgresql.conf) to at least the sink's parallelism and restart the "
          "server");
    }
  }
}

void PostgresWriter::Add(const PostgresRow& row) {
  Impl& m = *impl_;
  if (row.size() != m.config.columns.size()) {
    Fail("a row has " + std::to_string(row.size()) + " values for " +
         std::to_string(m.config.columns.size()) + " columns");
  }
  if (!m.Upsert()) {
    m.AppendCopyLine(row);
    ++m.used;
    return;
  }
  size_t slot = m.used;
  m.KeyOf(row, m.key_scratch);
  auto [it, fresh] = m.by_key.try_emplace(m.key_scratch, m.used);
  if (!fresh) slot = it->second;
  if (slot == m.used) {
    if (m.used == m.rows.size()) m.rows.emplace_back();
    ++m.used;
  }
  PostgresRow& dst = m.rows[slot];
  dst.resize(row.size());
  for (size_t i = 0; i < row.size(); ++i) {
    if (row[i]) {
      if (dst[i]) {
        dst[i]->assign(*row[i]);  // keeps the string's capacity
      } else {
        dst[i].emplace(*row[i]);
      }
    } else {
      dst[i].reset();
    }
  }
}

size_t PostgresWriter::Buffered() const { return impl_->used; }

void PostgresWriter::Flush() {
  Impl& m = *impl_;
  if (m.used == 0) return;
  if (m.ExactlyOnce()) {
    // One connection holds the transaction: an error loses it, and the records since the last
    // checkpoint are replayed after the restart.
    try {
      m.EnsureSession();
      m.WriteBatch();
    } catch (const pqxx::failure& e) {
      m.DropSession();
      Fail(std::string("write into the open transaction failed: ") + OneLine(e.what()));
    } catch (const std::runtime_error&) {  // Connect's message, already prefixed
      m.DropSession();
      throw;
    }
    m.Clear();
    return;
  }
  for (int attempt = 0;; ++attempt) {
    try {
      m.EnsureSession();
      m.WriteBatch();
      m.Clear();
      return;
    } catch (const pqxx::broken_connection& e) {
      m.DropSession();
      if (attempt >= m.config.max_retries) {
        Fail("write failed after " + std::to_string(attempt + 1) +
             " attempts (setting 'max_retries'): " + OneLine(e.what()));
      }
    } catch (const pqxx::sql_error& e) {
      m.DropSession();
      if (!Transient(e.sqlstate()) || attempt >= m.config.max_retries) {
        Fail("write into '" + m.config.table + "' failed (SQLSTATE " + e.sqlstate() +
             "): " + OneLine(e.what()));
      }
    } catch (const std::runtime_error& e) {  // Connect's message, already clear
      m.DropSession();
      if (attempt >= m.config.max_retries) throw;
    }
    // Flink's JDBC sink waits 1 s × the attempt; capped so a long outage fails in bounded time.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000 * (attempt + 1), 5000)));
  }
}

bool PostgresWriter::Prepare(const std::string& gid) {
  Impl& m = *impl_;
  Flush();
  if (!m.in_transaction) return false;
  try {
    m.session->exec0("PREPARE TRANSACTION " + m.session->quote(gid));
  } catch (const std::exception& e) {
    m.DropSession();
    Fail("PREPARE TRANSACTION '" + gid + "' failed: " + OneLine(e.what()));
  }
  m.in_transaction = false;
  return true;
}

bool PostgresWriter::CommitPrepared(const std::string& gid) {
  Impl& m = *impl_;
  for (int attempt = 0;; ++attempt) {
    try {
      if (!m.commit_conn) m.commit_conn = m.Connect();
      pqxx::nontransaction tx(*m.commit_conn);
      tx.exec0("COMMIT PREPARED " + tx.quote(gid));
      return true;
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() == "42704") return false;  // undefined_object: committed before
      m.commit_conn.reset();
      if (!Transient(e.sqlstate()) || attempt >= m.config.max_retries) {
        Fail("COMMIT PREPARED '" + gid + "' failed (SQLSTATE " + e.sqlstate() +
             "): " + OneLine(e.what()));
      }
    } catch (const std::exception& e) {
      m.commit_conn.reset();
      if (attempt >= m.config.max_retries) {
        Fail("COMMIT PREPARED '" + gid + "' failed: " + OneLine(e.what()));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000 * (attempt + 1), 5000)));
  }
}

void PostgresWriter::RollbackPrepared(const std::string& gid) {
  Impl& m = *impl_;
  if (!m.commit_conn) m.commit_conn = m.Connect();
  try {
    pqxx::nontransaction tx(*m.commit_conn);
    tx.exec0("ROLLBACK PREPARED " + tx.quote(gid));
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == "42704") return;
    m.commit_conn.reset();
    Fail("ROLLBACK PREPARED '" + gid + "' failed: " + OneLine(e.what()));
  }
}

std::vector<std::string> PostgresWriter::PreparedTransactions(const std::string& prefix) {
  Impl& m = *impl_;
  if (!m.commit_conn) m.commit_conn = m.Connect();
  std::vector<std::string> gids;
  try {
    pqxx::nontransaction tx(*m.commit_conn);
    for (const auto& row :
         tx.exec("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()")) {
      std::string gid = row[0].as<std::string>();
      if (gid.rfind(prefix, 0) == 0) gids.push_back(std::move(gid));
    }
  } catch (const std::exception& e) {
    m.commit_conn.reset();
    Fail("listing prepared transactions failed: " + OneLine(e.what()));
  }
  return gids;
}

void PostgresWriter::Abort() {
  Impl& m = *impl_;
  m.Clear();
  m.DropSession();  // closing the connection rolls back a transaction not yet prepared
  m.commit_conn.reset();
}

}  // namespace sluice
