// Leases in the state store (lib/state/cluster_store.h) against the test
// PostgreSQL: one winner per table, expiry on PostgreSQL's clock, release,
// leave, members and the lease history.
#include "lib/state/cluster_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/state/state_testing.h"
#include "tests/support/testing.h"

namespace landfall::state {
namespace {

using testing::PgSession;
using testing::PostgresUrl;
using testing::UniqueEnvironment;

// Members of one cluster share its TTL (the config's cluster.lease_ttl_s).
constexpr int kTtlS = 2;

std::unique_ptr<ClusterStore> Member(const std::string& env, const std::string& node) {
  auto store = ClusterStore::Open({.url = PostgresUrl(),
                                   .environment = env,
                                   .node = node,
                                   .api = "127.0.0.1:1",
                                   .lease_ttl = std::chrono::seconds(kTtlS)});
  EXPECT_TRUE(store) << store.error().ToString();
  return store ? std::move(*store) : nullptr;
}

TEST(ClusterStoreTest, OneMemberWinsEachTableUntilItsLeaseEndsAndTheHistorySaysSo) {
  LANDFALL_REQUIRE_POSTGRES();
  const std::string env = UniqueEnvironment("cluster");
  ASSERT_TRUE(OpenMigrated(env));
  auto a = Member(env, "a");
  auto b = Member(env, "b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Heartbeat());
  ASSERT_TRUE(b->Heartbeat());
  EXPECT_EQ(*a->LiveMembers(), 2);

  EXPECT_EQ(*a->Claim({"orders", "users"}), (std::set<std::string>{"orders", "users"}));
  // Held: nobody else gets them.
  EXPECT_EQ(*b->Claim({"orders", "users", "events"}), (std::set<std::string>{"events"}));
  EXPECT_EQ(*a->Heartbeat(), (std::set<std::string>{"orders", "users"}));

  // Released: free at once.
  ASSERT_TRUE(a->Release({"users"}));
  EXPECT_EQ(*a->Heartbeat(), (std::set<std::string>{"orders"}));
  EXPECT_EQ(*b->Claim({"users"}), (std::set<std::string>{"users"}));

  // b stops renewing while a goes on: after the TTL b's leases are
  // anyone's, and a renewal of an expired lease does not take it back.
  for (int i = 0; i < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1300));
    EXPECT_EQ(*a->Heartbeat(), (std::set<std::string>{"orders"}));
  }
  EXPECT_EQ(*a->LiveMembers(), 1);
  EXPECT_EQ(*a->Claim({"events", "users"}), (std::set<std::string>{"events", "users"}));
  EXPECT_TRUE(b->Heartbeat()->empty());
  EXPECT_EQ(*a->KnownTables(), (std::set<std::string>{"events", "orders", "users"}));

  auto members = a->Members();
  ASSERT_TRUE(members) << members.error().ToString();
  ASSERT_EQ(members->size(), 2u);
  for (const auto& m : *members) EXPECT_EQ(m.tables, m.node == "a" ? 3 : 0) << m.node;

  ASSERT_TRUE(a->Leave());
  EXPECT_TRUE(a->Leases()->empty());
  EXPECT_EQ(*b->LiveMembers(), 1) << "b's heartbeat above made it live again; a left";

  PgSession raw;
  auto history = raw.Query(
      "SELECT table_name || ' ' || owner || ' ' || event || ' ' || COALESCE(previous_owner, '-')"
      "  FROM lease_history WHERE environment = $1 ORDER BY id",
      {env});
  // Leave releases its leases in one statement, in no particular order.
  ASSERT_EQ(history.size(), 10u);
  std::sort(history.end() - 3, history.end());
  EXPECT_EQ(history, (std::vector<std::string>{"orders a acquired -", "users a acquired -",
                                               "events b acquired -", "users a released -",
                                               "users b acquired a", "events a acquired b",
                                               "users a acquired b", "events a released -",
                                               "orders a released -", "users a released -"}));
}

// Four members claim the same 200 tables at the same moment, each in its own
// order: every table is won exactly once.
TEST(ClusterStoreTest, MembersClaimingAtOnceNeverBothWinATable) {
  LANDFALL_REQUIRE_POSTGRES();
  const std::string env = UniqueEnvironment("cluster");
  ASSERT_TRUE(OpenMigrated(env));
  std::vector<std::string> tables;
  for (int i = 0; i < 200; ++i) tables.push_back("t" + std::to_string(i));
  std::vector<std::unique_ptr<ClusterStore>> members;
  for (int m = 0; m < 4; ++m) members.push_back(Member(env, "m" + std::to_string(m)));
  std::vector<std::set<std::string>> won(members.size());
  std::vector<std::string> errors(members.size());  // none: they wait for each other, no deadlock
  std::vector<std::thread> threads;
  for (size_t m = 0; m < members.size(); ++m) {
    threads.emplace_back([&, m] {
      auto order = tables;
      std::rotate(order.begin(), order.begin() + static_cast<long>(m * 50), order.end());
      auto claimed = members[m]->Claim(order);
      if (claimed) {
        won[m] = *claimed;
      } else {
        errors[m] = claimed.error().ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  std::set<std::string> all;
  size_t total = 0;
  for (const auto& w : won) {
    total += w.size();
    all.insert(w.begin(), w.end());
  }
  EXPECT_EQ(total, tables.size());
  EXPECT_EQ(all.size(), tables.size());
  PgSession raw;
  EXPECT_EQ(raw.Query("SELECT count(*) FROM lease_history WHERE environment = $1", {env}),
            std::vector<std::string>{"200"});
}

}  // namespace
}  // namespace landfall::state
