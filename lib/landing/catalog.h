// The landing directory as files: which raw tables exist and which files are
// candidate batches. This layer only reads the landing directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "lib/common/result.h"

namespace landfall::landing {

// What a directory entry under a table folder is. Only regular files are ever
// opened: a symbolic link could lead anywhere, outside the landing directory
// included, and opening a FIFO blocks.
enum class FileKind { kRegular, kSymlink, kOther };

struct LandedFile {
  std::string table;     // first-level folder name
  std::string rel_path;  // path relative to the landing dir, '/'-separated
  // The entry's own identity (lstat: a link's, not its target's). A rewrite in
  // place that keeps size and mtime (cp -p, rsync -t --inplace, touch -r)
  // still moves ctime, which no user can set.
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  int64_t inode = 0;
  FileKind kind = FileKind::kRegular;
};

struct ScanResult {
  std::vector<std::string> tables;  // every first-level folder, sorted, even if empty
  std::vector<LandedFile> files;    // sorted by rel_path
  std::vector<std::string> warnings;  // e.g. files directly in the landing dir
};

// True when `name` (one path component) matches one of the ignore globs
// (fnmatch syntax, e.g. ".*", "_*", "*.tmp").
bool IsIgnored(std::string_view name, const std::vector<std::string>& ignore_globs);

// Walks `dir`: first-level folders are raw tables; files below them at any
// depth, none of whose path components is ignored, are candidate batches.
// Symlinks are never followed: a symlink (or FIFO, socket, device) below a
// table folder is listed with its kind, for the caller to quarantine, and a
// symlinked folder is not walked. A missing `dir` is an error ("landing_missing").
Result<ScanResult> Scan(const std::filesystem::path& dir, const std::vector<std::string>& ignore_globs);

// Scans one table folder only (used by the watcher and webhooks).
Result<std::vector<LandedFile>> ScanTable(const std::filesystem::path& dir, std::string_view table,
                                          const std::vector<std::string>& ignore_globs);

// The file's path: the landing dir as given, then its rel_path. (Not kept in
// LandedFile: a scan of 100,000 files would hold every path twice.)
std::string AbsPath(const std::filesystem::path& landing, const LandedFile& file);

// True when the file (in `landing`) still has the size, mtime, ctime and inode
// the scan saw; false when it changed or is gone.
bool Unchanged(const std::filesystem::path& landing, const LandedFile& file);

// SHA-256 of the file's content, lower-case hex. Opens with O_NOFOLLOW, so a
// symlink swapped in after the scan is not followed. Errors: "not_a_regular_file"
// (a symlink, FIFO, socket or device), "unreadable" (anything else).
Result<std::string> Fingerprint(const std::filesystem::path& file);

}  // namespace landfall::landing
