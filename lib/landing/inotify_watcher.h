// Watcher over Linux inotify, recursive over the landing directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "lib/common/result.h"
#include "lib/landing/watcher.h"

namespace landfall::landing {

class InotifyWatcher final : public Watcher {
 public:
  struct Options {
    // Names matching one of these (fnmatch, see IsIgnored) are ignored at any
    // depth: an ignored folder is not watched, an ignored file never reported.
    std::vector<std::string> ignore_globs;
    // The inotify_add_watch(2) call, replaceable so tests can simulate the
    // watch limit (return -1 with errno = ENOSPC). Empty: the real call.
    std::function<int(int fd, const char* path, uint32_t mask)> add_watch;
  };

  // Opens an inotify instance and watches `landing_dir`, every table folder
  // and every nested folder under them. Fails ("landing_missing") when
  // `landing_dir` is not a directory, or ("watcher_failed") when inotify
  // cannot be opened or the landing directory itself cannot be watched.
  // Folders below it that cannot be watched do not fail creation: the first
  // ReadEvents() reports them and Degraded() is true. Those events do not make
  // the handle readable, so call ReadEvents() once right after Create().
  static Result<std::unique_ptr<InotifyWatcher>> Create(std::filesystem::path landing_dir,
                                                        Options options);

  ~InotifyWatcher() override;
  InotifyWatcher(const InotifyWatcher&) = delete;
  InotifyWatcher& operator=(const InotifyWatcher&) = delete;

  // The inotify fd (non-blocking, close-on-exec). See Watcher::NativeHandle.
  int NativeHandle() const override { return fd_; }
  std::vector<WatchEvent> ReadEvents() override;
  bool Degraded() const override { return degraded_; }
  void Rewatch() override;

  // Number of folders currently watched, the landing directory included.
  size_t WatchCount() const { return path_by_wd_.size(); }

 private:
  InotifyWatcher(std::filesystem::path landing_dir, Options options, int fd);

  // Watches `rel_dir` (relative to the landing dir, "" for itself) and every
  // non-ignored folder below it, adding each wd to `seen` when given. Returns
  // false when `rel_dir` itself could not be watched. Failures are queued as
  // events.
  bool WatchTree(const std::string& rel_dir, std::unordered_set<int>* seen);
  // Watches one folder; returns its wd, or -1 on failure (queued as an event
  // unless the folder simply vanished).
  int WatchOne(const std::string& rel_dir);
  // Re-walks the whole landing directory: watches what lacks a watch, drops
  // watches of folders no longer there.
  void Resync();
  // Removes the watches of `rel_dir` and every folder below it.
  void UnwatchTree(const std::string& rel_dir);
  void Handle(int wd, uint32_t mask, const std::string& name);
  void Push(WatchEvent::Kind kind, std::string table, std::string rel_path,
            std::string message = {});

  const std::filesystem::path landing_dir_;
  const Options options_;
  const int fd_;

  std::unordered_map<int, std::string> path_by_wd_;  // watched folder, relative ("" = landing dir)
  std::map<std::string, int> wd_by_path_;            // ordered, so a subtree is one range
  std::set<std::string> tables_;                     // table folders seen, to report removals once
  std::vector<WatchEvent> pending_;                  // events produced outside a read
  bool degraded_ = false;
  bool landing_lost_ = false;
  bool limit_reported_ = false;
};

}  // namespace landfall::landing
