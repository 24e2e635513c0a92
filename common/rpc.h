// The one place where gRPC status and absl::Status are converted.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace sluice {

absl::Status FromGrpc(const grpc::Status& status);
grpc::Status ToGrpc(const absl::Status& status);

//! A client context with a deadline.
std::unique_ptr<grpc::ClientContext> ContextWithDeadline(std::chrono::milliseconds timeout);

//! An insecure channel to host:port (loopback by default; TLS comes with the security issue).
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

}  // namespace sluice
