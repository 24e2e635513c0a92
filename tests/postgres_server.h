// A real PostgreSQL server for tests and benchmarks: Debian's initdb and postgres, a fresh cluster
// in a temporary directory, listening on a free loopback port, with prepared transactions enabled.
// As root (CI) the server runs as the `postgres` user, since PostgreSQL refuses to run as root.
// The process is stopped by pid and its directory removed when the object goes.
#pragma once

#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/child_process.h"
#include "tests/free_port.h"

namespace sluice::testing {

class PostgresServer {
 public:
  PostgresServer() = default;
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer() {
    Stop();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  //! The directory of the server's binaries, or "" when PostgreSQL is not installed.
  static std::string BinDir() {
    glob_t g{};
    std::string dir;
    if (::glob("/usr/lib/postgresql/*/bin/postgres", 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
      dir = std::filesystem::path(g.gl_pathv[g.gl_pathc - 1]).parent_path().string();
    }
    ::globfree(&g);
    return dir;
  }

  //! initdb and start; false with `error` set when that fails.
  bool Start(std::string* error) {
    bin_ = BinDir();
    if (bin_.empty()) {
      *error = "PostgreSQL is not installed (scripts/install-deps.sh installs it)";
      return false;
    }
    char tmpl[] = "/tmp/sluice-pg-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      *error = "mkdtemp failed";
      return false;
    }
    dir_ = tmpl;
    data_ = dir_ + "/data";
    if (::getuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr) {
        *error = "running as root needs the 'postgres' user (Debian's postgresql package)";
        return false;
      }
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
      if (::chown(dir_.c_str(), uid_, gid_) != 0) {
        *error = "chown " + dir_ + " failed";
        return false;
      }
    }
    const int rc = Run({bin_ + "/initdb", "-D", data_, "-U", "sluice", "--auth=trust", "-E", "UTF8",
                        "--locale=C", "--no-sync"},
                       dir_ + "/initdb.log", /*wait=*/true);
    if (rc != 0) {
      *error = "initdb failed: " + Slurp(dir_ + "/initdb.log");
      return false;
    }
    for (int tries = 0; tries < 3; ++tries) {
      if (Launch()) return true;
    }
    *error = "postgres did not start: " + Slurp(dir_ + "/postgres.log");
    return false;
  }

  //! Stops the server (a fast shutdown, then SIGKILL after 20 s).
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);
    ReapOrKill(pid_, std::chrono::seconds(20));
    pid_ = -1;
  }

  //! Starts the stopped server again on the same port.
  bool Restart() { return pid_ <= 0 && StartOn(port_); }

  int port() const { return port_; }
  //! A libpq connection string for the `postgres` database as the superuser `sluice`.
  std::string Url() const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres user=sluice";
  }
  std::string Log() const { return Slurp(dir_ + "/postgres.log"); }

  //! Runs SQL in its own connection and transaction; the rows' values as "a|b" lines.
  std::vector<std::string> Query(const std::string& sql) const {
    pqxx::connection c(Url());
    pqxx::nontransaction tx(c);
    std::vector<std::string> out;
    for (const auto& row : tx.exec(sql)) {
      std::string line;
      for (const auto& field : row) {
        if (!line.empty() || field.num() > 0) line += '|';
        line += field.is_null() ? "NULL" : field.c_str();
      }
      out.push_back(line);
    }
    return out;
  }
  void Execute(const std::string& sql) const {
    pqxx::connection c(Url());
    pqxx::nontransaction tx(c);
    tx.exec0(sql);
  }

 private:
  static std::string Slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

  //! Forks `argv` (as the postgres user when root) with its output in `log`; waits for it when
  //! `wait`, returning its exit code, else returns its pid.
  int Run(const std::vector<std::string>& argv, const std::string& log, bool wait) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (::getuid() == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0) _exit(126);
      }
      // Dies with the test even when the test is killed (set after setuid, which clears it). It
      // follows the thread that forks: start and restart the server from a thread that outlives it.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      _exit(127);
    }
    if (!wait) return pid;
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  }

  bool Launch() { return StartOn(FreeLoopbackPort()); }

  bool StartOn(int port) {
    port_ = port;
    pid_ = Run({bin_ + "/postgres", "-D", data_, "-p", std::to_string(port_), "-c",
                "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c",
                "max_prepared_transactions=64", "-c", "max_connections=200", "-c", "fsync=off",
                "-c", "synchronous_commit=off", "-c", "full_page_writes=off"},
               dir_ + "/postgres.log", /*wait=*/false);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      try {
        pqxx::connection c(Url());
        return true;
      } catch (const std::exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    Stop();
    return false;
  }

  std::string bin_;
  std::string dir_;
  std::string data_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace sluice::testing
