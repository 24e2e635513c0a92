#include "cli/args.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/util/edit_distance.h"

namespace sluice::cli {
namespace {

struct OptionUse {
  std::string name;
  std::string value;
};

const OptionSpec* FindOption(const CliSpec& spec, std::string_view name) {
  for (const OptionSpec& o : spec.options) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

std::string_view FirstWord(std::string_view name) { return name.substr(0, name.find(' ')); }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string StripDashes(std::string_view s) {
  while (s.starts_with('-')) s.remove_prefix(1);
  return ToLower(s);
}

std::string WithSuggestion(std::string message, std::string_view typed,
                           const std::vector<std::string>& candidates) {
  std::string suggestion = Suggest(typed, candidates);
  if (!suggestion.empty()) absl::StrAppend(&message, " (did you mean '", suggestion, "'?)");
  return message;
}

// Splits the arguments into option uses and words (command words and positionals). Unknown
// options are kept as uses without a value: they are reported once the command is known, so
// that the suggestion can come from that command's options.
absl::Status Tokenize(const CliSpec& spec, const std::vector<std::string>& args,
                      std::vector<OptionUse>* uses, std::vector<std::string>* words,
                      ParsedArgs* out) {
  bool only_words = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_words || arg.size() < 2 || arg[0] != '-') {
      words->push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_words = true;
    } else if (arg == "--help" || arg == "-h") {
      out->help = true;
    } else if (arg == "--version") {
      out->version = true;
    } else if (absl::StartsWith(arg, "-D")) {
      std::string define = arg.substr(2);
      if (define.empty()) {
        if (i + 1 >= args.size()) return absl::InvalidArgumentError("option -D requires key=value");
        define = args[++i];
      }
      size_t eq = define.find('=');
      if (eq == std::string::npos || eq == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("option -D expects key=value, got '", define, "'"));
      }
      out->defines.push_back(std::move(define));
    } else {
      std::pair<std::string, std::string> parts = absl::StrSplit(arg, absl::MaxSplits('=', 1));
      bool has_inline_value = arg.find('=') != std::string::npos;
      const OptionSpec* option = FindOption(spec, parts.first);
      if (option == nullptr) {
        uses->push_back({parts.first, ""});
      } else if (option->value_name.empty()) {
        if (has_inline_value) {
          return absl::InvalidArgumentError(
              absl::StrCat("option '", option->name, "' does not take a value"));
        }
        uses->push_back({option->name, ""});
      } else if (has_inline_value) {
        uses->push_back({option->name, parts.second});
      } else {
        // A following long option means the value was forgotten; "-1" is still a value.
        if (i + 1 >= args.size() || absl::StartsWith(args[i + 1], "--")) {
          return absl::InvalidArgumentError(absl::StrCat(
              "option '", option->name, "' requires a value (", option->value_name, ")"));
        }
        uses->push_back({option->name, args[++i]});
      }
    }
  }
  return absl::OkStatus();
}

// Finds the command named by the leading words and sets out->command; the rest become
// positionals.
absl::Status ResolveCommand(const CliSpec& spec, const std::vector<std::string>& words,
                            ParsedArgs* out) {
  if (words.empty()) {
    if (out->help || out->version) return absl::OkStatus();
    return absl::InvalidArgumentError("missing command");
  }
  std::vector<std::string> first_words;
  for (const CommandSpec& c : spec.commands) {
    std::string word(FirstWord(c.name));
    if (std::find(first_words.begin(), first_words.end(), word) == first_words.end()) {
      first_words.push_back(word);
    }
  }
  const std::string& first = words[0];
  if (std::find(first_words.begin(), first_words.end(), first) == first_words.end()) {
    return absl::InvalidArgumentError(
        WithSuggestion(absl::StrCat("unknown command '", first, "'"), first, first_words));
  }
  size_t used = 1;
  if (FindCommand(spec, first) != nullptr) {
    out->command = first;
  } else {
    // A group such as "cluster": the second word names the command.
    std::vector<std::string> sub_words;
    for (const CommandSpec& c : spec.commands) {
      if (FirstWord(c.name) == first) sub_words.push_back(c.name.substr(first.size() + 1));
    }
    if (words.size() < 2) {
      out->command = first;  // Lets `sluice cluster --help` show the group.
      if (out->help) return absl::OkStatus();
      return absl::InvalidArgumentError(
          absl::StrCat("missing '", first, "' command (", absl::StrJoin(sub_words, ", "), ")"));
    }
    if (std::find(sub_words.begin(), sub_words.end(), words[1]) == sub_words.end()) {
      out->command = first;
      return absl::InvalidArgumentError(WithSuggestion(
          absl::StrCat("unknown ", first, " command '", words[1], "'"), words[1], sub_words));
    }
    out->command = absl::StrCat(first, " ", words[1]);
    used = 2;
  }
  out->positionals.assign(words.begin() + used, words.end());
  return absl::OkStatus();
}

absl::Status CheckOptions(const CliSpec& spec, const CommandSpec* command,
                          const std::vector<OptionUse>& uses, ParsedArgs* out) {
  std::vector<std::string> allowed = spec.global_options;
  if (command != nullptr) {
    allowed.insert(allowed.end(), command->options.begin(), command->options.end());
  } else {
    for (const OptionSpec& o : spec.options) allowed.push_back(o.name);
  }
  for (const OptionUse& use : uses) {
    const OptionSpec* option = FindOption(spec, use.name);
    bool is_allowed = std::find(allowed.begin(), allowed.end(), use.name) != allowed.end();
    if (option == nullptr) {
      return absl::InvalidArgumentError(
          WithSuggestion(absl::StrCat("unknown option '", use.name, "'"), use.name, allowed));
    }
    // Without a command (only with --help) any known option is tolerated.
    if (!is_allowed && command != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("option '", use.name, "' is not valid for '", command->name, "'"));
    }
    std::vector<std::string>& values = out->options[use.name];
    if (!values.empty() && !option->repeatable) {
      return absl::InvalidArgumentError(
          absl::StrCat("option '", use.name, "' given more than once"));
    }
    values.push_back(use.value);
  }
  return absl::OkStatus();
}

absl::Status CheckArity(const CliSpec& spec, const CommandSpec& command, ParsedArgs* out) {
  size_t required = command.positionals.size();
  if (out->positionals.size() < required) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing argument ", command.positionals[out->positionals.size()]));
  }
  if (out->positionals.size() > required + command.optional_positionals) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unexpected argument '", out->positionals[required + command.optional_positionals], "'"));
  }
  for (const std::string& name : command.required_options) {
    if (!out->Has(name)) {
      const OptionSpec* option = FindOption(spec, name);
      return absl::InvalidArgumentError(absl::StrCat("missing required option ", name, " ",
                                                     option != nullptr ? option->value_name : ""));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool ParsedArgs::Has(std::string_view option) const {
  return options.find(option) != options.end();
}

std::optional<std::string> ParsedArgs::Get(std::string_view option) const {
  auto it = options.find(option);
  if (it == options.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::GetAll(std::string_view option) const {
  auto it = options.find(option);
  return it == options.end() ? std::vector<std::string>{} : it->second;
}

const CommandSpec* FindCommand(const CliSpec& spec, std::string_view name) {
  for (const CommandSpec& c : spec.commands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

absl::Status ParseArgs(const CliSpec& spec, const std::vector<std::string>& args, ParsedArgs* out) {
  *out = ParsedArgs();
  std::vector<OptionUse> uses;
  std::vector<std::string> words;
  absl::Status tokenized = Tokenize(spec, args, &uses, &words, out);
  absl::Status resolved = ResolveCommand(spec, words, out);
  if (!tokenized.ok()) return tokenized;
  if (!resolved.ok()) return resolved;
  const CommandSpec* command = FindCommand(spec, out->command);
  if (absl::Status s = CheckOptions(spec, command, uses, out); !s.ok()) return s;
  if (command == nullptr || out->help) return absl::OkStatus();
  return CheckArity(spec, *command, out);
}

std::string Suggest(std::string_view typed, const std::vector<std::string>& candidates) {
  std::string word = StripDashes(typed);
  if (word.empty()) return "";
  std::string best;
  size_t best_distance = 0;
  for (const std::string& candidate : candidates) {
    std::string c = StripDashes(candidate);
    size_t distance = EditDistance(word, c);
    // Short words tolerate one edit, longer ones two ("ls" -> "list", "paralelsim" -> ...).
    size_t limit = c.size() <= 3 ? 1 : 2;
    if (distance <= limit && (best.empty() || distance < best_distance)) {
      best = candidate;
      best_distance = distance;
    }
  }
  if (!best.empty()) return best;
  std::vector<std::string> prefixed;
  for (const std::string& candidate : candidates) {
    if (word.size() >= 2 && absl::StartsWith(StripDashes(candidate), word)) {
      prefixed.push_back(candidate);
    }
  }
  return prefixed.size() == 1 ? prefixed[0] : "";
}

}  // namespace sluice::cli
