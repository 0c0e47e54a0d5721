// The landing directory as files: which folders are tables and which files
// their batches (at any depth, past ignore globs, symlinks never followed,
// FIFOs listed as not regular, a file directly in the landing dir warned
// about), the size, mtime, ctime and inode each carries, scanning one table,
// and content fingerprints (SHA-256).
#include "lib/landing/catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "tests/support/testing.h"

namespace landfall::landing {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::vector<std::string> kDefaultIgnore = {".*", "_*", "*.tmp", "*.partial", "*.inprogress"};

// Writes `content` at `file`, creating parent folders.
void Put(const fs::path& file, const std::string& content = "data") {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << content;
}

std::vector<std::string> RelPaths(const std::vector<LandedFile>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.rel_path);
  return out;
}

class ScanTest : public ::testing::Test {
 protected:
  ScanTest() : landing_(tmp_ / "landing") { fs::create_directories(landing_); }

  ScanResult MustScan(const std::vector<std::string>& ignore = kDefaultIgnore) {
    auto result = Scan(landing_, ignore);
    if (!result) {
      ADD_FAILURE() << result.error().ToString();
      return {};
    }
    return *result;
  }

  testing::TempDir tmp_;
  fs::path landing_;
};

// ---- tables ----

TEST_F(ScanTest, FirstLevelFoldersAreTablesIncludingEmptyOnes) {
  Put(landing_ / "orders/part-0.parquet");
  fs::create_directories(landing_ / "customers");
  ScanResult scan = MustScan();
  EXPECT_THAT(scan.tables, ElementsAre("customers", "orders"));
  EXPECT_THAT(RelPaths(scan.files), ElementsAre("orders/part-0.parquet"));
}

TEST_F(ScanTest, EmptyLandingDirHasNoTables) {
  ScanResult scan = MustScan();
  EXPECT_THAT(scan.tables, IsEmpty());
  EXPECT_THAT(scan.files, IsEmpty());
  EXPECT_THAT(scan.warnings, IsEmpty());
}

TEST_F(ScanTest, TablesAreSorted) {
  for (const char* t : {"zebra", "alpha", "Mango", "beta"}) fs::create_directories(landing_ / t);
  EXPECT_THAT(MustScan().tables, ElementsAre("Mango", "alpha", "beta", "zebra"));
}

TEST_F(ScanTest, StrangeFolderNamesAreTables) {
  fs::create_directories(landing_ / "a\"b; drop table x");
  fs::create_directories(landing_ / "with space");
  fs::create_directories(landing_ / "\xC3\xA9t\xC3\xA9");  // "été"
  EXPECT_THAT(MustScan().tables,
              ElementsAre("a\"b; drop table x", "with space", "\xC3\xA9t\xC3\xA9"));
}

// ---- files ----

TEST_F(ScanTest, FilesAtAnyDepthAreBatchesOfTheirTable) {
  Put(landing_ / "orders/part-0.parquet");
  Put(landing_ / "orders/date=2026-11-01/part-1.parquet");
  Put(landing_ / "orders/a/b/c/deep.parquet");
  Put(landing_ / "customers/c.parquet");
  ScanResult scan = MustScan();
  EXPECT_THAT(RelPaths(scan.files),
              ElementsAre("customers/c.parquet", "orders/a/b/c/deep.parquet",
                          "orders/date=2026-11-01/part-1.parquet", "orders/part-0.parquet"));
  for (const auto& f : scan.files) {
    EXPECT_EQ(f.table, f.rel_path.substr(0, f.rel_path.find('/'))) << f.rel_path;
    EXPECT_EQ(fs::path(AbsPath(landing_, f)), landing_ / f.rel_path) << f.rel_path;
  }
}

TEST_F(ScanTest, FileCarriesSizeMtimeAndInode) {
  Put(landing_ / "orders/part-0.parquet", "twelve bytes");
  ScanResult scan = MustScan();
  ASSERT_EQ(scan.files.size(), 1u);
  const LandedFile& f = scan.files[0];
  struct stat st;
  ASSERT_EQ(stat(AbsPath(landing_, f).c_str(), &st), 0);
  EXPECT_EQ(f.size, 12);
  EXPECT_EQ(f.inode, static_cast<int64_t>(st.st_ino));
  EXPECT_EQ(f.mtime_ns, static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec);
  EXPECT_GT(f.mtime_ns, 0);
}

// Waits until the file system's clock has moved past `ctime_ns`, by touching
// a probe file until its ctime is later: file times come from a coarse clock,
// and a rewrite within the same tick would keep the old ctime.
void WaitForCtimeAfter(const fs::path& probe, int64_t ctime_ns) {
  for (;;) {
    Put(probe, "tick");
    struct stat st;
    ASSERT_EQ(stat(probe.c_str(), &st), 0);
    if (static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec > ctime_ns) {
      return;
    }
  }
}

TEST_F(ScanTest, FileCarriesCtime) {
  Put(landing_ / "orders/part-0.parquet", "twelve bytes");
  ScanResult scan = MustScan();
  ASSERT_EQ(scan.files.size(), 1u);
  struct stat st;
  ASSERT_EQ(stat(AbsPath(landing_, scan.files[0]).c_str(), &st), 0);
  EXPECT_EQ(scan.files[0].ctime_ns,
            static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec);
}

TEST_F(ScanTest, RewriteInPlaceWithSizeAndMtimeRestoredIsNotUnchanged) {
  const fs::path file = landing_ / "orders/part-0.parquet";
  Put(file, "version one!");
  ScanResult scan = MustScan();
  ASSERT_EQ(scan.files.size(), 1u);
  const LandedFile before = scan.files[0];
  ASSERT_TRUE(Unchanged(landing_, before));
  WaitForCtimeAfter(tmp_ / "probe", before.ctime_ns);

  // What cp -p or rsync -t --inplace do: same inode, same size, old mtime back.
  struct stat st;
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  std::ofstream(file, std::ios::binary | std::ios::trunc) << "version two!";
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  ScanResult again = MustScan();
  ASSERT_EQ(again.files.size(), 1u);
  ASSERT_EQ(again.files[0].size, before.size);
  ASSERT_EQ(again.files[0].mtime_ns, before.mtime_ns);
  ASSERT_EQ(again.files[0].inode, before.inode);

  EXPECT_FALSE(Unchanged(landing_, before));
  EXPECT_NE(again.files[0].ctime_ns, before.ctime_ns);
}

TEST_F(ScanTest, FilesAreSortedByRelativePath) {
  for (const char* p : {"t/z.parquet", "t/a.parquet", "t/m/b.parquet", "t/B.parquet", "s/x.parquet"}) {
    Put(landing_ / p);
  }
  EXPECT_THAT(RelPaths(MustScan().files),
              ElementsAre("s/x.parquet", "t/B.parquet", "t/a.parquet", "t/m/b.parquet",
                          "t/z.parquet"));
}

TEST_F(ScanTest, FilesOfAnyNameAreCandidatesSoBadOnesCanBeQuarantined) {
  Put(landing_ / "orders/readme.txt");
  Put(landing_ / "orders/part-0");
  EXPECT_THAT(RelPaths(MustScan().files), ElementsAre("orders/part-0", "orders/readme.txt"));
}

// ---- ignored names ----

TEST_F(ScanTest, IgnoredFileNamesAreNeverBatches) {
  Put(landing_ / "orders/part-0.parquet");
  Put(landing_ / "orders/.part-1.parquet");
  Put(landing_ / "orders/_SUCCESS");
  Put(landing_ / "orders/part-2.parquet.tmp");
  Put(landing_ / "orders/part-3.parquet.partial");
  Put(landing_ / "orders/part-4.parquet.inprogress");
  EXPECT_THAT(RelPaths(MustScan().files), ElementsAre("orders/part-0.parquet"));
}

TEST_F(ScanTest, IgnoredNamesAreIgnoredAtAnyDepth) {
  Put(landing_ / "orders/2026/11/part-0.parquet");
  Put(landing_ / "orders/2026/11/.hidden.parquet");
  Put(landing_ / "orders/2026/11/_committed_123");
  Put(landing_ / "orders/2026/11/part-1.tmp");
  EXPECT_THAT(RelPaths(MustScan().files), ElementsAre("orders/2026/11/part-0.parquet"));
}

TEST_F(ScanTest, FilesInsideIgnoredDirectoriesAreNeverBatches) {
  Put(landing_ / "orders/part-0.parquet");
  Put(landing_ / "orders/_temporary/0/part-9.parquet");
  Put(landing_ / "orders/.spark-staging/part-8.parquet");
  Put(landing_ / "orders/upload.tmp/part-7.parquet");
  Put(landing_ / "orders/2026/_tmp/part-6.parquet");
  EXPECT_THAT(RelPaths(MustScan().files), ElementsAre("orders/part-0.parquet"));
}

TEST_F(ScanTest, IgnoredFirstLevelFoldersAreNotTables) {
  Put(landing_ / ".git/objects/x");
  Put(landing_ / "_staging/part-0.parquet");
  Put(landing_ / "orders.tmp/part-0.parquet");
  Put(landing_ / "orders/part-0.parquet");
  ScanResult scan = MustScan();
  EXPECT_THAT(scan.tables, ElementsAre("orders"));
  EXPECT_THAT(RelPaths(scan.files), ElementsAre("orders/part-0.parquet"));
}

TEST_F(ScanTest, IgnoreListComesFromTheCaller) {
  Put(landing_ / "orders/_SUCCESS");
  Put(landing_ / "orders/part-0.parquet");
  Put(landing_ / "orders/part-1.parquet.crc");
  ScanResult scan = MustScan({"*.crc"});
  EXPECT_THAT(RelPaths(scan.files), ElementsAre("orders/_SUCCESS", "orders/part-0.parquet"));
}

// ---- files directly in the landing dir ----

TEST_F(ScanTest, FileDirectlyInLandingDirIsWarnedAboutAndNotABatch) {
  Put(landing_ / "stray.parquet");
  Put(landing_ / "orders/part-0.parquet");
  ScanResult scan = MustScan();
  EXPECT_THAT(RelPaths(scan.files), ElementsAre("orders/part-0.parquet"));
  EXPECT_THAT(scan.tables, ElementsAre("orders"));
  ASSERT_EQ(scan.warnings.size(), 1u);
  EXPECT_THAT(scan.warnings[0], HasSubstr("stray.parquet"));
}

TEST_F(ScanTest, IgnoredFileDirectlyInLandingDirIsNotWarnedAbout) {
  Put(landing_ / ".DS_Store");
  Put(landing_ / "_SUCCESS");
  EXPECT_THAT(MustScan().warnings, IsEmpty());
}

// ---- symlinks ----

// Kinds in path order, for checking what the scan listed.
std::vector<std::pair<std::string, FileKind>> Kinds(const std::vector<LandedFile>& files) {
  std::vector<std::pair<std::string, FileKind>> out;
  for (const auto& f : files) out.emplace_back(f.rel_path, f.kind);
  return out;
}

TEST_F(ScanTest, SymlinkedFileIsListedAsASymlinkAndNotFollowed) {
  Put(tmp_ / "outside/secret.parquet", "a secret much longer than the link");
  Put(landing_ / "orders/part-0.parquet");
  fs::create_symlink(tmp_ / "outside/secret.parquet", landing_ / "orders/link.parquet");
  ScanResult scan = MustScan();
  // Listed, so that it is quarantined with a reason rather than ignored silently.
  EXPECT_THAT(Kinds(scan.files),
              ElementsAre(std::pair{std::string("orders/link.parquet"), FileKind::kSymlink},
                          std::pair{std::string("orders/part-0.parquet"), FileKind::kRegular}));
  // Its identity is the link's own, not the target's.
  struct stat link;
  ASSERT_EQ(lstat((landing_ / "orders/link.parquet").c_str(), &link), 0);
  EXPECT_EQ(scan.files[0].inode, static_cast<int64_t>(link.st_ino));
  EXPECT_EQ(scan.files[0].size, static_cast<int64_t>(link.st_size));
}

TEST_F(ScanTest, SymlinkedFolderInsideATableIsNotFollowed) {
  Put(tmp_ / "outside/secret.parquet");
  Put(landing_ / "orders/part-0.parquet");
  fs::create_directory_symlink(tmp_ / "outside", landing_ / "orders/linked");
  EXPECT_THAT(Kinds(MustScan().files),
              ElementsAre(std::pair{std::string("orders/linked"), FileKind::kSymlink},
                          std::pair{std::string("orders/part-0.parquet"), FileKind::kRegular}));
}

TEST_F(ScanTest, FifoIsListedAsNotRegular) {
  Put(landing_ / "orders/part-0.parquet");
  ASSERT_EQ(mkfifo((landing_ / "orders/pipe.parquet").c_str(), 0600), 0);
  EXPECT_THAT(Kinds(MustScan().files),
              ElementsAre(std::pair{std::string("orders/part-0.parquet"), FileKind::kRegular},
                          std::pair{std::string("orders/pipe.parquet"), FileKind::kOther}));
}

TEST_F(ScanTest, SymlinkedFirstLevelFolderIsNotATable) {
  Put(tmp_ / "outside/secret.parquet");
  fs::create_directory_symlink(tmp_ / "outside", landing_ / "linked");
  Put(landing_ / "orders/part-0.parquet");
  ScanResult scan = MustScan();
  EXPECT_THAT(scan.tables, ElementsAre("orders"));
  EXPECT_THAT(RelPaths(scan.files), ElementsAre("orders/part-0.parquet"));
}

TEST_F(ScanTest, SymlinkLoopDoesNotHang) {
  Put(landing_ / "orders/part-0.parquet");
  fs::create_directory_symlink(landing_ / "orders", landing_ / "orders/loop");
  EXPECT_THAT(Kinds(MustScan().files),
              ElementsAre(std::pair{std::string("orders/loop"), FileKind::kSymlink},
                          std::pair{std::string("orders/part-0.parquet"), FileKind::kRegular}));
}

TEST_F(ScanTest, LandingPathWithTrailingSlashGivesTheSameRelativePaths) {
  Put(landing_ / "orders/2026/part-0.parquet");
  auto result = Scan(landing_.string() + "/", kDefaultIgnore);
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_THAT(RelPaths(result->files), ElementsAre("orders/2026/part-0.parquet"));
}

// ---- errors ----

TEST(ScanErrorTest, MissingLandingDirIsAnError) {
  testing::TempDir tmp;
  auto result = Scan(tmp / "absent", kDefaultIgnore);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "landing_missing");
  EXPECT_THAT(result.error().message, HasSubstr("absent"));
}

TEST(ScanErrorTest, LandingPathThatIsAFileIsAnError) {
  testing::TempDir tmp;
  Put(tmp / "file");
  auto result = Scan(tmp / "file", kDefaultIgnore);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "landing_missing");
}

// ---- ScanTable ----

TEST_F(ScanTest, ScanTableReturnsOnlyThatTablesFilesSorted) {
  Put(landing_ / "orders/b.parquet");
  Put(landing_ / "orders/2026/a.parquet");
  Put(landing_ / "orders/_SUCCESS");
  Put(landing_ / "customers/c.parquet");
  auto files = ScanTable(landing_, "orders", kDefaultIgnore);
  ASSERT_TRUE(files) << files.error().ToString();
  EXPECT_THAT(RelPaths(*files), ElementsAre("orders/2026/a.parquet", "orders/b.parquet"));
  for (const auto& f : *files) EXPECT_EQ(f.table, "orders");
}

TEST_F(ScanTest, ScanTableAgreesWithScan) {
  Put(landing_ / "orders/x/1.parquet");
  Put(landing_ / "orders/2.parquet");
  Put(landing_ / "orders/.3.parquet");
  auto files = ScanTable(landing_, "orders", kDefaultIgnore);
  ASSERT_TRUE(files);
  EXPECT_EQ(RelPaths(*files), RelPaths(MustScan().files));
}

TEST_F(ScanTest, ScanTableOfMissingFolderIsEmpty) {
  auto files = ScanTable(landing_, "gone", kDefaultIgnore);
  ASSERT_TRUE(files) << files.error().ToString();
  EXPECT_THAT(*files, IsEmpty());
}

TEST_F(ScanTest, ScanTableOfSymlinkedFolderIsEmpty) {
  Put(tmp_ / "outside/secret.parquet");
  fs::create_directory_symlink(tmp_ / "outside", landing_ / "linked");
  auto files = ScanTable(landing_, "linked", kDefaultIgnore);
  ASSERT_TRUE(files);
  EXPECT_THAT(*files, IsEmpty());
}

TEST_F(ScanTest, ScanTableRejectsNamesThatAreNotTableFolders) {
  Put(landing_ / "orders/sub/part-0.parquet");
  Put(landing_ / "_staging/part-0.parquet");
  for (const char* name : {"", ".", "..", "orders/sub", "_staging", "../landing"}) {
    auto files = ScanTable(landing_, name, kDefaultIgnore);
    ASSERT_FALSE(files) << "'" << name << "'";
    EXPECT_EQ(files.error().code, "invalid_table") << "'" << name << "'";
  }
}

// ---- IsIgnored ----

TEST(IsIgnoredTest, DefaultGlobsMatchHiddenUnderscoreAndTemporaryNames) {
  for (const char* name : {".hidden", ".", "_SUCCESS", "_temporary", "part-0.parquet.tmp", "x.partial",
                           "x.inprogress", ".part-0.parquet"}) {
    EXPECT_TRUE(IsIgnored(name, kDefaultIgnore)) << name;
  }
}

TEST(IsIgnoredTest, OrdinaryNamesAreNotIgnored) {
  for (const char* name : {"orders", "part-0.parquet", "a_b.parquet", "tmp", "x.tmp.parquet",
                           "date=2026-11-01", "file.", "x_"}) {
    EXPECT_FALSE(IsIgnored(name, kDefaultIgnore)) << name;
  }
}

TEST(IsIgnoredTest, NoGlobsIgnoreNothing) {
  EXPECT_FALSE(IsIgnored(".hidden", {}));
  EXPECT_FALSE(IsIgnored("_SUCCESS", {}));
}

TEST(IsIgnoredTest, GlobsUseFnmatchSyntax) {
  EXPECT_TRUE(IsIgnored("part-0.crc", {"*.crc"}));
  EXPECT_TRUE(IsIgnored("part-7", {"part-[0-9]"}));
  EXPECT_FALSE(IsIgnored("part-10", {"part-[0-9]"}));
  EXPECT_TRUE(IsIgnored("a.b", {"a?b"}));
  // Matching is case-sensitive, as file names are.
  EXPECT_FALSE(IsIgnored("PART.TMP", {"*.tmp"}));
}

// ---- fingerprints ----

TEST(FingerprintTest, IsTheSha256OfTheContent) {
  testing::TempDir tmp;
  Put(tmp / "abc", "abc");
  auto fp = Fingerprint(tmp / "abc");
  ASSERT_TRUE(fp) << fp.error().ToString();
  EXPECT_EQ(*fp, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(FingerprintTest, EmptyFileHasTheSha256OfNothing) {
  testing::TempDir tmp;
  Put(tmp / "empty", "");
  auto fp = Fingerprint(tmp / "empty");
  ASSERT_TRUE(fp);
  EXPECT_EQ(*fp, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(FingerprintTest, FileLargerThanTheReadBufferIsHashedWhole) {
  testing::TempDir tmp;
  Put(tmp / "big", std::string(2'500'000, 'a'));  // more than two 1 MiB reads
  auto fp = Fingerprint(tmp / "big");
  ASSERT_TRUE(fp);
  EXPECT_EQ(*fp, "38a637965059125eeb67f54c30e7f48a61859a467a800ba09740ba48a924f2b9");
}

TEST(FingerprintTest, DifferentContentHasADifferentFingerprint) {
  testing::TempDir tmp;
  Put(tmp / "a", "abc");
  Put(tmp / "b", "abd");
  auto a = Fingerprint(tmp / "a");
  auto b = Fingerprint(tmp / "b");
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
}

TEST(FingerprintTest, SameContentUnderTwoNamesHasOneFingerprint) {
  testing::TempDir tmp;
  Put(tmp / "orders/part-0.parquet", "same bytes");
  Put(tmp / "orders/copy/part-0-again.parquet", "same bytes");
  auto a = Fingerprint(tmp / "orders/part-0.parquet");
  auto b = Fingerprint(tmp / "orders/copy/part-0-again.parquet");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
}

TEST(FingerprintTest, MissingFileIsUnreadable) {
  testing::TempDir tmp;
  auto fp = Fingerprint(tmp / "absent.parquet");
  ASSERT_FALSE(fp);
  EXPECT_EQ(fp.error().code, "unreadable");
  EXPECT_THAT(fp.error().message, HasSubstr("absent.parquet"));
}

TEST(FingerprintTest, DirectoryIsNotARegularFile) {
  testing::TempDir tmp;
  auto fp = Fingerprint(tmp.path());
  ASSERT_FALSE(fp);
  EXPECT_EQ(fp.error().code, "not_a_regular_file");
}

TEST(FingerprintTest, SymlinkIsNotFollowed) {
  // A link swapped in after the scan: its target, outside the landing
  // directory, must not be read.
  testing::TempDir tmp;
  Put(tmp / "outside/secret.parquet", "secret");
  fs::create_symlink(tmp / "outside/secret.parquet", tmp / "link.parquet");
  auto fp = Fingerprint(tmp / "link.parquet");
  ASSERT_FALSE(fp) << "read through the link: " << *fp;
  EXPECT_EQ(fp.error().code, "not_a_regular_file");
  EXPECT_THAT(fp.error().message, HasSubstr("symbolic link"));
}

TEST(FingerprintTest, FifoIsRefusedWithoutBlocking) {
  testing::TempDir tmp;
  ASSERT_EQ(mkfifo((tmp / "pipe.parquet").c_str(), 0600), 0);
  auto fp = Fingerprint(tmp / "pipe.parquet");
  ASSERT_FALSE(fp);
  EXPECT_EQ(fp.error().code, "not_a_regular_file");
}

}  // namespace
}  // namespace landfall::landing
