// Errors as values. Every expected failure in landfall is an Error carried in a
// Result<T>; exceptions from libraries are caught where those libraries are called.
#pragma once

#include <exception>
#include <expected>
#include <string>
#include <utility>

namespace landfall {

struct Error {
  // Machine-readable, snake_case (e.g. "config_invalid", "not_parquet").
  std::string code;
  // Human-readable, says what and where.
  std::string message;
  // True when retrying the same operation later may succeed (connection lost,
  // database busy). Callers use it to choose backoff over failing.
  bool transient = false;

  std::string ToString() const { return code + ": " + message; }
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> Fail(std::string code, std::string message, bool transient = false) {
  return std::unexpected<Error>(Error{std::move(code), std::move(message), transient});
}
inline std::unexpected<Error> Fail(Error error) { return std::unexpected<Error>(std::move(error)); }

inline Status Ok() { return {}; }

// Calls `fn` (which returns a Result<T> or a Status) and returns what it
// returns. An exception thrown by `fn` stops here: the result is then an
// "internal_error" naming `what`. For the top of a task on another thread
// (worker pool, coordinators), where an escaping exception would end the
// process with std::terminate.
template <typename Fn>
auto CallCatching(Fn&& fn, const std::string& what) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return Fail("internal_error", what + ": " + e.what());
  } catch (...) {
    return Fail("internal_error", what + ": an exception of unknown type");
  }
}

}  // namespace landfall
