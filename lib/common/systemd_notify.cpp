#include "lib/common/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace landfall::systemd {

namespace {

std::optional<unsigned long long> ParseUnsigned(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  const char* end = text + std::strlen(text);
  unsigned long long value = 0;
  auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace

Status NotifySocket(std::string_view socket_address, std::string_view state) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const bool abstract = !socket_address.empty() && socket_address.front() == '@';
  if (socket_address.empty() || (!abstract && socket_address.front() != '/')) {
    return Fail("notify_unsupported",
                "NOTIFY_SOCKET '" + std::string(socket_address) +
                    "' is neither an absolute path nor an abstract socket name ('@...')");
  }
  if (socket_address.size() > sizeof(addr.sun_path) - (abstract ? 0 : 1)) {
    return Fail("notify_failed", "NOTIFY_SOCKET '" + std::string(socket_address) + "' is too long");
  }
  std::memcpy(addr.sun_path, socket_address.data(), socket_address.size());
  // An abstract name starts with a NUL byte and is exactly as long as given,
  // without a terminator; a path needs the terminator (zeroed above).
  if (abstract) addr.sun_path[0] = '\0';
  const socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                                  socket_address.size() + (abstract ? 0 : 1));

  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Fail("notify_failed", std::string("socket: ") + std::strerror(errno));
  ssize_t sent;
  do {
    sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&addr), length);
  } while (sent < 0 && errno == EINTR);
  const int err = errno;
  close(fd);
  if (sent < 0) {
    return Fail(
        "notify_failed",
        "sending to NOTIFY_SOCKET " + std::string(socket_address) + ": " + std::strerror(err),
        /*transient=*/err == EAGAIN);
  }
  return Ok();
}

bool Notify(std::string_view state) {
  const char* socket_address = std::getenv("NOTIFY_SOCKET");
  if (socket_address == nullptr || *socket_address == '\0') return false;
  return NotifySocket(socket_address, state).has_value();
}

std::optional<std::chrono::microseconds> WatchdogInterval() {
  // systemd sets WATCHDOG_PID so that a child that inherits the environment
  // does not take the watchdog for its own.
  if (const char* pid_text = std::getenv("WATCHDOG_PID"); pid_text != nullptr && *pid_text) {
    const auto pid = ParseUnsigned(pid_text);
    if (!pid || *pid != static_cast<unsigned long long>(getpid())) return std::nullopt;
  }
  const auto usec = ParseUnsigned(std::getenv("WATCHDOG_USEC"));
  if (!usec || *usec == 0) return std::nullopt;
  return std::chrono::microseconds(*usec);
}

}  // namespace landfall::systemd
