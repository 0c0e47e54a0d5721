// The systemd service-manager protocol (sd_notify(3)) without libsystemd:
// readiness, status, watchdog and stopping notifications as datagrams to
// $NOTIFY_SOCKET. Every function is a no-op when not run by systemd.
// Thread-safe (each call opens its own socket); reads the environment.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "lib/common/result.h"

namespace landfall::systemd {

// Sends `state` (newline-separated assignments, e.g. "READY=1",
// "STATUS=3 tables staged", "WATCHDOG=1", "STOPPING=1") to $NOTIFY_SOCKET: a
// filesystem path, or an abstract socket name when it starts with '@'.
// Returns true when the datagram was sent; false when $NOTIFY_SOCKET is unset
// or empty (not under systemd, not an error) or sending failed (the reason is
// not reported: use NotifySocket() for that). Never blocks for long: a full
// receive queue fails instead of waiting.
bool Notify(std::string_view state);

// Sends `state` to the socket at `socket_address` (same syntax as
// $NOTIFY_SOCKET). Errors: "notify_unsupported" for an address that is neither
// a path nor '@'-abstract (e.g. systemd's vsock: form), "notify_failed" with
// the system error otherwise.
Status NotifySocket(std::string_view socket_address, std::string_view state);

// The watchdog interval systemd expects pings within ($WATCHDOG_USEC), or
// nullopt when the watchdog is off: unset, zero or malformed, or
// $WATCHDOG_PID is set and is not this process. Send "WATCHDOG=1" at about
// half of it.
std::optional<std::chrono::microseconds> WatchdogInterval();

}  // namespace landfall::systemd
