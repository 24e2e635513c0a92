// What the host needs to explain a failure in user code: the operator it happened in, the record
// it was processing (printed when the record's type can be printed), and the exception's type
// and message. InputOperator wraps each record's Process in a try block (free when nothing is
// thrown) and turns whatever escapes into a UserCodeError; the TaskManager adds the job, vertex,
// subtask and the stack of the throw (docs/operations.md, "Failures in user code").
#pragma once

#include <cxxabi.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "sluice/serialization.h"

namespace sluice {

class StreamOperator;

//! Base of the host's own exceptions that pass through user code on their way to the task (a
//! cancelled task, a released output): never reported as a failure of the user's code.
class HostInterruption {
 public:
  virtual ~HostInterruption() = default;
};

//! An exception that escaped user code while an operator processed a record. Thrown by the SDK
//! around the user's exception (which is lost: its type and message are kept as text).
class UserCodeError : public std::runtime_error {
 public:
  UserCodeError(const StreamOperator* op, std::string exception_type, std::string message,
                std::string record)
      : std::runtime_error(exception_type + ": " + message),
        op_(op),
        exception_type_(std::move(exception_type)),
        message_(std::move(message)),
        record_(std::move(record)) {}

  //! The operator whose Process threw (compare with the chain's operators).
  const StreamOperator* op() const { return op_; }
  //! Demangled, e.g. "std::invalid_argument".
  const std::string& exception_type() const { return exception_type_; }
  const std::string& message() const { return message_; }
  //! The record being processed, printed; empty when its type cannot be printed.
  const std::string& record() const { return record_; }

 private:
  const StreamOperator* op_;
  std::string exception_type_;
  std::string message_;
  std::string record_;
};

namespace internal {

//! Whether AppendString can print a T (so that an unprintable record never breaks a build).
template <typename T>
struct Printable;
template <typename T>
inline constexpr bool kPrintable = Printable<std::remove_cvref_t<T>>::value;

template <typename T>
struct PrintableFields : std::false_type {};
template <typename... Fs>
struct PrintableFields<std::tuple<Fs...>> : std::bool_constant<(kPrintable<Fs> && ...)> {};

template <typename T>
struct Printable : std::bool_constant<std::is_arithmetic_v<T> || std::is_enum_v<T> ||
                                      std::is_same_v<T, std::string>> {};
template <typename T>
requires HasFields<T>::value struct Printable<T>
    : PrintableFields<std::remove_cvref_t<decltype(std::declval<T&>().SluiceTie())>> {
};
template <typename A, typename B>
struct Printable<std::pair<A, B>> : std::bool_constant<kPrintable<A> && kPrintable<B>> {};
template <typename... Ts>
struct Printable<std::tuple<Ts...>> : std::bool_constant<(kPrintable<Ts> && ...)> {};
template <typename... Ts>
struct Printable<std::variant<Ts...>> : std::bool_constant<(kPrintable<Ts> && ...)> {};
template <typename E>
struct Printable<std::vector<E>> : Printable<E> {};
template <typename E, size_t N>
struct Printable<std::array<E, N>> : Printable<E> {};
template <typename E>
struct Printable<std::optional<E>> : Printable<E> {};
template <typename E, typename C, typename A>
struct Printable<std::set<E, C, A>> : Printable<E> {};
template <typename E, typename H, typename Q, typename A>
struct Printable<std::unordered_set<E, H, Q, A>> : Printable<E> {};
template <typename K, typename V, typename C, typename A>
struct Printable<std::map<K, V, C, A>> : std::bool_constant<kPrintable<K> && kPrintable<V>> {};
template <typename K, typename V, typename H, typename Q, typename A>
struct Printable<std::unordered_map<K, V, H, Q, A>>
    : std::bool_constant<kPrintable<K> && kPrintable<V>> {};
template <typename R, typename P>
struct Printable<std::chrono::duration<R, P>> : std::true_type {};
template <typename C, typename D>
struct Printable<std::chrono::time_point<C, D>> : std::true_type {};
template <>
struct Printable<std::monostate> : std::true_type {};

inline std::string Demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(mangled);
}

//! Called in a catch (...) around `op`'s Process(record): rethrows a UserCodeError naming `op`,
//! the record and the exception (a UserCodeError from a chained operator further down passes
//! through unchanged: that operator is the one that failed).
template <typename IN>
[[noreturn]] void RethrowAsUserCodeError(const StreamOperator* op, const IN& record) {
  std::exception_ptr current = std::current_exception();
  std::string type = "unknown exception";
  if (const std::type_info* t = abi::__cxa_current_exception_type()) type = Demangle(t->name());
  std::string message;
  try {
    std::rethrow_exception(current);
  } catch (const HostInterruption&) {
    throw;
  } catch (const UserCodeError&) {
    throw;
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
    message = "(not a std::exception)";
  }
  std::string printed;
  if constexpr (kPrintable<IN>) {
    constexpr size_t kMaxRecordChars = 1024;
    AppendString(printed, record);
    if (printed.size() > kMaxRecordChars) {
      printed.resize(kMaxRecordChars);
      printed += "...";
    }
  }
  throw UserCodeError(op, std::move(type), std::move(message), std::move(printed));
}

}  // namespace internal
}  // namespace sluice
