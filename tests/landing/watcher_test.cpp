// The inotify watcher on a real temp dir: files reported ready once closed
// or renamed into place, new and nested folders watched as they appear,
// ignored names, deletions and renames, and the cases that degrade it and
// ask for a rescan (landing dir deleted, queue overflow, watch limit).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "lib/landing/inotify_watcher.h"
#include "tests/support/testing.h"

namespace landfall::landing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::vector<std::string> kIgnore = {".*", "_*", "*.tmp", "*.partial", "*.inprogress"};

void WriteFile(const fs::path& path, const std::string& content = "PAR1 not really PAR1") {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

std::string Describe(const WatchEvent& e) {
  static const char* kNames[] = {"kFileReady",        "kDirectoryAdded", "kFileRemoved",
                                 "kDirectoryRemoved", "kTableRemoved",   "kOverflow",
                                 "kWatchLimit",       "kWatchError"};
  return std::string(kNames[e.kind]) + "{" + e.table + ", " + e.rel_path + "}" +
         (e.message.empty() ? "" : " " + e.message);
}

// Collects a watcher's events the way the daemon will: wait for the handle to
// be readable, then ReadEvents().
class Collector {
 public:
  explicit Collector(Watcher& watcher) : watcher_(watcher) {}

  // Reads until an event matching `pred` has arrived (true) or `timeout` passed.
  bool WaitFor(const std::function<bool(const WatchEvent&)>& pred,
               std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t checked = 0;
    for (;;) {
      for (; checked < events.size(); ++checked) {
        if (pred(events[checked])) return true;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return false;
      ReadOnce(std::min(left, 50ms));
    }
  }

  bool WaitFor(WatchEvent::Kind kind, const std::string& rel_path = {}) {
    return WaitFor([&](const WatchEvent& e) {
      return e.kind == kind && (rel_path.empty() || e.rel_path == rel_path);
    });
  }

  // Keeps reading for `duration`, for checks that something does NOT arrive.
  void Drain(std::chrono::milliseconds duration = 300ms) {
    const auto deadline = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < deadline) ReadOnce(20ms);
  }

  size_t Count(WatchEvent::Kind kind, const std::string& rel_path = {}) const {
    return std::count_if(events.begin(), events.end(), [&](const WatchEvent& e) {
      return e.kind == kind && (rel_path.empty() || e.rel_path == rel_path);
    });
  }

  std::string Dump() const {
    std::string out;
    for (const auto& e : events) out += "  " + Describe(e) + "\n";
    return out.empty() ? "  (no events)\n" : out;
  }

  std::vector<WatchEvent> events;

 private:
  void ReadOnce(std::chrono::milliseconds wait) {
    pollfd p{watcher_.NativeHandle(), POLLIN, 0};
    poll(&p, 1, static_cast<int>(wait.count()));
    // Called even when not readable: events queued at creation come first.
    for (auto& e : watcher_.ReadEvents()) events.push_back(std::move(e));
  }

  Watcher& watcher_;
};

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    landing_ = dir_.path() / "landing";
    fs::create_directories(landing_ / "orders");
  }

  std::unique_ptr<InotifyWatcher> Start(InotifyWatcher::Options options = {kIgnore, {}}) {
    auto watcher = InotifyWatcher::Create(landing_, std::move(options));
    EXPECT_TRUE(watcher.has_value()) << watcher.error().ToString();
    return watcher ? std::move(*watcher) : nullptr;
  }

  testing::TempDir dir_;
  fs::path landing_;
};

TEST_F(WatcherTest, ClosedFileIsReady) {
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  Collector c(*watcher);
  WriteFile(landing_ / "orders" / "part-0.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "orders/part-0.parquet")) << c.Dump();
  EXPECT_EQ(c.events.front().table, "orders");
  EXPECT_FALSE(watcher->Degraded());
}

TEST_F(WatcherTest, WriteThenRenameIsReadyOnceUnderFinalName) {
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  Collector c(*watcher);
  WriteFile(landing_ / "orders" / ".x.tmp");
  WriteFile(landing_ / "orders" / "y.parquet.inprogress");
  fs::rename(landing_ / "orders" / ".x.tmp", landing_ / "orders" / "x.parquet");
  fs::rename(landing_ / "orders" / "y.parquet.inprogress", landing_ / "orders" / "y.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "orders/y.parquet")) << c.Dump();
  c.Drain();
  EXPECT_EQ(c.Count(WatchEvent::kFileReady, "orders/x.parquet"), 1u) << c.Dump();
  EXPECT_EQ(c.Count(WatchEvent::kFileReady, "orders/y.parquet"), 1u) << c.Dump();
  EXPECT_EQ(c.events.size(), 2u) << "temporary names must produce nothing\n" << c.Dump();
}

TEST_F(WatcherTest, SlowWriterIsReadyOnlyWhenClosed) {
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  Collector c(*watcher);
  {
    std::ofstream out(landing_ / "orders" / "slow.parquet", std::ios::binary);
    out << "PAR1" << std::flush;
    c.Drain(200ms);
    EXPECT_EQ(c.Count(WatchEvent::kFileReady), 0u) << c.Dump();
    out << "more" << std::flush;
  }
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "orders/slow.parquet")) << c.Dump();
}

TEST_F(WatcherTest, NewTableFolderIsReportedAndWatched) {
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  Collector c(*watcher);
  fs::create_directory(landing_ / "customers");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kDirectoryAdded, "customers")) << c.Dump();
  EXPECT_EQ(c.events.back().table, "customers");
  WriteFile(landing_ / "customers" / "c.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "customers/c.parquet")) << c.Dump();
}

TEST_F(WatcherTest, NestedPartitionFolderIsReportedAndWatched) {
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  Collector c(*watcher);
  fs::create_directory(landing_ / "orders" / "date=2026-11-01");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kDirectoryAdded, "orders/date=2026-11-01")) << c.Dump();
  EXPECT_EQ(c.events.back().table, "orders");
  WriteFile(landing_ / "orders" / "date=2026-11-01" / "part-0.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "orders/date=2026-11-01/part-0.parquet"))
      << c.Dump();
  EXPECT_EQ(c.events.back().table, "orders");
}

TEST_F(WatcherTest, FoldersCreatedBeforeTheirParentIsWatchedAreWatchedToo) {
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  Collector c(*watcher);
  // mkdir -p creates the whole chain before the watcher sees the first folder.
  fs::create_directories(landing_ / "events" / "y=2026" / "m=11" / "d=01");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kDirectoryAdded, "events")) << c.Dump();
  WriteFile(landing_ / "events" / "y=2026" / "m=11" / "d=01" / "e.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "events/y=2026/m=11/d=01/e.parquet")) << c.Dump();
}

TEST_F(WatcherTest, ExistingNestedFoldersAreWatchedFromTheStart) {
  fs::create_directories(landing_ / "orders" / "date=2026-10-31");
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  Collector c(*watcher);
  WriteFile(landing_ / "orders" / "date=2026-10-31" / "p.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "orders/date=2026-10-31/p.parquet")) << c.Dump();
}

TEST_F(WatcherTest, IgnoredNamesProduceNothingAtAnyDepth) {
  fs::create_directories(landing_ / "orders" / "_staging");
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  EXPECT_EQ(watcher->WatchCount(), 2u);  // landing dir and orders, not _staging
  Collector c(*watcher);
  WriteFile(landing_ / "orders" / "_staging" / "a.parquet");
  WriteFile(landing_ / "orders" / ".hidden.parquet");
  WriteFile(landing_ / "orders" / "b.parquet.partial");
  fs::create_directories(landing_ / "orders" / ".work" / "inner");
  WriteFile(landing_ / "orders" / ".work" / "inner" / "c.parquet");
  fs::create_directories(landing_ / "_scratch");
  WriteFile(landing_ / "_scratch" / "d.parquet");
  WriteFile(landing_ / "stray.parquet");  // directly in the landing dir: no table
  fs::remove(landing_ / "orders" / ".hidden.parquet");
  // A sentinel after everything else: once it arrives, the rest has been read.
  WriteFile(landing_ / "orders" / "sentinel.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "orders/sentinel.parquet")) << c.Dump();
  c.Drain(100ms);
  EXPECT_EQ(c.events.size(), 1u) << c.Dump();
}

TEST_F(WatcherTest, IgnoredFolderRenamedIntoPlaceIsReportedAndWatched) {
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  Collector c(*watcher);
  fs::create_directories(landing_ / "orders" / "_date=2026-11-02.tmp");
  WriteFile(landing_ / "orders" / "_date=2026-11-02.tmp" / "p.parquet");
  fs::rename(landing_ / "orders" / "_date=2026-11-02.tmp", landing_ / "orders" / "date=2026-11-02");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kDirectoryAdded, "orders/date=2026-11-02")) << c.Dump();
  EXPECT_EQ(c.Count(WatchEvent::kFileReady), 0u) << "the file is found by the caller's scan\n"
                                                 << c.Dump();
  WriteFile(landing_ / "orders" / "date=2026-11-02" / "q.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "orders/date=2026-11-02/q.parquet")) << c.Dump();
}

TEST_F(WatcherTest, SymlinkRenamedIntoPlaceIsNotABatch) {
  WriteFile(dir_.path() / "outside.parquet");
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  Collector c(*watcher);
  fs::create_symlink(dir_.path() / "outside.parquet", landing_ / "orders" / ".link");
  fs::rename(landing_ / "orders" / ".link", landing_ / "orders" / "link.parquet");
  WriteFile(landing_ / "orders" / "sentinel.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "orders/sentinel.parquet")) << c.Dump();
  EXPECT_EQ(c.Count(WatchEvent::kFileReady, "orders/link.parquet"), 0u) << c.Dump();
}

TEST_F(WatcherTest, DeletedFileIsReported) {
  WriteFile(landing_ / "orders" / "gone.parquet");
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  Collector c(*watcher);
  fs::remove(landing_ / "orders" / "gone.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileRemoved, "orders/gone.parquet")) << c.Dump();
}

TEST_F(WatcherTest, PartitionFolderMovedAwayIsReported) {
  fs::create_directories(landing_ / "orders" / "date=1");
  WriteFile(landing_ / "orders" / "date=1" / "p.parquet");
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  Collector c(*watcher);
  fs::rename(landing_ / "orders" / "date=1", dir_.path() / "elsewhere");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kDirectoryRemoved, "orders/date=1")) << c.Dump();
  EXPECT_EQ(watcher->WatchCount(), 2u);
  // The moved folder is no longer watched: writing there reports nothing.
  WriteFile(dir_.path() / "elsewhere" / "q.parquet");
  WriteFile(landing_ / "orders" / "sentinel.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "orders/sentinel.parquet")) << c.Dump();
  EXPECT_EQ(c.Count(WatchEvent::kFileReady), 1u) << c.Dump();
}

TEST_F(WatcherTest, DeletedTableFolderIsReportedOnce) {
  fs::create_directories(landing_ / "orders" / "date=1");
  WriteFile(landing_ / "orders" / "date=1" / "p.parquet");
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  Collector c(*watcher);
  fs::remove_all(landing_ / "orders");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kTableRemoved, "orders")) << c.Dump();
  c.Drain();
  EXPECT_EQ(c.Count(WatchEvent::kTableRemoved), 1u) << c.Dump();
  EXPECT_EQ(watcher->WatchCount(), 1u);
}

TEST_F(WatcherTest, RenamedTableFolderIsRemovedThenAdded) {
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  Collector c(*watcher);
  fs::rename(landing_ / "orders", landing_ / "orders_v2");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kDirectoryAdded, "orders_v2")) << c.Dump();
  EXPECT_EQ(c.Count(WatchEvent::kTableRemoved, "orders"), 1u) << c.Dump();
  WriteFile(landing_ / "orders_v2" / "a.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "orders_v2/a.parquet")) << c.Dump();
  EXPECT_EQ(c.events.back().table, "orders_v2");
}

TEST_F(WatcherTest, MissingLandingDirectoryFailsCreation) {
  auto watcher = InotifyWatcher::Create(dir_.path() / "nope", {kIgnore, {}});
  ASSERT_FALSE(watcher.has_value());
  EXPECT_EQ(watcher.error().code, "landing_missing");
}

TEST_F(WatcherTest, DeletedLandingDirectoryDegradesAndAsksForRescan) {
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  Collector c(*watcher);
  fs::remove_all(landing_);
  ASSERT_TRUE(c.WaitFor(WatchEvent::kOverflow)) << c.Dump();
  EXPECT_TRUE(watcher->Degraded());
  fs::create_directories(landing_ / "orders");
  watcher->Rewatch();
  EXPECT_FALSE(watcher->Degraded());
  WriteFile(landing_ / "orders" / "back.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "orders/back.parquet")) << c.Dump();
}

// The real kernel queue overflows when nobody reads; the watcher must say so
// and, because folder creations may have been lost, watch them again itself.
TEST_F(WatcherTest, QueueOverflowAsksForRescanAndRewatchesLostFolders) {
  long max_queued = 0;
  std::ifstream("/proc/sys/fs/inotify/max_queued_events") >> max_queued;
  if (max_queued <= 0 || max_queued > 200000) GTEST_SKIP() << "max_queued_events=" << max_queued;
  auto watcher = Start();
  ASSERT_TRUE(watcher);
  // Closing a file opened for writing queues IN_CLOSE_WRITE; alternating two
  // names keeps the kernel from merging consecutive identical events.
  WriteFile(landing_ / "orders" / "a.parquet");
  WriteFile(landing_ / "orders" / "b.parquet");
  for (long i = 0; i < max_queued + 100; ++i) {
    const int fd = open((landing_ / "orders" / (i % 2 ? "a.parquet" : "b.parquet")).c_str(),
                        O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    close(fd);
  }
  // Their IN_CREATE events are lost: only a re-walk can watch them.
  fs::create_directories(landing_ / "orders" / "date=late");
  fs::create_directories(landing_ / "late_table");
  Collector c(*watcher);
  ASSERT_TRUE(c.WaitFor(WatchEvent::kOverflow, "")) << "no overflow";
  EXPECT_NE(c.events.back().message.find("overflow"), std::string::npos);
  EXPECT_FALSE(watcher->Degraded());
  EXPECT_EQ(watcher->WatchCount(), 4u);  // landing, orders, orders/date=late, late_table
  WriteFile(landing_ / "orders" / "date=late" / "p.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "orders/date=late/p.parquet"));
  WriteFile(landing_ / "late_table" / "p.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "late_table/p.parquet"));
}

// The watch limit cannot be lowered without root and without disturbing the
// machine, so inotify_add_watch is replaced by one that runs out for
// partition folders until the "operator" raises the limit.
TEST_F(WatcherTest, WatchLimitIsReportedOnceDegradesAndRecoversOnRewatch) {
  fs::create_directories(landing_ / "orders" / "date=1");
  bool limit_raised = false;
  InotifyWatcher::Options options{kIgnore, [&](int fd, const char* path, uint32_t mask) {
                                    if (!limit_raised && std::strstr(path, "date=")) {
                                      errno = ENOSPC;
                                      return -1;
                                    }
                                    return inotify_add_watch(fd, path, mask);
                                  }};
  auto watcher = Start(std::move(options));
  ASSERT_TRUE(watcher);
  EXPECT_TRUE(watcher->Degraded());
  Collector c(*watcher);
  ASSERT_TRUE(c.WaitFor(WatchEvent::kWatchLimit, "orders/date=1")) << c.Dump();
  const std::string& message = c.events.back().message;
  EXPECT_NE(message.find("fs.inotify.max_user_watches"), std::string::npos) << message;
  EXPECT_NE(message.find("degraded"), std::string::npos) << message;
  EXPECT_EQ(c.events.back().table, "orders");

  // Another folder hitting the limit is still reported as added (so the caller
  // scans it), but the advice is not repeated.
  fs::create_directory(landing_ / "orders" / "date=2");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kDirectoryAdded, "orders/date=2")) << c.Dump();
  EXPECT_EQ(c.Count(WatchEvent::kWatchLimit), 1u) << c.Dump();

  limit_raised = true;
  watcher->Rewatch();
  EXPECT_FALSE(watcher->Degraded());
  WriteFile(landing_ / "orders" / "date=1" / "p.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "orders/date=1/p.parquet")) << c.Dump();
  WriteFile(landing_ / "orders" / "date=2" / "p.parquet");
  ASSERT_TRUE(c.WaitFor(WatchEvent::kFileReady, "orders/date=2/p.parquet")) << c.Dump();
}

}  // namespace
}  // namespace landfall::landing
