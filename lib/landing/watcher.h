// The filesystem-watcher seam: hints that something in the landing directory
// changed. A watcher is never the truth (the scan in catalog.h is); it only
// tells the daemon where to look, and when it can no longer be trusted.
#pragma once

#include <string>
#include <vector>

namespace landfall::landing {

struct WatchEvent {
  // Unscoped on purpose: both WatchEvent::kFileReady and
  // WatchEvent::Kind::kFileReady name the same enumerator.
  enum Kind {
    // A file is complete: closed after writing, or renamed into place.
    // `table` and `rel_path` name it. It may be an existing batch whose content
    // was rewritten in place, or a path already seen; the catalog decides.
    kFileReady,
    // A folder appeared (a new table folder when rel_path == table, else a
    // nested folder such as "orders/date=2026-11-01"). It is watched now, but
    // files may have landed in it before the watch existed: scan `table`.
    kDirectoryAdded,
    // A candidate batch was deleted or moved away. `table`, `rel_path` name it.
    kFileRemoved,
    // A nested folder was deleted or moved away, with whatever batches it held
    // (no kFileRemoved is reported for those when it was moved): scan `table`.
    kDirectoryRemoved,
    // A table folder was deleted or moved out of the landing directory.
    kTableRemoved,
    // Events were lost (IN_Q_OVERFLOW), or the landing directory itself went
    // away: rescan the whole landing directory. `message` says which.
    kOverflow,
    // A folder could not be watched because the inotify watch limit is
    // reached. `message` names the folder and the sysctl to raise; Degraded()
    // is true from then on.
    kWatchLimit,
    // A folder could not be watched for another reason (e.g. permissions).
    // `message` says which and why; Degraded() is true from then on.
    kWatchError,
  };

  Kind kind = kFileReady;
  std::string table;     // first-level folder; empty for kOverflow and errors on the landing dir
  std::string rel_path;  // relative to the landing dir, '/'-separated, like LandedFile::rel_path
  std::string message;   // ready to log; set for kOverflow, kWatchLimit, kWatchError
};

// Not thread-safe: one thread (the daemon's io_context) owns a watcher.
class Watcher {
 public:
  virtual ~Watcher() = default;

  // A file descriptor that becomes readable when ReadEvents() may return
  // events. It stays owned by the watcher: whoever wraps it (e.g. in
  // boost::asio::posix::stream_descriptor) must dup() it or release() it
  // before the wrapper is destroyed, and must not read from it.
  virtual int NativeHandle() const = 0;

  // Returns the events available now, in the order they happened, without
  // blocking; an empty vector when there are none. Paths it reports are
  // never ignored (no component matches an ignore glob). May return before
  // the queue is drained; the handle then stays readable.
  virtual std::vector<WatchEvent> ReadEvents() = 0;

  // True once some folder could not be watched (kWatchLimit, kWatchError) or
  // the landing directory itself was lost: events for parts of the landing
  // directory will be missing, so the caller must fall back to periodic full
  // scans until Rewatch() clears it.
  virtual bool Degraded() const = 0;

  // Walks the landing directory again and adds a watch to every folder that
  // lacks one (e.g. after an operator raised the watch limit). Clears
  // Degraded() when every folder is watched again. Failures are returned by
  // the next ReadEvents(), but do not make the handle readable: call
  // ReadEvents() right after. Follow it with a full scan: files may have
  // landed in folders that were not watched.
  virtual void Rewatch() = 0;
};

}  // namespace landfall::landing
