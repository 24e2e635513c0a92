// How a job hands the SDK a user function object (a ProcessFunction, a window or aggregate
// function, a sink, a source): every subtask needs an instance of its own, made on the
// TaskManager. Three forms are accepted:
//   a factory:          .Process([] { return std::make_unique<F>(); })  called once per subtask
//   a std::unique_ptr:  .Process(std::make_unique<F>(args))             a prototype, copied
//   an object:          .Process(F{args})                               a prototype, copied
// Flink users write process(new F()); the second form is its nearest owning equivalent. A
// prototype must be copy-constructible: each subtask gets its own copy, made by F's copy
// constructor from the prototype (which is never used itself, so its state stays as built).
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "sluice/environment.h"

namespace sluice::internal {

enum class FunctionSourceKind {
  kFactory,     // callable with no arguments, returning std::unique_ptr<F>
  kUniquePtr,   // std::unique_ptr<F>
  kPrototype,   // an F
  kRawPointer,  // new F(): refused, nobody would delete it
  kBadFactory,  // callable with no arguments, returning something else
  kOther,       // not a function object at all (a number, a string, ...)
};

template <typename T>
struct IsUniquePtr : std::false_type {};
template <typename T, typename D>
struct IsUniquePtr<std::unique_ptr<T, D>> : std::true_type {};

template <typename Source>
constexpr FunctionSourceKind KindOfFunctionSource() {
  using Kind = FunctionSourceKind;
  if constexpr (IsUniquePtr<Source>::value) {
    return Kind::kUniquePtr;
  } else if constexpr (std::is_pointer_v<Source> &&
                       std::is_class_v<std::remove_pointer_t<Source>>) {
    return Kind::kRawPointer;
  } else if constexpr (std::is_invocable_v<const Source&>) {
    // const: the SDK keeps the factory in a lambda and calls it from there.
    return IsUniquePtr<std::invoke_result_t<const Source&>>::value ? Kind::kFactory
                                                                   : Kind::kBadFactory;
  } else if constexpr (std::is_class_v<Source>) {
    return Kind::kPrototype;
  } else {
    return Kind::kOther;
  }
}

template <typename Source, FunctionSourceKind kKind = KindOfFunctionSource<Source>()>
struct FunctionOfSource {
  using type = void;
};
template <typename Source>
struct FunctionOfSource<Source, FunctionSourceKind::kFactory> {
  using type = typename std::invoke_result_t<const Source&>::element_type;
};
template <typename Source>
struct FunctionOfSource<Source, FunctionSourceKind::kUniquePtr> {
  using type = typename Source::element_type;
};
template <typename Source>
struct FunctionOfSource<Source, FunctionSourceKind::kPrototype> {
  using type = Source;
};

//! What a Source passed for a function is, and the function class F it gives.
template <typename Source>
struct FunctionSource {
  static constexpr FunctionSourceKind kKind = KindOfFunctionSource<Source>();
  //! F; void when Source is none of the three forms.
  using Function = typename FunctionOfSource<Source>::type;
  static constexpr bool kIsPrototype =
      kKind == FunctionSourceKind::kUniquePtr || kKind == FunctionSourceKind::kPrototype;
  //! False only for a prototype that cannot be copied (a factory makes its instances itself).
  static constexpr bool kCopyable = !kIsPrototype || std::is_copy_constructible_v<Function>;
};

//! Whether Source may be a function argument: window functions use it to tell
//! Reduce(fn, window_fn) from Reduce(fn, name). Raw pointers count, to be refused with a message.
template <typename Source>
inline constexpr bool kFunctionSourceLike =
    KindOfFunctionSource<Source>() != FunctionSourceKind::kOther &&
    (KindOfFunctionSource<Source>() != FunctionSourceKind::kPrototype ||
     std::is_polymorphic_v<Source>);

//! The checks every call site shares. Returns whether Source is usable, so the caller can skip
//! the rest (and the follow-on errors) when it is not; the message is the static_assert's.
template <typename Source>
constexpr bool CheckFunctionSource() {
  using Kind = FunctionSourceKind;
  constexpr Kind kKind = KindOfFunctionSource<Source>();
  static_assert(kKind != Kind::kRawPointer,
                "pass std::make_unique<F>(...) instead of new F(...): a raw pointer does not say "
                "who deletes it");
  static_assert(kKind != Kind::kBadFactory,
                "a function factory must return std::unique_ptr<F>: "
                "[] { return std::make_unique<F>(); }");
  static_assert(kKind != Kind::kOther,
                "expected a function object: a factory ([] { return std::make_unique<F>(); }), "
                "a std::unique_ptr<F>, or an F to copy");
  return kKind == Kind::kFactory ||
         ((kKind == Kind::kUniquePtr || kKind == Kind::kPrototype) &&
          std::is_copy_constructible_v<typename FunctionSource<Source>::Function>);
}

//! The checks of a function given to a Process method (CheckFunctionSource, and that a prototype
//! can be copied for each subtask); false when one failed (its static_assert says why).
template <typename Source>
constexpr bool CheckProcessFunctionSource() {
  static_assert(FunctionSource<Source>::kCopyable,
                "Process: the function is not copy-constructible, so subtasks cannot each get a "
                "copy of it: pass a factory instead: .Process([] { return "
                "std::make_unique<F>(); })");
  return FunctionSource<Source>::kCopyable && CheckFunctionSource<Source>();
}

//! A copyable callable that makes one instance per call: std::unique_ptr<F>. `what` names the
//! call in the JobDefinitionError for an empty std::unique_ptr. Call only when
//! CheckFunctionSource<Source>() holds.
template <typename Source>
auto MakeFunctionFactory(Source source, const char* what) {
  using Kind = FunctionSourceKind;
  using Fn = typename FunctionSource<Source>::Function;
  constexpr Kind kKind = KindOfFunctionSource<Source>();
  if constexpr (kKind == Kind::kFactory) {
    (void)what;
    return source;
  } else {
    std::shared_ptr<const Fn> prototype;
    if constexpr (kKind == Kind::kUniquePtr) {
      if (!source) throw JobDefinitionError(std::string(what) + ": the std::unique_ptr is empty");
#if defined(__GXX_RTTI) || defined(__cpp_rtti)
      // Copies are made as Fn, the pointer's type: a subclass object in it would be sliced.
      if (typeid(*source) != typeid(Fn)) {
        throw JobDefinitionError(std::string(what) +
                                 ": the std::unique_ptr<F> holds an object of a subclass of F, "
                                 "which would be copied as an F: pass std::make_unique of the "
                                 "subclass, or a factory");
      }
#endif
      prototype = std::shared_ptr<const Fn>(std::move(source));
    } else {
      (void)what;
      prototype = std::make_shared<Fn>(std::move(source));
    }
    // Shared, not copied: std::function copies this lambda around while the job is built, and
    // subtasks only read the prototype (concurrently, through F's copy constructor).
    return [prototype]() { return std::make_unique<Fn>(*prototype); };
  }
}

}  // namespace sluice::internal
