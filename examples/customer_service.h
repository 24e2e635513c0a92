// The small HTTP service examples/enrich.cc looks customers up in: GET /customers/<id> answers
// "<name>,<tier>" (text/plain) after a simulated delay, as a database behind a REST API would;
// any other path or id gets 404. Customers are made up from their id (CustomerName,
// CustomerTier), so that a test can tell what each lookup must return. Run on its own by
// build/examples/customer_service (make demo starts it), and in-process by the example's test.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace sluice::examples {

inline std::string CustomerName(int64_t id) {
  static const char* const kNames[] = {"Ada",    "Grace",   "Edsger",  "Barbara",
                                       "Donald", "Frances", "Niklaus", "Radia"};
  return std::string(kNames[id % 8]) + " #" + std::to_string(id);
}

inline std::string CustomerTier(int64_t id) {
  static const char* const kTiers[] = {"bronze", "silver", "gold"};
  return kTiers[id % 3];
}

class CustomerService {
 public:
  //! Answers each request `delay` after it came, on one of `threads` server threads.
  explicit CustomerService(std::chrono::milliseconds delay, int threads = 64) : delay_(delay) {
    server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server_.set_tcp_nodelay(true);
    server_.Get(R"(/customers/(\d{1,15}))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  std::this_thread::sleep_for(delay_);
                  const int64_t id = std::stoll(req.matches[1].str());
                  requests_.fetch_add(1, std::memory_order_relaxed);
                  res.set_content(CustomerName(id) + "," + CustomerTier(id), "text/plain");
                });
  }
  CustomerService(const CustomerService&) = delete;
  CustomerService& operator=(const CustomerService&) = delete;
  ~CustomerService() { Stop(); }

  //! Listens on `host` (port 0: any free one) in a thread of its own; the port, or -1.
  int Start(const std::string& host = "127.0.0.1", int port = 0) {
    const int bound =
        port == 0 ? server_.bind_to_any_port(host) : (server_.bind_to_port(host, port) ? port : -1);
    if (bound < 0) return -1;
    // Listening already (connections wait in the backlog until the accept loop runs).
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    return bound;
  }
  void Stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int64_t requests() const { return requests_.load(std::memory_order_relaxed); }

 private:
  std::chrono::milliseconds delay_;
  httplib::Server server_;
  std::thread thread_;
  std::atomic<int64_t> requests_{0};
};

}  // namespace sluice::examples
