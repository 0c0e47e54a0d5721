#include "tests/support/parquet_writer.h"

#include <gtest/gtest.h>

#include <fstream>

namespace landfall::testing {
namespace {

// Thrift compact protocol type ids.
constexpr int kI32 = 5;
constexpr int kI64 = 6;
constexpr int kBinary = 8;
constexpr int kList = 9;
constexpr int kStruct = 12;

// Parquet enum values this file uses.
constexpr int32_t kTypeInt32 = 1;
constexpr int32_t kRequired = 0;
constexpr int32_t kEncodingPlain = 0;
constexpr int32_t kEncodingRle = 3;
constexpr int32_t kCodecUncompressed = 0;
constexpr int32_t kDataPage = 0;

// A minimal Thrift compact protocol writer: the field types a Parquet footer
// and page header need, nothing more.
class Compact {
 public:
  std::string out;
  void Byte(uint8_t b) { out.push_back(static_cast<char>(b)); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      Byte(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    Byte(static_cast<uint8_t>(v));
  }
  // A field header: the id as a delta from the previous field of this struct.
  void Field(int id, int type) {
    Byte(static_cast<uint8_t>(((id - last_.back()) << 4) | type));
    last_.back() = id;
  }
  void I32(int id, int32_t v) {
    Field(id, kI32);
    Varint(static_cast<uint32_t>((v << 1) ^ (v >> 31)));
  }
  void I64(int id, int64_t v) {
    Field(id, kI64);
    Varint(static_cast<uint64_t>((v << 1) ^ (v >> 63)));
  }
  void Str(int id, const std::string& s) {
    Field(id, kBinary);
    Varint(s.size());
    out += s;
  }
  // A list header of fewer than 15 elements; the elements follow.
  void List(int id, int elem_type, int size) {
    Field(id, kList);
    Byte(static_cast<uint8_t>((size << 4) | elem_type));
  }
  void BeginStruct(int id) {
    Field(id, kStruct);
    last_.push_back(0);
  }
  void BeginElement() { last_.push_back(0); }  // a struct inside a list
  void End() {
    Byte(0);
    last_.pop_back();
  }
  // List elements.
  void Str(const std::string& s) {
    Varint(s.size());
    out += s;
  }
  void I32(int32_t v) { Varint(static_cast<uint32_t>((v << 1) ^ (v >> 31))); }

 private:
  std::vector<int> last_{0};
};

void AppendLittleEndian32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// The file's bytes: "PAR1", a data page per column, the FileMetaData footer,
// its length, "PAR1".
std::string RequiredInt32Parquet(const std::vector<Int32Column>& columns) {
  std::string file = "PAR1";
  const int64_t rows = columns.empty() ? 0 : static_cast<int64_t>(columns[0].values.size());
  std::vector<int64_t> offsets, sizes;
  for (const auto& column : columns) {
    // PageHeader with its DataPageHeader; REQUIRED columns have no levels, so
    // the values follow it directly.
    Compact page;
    const int32_t bytes = static_cast<int32_t>(column.values.size() * 4);
    page.I32(1, kDataPage);                                   // type
    page.I32(2, bytes);                                       // uncompressed_page_size
    page.I32(3, bytes);                                       // compressed_page_size
    page.BeginStruct(5);                                      // data_page_header
    page.I32(1, static_cast<int32_t>(column.values.size()));  // num_values
    page.I32(2, kEncodingPlain);                              // encoding
    page.I32(3, kEncodingRle);                                // definition_level_encoding
    page.I32(4, kEncodingRle);                                // repetition_level_encoding
    page.End();
    page.Byte(0);
    offsets.push_back(static_cast<int64_t>(file.size()));
    file += page.out;
    for (int32_t v : column.values) AppendLittleEndian32(file, static_cast<uint32_t>(v));
    sizes.push_back(static_cast<int64_t>(file.size()) - offsets.back());
  }

  // FileMetaData.
  const int n = static_cast<int>(columns.size());
  Compact meta;
  meta.I32(1, 1);                // version
  meta.List(2, kStruct, n + 1);  // schema: the root, then one element per column
  meta.BeginElement();
  meta.Str(4, "schema");  // name
  meta.I32(5, n);         // num_children
  meta.End();
  for (const auto& column : columns) {
    meta.BeginElement();
    meta.I32(1, kTypeInt32);  // type
    meta.I32(3, kRequired);   // repetition_type
    meta.Str(4, column.name);
    meta.End();
  }
  meta.I64(3, rows);         // num_rows
  meta.List(4, kStruct, 1);  // row_groups
  meta.BeginElement();
  meta.List(1, kStruct, n);  // columns: ColumnChunk
  int64_t total = 0;
  for (int c = 0; c < n; ++c) {
    total += sizes[c];
    meta.BeginElement();
    meta.I64(2, offsets[c]);  // file_offset
    meta.BeginStruct(3);      // meta_data: ColumnMetaData
    meta.I32(1, kTypeInt32);
    meta.List(2, kI32, 1);  // encodings
    meta.I32(kEncodingPlain);
    meta.List(3, kBinary, 1);  // path_in_schema
    meta.Str(columns[c].name);
    meta.I32(4, kCodecUncompressed);
    meta.I64(5, rows);        // num_values
    meta.I64(6, sizes[c]);    // total_uncompressed_size
    meta.I64(7, sizes[c]);    // total_compressed_size
    meta.I64(9, offsets[c]);  // data_page_offset
    meta.End();
    meta.End();
  }
  meta.I64(2, total);  // total_byte_size
  meta.I64(3, rows);   // num_rows
  meta.End();
  meta.Byte(0);
  file += meta.out;
  AppendLittleEndian32(file, static_cast<uint32_t>(meta.out.size()));
  return file + "PAR1";
}

}  // namespace

void WriteRequiredInt32Parquet(const std::filesystem::path& file,
                               const std::vector<Int32Column>& columns) {
  for (const auto& column : columns) {
    if (column.values.size() != columns[0].values.size()) {
      ADD_FAILURE() << file << ": column " << column.name << " has " << column.values.size()
                    << " values, " << columns[0].name << " " << columns[0].values.size();
      return;
    }
  }
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << RequiredInt32Parquet(columns);
  if (!out.flush()) ADD_FAILURE() << "cannot write " << file;
}

}  // namespace landfall::testing
