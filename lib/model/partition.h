// Partition keys and windows of time-interval models (README: "Time-interval
// models"). A partition is the half-open UTC window [start, end) of one hour,
// day, month or year, named by its key: "2026-04-07T13", "2026-04-07",
// "2026-04", "2026". Windows follow the calendar (months of 28 to 31 days).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/common/result.h"

namespace landfall::model {

enum class Granularity { kHour, kDay, kMonth, kYear };
const char* ToString(Granularity granularity);  // "hour" | "day" | "month" | "year"
std::optional<Granularity> GranularityFromString(std::string_view text);

using TimePoint = std::chrono::sys_seconds;

// The start of the partition holding `t`.
TimePoint PartitionStart(Granularity granularity, TimePoint t);
// The start of the partition after (before) the one starting at `start`.
TimePoint NextPartition(Granularity granularity, TimePoint start);
TimePoint PreviousPartition(Granularity granularity, TimePoint start);

std::string FormatKey(Granularity granularity, TimePoint start);
// The start of the partition `key` names. A key must format back to itself:
// "2026-4-7" and "2026-13" are errors ("partition_invalid", naming the form
// expected).
Result<TimePoint> ParseKey(Granularity granularity, std::string_view key);

// Every partition start from `from` to `to`, both included (none when to < from).
std::vector<TimePoint> PartitionsBetween(Granularity granularity, TimePoint from, TimePoint to);

// 'YYYY-MM-DD HH:MM:SS' (quoted, UTC): what @start_date and @end_date become.
std::string SqlTimestamp(TimePoint t);
// Microseconds since the epoch (the state store's unit).
int64_t ToMicros(TimePoint t);

// `sql` with every @start_date and @end_date replaced by the window's bounds.
std::string WithWindow(std::string_view sql, TimePoint start, TimePoint end);
// Whether `sql` mentions @start_date / @end_date (as whole words).
bool UsesStartDate(std::string_view sql);
bool UsesEndDate(std::string_view sql);

// The strftime format of keys, and date_trunc's unit, in DuckDB.
const char* KeyFormat(Granularity granularity);  // "%Y-%m-%d", ...
inline const char* TruncUnit(Granularity granularity) { return ToString(granularity); }

// Partition reason codes (PartitionPick::reason).
inline constexpr const char* kPartitionMissing = "missing";
inline constexpr const char* kPartitionWindowReopened = "window_reopened";
inline constexpr const char* kPartitionLookback = "lookback";
inline constexpr const char* kPartitionUpstreamRows = "upstream_rows";
inline constexpr const char* kPartitionChecksumChanged = "checksum_changed";
inline constexpr const char* kPartitionRequested = "requested";
inline constexpr const char* kPartitionFailedBefore = "failed_before";

// `landfall run --models m` flags choosing partitions; none set: the daemon's
// case (the partitions whose upstream rows changed).
struct PartitionSelection {
  std::string partition;  // --partition KEY
  std::string from, to;   // --from A --to B, both included
  bool latest = false;    // --latest: the partition holding now
  bool missing = false;   // --missing
  std::optional<int> lookback;  // --lookback N: overrides the model's
  bool Any() const { return !partition.empty() || !from.empty() || !to.empty() || latest || missing; }
};

struct PartitionPick {
  std::string key;
  TimePoint start;
  TimePoint end;
  std::string reason;  // kPartition*
  std::string detail;
  bool operator==(const PartitionPick&) const = default;
};

// What the state store knows of one partition.
struct KnownPartition {
  std::string status;  // computed, failed, in_progress, interrupted
  bool window_closed = false;
};

struct PartitionPickInput {
  Granularity granularity = Granularity::kDay;
  std::string first_partition;
  int lookback = 0;
  TimePoint now;
  PartitionSelection selection;
  std::map<std::string, KnownPartition> known;  // by key
  // Without selection flags: keys whose upstream changed, with reason and detail.
  std::map<std::string, std::pair<std::string, std::string>> changed;
  // Without selection flags: the target is rebuilt, every partition from
  // first_partition to now is computed.
  bool everything = false;
};

// The partitions a run computes, by key ascending, each once with the first
// reason that picked it. Keys before first_partition or after the partition
// holding `now` are never picked. Errors ("partition_invalid"): a key that
// does not parse, before first_partition or after now, --from after --to.
Result<std::vector<PartitionPick>> PickPartitions(const PartitionPickInput& input);

// Consecutive picks in groups of at most `batch_size` (each group's windows
// adjoin): one statement each.
std::vector<std::vector<PartitionPick>> BatchPartitions(const std::vector<PartitionPick>& picks, int batch_size);

}  // namespace landfall::model
