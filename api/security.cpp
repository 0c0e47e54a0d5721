#include "api/security.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>

namespace landfall::api {

namespace fs = std::filesystem;

namespace {

std::array<unsigned char, SHA256_DIGEST_LENGTH> Sha256(std::string_view data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> out{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

bool EqualsConstantTime(std::string_view a, std::string_view b) {
  // Hashing first makes the comparison length-independent; CRYPTO_memcmp does
  // not stop at the first differing byte.
  const auto ha = Sha256(a);
  const auto hb = Sha256(b);
  return CRYPTO_memcmp(ha.data(), hb.data(), ha.size()) == 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// True when `inner` is `outer` or below it (both canonical).
bool IsWithin(const fs::path& inner, const fs::path& outer) {
  auto [o, i] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
  return o == outer.end();
}

// Checks one path component from untrusted input.
Status CheckComponent(std::string_view part, std::string_view whole) {
  if (part.empty())
    return Fail("invalid_request", "path '" + std::string(whole) + "' has an empty component");
  if (part == "." || part == "..") {
    return Fail("invalid_request",
                "path '" + std::string(whole) + "' has a '" + std::string(part) + "' component");
  }
  if (part.find('\0') != std::string_view::npos)
    return Fail("invalid_request", "path contains NUL");
  return Ok();
}

}  // namespace

bool BearerTokenMatches(std::string_view authorization, const std::vector<std::string>& tokens) {
  authorization = Trim(authorization);
  const auto space = authorization.find(' ');
  if (space == std::string_view::npos || !IEquals(authorization.substr(0, space), "Bearer")) {
    return false;
  }
  const std::string_view presented = Trim(authorization.substr(space + 1));
  if (presented.empty()) return false;
  bool match = false;
  // No early exit: every configured token costs the same.
  for (const auto& token : tokens) match |= EqualsConstantTime(presented, token);
  return match;
}

std::string HmacSha256Hex(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

std::string SignWebhook(std::string_view secret, int64_t unix_seconds, std::string_view body) {
  const std::string t = std::to_string(unix_seconds);
  std::string message = t + ".";
  message.append(body);
  return "t=" + t + ",v1=" + HmacSha256Hex(secret, message);
}

Result<SignatureHeader> ParseSignatureHeader(std::string_view header, int64_t now_unix,
                                             int64_t tolerance_s) {
  header = Trim(header);
  if (header.empty()) return Fail("signature_missing", "X-Landfall-Signature header is missing");
  std::optional<int64_t> timestamp;
  SignatureHeader out;
  while (!header.empty()) {
    const auto comma = header.find(',');
    const std::string_view item = Trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Fail("signature_malformed", "X-Landfall-Signature must be t=<unix>,v1=<hex>");
    }
    const auto key = item.substr(0, eq);
    const auto value = item.substr(eq + 1);
    if (key == "t") {
      int64_t t = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), t);
      if (ec != std::errc() || end != value.data() + value.size() || timestamp) {
        return Fail("signature_malformed", "X-Landfall-Signature needs exactly one numeric t=");
      }
      timestamp = t;
    } else if (key == "v1") {
      out.candidates.emplace_back(value);
    }  // Other schemes are ignored, so a sender may add newer ones.
  }
  if (!timestamp || out.candidates.empty()) {
    return Fail("signature_malformed", "X-Landfall-Signature must be t=<unix>,v1=<hex>");
  }
  if (*timestamp < now_unix - tolerance_s || *timestamp > now_unix + tolerance_s) {
    return Fail("signature_expired", "signature timestamp is more than " +
                                         std::to_string(tolerance_s) +
                                         " s from the server's clock");
  }
  out.timestamp = *timestamp;
  return out;
}

Result<VerifiedSignature> VerifyWebhookSignature(std::string_view header, std::string_view body,
                                                 std::string_view secret, int64_t now_unix,
                                                 int64_t tolerance_s) {
  auto parsed = ParseSignatureHeader(header, now_unix, tolerance_s);
  if (!parsed) return Fail(parsed.error());
  std::string message = std::to_string(parsed->timestamp) + ".";
  message.append(body);
  const std::string expected = HmacSha256Hex(secret, message);
  std::optional<std::string> matched;
  for (const auto& candidate : parsed->candidates) {
    if (EqualsConstantTime(candidate, expected)) matched = std::string(candidate);
  }
  if (!matched) return Fail("signature_invalid", "signature does not match the body");
  return VerifiedSignature{parsed->timestamp, *matched};
}

bool ReplayGuard::FirstUse(const std::string& signature, int64_t timestamp, int64_t now_unix) {
  std::lock_guard lock(mu_);
  // Anything older than the window is refused by the timestamp check anyway;
  // forgetting oldest first keeps each call logarithmic in what is remembered.
  while (!by_time_.empty() && by_time_.begin()->first < now_unix - window_s_) {
    seen_.erase(by_time_.begin()->second);
    by_time_.erase(by_time_.begin());
  }
  if (!seen_.insert(signature).second) return false;
  by_time_.emplace(timestamp, signature);
  return true;
}

Result<LandingTarget> ResolveLandingPath(const fs::path& landing_dir, std::string_view rel_path) {
  if (rel_path.empty()) return Fail("invalid_request", "path must not be empty");
  if (rel_path.front() == '/')
    return Fail("invalid_request", "path must be relative to the landing directory");
  std::vector<std::string_view> parts;
  for (std::string_view rest = rel_path;;) {
    const auto slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (auto s = CheckComponent(parts.back(), rel_path); !s) return Fail(s.error());
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (parts.size() < 2) {
    return Fail("invalid_request", "path must name a file inside a table folder (<table>/<file>)");
  }
  std::error_code ec;
  const fs::path root = fs::canonical(landing_dir, ec);
  if (ec) return Fail("landing_unavailable", "landing directory: " + ec.message(), true);
  const fs::path target = root / fs::path(std::string(rel_path));
  if (!fs::exists(fs::symlink_status(target, ec)) || !fs::exists(target, ec)) {
    // A dangling symlink is reported like a missing file.
    if (fs::is_symlink(fs::symlink_status(target, ec))) {
      // weakly_canonical stops at the dangling link; follow it by hand.
      fs::path link = fs::read_symlink(target, ec);
      if (link.is_relative()) link = target.parent_path() / link;
      const fs::path resolved = fs::weakly_canonical(link, ec);
      if (!ec && !IsWithin(resolved, root)) {
        return Fail("invalid_request", "path leaves the landing directory");
      }
    }
    return Fail("not_found", "no file '" + std::string(rel_path) + "' in the landing directory");
  }
  const fs::path resolved = fs::canonical(target, ec);
  if (ec)
    return Fail("not_found", "cannot resolve '" + std::string(rel_path) + "': " + ec.message());
  // A symlink anywhere along the way (table folder included) may point out.
  if (!IsWithin(resolved, root))
    return Fail("invalid_request", "path leaves the landing directory");
  if (!fs::is_regular_file(resolved, ec)) {
    return Fail("invalid_request", "'" + std::string(rel_path) + "' is not a file");
  }
  return LandingTarget{std::string(parts.front()), std::string(rel_path)};
}

Result<LandingTarget> ResolveLandingTable(const fs::path& landing_dir, std::string_view table) {
  if (table.find('/') != std::string_view::npos) {
    return Fail("invalid_request", "table must be a single folder name");
  }
  if (auto s = CheckComponent(table, table); !s) return Fail(s.error());
  std::error_code ec;
  const fs::path root = fs::canonical(landing_dir, ec);
  if (ec) return Fail("landing_unavailable", "landing directory: " + ec.message(), true);
  const fs::path folder = root / fs::path(std::string(table));
  if (!fs::exists(folder, ec)) {
    return Fail("not_found",
                "no table folder '" + std::string(table) + "' in the landing directory");
  }
  const fs::path resolved = fs::canonical(folder, ec);
  if (ec || !IsWithin(resolved, root)) {
    return Fail("invalid_request", "table folder leaves the landing directory");
  }
  if (!fs::is_directory(resolved, ec)) {
    return Fail("invalid_request", "'" + std::string(table) + "' is not a folder");
  }
  return LandingTarget{std::string(table), ""};
}

}  // namespace landfall::api
