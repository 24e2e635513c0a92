// TCP sockets of the data plane: the one place that resolves addresses, creates sockets and sets
// their options. Every system call's result is checked, and errors name the address.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice::network {

//! Connects a TCP socket to "host:port" (close-on-exec, TCP_NODELAY); the caller owns the fd.
//! InvalidArgument for an address without a port, Unavailable when it cannot be resolved or
//! connected.
absl::StatusOr<int> ConnectTcp(const std::string& address);

//! A listening socket and the port it is bound to.
struct ListeningSocket {
  int fd = -1;  // owned by the caller
  int port = 0;
};

//! Listens on host:port (port 0: an ephemeral one), close-on-exec, SO_REUSEADDR.
//! InvalidArgument when `host` cannot be resolved, Unavailable when it cannot be listened on.
absl::StatusOr<ListeningSocket> ListenTcp(const std::string& host, int port);

//! Passes descriptor `fd` over the Unix socket `unix_socket` (SCM_RIGHTS, one byte of data);
//! the caller keeps `fd` and closes it when it likes. False on error (errno set).
bool SendDescriptor(int unix_socket, int fd);

//! Receives one message of `unix_socket`: a passed descriptor (close-on-exec, the caller's), -1
//! when the message carried none, -2 at end of stream or on an error.
int ReceiveDescriptor(int unix_socket);

//! Sets TCP_NODELAY on a connected socket: the data plane batches its writes itself, and a frame
//! held back by Nagle's algorithm would hold up its channel.
absl::Status SetNoDelay(int fd);

}  // namespace sluice::network
