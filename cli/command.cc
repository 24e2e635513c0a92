#include "cli/command.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "cli/cli_spec.h"

namespace sluice::cli {

int Fail(std::string_view message) {
  std::cerr << "sluice: " << message << std::endl;
  return kExitFailure;
}

int Fail(const absl::Status& status) { return Fail(std::string(status.message())); }

int UsageError(std::string_view command, std::string_view message) {
  std::cerr << "sluice: " << message << "\n" << UsageLine(command) << std::endl;
  return kExitUsage;
}

std::optional<int> ParsePositiveInt(std::string_view text) {
  int value = 0;
  if (text.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(text[0])) ||
      !absl::SimpleAtoi(std::string(text), &value) || value <= 0) {
    return std::nullopt;
  }
  return value;
}

bool IsTerminalJobState(std::string_view state) {
  return state == "FINISHED" || state == "FAILED" || state == "CANCELED" || state == "SUSPENDED";
}

void PrintJson(const Json& json) {
  std::cout << json.dump(/*indent=*/-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace)
            << std::endl;
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
  std::cout.flush();
}

}  // namespace sluice::cli
