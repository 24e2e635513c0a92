#!/usr/bin/env bash
# SdkCompileErrors: each *.cc here is one mistake a job author can make (or, for the positive
# cases, one thing that must keep compiling). Each is compiled with -fsyntax-only, one after the
# other, with the project's compiler and flags, and checked against the comments it carries:
#   // EXPECT_ERROR: <extended regex>   compilation fails, and the FIRST line of the output that
#                                       contains "error:" matches the regex
#   // EXPECT_COMPILES                  compilation succeeds
#   // FLAGS: <flags>                   more compiler flags, after the project's (e.g. -std=c++17)
# The first error line is what a user reads first, so that is where the SDK's plain message must
# be, not somewhere under pages of template instantiation errors.
#
# Usage: check_compile_errors.sh <compiler> <cases dir> -- <compiler flags...>
# SLUICE_COMPILE_ERROR_CASES="name1 name2" runs only those cases.
set -u
if [ $# -lt 3 ] || [ "$3" != "--" ]; then
  echo "usage: $0 <compiler> <cases dir> -- <compiler flags...>" >&2
  exit 2
fi
cxx=$1
dir=$2
shift 3
flags=("$@")
# Plain ASCII quotes and no colour codes, whatever the environment says.
export LC_ALL=C
flags+=(-fdiagnostics-color=never -fsyntax-only)

cases=0
failed=()
for file in "$dir"/*.cc; do
  name=$(basename "$file" .cc)
  if [ -n "${SLUICE_COMPILE_ERROR_CASES:-}" ] && [[ " $SLUICE_COMPILE_ERROR_CASES " != *" $name "* ]]; then
    continue
  fi
  cases=$((cases + 1))
  expect=$(sed -n 's#^// EXPECT_ERROR: ##p' "$file" | head -n 1)
  compiles=$(grep -c '^// EXPECT_COMPILES' "$file")
  read -r -a extra <<<"$(sed -n 's#^// FLAGS: ##p' "$file" | head -n 1)"
  if [ -z "$expect" ] && [ "$compiles" -eq 0 ]; then
    echo "FAIL $name: the case says neither EXPECT_ERROR nor EXPECT_COMPILES"
    failed+=("$name")
    continue
  fi

  start=$SECONDS
  output=$("$cxx" "${flags[@]}" "${extra[@]}" "$file" 2>&1)
  rc=$?
  took=$((SECONDS - start))
  first=$(printf '%s\n' "$output" | grep -m 1 'error:')

  if [ "$compiles" -gt 0 ]; then
    if [ $rc -eq 0 ]; then
      echo "ok   $name (compiles, ${took}s)"
      continue
    fi
    echo "FAIL $name: expected to compile, but:"
  elif [ $rc -eq 0 ]; then
    echo "FAIL $name: expected a compile error matching /$expect/, but it compiled"
    failed+=("$name")
    continue
  elif printf '%s\n' "$first" | grep -Eq -- "$expect"; then
    echo "ok   $name (${took}s): ${first#*error: }"
    continue
  else
    echo "FAIL $name: the first error line does not match /$expect/:"
    echo "     $first"
    echo "  full output (first 40 lines):"
  fi
  failed+=("$name")
  printf '%s\n' "$output" | head -n 40 | sed 's/^/    /'
done

if [ $cases -eq 0 ]; then
  echo "no cases ran" >&2
  exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "${#failed[@]} of $cases cases failed: ${failed[*]}"
  exit 1
fi
echo "all $cases cases passed"
