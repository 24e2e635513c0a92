#include "jobmanager/rest/program_args.h"

#include "absl/strings/str_cat.h"

namespace sluice::jobmanager::rest {

absl::StatusOr<std::vector<std::string>> SplitProgramArgs(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  bool in_token = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < text.size()) {
        current.push_back(text[++i]);
      } else {
        current.push_back(c);
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_token = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      current.push_back(text[++i]);
      in_token = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_token) out.push_back(std::move(current));
      current.clear();
      in_token = false;
    } else {
      current.push_back(c);
      in_token = true;
    }
  }
  if (quote) return absl::InvalidArgumentError("programArgs has an unclosed quote");
  if (in_token) out.push_back(std::move(current));
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ParseProgramArgs(
    const std::vector<std::string>& args) {
  std::map<std::string, std::string> out;
  auto add = [&](const std::string& key, const std::string& value,
                 const std::string& arg) -> absl::Status {
    if (key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("program argument '", arg, "' has an empty key"));
    }
    out[key] = value;
    return absl::OkStatus();
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--arg") {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError("program argument '--arg' needs a key=value after it");
      }
      const std::string& kv = args[++i];
      const size_t eq = kv.find('=');
      if (eq == std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("program argument '--arg ", kv, "' is not --arg key=value"));
      }
      if (absl::Status s = add(kv.substr(0, eq), kv.substr(eq + 1), kv); !s.ok()) return s;
      continue;
    }
    std::string body = a;
    const bool dashed = body.rfind("--", 0) == 0;
    if (dashed) body = body.substr(2);
    const size_t eq = body.find('=');
    if (eq != std::string::npos) {
      if (absl::Status s = add(body.substr(0, eq), body.substr(eq + 1), a); !s.ok()) return s;
    } else if (dashed && i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      if (absl::Status s = add(body, args[++i], a); !s.ok()) return s;
    } else if (dashed) {
      if (absl::Status s = add(body, "true", a); !s.ok()) return s;  // a flag
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("program argument '", a,
                       "' is not key=value, --key=value, --key value or --arg key=value"));
    }
  }
  return out;
}

}  // namespace sluice::jobmanager::rest
