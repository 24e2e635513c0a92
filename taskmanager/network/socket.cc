#include "taskmanager/network/socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace sluice::network {
namespace {

using AddrInfo = std::unique_ptr<addrinfo, decltype(&freeaddrinfo)>;

//! getaddrinfo for a TCP socket; the gai error text on failure.
absl::StatusOr<AddrInfo> Resolve(const std::string& host, const std::string& port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return absl::UnavailableError(gai_strerror(rc));
  }
  return AddrInfo(res, &freeaddrinfo);
}

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

absl::Status SetNoDelay(int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    return absl::InternalError(absl::StrCat("cannot set TCP_NODELAY: ", ErrnoText()));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ConnectTcp(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("address without port: " + address);
  }
  auto addresses = Resolve(address.substr(0, colon), address.substr(colon + 1), false);
  if (!addresses.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", address, ": ", addresses.status().message()));
  }
  int fd = -1;
  std::string err = "no address";
  for (addrinfo* ai = addresses->get(); ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = ErrnoText();
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    err = ErrnoText();
    close(fd);
    fd = -1;
  }
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot connect to ", address, ": ", err));
  if (absl::Status s = SetNoDelay(fd); !s.ok()) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("connection to ", address, ": ", s.message()));
  }
  return fd;
}

absl::StatusOr<ListeningSocket> ListenTcp(const std::string& host, int port) {
  auto addresses = Resolve(host, std::to_string(port), true);
  if (!addresses.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve ", host, ": ", addresses.status().message()));
  }
  const addrinfo* ai = addresses->get();
  auto fail = [&](int fd) {
    std::string err = ErrnoText();
    if (fd >= 0) close(fd);
    return absl::UnavailableError(absl::StrCat("cannot listen on ", host, ":", port, ": ", err));
  };
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(fd);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
    return fail(fd);
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return fail(fd);
  ListeningSocket out;
  out.fd = fd;
  out.port = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                        : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return out;
}

namespace {

//! A one-byte message with room for one descriptor.
struct DescriptorMessage {
  char byte = 'c';
  iovec iov{.iov_base = &byte, .iov_len = 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  DescriptorMessage() {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
  }
};

}  // namespace

bool SendDescriptor(int unix_socket, int fd) {
  DescriptorMessage m;
  cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t n;
  do {
    n = sendmsg(unix_socket, &m.msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n >= 0;
}

int ReceiveDescriptor(int unix_socket) {
  DescriptorMessage m;
  ssize_t n;
  do {
    n = recvmsg(unix_socket, &m.msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return -2;
  int fd = -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m.msg); c; c = CMSG_NXTHDR(&m.msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      memcpy(&fd, CMSG_DATA(c), sizeof(int));
  }
  return fd;
}

}  // namespace sluice::network
