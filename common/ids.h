// Random identifiers (job ids, attempt ids, TaskManager resource ids).
#pragma once

#include <string>

namespace sluice {

//! 32 lowercase hex characters (128 random bits), like a Flink JobID.
std::string NewId();
//! `prefix` + 12 hex characters.
std::string NewShortId(const std::string& prefix);

}  // namespace sluice
