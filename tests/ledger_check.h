// Checks of the ledger example's committed output (examples/ledger.cc): every transaction id
// exactly once, and per account balances that rise by exactly each transaction's amount.
#ifndef SLUICE_TESTS_LEDGER_CHECK_H_
#define SLUICE_TESTS_LEDGER_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::testing {

struct LedgerLine {
  int64_t id, account, amount, balance;
};

//! Every committed line of the ledger's output folder; fails the test on a malformed line.
std::vector<LedgerLine> ReadLedger(const std::string& dir);

//! Each id in [0, n) exactly once; per account, ordered by balance, every balance is the previous
//! one plus that transaction's amount (starting from 0).
void ExpectExactlyOnce(const std::vector<LedgerLine>& lines, int64_t n, int64_t accounts);

//! What committed output holds of ids [0, n): each id seen once (`verified`), more than once
//! (`duplicated`, counted once per extra line) or never (`lost`); lines outside [0, n) are
//! `foreign`.
struct LedgerCounts {
  int64_t lines = 0;
  int64_t verified = 0;
  int64_t duplicated = 0;
  int64_t lost = 0;
  int64_t foreign = 0;
};
LedgerCounts CountLedger(const std::vector<LedgerLine>& lines, int64_t n);

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_LEDGER_CHECK_H_
