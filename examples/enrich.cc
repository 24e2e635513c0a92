// enrich: async I/O. Orders (order i of customer (37 i) % customers, amount in cents) are enriched
// with their customer's name and tier from an HTTP service (examples/customer_service.h;
// `make demo` starts build/examples/customer_service) without blocking the task: each subtask's
// AsyncFunction hands the lookups to a few HTTP client threads of its own, at most `capacity` in
// flight, and the answers come back in any order (UnorderedWait). A lookup that takes longer than
// `timeout_ms` is written with the customer "(unknown: timed out)" instead of failing the job;
// one the service refuses fails it. Output: "order <id>: <amount> by <name> (<tier>)" lines in
// `output`.
//   args: service (http://host:port, required), orders (20000), customers (500), rate (per
//         source subtask per second, 0: unlimited), capacity (64), clients (HTTP connections per
//         subtask, 16), timeout_ms (2000), output (a directory; empty: print)
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sluice/async_io.h"
#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {

struct Order {
  int64_t id = 0;
  int64_t customer = 0;
  int64_t cents = 0;
  SLUICE_FIELDS(id, customer, cents)
};

//! Looks customers up over HTTP: AsyncInvoke queues the request, one of `clients` threads (each
//! with a keep-alive connection) sends it and completes the ResultFuture with the answer.
class LookUpCustomer final : public sluice::AsyncFunction<Order, std::string> {
 public:
  LookUpCustomer(std::string service, int clients)
      : service_(std::move(service)), clients_(clients) {}
  LookUpCustomer(const LookUpCustomer& other) : LookUpCustomer(other.service_, other.clients_) {}

  void Open(sluice::RuntimeContext&) override {
    for (int i = 0; i < clients_; ++i) threads_.emplace_back([this] { Serve(); });
  }
  void AsyncInvoke(const Order& order, sluice::ResultFuture<std::string> result) override {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back({order, std::move(result)});
    cv_.notify_one();
  }
  void Timeout(const Order& order, sluice::ResultFuture<std::string> result) override {
    result.Complete({Line(order, "(unknown: timed out)")});
  }
  void Close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

 private:
  struct Request {
    Order order;
    sluice::ResultFuture<std::string> result;
  };

  static std::string Line(const Order& o, const std::string& customer) {
    char amount[32];
    std::snprintf(amount, sizeof amount, "%lld.%02lld", static_cast<long long>(o.cents / 100),
                  static_cast<long long>(o.cents % 100));
    return "order " + std::to_string(o.id) + ": " + amount + " by " + customer;
  }

  void Serve() {
    httplib::Client client(service_);
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);  // else Nagle and delayed ACKs hold small requests back 40 ms
    client.set_connection_timeout(std::chrono::seconds(5));
    client.set_read_timeout(std::chrono::seconds(30));
    for (;;) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      Request r = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      const std::string path = "/customers/" + std::to_string(r.order.customer);
      httplib::Result res = client.Get(path);
      if (!res) {
        r.result.CompleteExceptionally(std::runtime_error("customer service " + service_ + path +
                                                          ": " + httplib::to_string(res.error())));
      } else if (res->status != 200) {
        r.result.CompleteExceptionally(std::runtime_error("customer service " + service_ + path +
                                                          ": HTTP " + std::to_string(res->status)));
      } else {
        // "<name>,<tier>"
        const size_t comma = res->body.rfind(',');
        const std::string name = res->body.substr(0, comma);
        const std::string tier = comma == std::string::npos ? "?" : res->body.substr(comma + 1);
        r.result.Complete({Line(r.order, name + " (" + tier + ")")});
      }
    }
  }

  std::string service_;
  int clients_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request> queue_;
  bool stopping_ = false;
};

}  // namespace

SLUICE_JOB(env) {
  env.SetJobName("enrich");
  const std::string service = env.RequiredArg("service");
  const int64_t orders = env.IntArg("orders", 20000);
  const int64_t customers = env.IntArg("customers", 500);
  const int64_t rate = env.IntArg("rate", 0);
  const int64_t capacity = env.IntArg("capacity", 64);
  const int64_t clients = env.IntArg("clients", 16);
  const int64_t timeout_ms = env.IntArg("timeout_ms", 2000);
  const std::string output = env.Arg("output");
  if (service.rfind("http://", 0) != 0) {
    throw sluice::JobDefinitionError("service must be an http:// address, not '" + service + "'");
  }
  if (orders <= 0 || customers <= 0 || rate < 0 || clients <= 0 || clients > 1024) {
    throw sluice::JobDefinitionError(
        "orders and customers must be positive, rate >= 0, clients in 1..1024");
  }
  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(orders);
  gen.splits = 4;
  gen.rate = static_cast<double>(rate);
  auto stream = sluice::AddGenerator(
                    env, gen,
                    [customers](uint64_t i) {
                      auto id = static_cast<int64_t>(i);
                      return Order{id, (id * 37) % customers, (id * 7919) % 10000 + 100};
                    },
                    "Orders")
                    .Uid("orders");
  auto lines = sluice::AsyncDataStream::UnorderedWait(
      stream, LookUpCustomer(service, static_cast<int>(clients)),
      std::chrono::milliseconds(timeout_ms), static_cast<int>(capacity), "Look up customers");
  lines.Uid("lookup");
  if (output.empty()) {
    lines.SinkTo(sluice::MakePrintSink<std::string>(), "Enriched orders").Uid("sink");
  } else {
    lines.SinkTo(sluice::MakeFileSink<std::string>(output), "Enriched orders").Uid("sink");
  }
}
