// The HTTP router: literal and {param} routes, literals winning over
// params, percent-decoding, the allowed methods of a known path, and query
// string parsing.
#include "api/router.h"

#include <gtest/gtest.h>

namespace landfall::api {
namespace {

Router Make() {
  Router r;
  r.Add("GET", "/v1/runs", 1);
  r.Add("POST", "/v1/runs", 2);
  r.Add("GET", "/v1/runs/{id}", 3);
  r.Add("POST", "/v1/batches/{id}/retry", 4);
  r.Add("GET", "/", 5);
  r.Add("GET", "/v1/tables/{name}", 6);
  r.Add("GET", "/v1/tables/special", 7);
  return r;
}

TEST(RouterTest, LiteralAndParamRoutesMatch) {
  auto r = Make();
  EXPECT_EQ(r.Find("GET", "/v1/runs").route->id, 1);
  EXPECT_EQ(r.Find("POST", "/v1/runs").route->id, 2);
  auto run = r.Find("GET", "/v1/runs/42");
  ASSERT_TRUE(run.route);
  EXPECT_EQ(run.route->id, 3);
  EXPECT_EQ(run.params.at("id"), "42");
  EXPECT_EQ(r.Find("GET", "/").route->id, 5);
}

TEST(RouterTest, LiteralSegmentsWinOverParams) {
  auto r = Make();
  EXPECT_EQ(r.Find("GET", "/v1/tables/special").route->id, 7);
  EXPECT_EQ(r.Find("GET", "/v1/tables/orders").route->id, 6);
}

TEST(RouterTest, ParamsArePercentDecodedAndMayHoldSlashes) {
  auto r = Make();
  auto m = r.Find("POST", "/v1/batches/orders%2F2026%2Fpart-0.parquet/retry");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.params.at("id"), "orders/2026/part-0.parquet");
  auto odd = r.Find("GET", "/v1/tables/a%22b%3B%20drop%20table%20x");
  ASSERT_TRUE(odd.route);
  EXPECT_EQ(odd.params.at("name"), "a\"b; drop table x");
  EXPECT_TRUE(r.Find("GET", "/v1/tables/%zz").bad_encoding);
  EXPECT_TRUE(r.Find("GET", "/v1/tables/%2").bad_encoding);
}

TEST(RouterTest, UnknownPathHasNoAllowedMethodsAndWrongMethodHas) {
  auto r = Make();
  auto unknown = r.Find("GET", "/v1/nothing");
  EXPECT_EQ(unknown.route, nullptr);
  EXPECT_TRUE(unknown.allowed.empty());
  auto wrong = r.Find("DELETE", "/v1/runs");
  EXPECT_EQ(wrong.route, nullptr);
  EXPECT_EQ(wrong.allowed, (std::vector<std::string>{"GET", "POST"}));
  EXPECT_EQ(r.Find("GET", "/v1/runs/").route, nullptr) << "an empty param does not match";
  EXPECT_EQ(r.Find("GET", "/v1/runs/1/x").route, nullptr);
}

TEST(QueryTest, ParsesAndDecodes) {
  auto q = ParseQuery("table=a%20b&status=quarantined&x=1+2&flag&limit=5&limit=6");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->at("table"), "a b");
  EXPECT_EQ(q->at("status"), "quarantined");
  EXPECT_EQ(q->at("x"), "1 2");
  EXPECT_EQ(q->at("flag"), "");
  EXPECT_EQ(q->at("limit"), "6");
  EXPECT_FALSE(ParseQuery("a=%G0"));
  EXPECT_TRUE(ParseQuery("")->empty());
}

}  // namespace
}  // namespace landfall::api
