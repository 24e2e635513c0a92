#include "tests/ledger_check.h"

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"

namespace sluice::testing {

std::vector<LedgerLine> ReadLedger(const std::string& dir) {
  std::vector<LedgerLine> out;
  for (const std::string& file : VisibleFiles(dir)) {
    for (absl::string_view line : absl::StrSplit(ReadFile(file), '\n')) {
      if (line.empty()) continue;
      std::vector<absl::string_view> f = absl::StrSplit(line, ',');
      LedgerLine l{};
      bool ok = f.size() == 4 && absl::SimpleAtoi(f[0], &l.id) &&
                absl::SimpleAtoi(f[1], &l.account) && absl::SimpleAtoi(f[2], &l.amount) &&
                absl::SimpleAtoi(f[3], &l.balance);
      EXPECT_TRUE(ok) << "malformed line '" << line << "' in " << file;
      if (ok) out.push_back(l);
    }
  }
  return out;
}

void ExpectExactlyOnce(const std::vector<LedgerLine>& lines, int64_t n, int64_t accounts) {
  const LedgerCounts counts = CountLedger(lines, n);
  EXPECT_EQ(counts.foreign, 0);
  EXPECT_EQ(counts.duplicated, 0) << "ids committed more than once";
  EXPECT_EQ(counts.lost, 0) << "ids never committed";
  std::map<int64_t, std::vector<LedgerLine>> by_account;
  for (const LedgerLine& l : lines) {
    if (l.id < 0 || l.id >= n) continue;
    EXPECT_EQ(l.account, (l.id * 7919) % accounts) << "id " << l.id;
    EXPECT_EQ(l.amount, l.id % 1000 + 1) << "id " << l.id;
    by_account[l.account].push_back(l);
  }
  int64_t broken = 0;
  for (auto& [account, txns] : by_account) {
    std::sort(txns.begin(), txns.end(),
              [](const LedgerLine& a, const LedgerLine& b) { return a.balance < b.balance; });
    int64_t balance = 0;
    for (const LedgerLine& t : txns) {
      if (t.balance != balance + t.amount) ++broken;
      balance = t.balance;
    }
  }
  EXPECT_EQ(broken, 0) << "balances that do not rise by the transaction's amount";
}

LedgerCounts CountLedger(const std::vector<LedgerLine>& lines, int64_t n) {
  LedgerCounts c;
  std::vector<int> seen(static_cast<size_t>(n), 0);
  for (const LedgerLine& l : lines) {
    ++c.lines;
    if (l.id < 0 || l.id >= n) {
      ++c.foreign;
    } else if (++seen[static_cast<size_t>(l.id)] > 1) {
      ++c.duplicated;
    }
  }
  for (int s : seen) (s == 0 ? c.lost : c.verified) += 1;
  return c;
}

}  // namespace sluice::testing
