// The one edit distance behind every did-you-mean suggestion (config keys, CLI commands and
// flags), so that a typo gets the same treatment wherever it is made.
#pragma once

#include <cstddef>
#include <string_view>

namespace sluice {

//! Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
//! two adjacent characters each count as one edit ("lsit" -> "list" is 1). Case-sensitive;
//! callers lower-case both sides when case should not count.
size_t EditDistance(std::string_view a, std::string_view b);

}  // namespace sluice
