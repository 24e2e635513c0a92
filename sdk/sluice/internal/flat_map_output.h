// FlatMap(fn) without <OUT>: OUT is read off fn's second parameter, sluice::Collector<OUT>&.
// That needs one signature to read: a function, or a class with one non-template operator() (a
// non-generic lambda). A generic lambda ([](const auto& in, auto& out) {...}) has none, and
// FlatMap says so.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <type_traits>

#include "sluice/runtime.h"

namespace sluice::internal {

//! OUT of a signature R(IN, Collector<OUT>&); kKnown is false for any other signature.
template <typename Signature>
struct CollectorOutputOf {
  static constexpr bool kKnown = false;
  using type = void;
};
template <typename R, typename IN, typename OUT>
struct CollectorOutputOf<R(IN, Collector<OUT>&)> {
  static constexpr bool kKnown = true;
  using type = OUT;
};

//! The call signature of F as R(Args...), or void when F has no single one.
template <typename F, typename = void>
struct CallSignatureOf {
  using type = void;
};
template <typename R, typename... A>
struct CallSignatureOf<R (*)(A...)> {
  using type = R(A...);
};
template <typename R, typename... A>
struct CallSignatureOf<R (*)(A...) noexcept> {
  using type = R(A...);
};

template <typename MemberFn>
struct MemberSignatureOf {
  using type = void;
};
template <typename R, typename C, typename... A>
struct MemberSignatureOf<R (C::*)(A...)> {
  using type = R(A...);
};
template <typename R, typename C, typename... A>
struct MemberSignatureOf<R (C::*)(A...) const> {
  using type = R(A...);
};
template <typename R, typename C, typename... A>
struct MemberSignatureOf<R (C::*)(A...) noexcept> {
  using type = R(A...);
};
template <typename R, typename C, typename... A>
struct MemberSignatureOf<R (C::*)(A...) const noexcept> {
  using type = R(A...);
};
// &F::operator() names one function only when F has exactly one, not a template.
template <typename F>
struct CallSignatureOf<F, std::void_t<decltype(&F::operator())>> {
  using type = typename MemberSignatureOf<decltype(&F::operator())>::type;
};

template <typename F>
using FlatMapOutputOf = CollectorOutputOf<typename CallSignatureOf<F>::type>;

//! What FlatMap<OUT> defaults to: "read OUT off fn".
struct DeduceFlatMapOutput;

}  // namespace sluice::internal
