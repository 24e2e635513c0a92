// Every public SDK header includes this first, so a job package compiled with an older standard
// gets one plain line instead of hundreds of errors from concepts and requires-clauses below.
#pragma once

#if __cplusplus < 202002L
#error "Sluice job packages need C++20: compile with -std=c++20"
// Stop here: without this the compiler goes on into the headers and buries the line above under
// errors about C++20 syntax. A missing include is fatal in GCC and Clang alike.
#include "sluice/internal/stop: Sluice needs C++20"  // IWYU pragma: keep
#endif
