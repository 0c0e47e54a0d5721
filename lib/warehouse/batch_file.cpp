#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "lib/warehouse/sql.h"
#include "lib/warehouse/warehouse.h"

namespace landfall::warehouse {

namespace {

int64_t Nanos(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

Status CheckBatchFilesUnchanged(std::span<const BatchFile> batches) {
  for (const auto& batch : batches) {
    if (!batch.identity) continue;
    struct stat st;
    if (lstat(batch.abs_path.c_str(), &st) != 0) {
      return Fail(kBatchChanged, "batch " + batch.rel_path +
                                     " is gone since it was fingerprinted (" +
                                     std::strerror(errno) + "); nothing committed");
    }
    const FileIdentity now{static_cast<int64_t>(st.st_size), Nanos(st.st_mtim), Nanos(st.st_ctim),
                           static_cast<int64_t>(st.st_ino)};
    if (now != *batch.identity || !S_ISREG(st.st_mode)) {
      return Fail(kBatchChanged, "batch " + batch.rel_path +
                                     " changed after it was fingerprinted; nothing committed, the "
                                     "next run fingerprints it again");
    }
  }
  return Ok();
}

Result<ApplyStats> CheckedBeforeCommit(std::string_view table, Result<ApplyStats> loaded,
                                       std::span<const BatchFile> batches) {
  if (!loaded) return loaded;
  if (auto same = CheckBatchFilesUnchanged(batches); !same) {
    return Fail(same.error().code, "table " + sql::Ident(table) + ": " + same.error().message);
  }
  return loaded;
}

}  // namespace landfall::warehouse
