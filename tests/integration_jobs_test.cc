// End-to-end runs of the example jobs on a real 2 TaskManager x 2 slot cluster: results are checked
// against references computed here, and the CLI's JSON views are checked against what ran.

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"

namespace sluice::testing {
namespace {

class IntegrationJobs : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<LocalCluster>();
    absl::Status started = cluster_->Start(ClusterOptions{});
    ASSERT_TRUE(started.ok()) << started;
  }

  std::unique_ptr<LocalCluster> cluster_;
};

// ---- word count reference ----

// A word is a maximal run of ASCII letters and digits, lowercased.
void CountWords(const std::string& text, std::map<std::string, int64_t>* counts) {
  std::string word;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 128 && std::isalnum(u)) {
      word.push_back(static_cast<char>(std::tolower(u)));
    } else if (!word.empty()) {
      ++(*counts)[word];
      word.clear();
    }
  }
  if (!word.empty()) ++(*counts)[word];
}

// Writes a corpus of several files into `dir` and returns the reference counts.
std::map<std::string, int64_t> WriteCorpus(const std::string& dir) {
  std::map<std::string, std::string> files;
  // Hand-written edge cases.
  files["edge-punctuation.txt"] =
      "Hello, World! hello-world HELLO_world (hello) [world]\n"
      "it's don't can't -- e-mail foo.bar foo/bar foo\\bar\n"
      "\n\n   \t  \n"
      "mixed CaSe mIxEd case MIXED\n";
  files["edge-digits.txt"] =
      "42 0042 4 2 abc123 123abc a1b2c3 3.14 1,000 -7 +8 0x1F\n"
      "2024-01-01T12:00:00Z\n";
  files["edge-utf8.txt"] =
      "caf\xc3\xa9 na\xc3\xafve Stra\xc3\x9f"
      "e \xe2\x80\x94 dash\xe2\x80\x94word\n";
  files["edge-crlf.txt"] = "windows line\r\nendings here\r\nwindows\r\n";
  // A file ending without a newline, and one starting with a word: the two words must not be
  // glued across the file boundary.
  files["edge-no-newline.txt"] = "first line\nlast words tailword";
  files["edge-starts-with-word.txt"] = "headword begins this file\n";
  files["edge-empty.txt"] = "";
  files["edge-only-separators.txt"] = "!!! ... ,,, ;;;\n---\n";

  // Bulk files: random words in random case with random separators, some long lines.
  const std::vector<std::string> vocabulary = {
      "stream", "flink", "sluice", "record", "barrier", "window", "state", "key",
      "slot",   "task",  "buffer", "credit", "source",  "sink",   "map",   "reduce",
      "x",      "y",     "z",      "a1",     "b22",     "c333",   "2024",  "7",
      "alpha",  "beta",  "gamma",  "delta",  "epsilon", "zeta",   "eta",   "theta"};
  const std::vector<std::string> separators = {" ",  "  ", ", ", ". ", "; ", "\t", " - ", "! ",
                                               "? ", ":",  "/",  "(",  ") ", "\"", "'s "};
  std::mt19937 rng(20240601);
  for (int f = 0; f < 6; ++f) {
    std::string text;
    int lines = 1500 + 300 * f;
    for (int l = 0; l < lines; ++l) {
      int words = (l % 97 == 0) ? 2000 : static_cast<int>(rng() % 12);  // some long lines
      for (int w = 0; w < words; ++w) {
        std::string word = vocabulary[rng() % vocabulary.size()];
        for (char& c : word) {
          if (rng() % 3 == 0) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        // Occasionally a unique word, so that many keys have count 1.
        if (rng() % 50 == 0) word += absl::StrCat("u", f, "x", l, "x", w);
        text += word;
        text += separators[rng() % separators.size()];
      }
      text += "\n";
    }
    files[absl::StrCat("bulk-", f, ".txt")] = text;
  }

  std::map<std::string, int64_t> counts;
  for (const auto& [name, text] : files) {
    WriteFile(dir + "/" + name, text);
    CountWords(text, &counts);
  }
  return counts;
}

// Parses `word<TAB>count` lines of every visible file in `dir`; each word must appear once.
std::map<std::string, int64_t> ReadCounts(const std::string& dir) {
  std::map<std::string, int64_t> counts;
  for (const std::string& file : VisibleFiles(dir)) {
    for (absl::string_view line : absl::StrSplit(ReadFile(file), '\n', absl::SkipEmpty())) {
      std::vector<std::string> parts = absl::StrSplit(line, '\t');
      int64_t count = 0;
      if (parts.size() != 2 || parts[0].empty() || !absl::SimpleAtoi(parts[1], &count) ||
          count <= 0) {
        ADD_FAILURE() << "malformed line in " << file << ": '" << line << "'";
        continue;
      }
      if (!counts.emplace(parts[0], count).second) {
        ADD_FAILURE() << "word '" << parts[0] << "' appears on more than one line (again in "
                      << file << ")";
      }
    }
  }
  return counts;
}

// A readable summary of how two count maps differ (the first few differences).
std::string DiffCounts(const std::map<std::string, int64_t>& expected,
                       const std::map<std::string, int64_t>& actual) {
  std::string out;
  int shown = 0;
  std::set<std::string> words;
  for (const auto& [w, c] : expected) words.insert(w);
  for (const auto& [w, c] : actual) words.insert(w);
  for (const std::string& w : words) {
    auto e = expected.find(w);
    auto a = actual.find(w);
    int64_t ec = e == expected.end() ? 0 : e->second;
    int64_t ac = a == actual.end() ? 0 : a->second;
    if (ec == ac) continue;
    if (++shown > 20) {
      absl::StrAppend(&out, "  ...\n");
      break;
    }
    absl::StrAppend(&out, "  '", w, "': expected ", ec, ", got ", ac, "\n");
  }
  return out;
}

TEST_F(IntegrationJobs, WordCountMatchesReferenceAndSpreadsOverBothTaskManagers) {
  std::string input = cluster_->NewDir("corpus");
  std::string output = cluster_->ScratchPath("counts");
  std::map<std::string, int64_t> expected = WriteCorpus(input);
  ASSERT_GT(expected.size(), 100u);
  ASSERT_EQ(expected.count("tailwordheadword"), 0u);

  CommandResult run = cluster_->Sluice({"run", ExamplePackage("wordcount"), "--parallelism", "3",
                                        "--arg", "input=" + input, "--arg", "output=" + output});
  ASSERT_TRUE(run.ok()) << run.Describe();
  EXPECT_NE(run.out.find("FINISHED"), std::string::npos) << run.Describe();

  std::map<std::string, int64_t> actual = ReadCounts(output);
  EXPECT_EQ(actual.size(), expected.size());
  EXPECT_TRUE(actual == expected) << "word counts differ:\n" << DiffCounts(expected, actual);
  EXPECT_EQ(actual.count("tailword"), 1u);
  EXPECT_EQ(actual.count("headword"), 1u);
  EXPECT_TRUE(HiddenFiles(output).empty())
      << "in-progress files left behind: " << absl::StrJoin(HiddenFiles(output), ", ");

  // The job as the JobManager reports it.
  absl::StatusOr<JsonValue> jobs = cluster_->Jobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->list_value().values_size(), 1);
  std::string job_id = StringField(jobs->list_value().values(0), "id");
  EXPECT_NE(run.out.find(job_id), std::string::npos) << run.Describe();

  absl::StatusOr<JsonValue> status = cluster_->JobStatus(job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(StringField(*status, "state"), "FINISHED");
  EXPECT_EQ(StringField(*status, "name"), "wordcount");
  std::vector<std::string> vertex_names;
  for (const JsonValue& v : Field(*status, "vertices").list_value().values()) {
    vertex_names.push_back(StringField(v, "name"));
    EXPECT_EQ(IntField(v, "parallelism"), 3) << StringField(v, "name");
    std::set<int64_t> indexes;
    for (const JsonValue& s : Field(v, "subtasks").list_value().values()) {
      indexes.insert(IntField(s, "index"));
      EXPECT_EQ(StringField(s, "state"), "FINISHED") << StringField(v, "name");
    }
    EXPECT_EQ(indexes, (std::set<int64_t>{0, 1, 2})) << StringField(v, "name");
  }
  EXPECT_EQ(vertex_names,
            (std::vector<std::string>{"Read lines -> Split words", "Count -> Write counts"}));

  absl::StatusOr<JsonValue> tms = cluster_->TaskManagers();
  ASSERT_TRUE(tms.ok()) << tms.status();
  std::set<std::string> all_tms, used_tms;
  for (const JsonValue& tm : tms->list_value().values()) all_tms.insert(StringField(tm, "id"));
  for (const auto& [vertex, s] : Subtasks(*status)) used_tms.insert(StringField(*s, "taskmanager"));
  EXPECT_EQ(all_tms.size(), 2u);
  EXPECT_EQ(used_tms, all_tms) << "the subtasks should be spread over both TaskManagers";
}

// Checks the ledger's output in `output`: every id in [0, transactions) exactly once, with the
// account and amount the generator gives it, and per account balances that are the prefix sums of
// its amounts in processing order.
void VerifyLedger(const std::string& output, int64_t transactions) {
  EXPECT_TRUE(HiddenFiles(output).empty())
      << "in-progress files left behind: " << absl::StrJoin(HiddenFiles(output), ", ");
  struct Entry {
    int64_t amount;
    int64_t balance;
  };
  std::vector<int> seen(transactions, 0);
  std::map<int64_t, std::vector<Entry>> by_account;
  int64_t malformed = 0, out_of_range = 0, wrong_fields = 0, lines = 0;
  std::string first_bad;
  for (const std::string& file : VisibleFiles(output)) {
    for (absl::string_view line : absl::StrSplit(ReadFile(file), '\n', absl::SkipEmpty())) {
      ++lines;
      std::vector<absl::string_view> f = absl::StrSplit(line, ',');
      int64_t id, account, amount, balance;
      if (f.size() != 4 || !absl::SimpleAtoi(f[0], &id) || !absl::SimpleAtoi(f[1], &account) ||
          !absl::SimpleAtoi(f[2], &amount) || !absl::SimpleAtoi(f[3], &balance)) {
        if (malformed++ == 0) first_bad = std::string(line);
        continue;
      }
      if (id < 0 || id >= transactions) {
        if (out_of_range++ == 0) first_bad = std::string(line);
        continue;
      }
      ++seen[id];
      if (account != (id * 7919) % 1000 || amount != id % 1000 + 1) {
        if (wrong_fields++ == 0) first_bad = std::string(line);
      }
      by_account[account].push_back({amount, balance});
    }
  }
  EXPECT_EQ(malformed, 0) << "first: " << first_bad;
  EXPECT_EQ(out_of_range, 0) << "first: " << first_bad;
  EXPECT_EQ(wrong_fields, 0) << "first: " << first_bad;
  EXPECT_EQ(lines, transactions);
  int64_t missing = 0, duplicated = 0, first_missing = -1, first_duplicated = -1;
  for (int64_t id = 0; id < transactions; ++id) {
    if (seen[id] == 0 && missing++ == 0) first_missing = id;
    if (seen[id] > 1 && duplicated++ == 0) first_duplicated = id;
  }
  EXPECT_EQ(missing, 0) << "first missing id: " << first_missing;
  EXPECT_EQ(duplicated, 0) << "first duplicated id: " << first_duplicated;

  // Per account, balances are the prefix sums of the amounts in processing order. Amounts are
  // positive, so sorting by balance recovers that order.
  EXPECT_EQ(by_account.size(), 1000u);
  int64_t inconsistent = 0;
  std::string first_inconsistent;
  for (auto& [account, entries] : by_account) {
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.balance < b.balance; });
    int64_t previous = 0;
    for (const Entry& e : entries) {
      if (e.balance != previous + e.amount) {
        if (inconsistent++ == 0) {
          first_inconsistent = absl::StrCat("account ", account, ": balance ", e.balance,
                                            " after amount ", e.amount, " follows ", previous);
        }
      }
      previous = e.balance;
    }
  }
  EXPECT_EQ(inconsistent, 0) << first_inconsistent;
}

TEST_F(IntegrationJobs, LedgerWritesEveryTransactionOnceWithConsistentBalances) {
  constexpr int64_t kTransactions = 200000;
  std::string output = cluster_->ScratchPath("ledger");
  CommandResult run =
      cluster_->Sluice({"run", ExamplePackage("ledger"), "--parallelism", "2", "--arg",
                        absl::StrCat("transactions=", kTransactions), "--arg", "output=" + output});
  ASSERT_TRUE(run.ok()) << run.Describe();
  VerifyLedger(output, kTransactions);
}

// Regression: a TaskManager reaps finished tasks after each heartbeat, and destroying a finished
// task used to release its result partition, dropping output (and the end-of-partition event) that
// a slow consumer had not read yet, so the consumer waited forever. Here the sources finish while
// the slow sinks still have about a second of queued input, longer than a heartbeat interval.
TEST_F(IntegrationJobs, FinishedProducerOutputSurvivesTaskReaping) {
  constexpr int64_t kTransactions = 20000;
  std::string output = cluster_->ScratchPath("ledger");
  CommandResult run = cluster_->Sluice({"run", ExamplePackage("ledger"), "--parallelism", "2",
                                        "--arg", absl::StrCat("transactions=", kTransactions),
                                        "--arg", "sink_delay_us=200", "--arg", "output=" + output},
                                       absl::Seconds(90));
  ASSERT_TRUE(run.ok()) << run.Describe();
  VerifyLedger(output, kTransactions);
}

// The same guarantees with the smallest network memory the configuration allows and a slow sink,
// so that producers keep running out of credit (backpressure) all the way to the sources.
TEST(IntegrationBackpressure, LedgerIsExactWithTinyNetworkBuffersAndSlowSink) {
  LocalCluster cluster;
  absl::Status started = cluster.Start(
      ClusterOptions{.taskmanagers = 2,
                     .slots = 2,
                     .defines = {"taskmanager.memory.segment-size=1kb",
                                 "taskmanager.network.memory.buffers-per-channel=1",
                                 "taskmanager.network.memory.floating-buffers-per-gate=0"}});
  ASSERT_TRUE(started.ok()) << started;
  constexpr int64_t kTransactions = 30000;
  std::string output = cluster.ScratchPath("ledger");
  CommandResult run = cluster.Sluice({"run", ExamplePackage("ledger"), "--parallelism", "3",
                                      "--arg", absl::StrCat("transactions=", kTransactions),
                                      "--arg", "sink_delay_us=20", "--arg", "output=" + output});
  ASSERT_TRUE(run.ok()) << run.Describe();
  VerifyLedger(output, kTransactions);
}

TEST_F(IntegrationJobs, JsonViewsOfTaskManagersAndJobs) {
  absl::StatusOr<JsonValue> tms = cluster_->TaskManagers();
  ASSERT_TRUE(tms.ok()) << tms.status();
  ASSERT_EQ(tms->list_value().values_size(), 2);
  std::set<std::string> ids;
  for (const JsonValue& tm : tms->list_value().values()) {
    EXPECT_EQ(Keys(tm), (std::vector<std::string>{"address", "free_slots", "id", "memory",
                                                  "network", "slots"}));
    // The memory budget's parts, from the registration on: without
    // taskmanager.memory.process.size only network and managed memory have a bound.
    const JsonValue& memory = Field(tm, "memory");
    ASSERT_TRUE(memory.has_list_value()) << StringField(tm, "id");
    const std::map<std::string, int64_t> budgets = {
        {"network", 64 << 20}, {"managed", 128 << 20}, {"task heap", 0}};
    std::vector<std::string> parts;
    for (const JsonValue& p : memory.list_value().values()) {
      parts.push_back(StringField(p, "part"));
      EXPECT_EQ(Keys(p),
                (std::vector<std::string>{"budget_bytes", "part", "peak_bytes", "used_bytes"}));
      if (auto b = budgets.find(StringField(p, "part")); b != budgets.end()) {
        EXPECT_EQ(IntField(p, "budget_bytes"), b->second) << b->first;
      }
    }
    EXPECT_EQ(parts, (std::vector<std::string>{"process", "framework", "network", "managed",
                                               "task heap"}));
    EXPECT_EQ(Keys(Field(tm, "network")),
              (std::vector<std::string>{"peak_bytes", "total_bytes", "used_bytes"}));
    // The default network memory (64mb), nothing of it used without a job.
    EXPECT_EQ(IntField(Field(tm, "network"), "total_bytes"), 64 << 20);
    EXPECT_EQ(IntField(Field(tm, "network"), "used_bytes"), 0);
    EXPECT_EQ(IntField(tm, "slots"), 2);
    EXPECT_EQ(IntField(tm, "free_slots"), 2);
    EXPECT_EQ(StringField(tm, "address").rfind("127.0.0.1:", 0), 0u) << StringField(tm, "address");
    ids.insert(StringField(tm, "id"));
  }
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids.count(""), 0u);

  absl::StatusOr<JsonValue> no_jobs = cluster_->Jobs();
  ASSERT_TRUE(no_jobs.ok()) << no_jobs.status();
  EXPECT_EQ(no_jobs->list_value().values_size(), 0);

  // Attached `run --json`: one object with the final state.
  std::string input = cluster_->NewDir("in");
  WriteFile(input + "/a.txt", "one two two\n");
  CommandResult run =
      cluster_->Sluice({"run", ExamplePackage("wordcount"), "--json", "--parallelism", "2", "--arg",
                        "input=" + input, "--arg", "output=" + cluster_->ScratchPath("out")});
  ASSERT_TRUE(run.ok()) << run.Describe();
  absl::StatusOr<JsonValue> result = ParseJson(run.out);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(StringField(*result, "state"), "FINISHED");
  EXPECT_EQ(StringField(*result, "name"), "wordcount");
  std::string wordcount_id = StringField(*result, "id");
  EXPECT_FALSE(wordcount_id.empty());

  // Detached `run --json`: {"id": ...} only.
  CommandResult detached =
      cluster_->Sluice({"run", ExamplePackage("ledger"), "--detached", "--json", "--parallelism",
                        "2", "--arg", "transactions=1000"});
  ASSERT_TRUE(detached.ok()) << detached.Describe();
  absl::StatusOr<JsonValue> submitted = ParseJson(detached.out);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(Keys(*submitted), std::vector<std::string>{"id"});
  std::string ledger_id = StringField(*submitted, "id");
  ASSERT_FALSE(ledger_id.empty());
  absl::StatusOr<JsonValue> finished = cluster_->WaitForState(ledger_id, "FINISHED");
  ASSERT_TRUE(finished.ok()) << finished.status();

  absl::StatusOr<JsonValue> jobs = cluster_->Jobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->list_value().values_size(), 2);
  std::map<std::string, std::pair<std::string, std::string>> listed;  // id -> (name, state)
  for (const JsonValue& job : jobs->list_value().values()) {
    EXPECT_EQ(Keys(job), (std::vector<std::string>{"id", "name", "state"}));
    listed[StringField(job, "id")] = {StringField(job, "name"), StringField(job, "state")};
  }
  EXPECT_EQ(listed[wordcount_id],
            std::make_pair(std::string("wordcount"), std::string("FINISHED")));
  EXPECT_EQ(listed[ledger_id], std::make_pair(std::string("ledger"), std::string("FINISHED")));

  // Slots are free again after both jobs.
  EXPECT_TRUE(WaitUntil([&] {
    absl::StatusOr<JsonValue> now = cluster_->TaskManagers();
    if (!now.ok()) return false;
    for (const JsonValue& tm : now->list_value().values()) {
      if (IntField(tm, "free_slots") != IntField(tm, "slots")) return false;
    }
    return now->list_value().values_size() == 2;
  })) << cluster_->Sluice({"taskmanagers"}).out;
}

}  // namespace
}  // namespace sluice::testing
