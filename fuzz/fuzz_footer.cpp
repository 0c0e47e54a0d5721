// Fuzzes the Parquet footer reader (lib/warehouse/duckdb_footer_reader.cpp) on
// mutated files: each input is written to one temp file and read as a batch
// would be. Any answer is fine (a FooterInfo, or one of the quarantine codes);
// a crash, leak or undefined behaviour is not. Seeds: fuzz_footer_seeds.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>

#include "lib/schema/footer.h"
#include "lib/warehouse/duckdb_warehouse.h"

namespace {

namespace fs = std::filesystem;

struct Harness {
  std::unique_ptr<landfall::schema::FooterReader> reader;
  fs::path file;
};

Harness& Get() {
  static Harness* harness = [] {
    auto* h = new Harness;
    auto reader = landfall::warehouse::NewDuckDbFooterReader();
    if (!reader) {
      std::fprintf(stderr, "fuzz_footer: %s\n", reader.error().ToString().c_str());
      std::abort();
    }
    h->reader = std::move(*reader);
    const char* tmp = std::getenv("TMPDIR");
    h->file = fs::path(tmp && *tmp ? tmp : "/tmp") /
              ("landfall-fuzz-footer-" + std::to_string(getpid()) + ".parquet");
    std::atexit([] { std::error_code ec; fs::remove(Get().file, ec); });
    return h;
  }();
  return *harness;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Harness& h = Get();
  {
    std::ofstream out(h.file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto info = h.reader->Read(h.file);
  if (info) {
    if (info->rows < 0) __builtin_trap();
    for (const auto& column : info->schema.columns) {
      if (column.type.empty()) __builtin_trap();
    }
  } else {
    static const std::set<std::string> kCodes = {"empty_file", "not_parquet", "encrypted",
                                                 "truncated", "unreadable"};
    if (!kCodes.contains(info.error().code)) __builtin_trap();
  }
  return 0;
}
