#include "lib/landing/inotify_watcher.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <unordered_set>
#include <utility>

#include "lib/landing/catalog.h"

namespace landfall::landing {

namespace fs = std::filesystem;

namespace {

// Folders only (IN_ONLYDIR), never through a symlink (IN_DONT_FOLLOW): the scan
// does not follow symlinks either, and a link could point outside the landing
// directory. IN_CREATE is needed for new folders; for files it is noise we drop,
// because a created file is not complete yet.
constexpr uint32_t kWatchMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR |
                                IN_DONT_FOLLOW | IN_EXCL_UNLINK;

// Bounds one ReadEvents() call, so a flood of events cannot starve the rest of
// the event loop; the fd stays readable and the caller comes back.
constexpr int kMaxReadsPerCall = 64;

std::string Join(const std::string& rel_dir, const std::string& name) {
  return rel_dir.empty() ? name : rel_dir + "/" + name;
}

std::string TableOf(const std::string& rel_path) { return rel_path.substr(0, rel_path.find('/')); }

std::string CurrentWatchLimit() {
  std::ifstream in("/proc/sys/fs/inotify/max_user_watches");
  std::string value;
  if (!(in >> value)) return "unknown";
  return value;
}

}  // namespace

Result<std::unique_ptr<InotifyWatcher>> InotifyWatcher::Create(fs::path landing_dir,
                                                               Options options) {
  std::error_code ec;
  if (!fs::is_directory(landing_dir, ec)) {
    return Fail("landing_missing", "landing directory " + landing_dir.string() + " does not exist");
  }
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::string message = std::string("inotify_init1: ") + std::strerror(err);
    if (err == EMFILE) {
      message +=
          " (the per-user inotify instance limit is reached; raise the sysctl "
          "fs.inotify.max_user_instances)";
    }
    return Fail("watcher_failed", message);
  }
  if (!options.add_watch) options.add_watch = &inotify_add_watch;
  std::unique_ptr<InotifyWatcher> watcher(
      new InotifyWatcher(std::move(landing_dir), std::move(options), fd));
  if (!watcher->WatchTree("", nullptr)) {
    std::string message = watcher->pending_.empty() ? "cannot watch the landing directory"
                                                    : watcher->pending_.back().message;
    return Fail("watcher_failed", message);
  }
  return watcher;
}

InotifyWatcher::InotifyWatcher(fs::path landing_dir, Options options, int fd)
    : landing_dir_(std::move(landing_dir)), options_(std::move(options)), fd_(fd) {}

InotifyWatcher::~InotifyWatcher() { close(fd_); }

void InotifyWatcher::Push(WatchEvent::Kind kind, std::string table, std::string rel_path,
                          std::string message) {
  pending_.push_back(WatchEvent{kind, std::move(table), std::move(rel_path), std::move(message)});
}

int InotifyWatcher::WatchOne(const std::string& rel_dir) {
  const fs::path abs = rel_dir.empty() ? landing_dir_ : landing_dir_ / rel_dir;
  const int wd = options_.add_watch(fd_, abs.c_str(), kWatchMask);
  if (wd < 0) {
    const int err = errno;
    // A folder that vanished (or turned out to be a symlink or file) between
    // its event and now is not a failure: there is nothing left to watch.
    if ((err == ENOENT || err == ENOTDIR) && !rel_dir.empty()) return -1;
    degraded_ = true;
    const std::string table = rel_dir.empty() ? "" : TableOf(rel_dir);
    if (err == ENOSPC) {
      // Report the limit once per degraded episode; a burst of new folders
      // would otherwise log the same advice thousands of times.
      if (!limit_reported_) {
        limit_reported_ = true;
        const std::string limit = CurrentWatchLimit();
        Push(WatchEvent::kWatchLimit, table, rel_dir,
             "cannot watch " + abs.string() +
                 ": the inotify watch limit is reached (sysctl fs.inotify.max_user_watches = " +
                 limit +
                 "); raise it, e.g. `sysctl -w fs.inotify.max_user_watches=524288` and persist "
                 "it in /etc/sysctl.d/; degraded: falling back to periodic scanning");
      }
    } else {
      Push(WatchEvent::kWatchError, table, rel_dir,
           "cannot watch " + abs.string() + ": " + std::strerror(err) +
               "; degraded: falling back to periodic scanning");
    }
    return -1;
  }
  // The same folder (inode) may already be watched under another path, when it
  // was moved while events were lost: the kernel returns the existing wd.
  if (auto it = path_by_wd_.find(wd); it != path_by_wd_.end() && it->second != rel_dir) {
    if (auto old = wd_by_path_.find(it->second); old != wd_by_path_.end() && old->second == wd) {
      wd_by_path_.erase(old);
    }
  }
  path_by_wd_[wd] = rel_dir;
  wd_by_path_[rel_dir] = wd;
  return wd;
}

bool InotifyWatcher::WatchTree(const std::string& rel_dir, std::unordered_set<int>* seen) {
  // The watch is added before the folder is listed: a subfolder created after
  // the listing shows up as an event, one created before it in the listing.
  bool top_watched = true;
  std::vector<std::string> stack{rel_dir};
  while (!stack.empty()) {
    const std::string rel = std::move(stack.back());
    stack.pop_back();
    if (!rel.empty() && rel.find('/') == std::string::npos) tables_.insert(rel);
    const int wd = WatchOne(rel);
    if (wd < 0) {
      if (rel == rel_dir) top_watched = false;
      continue;
    }
    if (seen != nullptr) seen->insert(wd);
    std::error_code ec;
    for (fs::directory_iterator it(rel.empty() ? landing_dir_ : landing_dir_ / rel, ec), end;
         !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (IsIgnored(name, options_.ignore_globs)) continue;
      std::error_code type_ec;
      if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) stack.push_back(Join(rel, name));
    }
  }
  return top_watched;
}

void InotifyWatcher::UnwatchTree(const std::string& rel_dir) {
  auto it = wd_by_path_.lower_bound(rel_dir);
  const std::string prefix = rel_dir.empty() ? "" : rel_dir + "/";
  while (it != wd_by_path_.end() &&
         (it->first == rel_dir || it->first.compare(0, prefix.size(), prefix) == 0)) {
    // Fails harmlessly (EINVAL) when the kernel already dropped the watch.
    inotify_rm_watch(fd_, it->second);
    path_by_wd_.erase(it->second);
    it = wd_by_path_.erase(it);
  }
}

void InotifyWatcher::Resync() {
  // Mark and sweep rather than remove-all-then-add: removing every watch would
  // queue one IN_IGNORED per folder, which on a large tree overflows the queue
  // again and would loop. Re-adding a watch to a watched folder is free and
  // queues nothing.
  degraded_ = false;
  limit_reported_ = false;
  tables_.clear();
  std::unordered_set<int> seen;
  if (!WatchTree("", &seen)) {
    landing_lost_ = true;
    degraded_ = true;
    Push(WatchEvent::kOverflow, "", "",
         "the landing directory " + landing_dir_.string() +
             " cannot be watched; degraded: falling back to periodic scanning");
    return;
  }
  landing_lost_ = false;
  std::vector<int> stale;
  for (const auto& [wd, path] : path_by_wd_) {
    if (!seen.contains(wd)) stale.push_back(wd);
  }
  // Folders deleted or moved out of the landing directory while events were lost.
  for (int wd : stale) {
    inotify_rm_watch(fd_, wd);
    if (auto it = wd_by_path_.find(path_by_wd_[wd]); it != wd_by_path_.end() && it->second == wd) {
      wd_by_path_.erase(it);
    }
    path_by_wd_.erase(wd);
  }
}

void InotifyWatcher::Rewatch() { Resync(); }

std::vector<WatchEvent> InotifyWatcher::ReadEvents() {
  alignas(alignof(struct inotify_event)) char buffer[64 * 1024];
  for (int round = 0; round < kMaxReadsPerCall; ++round) {
    const ssize_t n = read(fd_, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        degraded_ = true;
        Push(WatchEvent::kWatchError, "", "",
             std::string("reading inotify events failed: ") + std::strerror(errno) +
                 "; degraded: falling back to periodic scanning");
      }
      break;
    }
    if (n == 0) break;
    for (ssize_t offset = 0; offset < n;) {
      const auto* event = reinterpret_cast<const struct inotify_event*>(buffer + offset);
      // `name` is NUL-padded to `len` bytes; len == 0 means no name.
      Handle(event->wd, event->mask, event->len > 0 ? std::string(event->name) : std::string());
      offset += static_cast<ssize_t>(sizeof(struct inotify_event) + event->len);
    }
    if (static_cast<size_t>(n) < sizeof buffer / 2) break;  // likely drained; spare a syscall
  }
  std::vector<WatchEvent> events = std::move(pending_);
  pending_.clear();
  return events;
}

void InotifyWatcher::Handle(int wd, uint32_t mask, const std::string& name) {
  if (mask & IN_Q_OVERFLOW) {
    // Events were dropped, possibly IN_CREATE of folders that therefore have no
    // watch yet. Watch everything again first, then tell the caller to rescan:
    // in that order no file can land in an unwatched folder after the scan.
    Resync();
    Push(WatchEvent::kOverflow, "", "",
         "inotify event queue overflowed (sysctl fs.inotify.max_queued_events); rescanning");
    return;
  }
  auto dir_it = path_by_wd_.find(wd);
  if (dir_it == path_by_wd_.end()) return;  // a watch already removed
  const std::string rel_dir = dir_it->second;

  if (mask & IN_IGNORED) {
    if (auto it = wd_by_path_.find(rel_dir); it != wd_by_path_.end() && it->second == wd) {
      wd_by_path_.erase(it);
    }
    path_by_wd_.erase(dir_it);
    return;
  }

  if (rel_dir.empty() && (mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))) {
    // Watches on a moved landing directory would report paths that are no
    // longer under it; drop them all and let Rewatch() start over.
    UnwatchTree("");
    tables_.clear();
    landing_lost_ = true;
    degraded_ = true;
    Push(WatchEvent::kOverflow, "", "",
         "the landing directory " + landing_dir_.string() +
             " was deleted, moved or unmounted; degraded: falling back to periodic scanning "
             "until it is back");
    return;
  }

  if (mask & IN_DELETE_SELF) {
    // A table folder removed as a whole (rm -r) reports itself before its
    // parent reports it; tables_ makes sure only one kTableRemoved goes out.
    if (rel_dir.find('/') == std::string::npos && tables_.erase(rel_dir) > 0) {
      Push(WatchEvent::kTableRemoved, rel_dir, rel_dir);
    }
    return;
  }
  if (name.empty()) return;  // IN_MOVE_SELF of a subfolder: its parent reports the move
  if (IsIgnored(name, options_.ignore_globs)) return;

  const std::string rel_path = Join(rel_dir, name);
  const std::string table = TableOf(rel_path);

  if (mask & IN_ISDIR) {
    if (mask & (IN_CREATE | IN_MOVED_TO)) {
      // Subfolders may already exist (mkdir -p, a moved tree), and files may
      // have landed before the watch: WatchTree covers the first, the caller's
      // scan after kDirectoryAdded the second.
      WatchTree(rel_path, nullptr);
      Push(WatchEvent::kDirectoryAdded, table, rel_path);
    } else if (mask & (IN_DELETE | IN_MOVED_FROM)) {
      UnwatchTree(rel_path);
      if (rel_dir.empty()) {
        if (tables_.erase(rel_path) > 0) Push(WatchEvent::kTableRemoved, table, rel_path);
      } else {
        Push(WatchEvent::kDirectoryRemoved, table, rel_path);
      }
    }
    return;
  }

  if (rel_dir.empty()) return;  // files directly in the landing dir belong to no table
  if (mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
    // Only regular files are batches (a symlink can be renamed in, too); a file
    // already gone again is left to the scan.
    struct stat st;
    if (lstat((landing_dir_ / rel_path).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      Push(WatchEvent::kFileReady, table, rel_path);
    }
  } else if (mask & (IN_DELETE | IN_MOVED_FROM)) {
    Push(WatchEvent::kFileRemoved, table, rel_path);
  }
}

}  // namespace landfall::landing
