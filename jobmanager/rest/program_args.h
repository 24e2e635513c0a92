// A package's arguments from Flink's run request. `programArgs` is one string split like a shell
// would (spaces separate, single or double quotes group, a backslash escapes); `programArgsList`
// is the list already split. Each argument then gives one key=value of the package's arguments,
// in any of the forms a Flink user writes: "key=value", "--key=value", "--key value", and Sluice's
// own "--arg key=value".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::jobmanager::rest {

absl::StatusOr<std::vector<std::string>> SplitProgramArgs(const std::string& text);

//! InvalidArgument naming the argument that fits none of the forms (or an empty key).
absl::StatusOr<std::map<std::string, std::string>> ParseProgramArgs(
    const std::vector<std::string>& args);

}  // namespace sluice::jobmanager::rest
