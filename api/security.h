// The API's security checks as plain functions: bearer tokens, webhook
// signatures and replays, and landing paths from untrusted input. No I/O other
// than the path checks' stat calls; unit-tested in tests/api/security_test.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/common/result.h"

namespace landfall::api {

// True when `authorization` is "Bearer <token>" (scheme case-insensitive) for
// one of `tokens`. Every token is compared, in time independent of where the
// bytes differ (CRYPTO_memcmp over SHA-256 digests, so lengths leak nothing).
bool BearerTokenMatches(std::string_view authorization, const std::vector<std::string>& tokens);

// Lowercase hex HMAC-SHA256 of `message` under `key`.
std::string HmacSha256Hex(std::string_view key, std::string_view message);

// The X-Landfall-Signature value for `body` sent at `unix_seconds`:
// "t=<unix_seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">".
std::string SignWebhook(std::string_view secret, int64_t unix_seconds, std::string_view body);

struct VerifiedSignature {
  int64_t timestamp = 0;
  std::string signature;  // the v1 value that matched, for replay detection
};

// An X-Landfall-Signature header taken apart, before the body is read: its
// timestamp and its v1= values (several during a secret rotation).
struct SignatureHeader {
  int64_t timestamp = 0;
  std::vector<std::string> candidates;
};

// Parses the header and checks its timestamp, so that a request that cannot
// pass is refused before its body is read. Errors: "signature_missing",
// "signature_malformed", "signature_expired" (t more than `tolerance_s` away
// from `now_unix`, either way).
Result<SignatureHeader> ParseSignatureHeader(std::string_view header, int64_t now_unix,
                                             int64_t tolerance_s);

// Checks an X-Landfall-Signature header against the raw body. The header may
// carry several v1= values (secret rotation); one must match. Errors:
// "signature_missing", "signature_malformed", "signature_expired" (t more than
// `tolerance_s` away from `now_unix`, either way) and "signature_invalid".
Result<VerifiedSignature> VerifyWebhookSignature(std::string_view header, std::string_view body,
                                                 std::string_view secret, int64_t now_unix,
                                                 int64_t tolerance_s);

// Remembers signatures accepted within the tolerance window so a captured
// request cannot be replayed inside it (outside it, the timestamp check
// refuses it). Thread-safe.
class ReplayGuard {
 public:
  explicit ReplayGuard(int64_t window_s) : window_s_(window_s) {}
  // True the first time `signature` is seen within the window; false for a replay.
  bool FirstUse(const std::string& signature, int64_t timestamp, int64_t now_unix);

 private:
  const int64_t window_s_;
  std::mutex mu_;  // guards the two sets below, which hold the same entries
  std::set<std::string> seen_;                          // signatures
  std::set<std::pair<int64_t, std::string>> by_time_;  // (timestamp, signature), oldest first
};

struct LandingTarget {
  std::string table;     // first path component
  std::string rel_path;  // relative to the landing dir; "" when only a table was named
};

// Resolves an announced file, relative to `landing_dir`, from untrusted input.
// "invalid_request" for an empty or absolute path, a "." or ".." component, an
// empty component, a file directly in the landing dir, or a path that leaves
// the landing dir through a symlink; "not_found" when no such file exists.
Result<LandingTarget> ResolveLandingPath(const std::filesystem::path& landing_dir,
                                         std::string_view rel_path);

// Resolves an announced table folder the same way (one path component).
Result<LandingTarget> ResolveLandingTable(const std::filesystem::path& landing_dir,
                                          std::string_view table);

}  // namespace landfall::api
