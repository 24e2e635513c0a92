// The __cxa_throw hook of the TaskManager's executable: records the stack of every throw on its
// thread (failure_report.h) before handing over to the C++ runtime's own __cxa_throw. It is
// exported (-Wl,--export-dynamic-symbol=__cxa_throw in CMakeLists.txt) so that throws in job
// packages and in libstdc++ (std::stoll's invalid_argument) come here too.

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <typeinfo>

#include "taskmanager/failure_report.h"

namespace {

using CxaThrow = void (*)(void*, std::type_info*, void (*)(void*));

CxaThrow RealCxaThrow() {
  static CxaThrow real = reinterpret_cast<CxaThrow>(dlsym(RTLD_NEXT, "__cxa_throw"));
  return real;
}

// The SDK's wrapper rethrows a user's exception as a UserCodeError: keep the user's stack.
bool IsWrapper(const std::type_info* type) {
  return type != nullptr && std::strcmp(type->name(), "N6sluice13UserCodeErrorE") == 0;
}

}  // namespace

extern "C" [[noreturn]] void __cxa_throw(void* exception, std::type_info* type,
                                         void (*destructor)(void*)) {
  if (!IsWrapper(type)) sluice::taskmanager::RecordThrowStack();
  RealCxaThrow()(exception, type, destructor);
  std::abort();  // not reached: __cxa_throw does not return
}
