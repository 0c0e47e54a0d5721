#include "lib/landing/catalog.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "lib/common/hex.h"

namespace landfall::landing {

namespace fs = std::filesystem;

bool IsIgnored(std::string_view name, const std::vector<std::string>& ignore_globs) {
  const std::string n(name);
  for (const auto& glob : ignore_globs) {
    if (fnmatch(glob.c_str(), n.c_str(), 0) == 0) return true;
  }
  return false;
}

namespace {

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}
int64_t CtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
}

// Walks the folder `rel` (relative to the landing dir, open as `dir_fd`) and
// its subfolders. fstatat without following links, so symlinks are never
// followed: a link could point anywhere, including outside the landing
// directory. They are listed (kind kSymlink), so that the caller quarantines
// them with a reason instead of dropping them silently. Plain readdir + fstatat
// on the directory's descriptor: one system call per entry, no path parsing.
void WalkFolder(int dir_fd, const std::string& table, const std::string& rel,
                const std::vector<std::string>& ignore, std::vector<LandedFile>& out,
                std::vector<std::string>& warnings) {
  DIR* dir = fdopendir(dir_fd);
  if (!dir) {
    warnings.push_back("cannot read folder '" + rel + "': " + std::strerror(errno));
    close(dir_fd);
    return;
  }
  struct CloseDir {
    void operator()(DIR* d) const { closedir(d); }
  };
  std::unique_ptr<DIR, CloseDir> closer(dir);
  while (true) {
    errno = 0;
    const dirent* entry = readdir(dir);
    if (!entry) {
      if (errno != 0) warnings.push_back("error walking '" + rel + "': " + std::strerror(errno));
      break;
    }
    const std::string_view name = entry->d_name;
    if (name == "." || name == ".." || IsIgnored(name, ignore)) continue;
    struct stat st;
    if (fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished
    std::string child = rel;
    child += '/';
    child += name;
    if (S_ISDIR(st.st_mode)) {
      const int fd = openat(dir_fd, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        if (errno != EACCES && errno != ENOENT) {
          warnings.push_back("cannot read folder '" + child + "': " + std::strerror(errno));
        }
        continue;
      }
      WalkFolder(fd, table, child, ignore, out, warnings);
      continue;
    }
    LandedFile file;
    file.table = table;
    file.rel_path = std::move(child);
    file.size = st.st_size;
    file.mtime_ns = MtimeNs(st);
    file.ctime_ns = CtimeNs(st);
    file.inode = static_cast<int64_t>(st.st_ino);
    file.kind = S_ISREG(st.st_mode)   ? FileKind::kRegular
                : S_ISLNK(st.st_mode) ? FileKind::kSymlink
                                      : FileKind::kOther;
    out.push_back(std::move(file));
  }
}

void WalkTable(const fs::path& landing, const std::string& table,
               const std::vector<std::string>& ignore, std::vector<LandedFile>& out,
               std::vector<std::string>& warnings) {
  const fs::path folder = landing / table;
  const int fd = open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno != EACCES) {
      warnings.push_back("cannot read table folder '" + table + "': " + std::strerror(errno));
    }
    return;
  }
  WalkFolder(fd, table, table, ignore, out, warnings);
}

bool IsTableFolder(const fs::directory_entry& entry) {
  std::error_code ec;
  return entry.is_directory(ec) && !entry.is_symlink(ec);
}

}  // namespace

std::string AbsPath(const fs::path& landing, const LandedFile& file) {
  return landing.native() + '/' + file.rel_path;
}

bool Unchanged(const fs::path& landing, const LandedFile& file) {
  struct stat st;
  if (lstat(AbsPath(landing, file).c_str(), &st) != 0) return false;
  return st.st_size == file.size && MtimeNs(st) == file.mtime_ns &&
         CtimeNs(st) == file.ctime_ns && static_cast<int64_t>(st.st_ino) == file.inode;
}

Result<ScanResult> Scan(const fs::path& dir, const std::vector<std::string>& ignore_globs) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Fail("landing_missing", "landing directory " + dir.string() + " does not exist");
  }
  ScanResult result;
  fs::directory_iterator it(dir, ec);
  if (ec) return Fail("landing_unreadable", "landing directory " + dir.string() + ": " + ec.message());
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (IsIgnored(name, ignore_globs)) continue;
    if (IsTableFolder(entry)) {
      result.tables.push_back(name);
    } else if (entry.is_regular_file(ec)) {
      result.warnings.push_back("file '" + name +
                                "' is directly in the landing directory, not in a table folder; "
                                "ignored");
    }
  }
  std::sort(result.tables.begin(), result.tables.end());
  for (const auto& table : result.tables) {
    WalkTable(dir, table, ignore_globs, result.files, result.warnings);
  }
  std::sort(result.files.begin(), result.files.end(),
            [](const LandedFile& a, const LandedFile& b) { return a.rel_path < b.rel_path; });
  return result;
}

Result<std::vector<LandedFile>> ScanTable(const fs::path& dir, std::string_view table,
                                          const std::vector<std::string>& ignore_globs) {
  std::vector<LandedFile> files;
  std::vector<std::string> warnings;
  std::error_code ec;
  const std::string name(table);
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == ".." ||
      IsIgnored(name, ignore_globs)) {
    return Fail("invalid_table", "'" + name + "' is not a table folder name");
  }
  if (!fs::is_directory(dir / name, ec) || fs::is_symlink(dir / name, ec)) return files;
  WalkTable(dir, name, ignore_globs, files, warnings);
  std::sort(files.begin(), files.end(),
            [](const LandedFile& a, const LandedFile& b) { return a.rel_path < b.rel_path; });
  return files;
}

constexpr size_t kReadBuffer = 256 * 1024;

Result<std::string> Fingerprint(const fs::path& file) {
  // O_NOFOLLOW: a symlink put in place of a scanned file must not make
  // landfall read outside the landing directory. O_NONBLOCK: a FIFO put there
  // would otherwise block the open; fstat then refuses it.
  int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) {
      return Fail("not_a_regular_file",
                  file.string() + " is a symbolic link; landfall never follows links");
    }
    return Fail("unreadable", file.string() + ": " + std::strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Fail("not_a_regular_file", file.string() + " is not a regular file");
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  // One buffer per thread, not one (zeroed) per file.
  thread_local std::unique_ptr<char[]> buffer(new char[kReadBuffer]);
  for (;;) {
    ssize_t n = read(fd, buffer.get(), kReadBuffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return Fail("unreadable", file.string() + ": " + std::strerror(err));
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buffer.get(), static_cast<size_t>(n));
  }
  close(fd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  return ToHex(digest, length);
}

}  // namespace landfall::landing
