// CheckParquetMagic: the cheap check of a file's first and last bytes that
// tells Parquet from empty, text, encrypted, truncated and unreadable files.
#include "lib/schema/footer.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/duckdb_testing.h"
#include "tests/support/testing.h"

namespace landfall::schema {
namespace {

namespace fs = std::filesystem;

fs::path WriteBytes(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary) << bytes;
  return file;
}

std::string CodeOf(const Status& status) { return status ? "ok" : status.error().code; }

TEST(CheckParquetMagicTest, ParquetWrittenByDuckDbPasses) {
  testing::TempDir dir;
  const fs::path file = dir / "part-0.parquet";
  testing::WriteParquet(file, "SELECT 1 AS id, 'a' AS name");
  auto status = CheckParquetMagic(file);
  EXPECT_TRUE(status) << status.error().ToString();
}

TEST(CheckParquetMagicTest, MagicAtBothEndsPasses) {
  testing::TempDir dir;
  EXPECT_EQ(CodeOf(CheckParquetMagic(WriteBytes(dir / "f", "PAR1" + std::string(16, 'x') + "PAR1"))),
            "ok");
}

TEST(CheckParquetMagicTest, EmptyFileIsEmpty) {
  testing::TempDir dir;
  EXPECT_EQ(CodeOf(CheckParquetMagic(WriteBytes(dir / "empty.parquet", ""))), "empty_file");
}

TEST(CheckParquetMagicTest, TextFileIsNotParquet) {
  testing::TempDir dir;
  auto status = CheckParquetMagic(WriteBytes(dir / "notes.parquet", "id,name\n1,a\n2,b\n"));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, "not_parquet");
  EXPECT_NE(status.error().message.find("notes.parquet"), std::string::npos);
}

TEST(CheckParquetMagicTest, EncryptedFooterMagicAtTheStartIsEncrypted) {
  testing::TempDir dir;
  EXPECT_EQ(CodeOf(CheckParquetMagic(WriteBytes(dir / "f", "PARE" + std::string(16, 'x') + "PARE"))),
            "encrypted");
}

TEST(CheckParquetMagicTest, EncryptedFooterMagicAtTheEndIsEncrypted) {
  testing::TempDir dir;
  EXPECT_EQ(CodeOf(CheckParquetMagic(WriteBytes(dir / "f", "PAR1" + std::string(16, 'x') + "PARE"))),
            "encrypted");
}

TEST(CheckParquetMagicTest, ParquetHeadWithoutFooterIsTruncated) {
  testing::TempDir dir;
  EXPECT_EQ(CodeOf(CheckParquetMagic(WriteBytes(dir / "f", "PAR1" + std::string(100, '\0')))),
            "truncated");
}

TEST(CheckParquetMagicTest, OnlyTheHeaderMagicIsTruncated) {
  testing::TempDir dir;
  EXPECT_EQ(CodeOf(CheckParquetMagic(WriteBytes(dir / "f", "PAR1"))), "truncated");
}

TEST(CheckParquetMagicTest, HeaderAndTailMagicWithoutRoomForAFooterIsTruncated) {
  testing::TempDir dir;
  // "PAR1PAR1" ends in the magic but has no room for the footer length.
  EXPECT_EQ(CodeOf(CheckParquetMagic(WriteBytes(dir / "f", "PAR1PAR1"))), "truncated");
}

TEST(CheckParquetMagicTest, FirstBytesOfAParquetFileAreTruncated) {
  testing::TempDir dir;
  EXPECT_EQ(CodeOf(CheckParquetMagic(WriteBytes(dir / "f", "PA"))), "truncated");
}

TEST(CheckParquetMagicTest, TinyTextFileIsNotParquet) {
  testing::TempDir dir;
  EXPECT_EQ(CodeOf(CheckParquetMagic(WriteBytes(dir / "f", "{}\n"))), "not_parquet");
}

TEST(CheckParquetMagicTest, RealParquetFileCutInHalfIsTruncated) {
  testing::TempDir dir;
  const fs::path file = dir / "part-0.parquet";
  testing::WriteParquet(file, "SELECT range AS id FROM range(1000)");
  const auto size = fs::file_size(file);
  ASSERT_GT(size, 12u);
  fs::resize_file(file, size / 2);
  EXPECT_EQ(CodeOf(CheckParquetMagic(file)), "truncated");
}

TEST(CheckParquetMagicTest, MissingFileIsUnreadable) {
  testing::TempDir dir;
  EXPECT_EQ(CodeOf(CheckParquetMagic(dir / "absent.parquet")), "unreadable");
}

}  // namespace
}  // namespace landfall::schema
