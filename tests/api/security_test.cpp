// The API's checks: bearer tokens, HMAC-SHA256 webhook signatures (valid,
// altered, expired, malformed), the replay guard, and resolving a webhook's
// path to a file inside the landing dir (no traversal, no symlink out).
#include "api/security.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/testing.h"

namespace landfall::api {
namespace {

namespace fs = std::filesystem;

TEST(BearerTokenTest, MatchesAnyConfiguredTokenAndNothingElse) {
  const std::vector<std::string> tokens = {"first-token-0123456789", "second-token-0123456789"};
  EXPECT_TRUE(BearerTokenMatches("Bearer first-token-0123456789", tokens));
  EXPECT_TRUE(BearerTokenMatches("bearer second-token-0123456789", tokens));
  EXPECT_TRUE(BearerTokenMatches("  Bearer   second-token-0123456789  ", tokens));
  EXPECT_FALSE(BearerTokenMatches("Bearer first-token-012345678", tokens))
      << "a prefix is not a match";
  EXPECT_FALSE(BearerTokenMatches("Bearer first-token-0123456789x", tokens));
  EXPECT_FALSE(BearerTokenMatches("Basic first-token-0123456789", tokens));
  EXPECT_FALSE(BearerTokenMatches("first-token-0123456789", tokens));
  EXPECT_FALSE(BearerTokenMatches("Bearer ", tokens));
  EXPECT_FALSE(BearerTokenMatches("", tokens));
  EXPECT_FALSE(BearerTokenMatches("Bearer x", {}));
}

TEST(HmacTest, MatchesRfc4231TestCase2) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(WebhookSignatureTest, ValidSignatureIsAccepted) {
  const std::string body = R"({"path":"orders/part-1.parquet"})";
  const std::string header = SignWebhook("secret-0123456789", 1'700'000'000, body);
  EXPECT_EQ(header.rfind("t=1700000000,v1=", 0), 0u) << header;
  auto v = VerifyWebhookSignature(header, body, "secret-0123456789", 1'700'000'100, 300);
  ASSERT_TRUE(v) << v.error().ToString();
  EXPECT_EQ(v->timestamp, 1'700'000'000);
}

TEST(WebhookSignatureTest, AnyOfSeveralV1ValuesMayMatch) {
  const std::string body = "{}";
  const std::string good = SignWebhook("secret-0123456789", 100, body);
  const std::string header =
      "t=100,v1=" + std::string(64, 'a') + "," + good.substr(good.find("v1="));
  EXPECT_TRUE(VerifyWebhookSignature(header, body, "secret-0123456789", 100, 300));
}

TEST(WebhookSignatureTest, ChangedBodyWrongSecretOrTimestampIsInvalid) {
  const std::string body = R"({"table":"orders"})";
  const std::string header = SignWebhook("secret-0123456789", 1000, body);
  EXPECT_EQ(VerifyWebhookSignature(header, R"({"table":"orderz"})", "secret-0123456789", 1000, 300)
                .error()
                .code,
            "signature_invalid");
  EXPECT_EQ(VerifyWebhookSignature(header, body, "another-secret-xyz", 1000, 300).error().code,
            "signature_invalid");
  std::string moved = header;
  moved.replace(2, 4, "1001");  // t=1001: the HMAC covered t=1000
  EXPECT_EQ(VerifyWebhookSignature(moved, body, "secret-0123456789", 1000, 300).error().code,
            "signature_invalid");
}

TEST(WebhookSignatureTest, OutsideTheToleranceIsExpiredEitherWay) {
  const std::string body = "{}";
  const std::string header = SignWebhook("secret-0123456789", 1000, body);
  EXPECT_TRUE(VerifyWebhookSignature(header, body, "secret-0123456789", 1300, 300));
  EXPECT_EQ(VerifyWebhookSignature(header, body, "secret-0123456789", 1301, 300).error().code,
            "signature_expired");
  EXPECT_EQ(VerifyWebhookSignature(header, body, "secret-0123456789", 699, 300).error().code,
            "signature_expired");
}

TEST(WebhookSignatureTest, MissingAndMalformedHeaders) {
  EXPECT_EQ(VerifyWebhookSignature("", "{}", "s", 0, 300).error().code, "signature_missing");
  for (const char* bad :
       {"v1=abcd", "t=100", "t=abc,v1=00", "t=1,t=2,v1=00", "garbage", "t=1;v1=2"}) {
    EXPECT_EQ(VerifyWebhookSignature(bad, "{}", "s", 100, 300).error().code, "signature_malformed")
        << bad;
  }
}

TEST(ReplayGuardTest, SecondUseWithinTheWindowIsAReplay) {
  ReplayGuard guard(300);
  EXPECT_TRUE(guard.FirstUse("sig-a", 1000, 1000));
  EXPECT_FALSE(guard.FirstUse("sig-a", 1000, 1200));
  EXPECT_TRUE(guard.FirstUse("sig-b", 1000, 1200));
  // Past the window the entry is dropped (the timestamp check refuses it anyway).
  EXPECT_TRUE(guard.FirstUse("sig-a", 1000, 1301));
}

class LandingPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(landing() / "orders" / "2026");
    std::ofstream(landing() / "orders" / "2026" / "part-0.parquet") << "x";
    std::ofstream(landing() / "top.parquet") << "x";
    fs::create_directories(dir_ / "outside" / "secrets");
    std::ofstream(dir_ / "outside" / "secrets" / "passwd") << "x";
  }
  fs::path landing() const { return dir_ / "landing"; }
  std::string ErrorCode(std::string_view rel) {
    auto r = ResolveLandingPath(landing(), rel);
    return r ? "ok" : r.error().code;
  }
  testing::TempDir dir_;
};

TEST_F(LandingPathTest, AFileInsideATableFolderResolves) {
  auto r = ResolveLandingPath(landing(), "orders/2026/part-0.parquet");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->table, "orders");
  EXPECT_EQ(r->rel_path, "orders/2026/part-0.parquet");
}

TEST_F(LandingPathTest, TraversalAndAbsolutePathsAreRefused) {
  EXPECT_EQ(ErrorCode("../outside/secrets/passwd"), "invalid_request");
  EXPECT_EQ(ErrorCode("orders/../../outside/secrets/passwd"), "invalid_request");
  EXPECT_EQ(ErrorCode("orders/2026/../2026/part-0.parquet"), "invalid_request");
  EXPECT_EQ(ErrorCode("./orders/2026/part-0.parquet"), "invalid_request");
  EXPECT_EQ(ErrorCode((dir_ / "outside/secrets/passwd").string()), "invalid_request");
  EXPECT_EQ(ErrorCode("orders//2026/part-0.parquet"), "invalid_request");
  EXPECT_EQ(ErrorCode(""), "invalid_request");
  EXPECT_EQ(ErrorCode("top.parquet"), "invalid_request") << "a file directly in the landing dir";
  EXPECT_EQ(ErrorCode(std::string_view("orders/a\0b", 10)), "invalid_request");
}

TEST_F(LandingPathTest, SymlinksLeadingOutAreRefused) {
  fs::create_directory_symlink(dir_ / "outside", landing() / "evil");
  fs::create_symlink(dir_ / "outside" / "secrets" / "passwd",
                     landing() / "orders" / "link.parquet");
  fs::create_symlink(dir_ / "outside" / "nothing-here", landing() / "orders" / "dangling.parquet");
  EXPECT_EQ(ErrorCode("evil/secrets/passwd"), "invalid_request");
  EXPECT_EQ(ErrorCode("orders/link.parquet"), "invalid_request");
  EXPECT_EQ(ErrorCode("orders/dangling.parquet"), "invalid_request");
  auto table = ResolveLandingTable(landing(), "evil");
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().code, "invalid_request");
}

TEST_F(LandingPathTest, ASymlinkInsideTheLandingDirIsFine) {
  fs::create_symlink(landing() / "orders" / "2026" / "part-0.parquet",
                     landing() / "orders" / "alias.parquet");
  EXPECT_EQ(ErrorCode("orders/alias.parquet"), "ok");
}

TEST_F(LandingPathTest, MissingFilesAndFoldersAreNotFound) {
  EXPECT_EQ(ErrorCode("orders/2026/part-9.parquet"), "not_found");
  EXPECT_EQ(ErrorCode("orders/2026"), "invalid_request") << "a folder is not a file";
  EXPECT_EQ(ResolveLandingTable(landing(), "customers").error().code, "not_found");
  EXPECT_EQ(ResolveLandingTable(landing(), "..").error().code, "invalid_request");
  EXPECT_EQ(ResolveLandingTable(landing(), "orders/2026").error().code, "invalid_request");
  EXPECT_EQ(ResolveLandingTable(landing(), "top.parquet").error().code, "invalid_request");
  auto ok = ResolveLandingTable(landing(), "orders");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->table, "orders");
  EXPECT_EQ(ok->rel_path, "");
}

}  // namespace
}  // namespace landfall::api
