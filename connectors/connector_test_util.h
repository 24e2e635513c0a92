// Test doubles shared by the connectors' tests: a snapshot that collects operator state, an init
// context that restores it, an output that captures records, and a temporary directory.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/datastream.h"
#include "sluice/testing/fake_runtime_context.h"

namespace sluice::connectors_test {

namespace fs = std::filesystem;

//! Collects operator state as a host would at a snapshot (keyed state is not expected here).
class CollectingSnapshot final : public SnapshotContext, public KeyedStateWriter {
 public:
  explicit CollectingSnapshot(int64_t id) : id_(id) {}
  int64_t CheckpointId() const override { return id_; }
  void AddOperatorState(const std::string& name, OperatorStateMode, std::string item) override {
    lists[name].push_back(std::move(item));
  }
  KeyedStateWriter& Keyed() override { return *this; }
  void AddKeyedSnapshot(std::function<void(KeyedStateWriter&)>) override {
    ADD_FAILURE() << "unexpected keyed state";
  }
  void Write(int, const std::string&, std::string_view, std::string_view,
             std::string_view) override {
    ADD_FAILURE() << "unexpected keyed state";
  }
  std::map<std::string, std::vector<std::string>> lists;

 private:
  int64_t id_;
};

//! Hands restored operator state to an operator.
class RestoringInit final : public InitContext {
 public:
  explicit RestoringInit(std::map<std::string, std::vector<std::string>> lists)
      : lists_(std::move(lists)) {}
  bool IsRestored() const override { return true; }
  int MaxParallelism() const override { return 128; }
  std::vector<std::string> OperatorState(const std::string& name) const override {
    auto it = lists_.find(name);
    return it == lists_.end() ? std::vector<std::string>{} : it->second;
  }
  void ForEachKeyedEntry(
      const std::function<void(int, const std::string&, std::string_view, std::string_view,
                               std::string_view)>&) const override {}
  KeyedStateBackend* KeyedBackend() override { return nullptr; }

 private:
  std::map<std::string, std::vector<std::string>> lists_;
};

template <typename T>
class CapturingOutput final : public Output {
 public:
  void Emit(const void* record) override { records.push_back(*static_cast<const T*>(record)); }
  std::vector<T> records;
};

//! A fresh directory under the system temp dir, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("sluice-connectors-test-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

inline void WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary);
  f << content;
  ASSERT_TRUE(f.good()) << path;
}

inline std::string ReadFile(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

//! The lines a reader must produce for `content`: split at '\n', a final line without '\n'
//! included, a trailing '\r' dropped.
inline std::vector<std::string> ExpectedLines(const std::string& content) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < content.size()) {
    size_t nl = content.find('\n', start);
    size_t end = nl == std::string::npos ? content.size() : nl;
    std::string line = content.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

}  // namespace sluice::connectors_test
