// The DuckDB footer reader: schema, row count and field ids of good files, and a
// distinct error code for each kind of bad file.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "lib/warehouse/duckdb_warehouse.h"
#include "tests/support/duckdb_testing.h"
#include "tests/support/testing.h"

namespace landfall::warehouse {
namespace {

namespace fs = std::filesystem;
using landfall::testing::DuckDbExec;
using landfall::testing::TempDir;
using landfall::testing::WriteParquet;

std::string ReadBytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << bytes;
}

class FooterReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto reader = NewDuckDbFooterReader();
    ASSERT_TRUE(reader) << reader.error().ToString();
    reader_ = std::move(*reader);
  }

  TempDir dir_;
  std::unique_ptr<schema::FooterReader> reader_;
};

TEST_F(FooterReaderTest, ReadsColumnsTypesAndRowCount) {
  const fs::path file = dir_ / "orders/part-0.parquet";
  WriteParquet(file,
               "SELECT i::INTEGER AS id, 'n' || i AS name, i * 1.5 AS amount,"
               " {'street': 'x', 'no': i} AS address, [i, i] AS tags, MAP {'k': i} AS attrs"
               " FROM range(7) t(i)");
  auto info = reader_->Read(file);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->rows, 7);
  const auto& columns = info->schema.columns;
  ASSERT_EQ(columns.size(), 6u);
  EXPECT_EQ(columns[0].name, "id");
  EXPECT_EQ(columns[0].type, "INTEGER");
  EXPECT_EQ(columns[1].type, "VARCHAR");
  EXPECT_EQ(columns[2].type, "DECIMAL(21,1)");
  // Nested types stage as JSON but keep what the file declared.
  EXPECT_EQ(columns[3].name, "address");
  EXPECT_EQ(columns[3].type, "JSON");
  EXPECT_EQ(columns[3].source_type, "STRUCT(street VARCHAR, \"no\" BIGINT)");
  EXPECT_EQ(columns[4].type, "JSON");
  EXPECT_EQ(columns[4].source_type, "BIGINT[]");
  EXPECT_EQ(columns[5].type, "JSON");
  EXPECT_EQ(columns[5].source_type, "MAP(VARCHAR, BIGINT)");
  for (const auto& column : columns) {
    EXPECT_TRUE(column.nullable) << column.name;  // DuckDB writes OPTIONAL columns
    EXPECT_FALSE(column.field_id.has_value()) << column.name;
  }
}

TEST_F(FooterReaderTest, ReadsFieldIdsOfTopLevelColumns) {
  const fs::path file = dir_ / "f.parquet";
  DuckDbExec("COPY (SELECT 1 AS a, 'x' AS b, {'q': 1} AS c, 2 AS d) TO '" + file.string() +
             "' (FORMAT parquet, FIELD_IDS {a: 1, b: 2, c: {__duckdb_field_id: 3, q: 40}})");
  auto info = reader_->Read(file);
  ASSERT_TRUE(info) << info.error().ToString();
  const auto& columns = info->schema.columns;
  ASSERT_EQ(columns.size(), 4u);
  EXPECT_EQ(columns[0].field_id, 1);
  EXPECT_EQ(columns[1].field_id, 2);
  // The nested child's id (40) belongs to the struct's subtree, not to d.
  EXPECT_EQ(columns[2].field_id, 3);
  EXPECT_EQ(columns[3].name, "d");
  EXPECT_FALSE(columns[3].field_id.has_value());
}

TEST_F(FooterReaderTest, IgnoresHivePartitionFoldersInThePath) {
  const fs::path file = dir_ / "orders/date=2026-11-01/part-0.parquet";
  WriteParquet(file, "SELECT 1 AS id");
  auto info = reader_->Read(file);
  ASSERT_TRUE(info) << info.error().ToString();
  ASSERT_EQ(info->schema.columns.size(), 1u);
  EXPECT_EQ(info->schema.columns[0].name, "id");
}

TEST_F(FooterReaderTest, ReadsExactlyTheNamedFileEvenWithGlobCharacters) {
  WriteParquet(dir_ / "bYx.parquet", "SELECT 1 AS other FROM range(5)");
  const fs::path file = dir_ / "b*x [1]?.parquet";
  WriteParquet(file, "SELECT 1 AS id FROM range(3)");
  auto info = reader_->Read(file);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->rows, 3);
  ASSERT_EQ(info->schema.columns.size(), 1u);
  EXPECT_EQ(info->schema.columns[0].name, "id");
}

TEST_F(FooterReaderTest, EmptyFileIsEmptyFile) {
  const fs::path file = dir_ / "empty.parquet";
  WriteBytes(file, "");
  auto info = reader_->Read(file);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, "empty_file");
}

TEST_F(FooterReaderTest, TextFileIsNotParquet) {
  const fs::path file = dir_ / "notes.parquet";
  WriteBytes(file, "id,name\n1,x\n");
  auto info = reader_->Read(file);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, "not_parquet");
}

TEST_F(FooterReaderTest, HalfAFileIsTruncated) {
  const fs::path file = dir_ / "cut.parquet";
  WriteParquet(file, "SELECT i, 'row ' || i AS s FROM range(1000) t(i)");
  std::string bytes = ReadBytes(file);
  WriteBytes(file, bytes.substr(0, bytes.size() / 2));
  auto info = reader_->Read(file);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, "truncated");
  EXPECT_NE(info.error().message.find("cut.parquet"), std::string::npos);
}

TEST_F(FooterReaderTest, FooterLengthPointingOutsideTheFileIsTruncated) {
  // Both magics intact, but the head of the file is gone: DuckDB's own check.
  const fs::path file = dir_ / "headless.parquet";
  WriteParquet(file, "SELECT i, 'row ' || i AS s FROM range(1000) t(i)");
  std::string bytes = ReadBytes(file);
  WriteBytes(file, "PAR1" + bytes.substr(bytes.size() - 20));
  auto info = reader_->Read(file);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, "truncated") << info.error().message;
}

TEST_F(FooterReaderTest, GarbledFooterIsUnreadable) {
  const fs::path file = dir_ / "garbled.parquet";
  WriteParquet(file, "SELECT i, 'row ' || i AS s FROM range(1000) t(i)");
  std::string bytes = ReadBytes(file);
  // Keep the footer length and magic, overwrite the footer itself.
  uint32_t footer_len = 0;
  for (int k = 0; k < 4; ++k) {
    footer_len |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[bytes.size() - 8 + k]))
                  << (8 * k);
  }
  ASSERT_LT(footer_len + 8, bytes.size());
  for (size_t k = bytes.size() - 8 - footer_len; k < bytes.size() - 8; ++k) bytes[k] = '\x7f';
  WriteBytes(file, bytes);
  auto info = reader_->Read(file);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, "unreadable") << info.error().message;
  EXPECT_FALSE(info.error().message.empty());
}

TEST_F(FooterReaderTest, EncryptedFooterIsEncrypted) {
  // DuckDB 1.4 can only write encrypted Parquet with httpfs loaded (for a secure
  // random engine), so fake the "PARE" magic an encrypted footer carries.
  const fs::path file = dir_ / "secret.parquet";
  WriteParquet(file, "SELECT 1 AS a");
  std::string bytes = ReadBytes(file);
  bytes.replace(0, 4, "PARE");
  bytes.replace(bytes.size() - 4, 4, "PARE");
  WriteBytes(file, bytes);
  auto info = reader_->Read(file);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, "encrypted");
}

TEST_F(FooterReaderTest, MissingFileIsUnreadable) {
  auto info = reader_->Read(dir_ / "gone.parquet");
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, "unreadable");
}

// The reader remembers how a schema tree binds; files that differ only in a
// type, a nested field or a timestamp's time zone must not share the answer.
TEST_F(FooterReaderTest, FilesWithSameNamesButOtherTypesKeepTheirOwnTypes) {
  const std::vector<std::pair<std::string, std::string>> files = {
      {"SELECT 1::INTEGER AS id, {'a': 1} AS s, TIMESTAMP '2026-01-01' AS t, 1.5::DECIMAL(9,2) AS "
       "d",
       "INTEGER|STRUCT(a INTEGER)|TIMESTAMP|DECIMAL(9,2)"},
      {"SELECT 1::BIGINT AS id, {'a': 'x'} AS s, TIMESTAMPTZ '2026-01-01' AS t, 1.5::DECIMAL(18,3) "
       "AS d",
       "BIGINT|STRUCT(a VARCHAR)|TIMESTAMP WITH TIME ZONE|DECIMAL(18,3)"},
      {"SELECT 1::INTEGER AS id, {'a': 1} AS s, TIMESTAMP '2026-01-01' AS t, 1.5::DECIMAL(9,2) AS "
       "d",
       "INTEGER|STRUCT(a INTEGER)|TIMESTAMP|DECIMAL(9,2)"},
  };
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < files.size(); ++i) {
      const fs::path file = dir_ / ("f" + std::to_string(i) + ".parquet");
      if (round == 0) WriteParquet(file, files[i].first);
      auto info = reader_->Read(file);
      ASSERT_TRUE(info) << info.error().ToString();
      std::string types;
      for (const auto& c : info->schema.columns)
        types += (types.empty() ? "" : "|") + c.source_type;
      EXPECT_EQ(types, files[i].second) << "file " << i << ", round " << round;
    }
  }
}

// ReadMany reads a chunk of files in two queries; what it answers for each file
// must be what Read answers, bad files in the chunk included.
TEST_F(FooterReaderTest, ReadManyAnswersEachFileAsReadDoes) {
  WriteParquet(dir_ / "a.parquet", "SELECT i::INTEGER AS id, 'x' AS name FROM range(3) t(i)");
  DuckDbExec("COPY (SELECT 1 AS a, 'x' AS b FROM range(5)) TO '" + (dir_ / "b.parquet").string() +
             "' (FORMAT parquet, FIELD_IDS {a: 1, b: 2})");
  WriteParquet(dir_ / "c.parquet", "SELECT i::INTEGER AS id, 'y' AS name FROM range(4) t(i)");
  WriteParquet(dir_ / "b*x [1]?.parquet", "SELECT 1 AS other FROM range(2)");
  WriteParquet(dir_ / "nested.parquet", "SELECT {'q': 1} AS s, [1, 2] AS l FROM range(6)");
  WriteBytes(dir_ / "text.parquet", "not parquet at all");
  WriteParquet(dir_ / "garbled.parquet", "SELECT i, 'row ' || i AS s FROM range(1000) t(i)");
  {
    // Both magics intact, footer overwritten: only DuckDB notices.
    std::string bytes = ReadBytes(dir_ / "garbled.parquet");
    for (size_t k = bytes.size() - 40; k < bytes.size() - 8; ++k) bytes[k] = '\x7f';
    WriteBytes(dir_ / "garbled.parquet", bytes);
  }
  auto same = [&](const std::vector<fs::path>& files) {
    auto many = reader_->ReadMany(files);
    ASSERT_EQ(many.size(), files.size());
    for (size_t i = 0; i < files.size(); ++i) {
      SCOPED_TRACE(files[i].filename().string());
      auto one = reader_->Read(files[i]);
      ASSERT_EQ(bool(many[i]), bool(one)) << (one ? many[i].error().ToString() : one.error().ToString());
      if (!one) {
        EXPECT_EQ(many[i].error().code, one.error().code);
        continue;
      }
      EXPECT_EQ(many[i]->rows, one->rows);
      ASSERT_EQ(many[i]->schema.columns.size(), one->schema.columns.size());
      for (size_t c = 0; c < one->schema.columns.size(); ++c) {
        const auto& m = many[i]->schema.columns[c];
        const auto& o = one->schema.columns[c];
        EXPECT_EQ(m.name, o.name);
        EXPECT_EQ(m.type, o.type);
        EXPECT_EQ(m.source_type, o.source_type);
        EXPECT_EQ(m.nullable, o.nullable);
        EXPECT_EQ(m.field_id, o.field_id);
      }
    }
  };
  const std::vector<fs::path> good = {dir_ / "a.parquet", dir_ / "b.parquet", dir_ / "c.parquet",
                                      dir_ / "b*x [1]?.parquet", dir_ / "nested.parquet"};
  same(good);
  auto with_bad = good;
  with_bad.insert(with_bad.begin() + 1, dir_ / "text.parquet");
  with_bad.push_back(dir_ / "garbled.parquet");
  with_bad.push_back(dir_ / "missing.parquet");
  same(with_bad);
  EXPECT_TRUE(reader_->ReadMany({}).empty());
  auto counts = reader_->ReadMany(good);
  ASSERT_TRUE(counts[1]);
  EXPECT_EQ(counts[1]->rows, 5);
  EXPECT_EQ(counts[1]->schema.columns[0].field_id, 1);
}

TEST_F(FooterReaderTest, ReadsFromManyThreadsAtOnce) {
  constexpr int kThreads = 4;
  for (int t = 0; t < kThreads; ++t) {
    WriteParquet(
        dir_ / ("t" + std::to_string(t) + ".parquet"),
        "SELECT i AS c" + std::to_string(t) + " FROM range(" + std::to_string(t + 1) + ") t(i)");
  }
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        auto info = reader_->Read(dir_ / ("t" + std::to_string(t) + ".parquet"));
        if (!info) {
          failures[t] = info.error().ToString();
        } else if (info->rows != t + 1 || info->schema.columns.size() != 1 ||
                   info->schema.columns[0].name != "c" + std::to_string(t)) {
          failures[t] = "wrong footer";
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
}

}  // namespace
}  // namespace landfall::warehouse
