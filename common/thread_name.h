// Names a thread for `top -H`, `perf` and debuggers (Linux keeps the first 15 bytes).
#pragma once

#include <pthread.h>

#include <string>
#include <thread>

namespace sluice {

inline void NameThread(std::thread& thread, const std::string& name) {
  pthread_setname_np(thread.native_handle(), name.substr(0, 15).c_str());
}

}  // namespace sluice
