// The `api:` section of the config: its defaults, every key read, and what
// it refuses (a malformed or unbracketed IPv6 listen address, short tokens, a
// webhook secret from a missing variable, bad booleans and ranges, unknown
// keys).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "lib/config/config.h"

namespace landfall::config {
namespace {

using ::testing::HasSubstr;

const std::filesystem::path kSource = "/etc/landfall/landfall.yaml";

std::string WithApi(const std::string& api) {
  return "landing:\n  dir: /srv/landing\n"
         "state:\n  postgres_url: postgresql://localhost/landfall\n"
         "warehouse:\n  path: /srv/warehouse.duckdb\n"
         "api:\n" +
         api;
}

std::string ErrorOf(const std::string& api) {
  auto config = ParseConfig(WithApi(api), kSource);
  if (config) {
    ADD_FAILURE() << "expected an error for api:\n" << api;
    return "";
  }
  return config.error().message;
}

TEST(ApiConfigTest, DefaultsListenOnLoopbackWithoutTokensOrWebhooks) {
  auto config = ParseConfig(
      "landing: {dir: /l}\nstate: {postgres_url: x}\nwarehouse: {path: /w.duckdb}\n", kSource);
  ASSERT_TRUE(config) << config.error().message;
  const ApiConfig& api = config->api;
  EXPECT_TRUE(api.enabled);
  EXPECT_EQ(api.listen, "127.0.0.1:8600");
  EXPECT_EQ(api.listen_host, "127.0.0.1");
  EXPECT_EQ(api.listen_port, 8600);
  EXPECT_TRUE(api.tokens.empty());
  EXPECT_EQ(api.webhook_secret, "");
  EXPECT_EQ(api.webhook_tolerance_s, 300);
  EXPECT_EQ(api.body_limit_bytes, 1 << 20);
  EXPECT_FALSE(api.per_table_metrics);
  EXPECT_FALSE(api.protect_metrics);
  EXPECT_FALSE(api.protect_health);
}

TEST(ApiConfigTest, EveryKeyIsRead) {
  setenv("LANDFALL_TEST_HOOK_SECRET", "s3cret-s3cret-s3cret", 1);
  auto config = ParseConfig(WithApi("  enabled: true\n"
                                    "  listen: 0.0.0.0:0\n"
                                    "  tokens: [aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbb]\n"
                                    "  webhook_secret: ${LANDFALL_TEST_HOOK_SECRET}\n"
                                    "  webhook_tolerance_s: 60\n"
                                    "  body_limit_bytes: 4096\n"
                                    "  max_connections: 8\n"
                                    "  read_timeout_ms: 500\n"
                                    "  idle_timeout_ms: 1500\n"
                                    "  per_table_metrics: true\n"
                                    "  protect_metrics: true\n"
                                    "  protect_health: false\n"),
                            kSource);
  unsetenv("LANDFALL_TEST_HOOK_SECRET");
  ASSERT_TRUE(config) << config.error().message;
  const ApiConfig& api = config->api;
  EXPECT_EQ(api.listen_host, "0.0.0.0");
  EXPECT_EQ(api.listen_port, 0);
  EXPECT_EQ(api.tokens, (std::vector<std::string>{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbb"}));
  EXPECT_EQ(api.webhook_secret, "s3cret-s3cret-s3cret");
  EXPECT_EQ(api.webhook_tolerance_s, 60);
  EXPECT_EQ(api.body_limit_bytes, 4096);
  EXPECT_EQ(api.max_connections, 8);
  EXPECT_EQ(api.read_timeout_ms, 500);
  EXPECT_EQ(api.idle_timeout_ms, 1500);
  EXPECT_TRUE(api.per_table_metrics);
  EXPECT_TRUE(api.protect_metrics);
  EXPECT_FALSE(api.protect_health);
}

TEST(ApiConfigTest, Ipv6ListenNeedsBrackets) {
  auto config = ParseConfig(WithApi("  listen: \"[::1]:9000\"\n"), kSource);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->api.listen_host, "::1");
  EXPECT_EQ(config->api.listen_port, 9000);
  EXPECT_THAT(ErrorOf("  listen: \"::1:9000\"\n"), HasSubstr("api.listen: must be host:port"));
}

TEST(ApiConfigTest, MalformedListenIsAnErrorWithLine) {
  EXPECT_THAT(ErrorOf("  listen: localhost\n"), HasSubstr("landfall.yaml:8: api.listen"));
  EXPECT_THAT(ErrorOf("  listen: localhost:http\n"), HasSubstr("api.listen"));
  EXPECT_THAT(ErrorOf("  listen: localhost:70000\n"), HasSubstr("api.listen"));
  EXPECT_THAT(ErrorOf("  listen: \":8600\"\n"), HasSubstr("api.listen"));
}

TEST(ApiConfigTest, ShortTokensAreRefused) {
  EXPECT_THAT(ErrorOf("  tokens: [short]\n"),
              HasSubstr("api.tokens: each token must be at least 16"));
  EXPECT_THAT(ErrorOf("  tokens: [\"aaaaaaaa bbbbbbbbbbbb\"]\n"), HasSubstr("api.tokens"));
  EXPECT_THAT(ErrorOf("  tokens: aaaaaaaaaaaaaaaaaaa\n"), HasSubstr("api.tokens: must be a list"));
}

TEST(ApiConfigTest, WebhookSecretFromAMissingVariableIsAnError) {
  unsetenv("LANDFALL_TEST_NO_SUCH_SECRET");
  EXPECT_THAT(ErrorOf("  webhook_secret: ${LANDFALL_TEST_NO_SUCH_SECRET}\n"),
              HasSubstr("api.webhook_secret: environment variable ${LANDFALL_TEST_NO_SUCH_SECRET} "
                        "is not set"));
  EXPECT_THAT(ErrorOf("  webhook_secret: tooshort\n"), HasSubstr("at least 16"));
}

TEST(ApiConfigTest, BooleansAndRangesAreChecked) {
  EXPECT_THAT(ErrorOf("  per_table_metrics: yes\n"),
              HasSubstr("api.per_table_metrics: must be true or false (got 'yes')"));
  EXPECT_THAT(ErrorOf("  body_limit_bytes: 10\n"),
              HasSubstr("api.body_limit_bytes: must be between"));
  EXPECT_THAT(ErrorOf("  max_connections: 0\n"), HasSubstr("api.max_connections"));
  EXPECT_THAT(ErrorOf("  webhook_tolerance_s: 0\n"), HasSubstr("api.webhook_tolerance_s"));
}

TEST(ApiConfigTest, UnknownKeyIsAnError) {
  EXPECT_THAT(ErrorOf("  listn: 127.0.0.1:1\n"), HasSubstr("api.listn: unknown key"));
}

}  // namespace
}  // namespace landfall::config

namespace landfall::config {
namespace {

TEST(ApiConfigTest, QueriesTimeOutAfter30SecondsFourAtATimeAndTheWarehouseStaysOpen) {
  auto config = ParseConfig(
      "landing: {dir: /l}\nstate: {postgres_url: x}\nwarehouse: {path: /w.duckdb}\n", kSource);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->api.query_timeout_ms, 30'000);
  EXPECT_EQ(config->api.max_queries, 4);
  EXPECT_EQ(config->api.query_max_bytes, 256 << 20);
  EXPECT_TRUE(config->warehouse.hold_open);
}

TEST(ApiConfigTest, QueryLimitsAndHoldOpenAreReadAndChecked) {
  auto config = ParseConfig(
      "landing: {dir: /l}\nstate: {postgres_url: x}\n"
      "warehouse: {path: /w.duckdb, hold_open: false}\n"
      "api: {query_timeout_ms: 500, max_queries: 2, query_max_bytes: 4096}\n",
      kSource);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->api.query_timeout_ms, 500);
  EXPECT_EQ(config->api.max_queries, 2);
  EXPECT_EQ(config->api.query_max_bytes, 4096);
  EXPECT_FALSE(config->warehouse.hold_open);
  EXPECT_THAT(ErrorOf("  max_queries: 0\n"), HasSubstr("api.max_queries"));
  EXPECT_THAT(ErrorOf("  query_timeout_ms: 5\n"), HasSubstr("api.query_timeout_ms"));
  EXPECT_THAT(ErrorOf("  query_max_bytes: 10\n"), HasSubstr("api.query_max_bytes"));
}

TEST(ApiConfigTest, ModelsWorkWithTheWarehouseOpenedOnDemand) {
  auto config = ParseConfig(
      "landing: {dir: /l}\nstate: {postgres_url: x}\n"
      "warehouse: {path: /w.duckdb, hold_open: false}\nmodels: {dir: /m}\n",
      kSource);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_FALSE(config->warehouse.hold_open);
  EXPECT_EQ(config->models.dir, std::filesystem::path("/m"));
}

}  // namespace
}  // namespace landfall::config
