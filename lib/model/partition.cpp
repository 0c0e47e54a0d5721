#include "lib/model/partition.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

namespace landfall::model {

namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::sys_days;
using std::chrono::year_month_day;

year_month_day DateOf(TimePoint t) { return year_month_day{std::chrono::floor<days>(t)}; }

TimePoint At(const year_month_day& date) { return TimePoint{sys_days{date}}; }

// The word at `at` in `sql` is `word` and does not run on ("@start_dates").
bool WordAt(std::string_view sql, size_t at, std::string_view word) {
  if (sql.substr(at, word.size()) != word) return false;
  const size_t end = at + word.size();
  return end == sql.size() || !(std::isalnum(static_cast<unsigned char>(sql[end])) || sql[end] == '_');
}

bool Uses(std::string_view sql, std::string_view word) {
  for (size_t at = sql.find(word); at != std::string_view::npos; at = sql.find(word, at + 1)) {
    if (WordAt(sql, at, word)) return true;
  }
  return false;
}

const char* KeyForm(Granularity granularity) {
  switch (granularity) {
    case Granularity::kHour:
      return "YYYY-MM-DDTHH";
    case Granularity::kDay:
      return "YYYY-MM-DD";
    case Granularity::kMonth:
      return "YYYY-MM";
    case Granularity::kYear:
      return "YYYY";
  }
  return "YYYY-MM-DD";
}

// The digits of `text` at [at, at+n) as a number; nullopt unless all are digits.
std::optional<int> Digits(std::string_view text, size_t at, size_t n) {
  if (at + n > text.size()) return std::nullopt;
  int value = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

const char* ToString(Granularity granularity) {
  switch (granularity) {
    case Granularity::kHour:
      return "hour";
    case Granularity::kDay:
      return "day";
    case Granularity::kMonth:
      return "month";
    case Granularity::kYear:
      return "year";
  }
  return "day";  // unreachable: every enumerator is handled above
}

std::optional<Granularity> GranularityFromString(std::string_view text) {
  for (Granularity g : {Granularity::kHour, Granularity::kDay, Granularity::kMonth, Granularity::kYear}) {
    if (text == ToString(g)) return g;
  }
  return std::nullopt;
}

TimePoint PartitionStart(Granularity granularity, TimePoint t) {
  const year_month_day date = DateOf(t);
  switch (granularity) {
    case Granularity::kHour:
      return std::chrono::floor<hours>(t);
    case Granularity::kDay:
      return At(date);
    case Granularity::kMonth:
      return At(date.year() / date.month() / 1);
    case Granularity::kYear:
      return At(date.year() / 1 / 1);
  }
  return At(date);
}

TimePoint NextPartition(Granularity granularity, TimePoint start) {
  const year_month_day date = DateOf(start);
  switch (granularity) {
    case Granularity::kHour:
      return start + hours{1};
    case Granularity::kDay:
      return start + days{1};
    case Granularity::kMonth:
      return At(date.year() / date.month() / 1 + std::chrono::months{1});
    case Granularity::kYear:
      return At((date.year() + std::chrono::years{1}) / 1 / 1);
  }
  return start + days{1};
}

TimePoint PreviousPartition(Granularity granularity, TimePoint start) {
  const year_month_day date = DateOf(start);
  switch (granularity) {
    case Granularity::kHour:
      return start - hours{1};
    case Granularity::kDay:
      return start - days{1};
    case Granularity::kMonth:
      return At(date.year() / date.month() / 1 - std::chrono::months{1});
    case Granularity::kYear:
      return At((date.year() - std::chrono::years{1}) / 1 / 1);
  }
  return start - days{1};
}

std::string FormatKey(Granularity granularity, TimePoint start) {
  const year_month_day date = DateOf(start);
  const int y = static_cast<int>(date.year());
  const unsigned m = static_cast<unsigned>(date.month());
  const unsigned d = static_cast<unsigned>(date.day());
  char out[32];
  switch (granularity) {
    case Granularity::kHour: {
      const auto hour = (start - std::chrono::floor<days>(start)) / hours{1};
      std::snprintf(out, sizeof out, "%04d-%02u-%02uT%02d", y, m, d, static_cast<int>(hour));
      break;
    }
    case Granularity::kDay:
      std::snprintf(out, sizeof out, "%04d-%02u-%02u", y, m, d);
      break;
    case Granularity::kMonth:
      std::snprintf(out, sizeof out, "%04d-%02u", y, m);
      break;
    case Granularity::kYear:
      std::snprintf(out, sizeof out, "%04d", y);
      break;
  }
  return out;
}

Result<TimePoint> ParseKey(Granularity granularity, std::string_view key) {
  auto invalid = [&]() -> Result<TimePoint> {
    return Fail("partition_invalid", "'" + std::string(key) + "' is not a " + ToString(granularity) +
                                         " partition key (" + KeyForm(granularity) + ")");
  };
  const auto y = Digits(key, 0, 4);
  if (!y) return invalid();
  int m = 1, d = 1, h = 0;
  if (granularity != Granularity::kYear) {
    auto month = key.size() > 4 && key[4] == '-' ? Digits(key, 5, 2) : std::nullopt;
    if (!month) return invalid();
    m = *month;
  }
  if (granularity == Granularity::kDay || granularity == Granularity::kHour) {
    auto day = key.size() > 7 && key[7] == '-' ? Digits(key, 8, 2) : std::nullopt;
    if (!day) return invalid();
    d = *day;
  }
  if (granularity == Granularity::kHour) {
    auto hour = key.size() > 10 && key[10] == 'T' ? Digits(key, 11, 2) : std::nullopt;
    if (!hour) return invalid();
    h = *hour;
  }
  const year_month_day date{std::chrono::year{*y}, std::chrono::month{static_cast<unsigned>(m)},
                            std::chrono::day{static_cast<unsigned>(d)}};
  if (!date.ok() || h > 23) return invalid();
  const TimePoint start = At(date) + hours{h};
  // Whatever is left over ("2026-04-07x") or differs in form fails here.
  if (FormatKey(granularity, start) != key) return invalid();
  return start;
}

std::vector<TimePoint> PartitionsBetween(Granularity granularity, TimePoint from, TimePoint to) {
  std::vector<TimePoint> out;
  for (TimePoint t = PartitionStart(granularity, from); t <= to; t = NextPartition(granularity, t)) {
    out.push_back(t);
  }
  return out;
}

std::string SqlTimestamp(TimePoint t) {
  const year_month_day date = DateOf(t);
  const auto seconds = (t - std::chrono::floor<days>(t)).count();
  char out[64];
  std::snprintf(out, sizeof out, "'%04d-%02u-%02u %02lld:%02lld:%02lld'", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<long long>(seconds / 3600), static_cast<long long>(seconds / 60 % 60),
                static_cast<long long>(seconds % 60));
  return out;
}

int64_t ToMicros(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

std::string WithWindow(std::string_view sql, TimePoint start, TimePoint end) {
  static constexpr std::string_view kStart = "@start_date", kEnd = "@end_date";
  std::string out;
  out.reserve(sql.size() + 16);
  for (size_t at = 0; at < sql.size();) {
    if (sql[at] == '@' && WordAt(sql, at, kStart)) {
      out += SqlTimestamp(start);
      at += kStart.size();
    } else if (sql[at] == '@' && WordAt(sql, at, kEnd)) {
      out += SqlTimestamp(end);
      at += kEnd.size();
    } else {
      out += sql[at++];
    }
  }
  return out;
}

const char* KeyFormat(Granularity granularity) {
  switch (granularity) {
    case Granularity::kHour:
      return "%Y-%m-%dT%H";
    case Granularity::kDay:
      return "%Y-%m-%d";
    case Granularity::kMonth:
      return "%Y-%m";
    case Granularity::kYear:
      return "%Y";
  }
  return "%Y-%m-%d";
}

Result<std::vector<PartitionPick>> PickPartitions(const PartitionPickInput& in) {
  const Granularity g = in.granularity;
  auto first = ParseKey(g, in.first_partition);
  if (!first) return Fail(first.error());
  const TimePoint current = PartitionStart(g, in.now);
  std::map<TimePoint, PartitionPick> picked;
  auto pick = [&](TimePoint start, const std::string& reason, const std::string& detail = "") {
    if (start < *first || start > current) return;
    picked.try_emplace(start, PartitionPick{FormatKey(g, start), start, NextPartition(g, start), reason, detail});
  };
  auto parse = [&](const std::string& flag, const std::string& key) -> Result<TimePoint> {
    auto start = ParseKey(g, key);
    if (!start) return Fail("partition_invalid", flag + ": " + start.error().message);
    if (*start < *first) {
      return Fail("partition_invalid", flag + ": " + key + " is before the model's first_partition " +
                                           in.first_partition);
    }
    if (*start > current) {
      return Fail("partition_invalid",
                  flag + ": " + key + " is after the current partition " + FormatKey(g, current));
    }
    return start;
  };
  const PartitionSelection& sel = in.selection;
  if (!sel.partition.empty()) {
    auto start = parse("--partition", sel.partition);
    if (!start) return Fail(start.error());
    pick(*start, kPartitionRequested);
  }
  if (!sel.from.empty() || !sel.to.empty()) {
    if (sel.from.empty() || sel.to.empty()) return Fail("partition_invalid", "--from and --to go together");
    auto from = parse("--from", sel.from);
    if (!from) return Fail(from.error());
    auto to = parse("--to", sel.to);
    if (!to) return Fail(to.error());
    if (*to < *from) return Fail("partition_invalid", "--from " + sel.from + " is after --to " + sel.to);
    for (TimePoint t : PartitionsBetween(g, *from, *to)) pick(t, kPartitionRequested);
  }
  if (sel.latest) pick(current, kPartitionRequested, "the partition holding now");
  if (sel.missing || (!sel.Any() && in.everything)) {
    for (TimePoint t : PartitionsBetween(g, *first, current)) {
      const std::string key = FormatKey(g, t);
      auto known = in.known.find(key);
      if (known == in.known.end() || in.everything) {
        pick(t, kPartitionMissing);
      } else if (known->second.status == "failed") {
        pick(t, kPartitionFailedBefore);
      } else if (known->second.status != "computed") {
        pick(t, kPartitionMissing, known->second.status);
      } else if (!known->second.window_closed && in.now >= NextPartition(g, t)) {
        pick(t, kPartitionWindowReopened, "computed before its window closed");
      }
    }
  }
  if (!sel.Any()) {
    for (const auto& [key, why] : in.changed) {
      auto start = ParseKey(g, key);
      if (start) pick(*start, why.first, why.second);
    }
  }
  const int lookback = sel.lookback.value_or(in.lookback);
  if (!picked.empty() && lookback > 0) {
    TimePoint t = picked.begin()->first;
    const std::string earliest = picked.begin()->second.key;
    for (int i = 0; i < lookback; ++i) {
      t = PreviousPartition(g, t);
      pick(t, kPartitionLookback, "before " + earliest);
    }
  }
  std::vector<PartitionPick> out;
  for (auto& [start, p] : picked) out.push_back(std::move(p));
  return out;
}

std::vector<std::vector<PartitionPick>> BatchPartitions(const std::vector<PartitionPick>& picks, int batch_size) {
  std::vector<std::vector<PartitionPick>> out;
  for (const auto& p : picks) {
    if (out.empty() || static_cast<int>(out.back().size()) >= std::max(batch_size, 1) ||
        out.back().back().end != p.start) {
      out.emplace_back();
    }
    out.back().push_back(p);
  }
  return out;
}

bool UsesStartDate(std::string_view sql) { return Uses(sql, "@start_date"); }
bool UsesEndDate(std::string_view sql) { return Uses(sql, "@end_date"); }

}  // namespace landfall::model
