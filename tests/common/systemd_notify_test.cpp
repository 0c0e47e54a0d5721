// The systemd notification protocol against a fake notify socket: READY and
// STATUS on path and abstract sockets, nothing sent without NOTIFY_SOCKET,
// errors when nobody listens or the address is unsupported, and the watchdog
// interval read from WATCHDOG_USEC and WATCHDOG_PID.
#include "lib/common/systemd_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>

#include "tests/support/testing.h"

namespace landfall::systemd {
namespace {

// A datagram socket standing in for systemd's notification socket, bound to a
// filesystem path or (address starting with '@') an abstract name.
class FakeNotifySocket {
 public:
  explicit FakeNotifySocket(std::string address) : address_(std::move(address)) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, address_.data(), address_.size());
    const bool abstract = address_.front() == '@';
    if (abstract) addr.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                               (abstract ? 0 : 1));
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), length), 0) << std::strerror(errno);
  }
  ~FakeNotifySocket() { close(fd_); }

  // The next datagram, or "<timeout>" after 5 s.
  std::string Receive() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) return "<timeout>";
    char buffer[4096];
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    return n < 0 ? "<error>" : std::string(buffer, static_cast<size_t>(n));
  }

  const std::string& address() const { return address_; }

 private:
  std::string address_;
  int fd_ = -1;
};

// Sets an environment variable for one test and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string UniqueAbstractName() {
  std::random_device rd;
  return "@landfall-test-notify-" + std::to_string(getpid()) + "-" + std::to_string(rd());
}

TEST(SystemdNotifyTest, ReadyAndStatusArriveOnPathSocket) {
  testing::TempDir dir;
  FakeNotifySocket systemd((dir / "notify").string());
  ScopedEnv env("NOTIFY_SOCKET", systemd.address().c_str());

  EXPECT_TRUE(Notify("READY=1"));
  EXPECT_EQ(systemd.Receive(), "READY=1");
  EXPECT_TRUE(Notify("STATUS=watching 3 tables"));
  EXPECT_EQ(systemd.Receive(), "STATUS=watching 3 tables");
}

TEST(SystemdNotifyTest, ReadyAndStatusArriveOnAbstractSocket) {
  FakeNotifySocket systemd(UniqueAbstractName());
  ScopedEnv env("NOTIFY_SOCKET", systemd.address().c_str());

  EXPECT_TRUE(Notify("READY=1\nSTATUS=ready"));
  EXPECT_EQ(systemd.Receive(), "READY=1\nSTATUS=ready");
  EXPECT_TRUE(Notify("STOPPING=1"));
  EXPECT_EQ(systemd.Receive(), "STOPPING=1");
}

TEST(SystemdNotifyTest, NotifyIsANoOpWithoutNotifySocket) {
  ScopedEnv env("NOTIFY_SOCKET", nullptr);
  EXPECT_FALSE(Notify("READY=1"));
}

TEST(SystemdNotifyTest, NotifyFailsWhenNobodyListens) {
  testing::TempDir dir;
  ScopedEnv env("NOTIFY_SOCKET", (dir / "nobody").c_str());
  EXPECT_FALSE(Notify("READY=1"));
  auto status = NotifySocket((dir / "nobody").string(), "READY=1");
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, "notify_failed");
}

TEST(SystemdNotifyTest, UnsupportedAddressIsRejected) {
  auto status = NotifySocket("vsock:2:1234", "READY=1");
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, "notify_unsupported");
}

TEST(SystemdNotifyTest, WatchdogIntervalComesFromWatchdogUsec) {
  ScopedEnv usec("WATCHDOG_USEC", "30000000");
  ScopedEnv pid("WATCHDOG_PID", nullptr);
  ASSERT_TRUE(WatchdogInterval().has_value());
  EXPECT_EQ(*WatchdogInterval(), std::chrono::seconds(30));
}

TEST(SystemdNotifyTest, WatchdogIntervalHonoursMatchingWatchdogPid) {
  const std::string self = std::to_string(getpid());
  ScopedEnv usec("WATCHDOG_USEC", "5000000");
  ScopedEnv pid("WATCHDOG_PID", self.c_str());
  EXPECT_EQ(WatchdogInterval(), std::chrono::microseconds(5000000));
}

TEST(SystemdNotifyTest, WatchdogForAnotherProcessIsIgnored) {
  const std::string other = std::to_string(getpid() + 1);
  ScopedEnv usec("WATCHDOG_USEC", "5000000");
  ScopedEnv pid("WATCHDOG_PID", other.c_str());
  EXPECT_FALSE(WatchdogInterval().has_value());
}

TEST(SystemdNotifyTest, WatchdogOffWhenUnsetZeroOrMalformed) {
  ScopedEnv pid("WATCHDOG_PID", nullptr);
  {
    ScopedEnv usec("WATCHDOG_USEC", nullptr);
    EXPECT_FALSE(WatchdogInterval().has_value());
  }
  {
    ScopedEnv usec("WATCHDOG_USEC", "0");
    EXPECT_FALSE(WatchdogInterval().has_value());
  }
  {
    ScopedEnv usec("WATCHDOG_USEC", "30s");
    EXPECT_FALSE(WatchdogInterval().has_value());
  }
}

}  // namespace
}  // namespace landfall::systemd
