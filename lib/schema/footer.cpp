#include "lib/schema/footer.h"

#include <cstring>
#include <fstream>

namespace landfall::schema {

Status CheckParquetMagic(const std::filesystem::path& file) {
  std::error_code ec;
  auto size = std::filesystem::file_size(file, ec);
  if (ec) return Fail("unreadable", file.string() + ": " + ec.message());
  if (size == 0) return Fail("empty_file", file.string() + ": zero bytes");
  std::ifstream in(file, std::ios::binary);
  if (!in) return Fail("unreadable", file.string() + ": cannot open");
  char head[4] = {}, tail[4] = {};
  in.read(head, 4);
  if (const auto got = static_cast<size_t>(in.gcount()); got < 4) {
    // Only the first bytes of a Parquet file are "truncated"; any other tiny
    // file is simply not Parquet.
    if (std::memcmp(head, "PAR1", got) == 0) {
      return Fail("truncated", file.string() + ": shorter than a Parquet header");
    }
    return Fail("not_parquet", file.string() + ": does not start with the Parquet magic bytes");
  }
  // An encrypted footer uses "PARE" instead of "PAR1".
  if (std::memcmp(head, "PARE", 4) == 0) {
    return Fail("encrypted", file.string() + ": Parquet file with an encrypted footer");
  }
  if (std::memcmp(head, "PAR1", 4) != 0) {
    return Fail("not_parquet", file.string() + ": does not start with the Parquet magic bytes");
  }
  // Header (4) + footer length (4) + trailing magic (4) is the smallest valid file.
  if (size < 12) return Fail("truncated", file.string() + ": too short to hold a footer");
  in.seekg(static_cast<std::streamoff>(size - 4));
  in.read(tail, 4);
  if (std::memcmp(tail, "PARE", 4) == 0) {
    return Fail("encrypted", file.string() + ": Parquet file with an encrypted footer");
  }
  if (std::memcmp(tail, "PAR1", 4) != 0) {
    // Starts like Parquet but the footer is missing: cut short, or still being written.
    return Fail("truncated", file.string() + ": no Parquet footer at the end of the file");
  }
  return Ok();
}

std::vector<Result<FooterInfo>> FooterReader::ReadMany(const std::vector<std::filesystem::path>& files) {
  std::vector<Result<FooterInfo>> out;
  out.reserve(files.size());
  for (const auto& file : files) out.push_back(Read(file));
  return out;
}

}  // namespace landfall::schema
