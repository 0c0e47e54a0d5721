// The status page at GET /, loaded from the real daemon by headless Chromium
// (Debian's chromium package): what it renders, and a screenshot kept under
// <build>/test-artifacts.
#include <gmock/gmock.h>

#include "lib/state/state_store.h"
#include "tests/api/daemon_fixture.h"

#ifndef LANDFALL_TEST_ARTIFACTS
#define LANDFALL_TEST_ARTIFACTS "test-artifacts"
#endif

namespace landfall::testing {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const char* kChromium = "/usr/bin/chromium";

class StatusPageTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (!fs::exists(kChromium)) {
      if (InCi()) FAIL() << "chromium missing in CI (LANDFALL_EXTRAS=1 deploy/install-deps.sh)";
      GTEST_SKIP() << "chromium not installed";
    }
  }

  // Runs headless Chromium on the page (at `path`, e.g. "/#model=a") with
  // `mode` (--dump-dom or --screenshot=FILE); returns stdout. Bounded by `timeout`.
  CommandResult Chromium(const std::string& mode, const std::string& path = "/") {
    const fs::path profile = dir_ / ("chromium-profile-" + std::to_string(runs_++));
    return RunCommand(
        {"/usr/bin/timeout", "120", kChromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--user-data-dir=" + profile.string(), "--window-size=1280,900",
         "--virtual-time-budget=5000", mode, "http://127.0.0.1:" + std::to_string(port_) + path});
  }

  int runs_ = 0;
};

TEST_F(StatusPageTest, ShowsTablesRunsAndQuarantinedBatches) {
  Start();
  Land("orders/2026/part-0.parquet", 1200);
  Land("customers/part-0.parquet", 35);
  fs::create_directories(landing() / "events");
  std::ofstream(landing() / "events" / "corrupt.parquet") << "definitely not parquet";
  ASSERT_TRUE(WaitForRows("orders", 1200));
  ASSERT_TRUE(WaitForRows("customers", 35));
  ASSERT_TRUE(PollUntil(
      [&] { return Table("events").value("/batches/quarantined"_json_pointer, 0) == 1; }, 20s));

  auto dom = Chromium("--dump-dom");
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  const std::string& html = dom.out;
  // Rendered by the page's script from the API, not present in the static HTML.
  EXPECT_THAT(html, HasSubstr(R"(<td class="name">orders</td>)"));
  EXPECT_THAT(html, HasSubstr(R"(<td class="name">customers</td>)"));
  EXPECT_THAT(html, HasSubstr(R"(<td class="name">events/corrupt.parquet</td>)"));
  EXPECT_THAT(html, HasSubstr("not_parquet"));
  EXPECT_THAT(html, HasSubstr("1,200")) << "row counts, readable";
  EXPECT_THAT(html, HasSubstr(R"(<span class="badge succeeded">succeeded</span>)"))
      << "recent runs";
  EXPECT_THAT(html, HasSubstr(R"(id="ready" class="badge ok")"));
  EXPECT_THAT(html, HasSubstr(R"(<div class="num" id="n-tables">3</div>)"));
  EXPECT_THAT(html, ::testing::Not(HasSubstr("loading…"))) << "every section was filled in";
  EXPECT_THAT(html, ::testing::ContainsRegex(R"(<section id="login" hidden)")) << "no token needed";

  fs::create_directories(LANDFALL_TEST_ARTIFACTS);
  const fs::path shot = fs::path(LANDFALL_TEST_ARTIFACTS) / "status-page.png";
  fs::remove(shot);
  auto screenshot = Chromium("--screenshot=" + shot.string());
  ASSERT_EQ(screenshot.exit_code, 0) << screenshot.err;
  ASSERT_TRUE(fs::exists(shot)) << screenshot.err;
  EXPECT_GT(fs::file_size(shot), 10'000u) << "a real rendering, not a blank page";
}

TEST_F(StatusPageTest, ShowsModelsAndDrawsTheirDag) {
  fs::create_directories(dir_ / "models");
  std::ofstream(dir_ / "models" / "orders_clean.sql") << "SELECT id, amount FROM staging.orders\n";
  std::ofstream(dir_ / "models" / "orders_total.sql")
      << "SELECT sum(amount) AS total FROM analytics.orders_clean\n";
  config_extra_ = "models: {dir: models, schema: analytics}\n";
  Start();
  Land("orders/part-0.parquet", 1200);
  ASSERT_TRUE(WaitForRows("orders", 1200));
  ASSERT_TRUE(PollUntil([&] { return Model("orders_total").value("rows", json()) == 1; }, 30s));

  auto dom = Chromium("--dump-dom");
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  const std::string& html = dom.out;
  EXPECT_THAT(html, HasSubstr(R"(<td class="name">orders_clean</td><td>full_refresh</td>)"));
  EXPECT_THAT(html, HasSubstr(R"(<td class="name">orders_total</td>)"));
  EXPECT_THAT(html, HasSubstr(R"(<span class="badge active">active</span>)"));
  EXPECT_THAT(html, HasSubstr("new_model")) << "the last action's reason";
  EXPECT_THAT(html, ::testing::ContainsRegex("<svg[^>]*role=\"img\""));
  EXPECT_THAT(html, HasSubstr("<title>DAG: 3 nodes, 2 edges</title>"));
  EXPECT_THAT(html, HasSubstr("<title>staging.orders → analytics.orders_clean</title>"));
  EXPECT_THAT(html, HasSubstr(R"(class="node model active")"));
  EXPECT_THAT(html, ::testing::Not(HasSubstr("loading…")));

  fs::create_directories(LANDFALL_TEST_ARTIFACTS);
  const fs::path shot = fs::path(LANDFALL_TEST_ARTIFACTS) / "status-page-models.png";
  auto screenshot = Chromium("--screenshot=" + shot.string());
  EXPECT_EQ(screenshot.exit_code, 0) << screenshot.err;
}

// Picking a model lists its columns; picking a column marks its path in the
// DAG picture: the upstream tables and models (and their columns) it is
// computed from, recursively, and the models that read it and theirs. The pick
// is the URL's fragment (what a click writes), so the page is loaded with it.
TEST_F(StatusPageTest, PickedColumnShowsItsPathThroughTheDag) {
  fs::create_directories(dir_ / "models");
  const std::pair<const char*, const char*> models[] = {
      {"a", "SELECT id, amount, upper(name) AS name FROM staging.orders"},
      {"b", "SELECT id, sum(amount) AS total FROM analytics.a GROUP BY id"},
      {"c", "SELECT name FROM analytics.a WHERE amount > 0"},  // amount only filters
      {"d", "SELECT id, total * 2 AS doubled FROM analytics.b"},
      {"e", "SELECT name FROM analytics.c"},
  };
  for (const auto& [name, sql] : models) std::ofstream(dir_ / "models" / (std::string(name) + ".sql")) << sql << "\n";
  config_extra_ = "models: {dir: models, schema: analytics}\n";
  Start();
  Land("orders/part-0.parquet", 50);
  ASSERT_TRUE(WaitForRows("orders", 50));
  ASSERT_TRUE(PollUntil([&] { return Model("e").value("status", "") == "active"; }, 30s));

  // One node's classes and second line (gtest's POSIX regex: no lazy .*?).
  auto node = [](std::string id, const std::string& marks, const std::string& sub) {
    id.replace(id.find('.'), 1, "\\.");
    return "<g class=\"node [a-z]+ [a-z_]+" + marks + "\"[^>]*data-id=\"" + id +
           "\"[^>]*><title>[^<]*</title><rect[^>]*></rect><text[^>]*>[^<]*</text>"
           "<text x=\"8\" y=\"30\" class=\"sub\">" + sub + "</text></g>";
  };
  using ::testing::ContainsRegex;
  using ::testing::Not;

  auto picked = Chromium("--dump-dom", "/#model=a");
  ASSERT_EQ(picked.exit_code, 0) << picked.err;
  EXPECT_THAT(picked.out, HasSubstr(R"(<span class="name">Columns of a</span>)"));
  for (const char* column : {"id", "amount", "name"}) {
    EXPECT_THAT(picked.out, HasSubstr(std::string(R"(<button class="lcol" type="button" aria-pressed="false">)") +
                                      column + "</button>"));
  }
  EXPECT_THAT(picked.out, ContainsRegex(node("analytics.a", " picked", "full_refresh · active")))
      << "no column yet: the model is marked, nothing traced";
  EXPECT_THAT(picked.out, Not(HasSubstr("path-up")));

  auto down = Chromium("--dump-dom", "/#model=a&column=amount");
  ASSERT_EQ(down.exit_code, 0) << down.err;
  const std::string& html = down.out;
  EXPECT_THAT(html, HasSubstr(R"(<button class="lcol" type="button" aria-pressed="true">amount</button>)"));
  EXPECT_THAT(html, ContainsRegex(node("staging.orders", " path-up", "→ amount")));
  EXPECT_THAT(html, ContainsRegex(node("analytics.a", " picked", "● amount")));
  EXPECT_THAT(html, ContainsRegex(node("analytics.b", " path-down", "← total")));
  EXPECT_THAT(html, ContainsRegex(node("analytics.d", " path-down", "← doubled")))
      << "downstream recursively, through b.total";
  EXPECT_THAT(html, ContainsRegex(node("analytics.c", " path-down", "← reads it \\(filter, join\\)")))
      << "a column used only in WHERE is read";
  EXPECT_THAT(html, ContainsRegex(node("analytics.e", " dim", "full_refresh · active")))
      << "e reads c.name, which is not computed from a.amount";
  EXPECT_THAT(html, HasSubstr(R"(<path class="edge path" d=)"));
  EXPECT_THAT(html, ContainsRegex(R"(<path class="edge dim" d="[^"]*"><title>analytics.c → analytics.e</title>)"));
  EXPECT_THAT(html, HasSubstr(R"(<p class="lpath">comes from: staging.orders.amount</p>)"));
  EXPECT_THAT(html, HasSubstr(R"(<p class="lpath">read by: analytics.b, analytics.c, analytics.d</p>)"));

  auto up = Chromium("--dump-dom", "/#model=d&column=doubled");
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_THAT(up.out, ContainsRegex(node("analytics.b", " path-up", "→ total")));
  EXPECT_THAT(up.out, ContainsRegex(node("analytics.a", " path-up", "→ amount")))
      << "upstream recursively, through b's own lineage";
  EXPECT_THAT(up.out, ContainsRegex(node("staging.orders", " path-up", "→ amount")));
  EXPECT_THAT(up.out, ContainsRegex(node("analytics.c", " dim", "full_refresh · active")));
  EXPECT_THAT(up.out, HasSubstr(R"(<p class="lpath">comes from: staging.orders.amount</p>)"));
  EXPECT_THAT(up.out, HasSubstr(R"(<p class="lpath">through: analytics.a.amount, analytics.b.total</p>)"));
  EXPECT_THAT(up.out, HasSubstr(R"(<p class="lpath">read by: nothing</p>)"));

  fs::create_directories(LANDFALL_TEST_ARTIFACTS);
  const fs::path shot = fs::path(LANDFALL_TEST_ARTIFACTS) / "status-page-lineage.png";
  auto screenshot = Chromium("--screenshot=" + shot.string(), "/#model=a&column=amount");
  EXPECT_EQ(screenshot.exit_code, 0) << screenshot.err;
}

// A time-interval model known to the state store (its partitions written
// here, as its runner writes them): a row of day cells, one per key from its
// first partition to today, coloured by status, the days without a partition
// grey.
TEST_F(StatusPageTest, ShowsATimeIntervalModelsDaysColouredByStatus) {
  fs::create_directories(dir_ / "models");
  config_extra_ = "models: {dir: models, schema: analytics}\n";
  Start();
  auto store = state::OpenPostgres({.url = PostgresUrl(), .environment = env_});
  ASSERT_TRUE(store) << store.error().ToString();
  ASSERT_TRUE((*store)->RecordModelOutcome(
      state::ModelRecord{.name = "events_daily", .strategy = "time_interval"}, 0, nullptr));
  // Four days back computed, three back failed, two back missing, yesterday
  // interrupted, today in progress.
  std::vector<state::PartitionRecord> days;
  const std::pair<int, state::PartitionStatus> statuses[] = {
      {4, state::PartitionStatus::kComputed},
      {3, state::PartitionStatus::kFailed},
      {1, state::PartitionStatus::kInterrupted},
      {0, state::PartitionStatus::kInProgress}};
  for (const auto& [back, status] : statuses) {
    days.push_back({.model = "events_daily",
                    .key = UtcDayKey(-back),
                    .window_start_us = UtcDayStart(-back) * 1'000'000,
                    .window_end_us = UtcDayStart(1 - back) * 1'000'000,
                    .status = status,
                    .row_count = 12,
                    .error = status == state::PartitionStatus::kFailed ? "Binder Error: x" : ""});
  }
  ASSERT_TRUE((*store)->SavePartitions(days));

  auto dom = Chromium("--dump-dom");
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  const std::string& html = dom.out;
  EXPECT_THAT(html, ::testing::ContainsRegex(R"(<div id="partitions-box">)")) << "shown";
  EXPECT_THAT(html, ::testing::ContainsRegex(
                        R"(<div class="plabel name" title="day partitions [-0-9]+ to [-0-9]+: 1 )"
                        R"(computed, 1 failed, 1 missing, 1 interrupted, 1 in_progress">)"
                        R"(events_daily</div>)"));
  EXPECT_THAT(html, HasSubstr(R"(<span class="pcell computed" title=")" + UtcDayKey(-4) +
                              ": computed · 12 rows"));
  EXPECT_THAT(html, HasSubstr(R"(<span class="pcell failed" title=")" + UtcDayKey(-3) +
                              ": failed · 12 rows · 0 ms · Binder Error: x"));
  EXPECT_THAT(html, HasSubstr(R"(<span class="pcell missing" title=")" + UtcDayKey(-2) +
                              ": missing\"></span>"));
  EXPECT_THAT(html, HasSubstr(R"(<span class="pcell interrupted" title=")" +
                              UtcDayKey(-1) + ": interrupted"));
  EXPECT_THAT(html, HasSubstr(R"(<span class="pcell in_progress" title=")" + UtcDayKey(0) +
                              ": in_progress"));

  fs::create_directories(LANDFALL_TEST_ARTIFACTS);
  const fs::path shot = fs::path(LANDFALL_TEST_ARTIFACTS) / "status-page-partitions.png";
  auto screenshot = Chromium("--screenshot=" + shot.string());
  EXPECT_EQ(screenshot.exit_code, 0) << screenshot.err;
}

TEST_F(StatusPageTest, AsksForATokenWhenTokensAreOn) {
  token_ = kToken;
  Start(std::string("  tokens: [") + kToken + "]\n");
  Land("orders/part-0.parquet", 5);
  ASSERT_TRUE(WaitForRows("orders", 5));
  auto dom = Chromium("--dump-dom");
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  EXPECT_THAT(dom.out, ::testing::ContainsRegex(R"(<section id="login">)"))
      << "the token form is shown";
  EXPECT_THAT(dom.out, ::testing::Not(HasSubstr(R"(<td class="name">orders</td>)")))
      << "no data without a token";

  fs::create_directories(LANDFALL_TEST_ARTIFACTS);
  const fs::path shot = fs::path(LANDFALL_TEST_ARTIFACTS) / "status-page-token.png";
  auto screenshot = Chromium("--screenshot=" + shot.string());
  EXPECT_EQ(screenshot.exit_code, 0) << screenshot.err;
}

}  // namespace
}  // namespace landfall::testing
