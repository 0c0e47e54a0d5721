#include "lib/state/state_store.h"

namespace landfall::state {

const char* ToString(BatchStatus status) {
  switch (status) {
    case BatchStatus::kPending:
      return "pending";
    case BatchStatus::kStaged:
      return "staged";
    case BatchStatus::kQuarantined:
      return "quarantined";
    case BatchStatus::kDuplicate:
      return "duplicate";
  }
  return "pending";  // unreachable: every enumerator is handled above
}

std::optional<BatchStatus> BatchStatusFromString(std::string_view text) {
  if (text == "pending") return BatchStatus::kPending;
  if (text == "staged") return BatchStatus::kStaged;
  if (text == "quarantined") return BatchStatus::kQuarantined;
  if (text == "duplicate") return BatchStatus::kDuplicate;
  return std::nullopt;
}

const char* ToString(TableStatus status) {
  switch (status) {
    case TableStatus::kNew:
      return "new";
    case TableStatus::kActive:
      return "active";
    case TableStatus::kOrphaned:
      return "orphaned";
    case TableStatus::kFailed:
      return "failed";
    case TableStatus::kDropped:
      return "dropped";
    case TableStatus::kReset:
      return "reset";
  }
  return "active";  // unreachable: every enumerator is handled above
}

std::optional<TableStatus> TableStatusFromString(std::string_view text) {
  for (auto status : {TableStatus::kNew, TableStatus::kActive, TableStatus::kOrphaned,
                      TableStatus::kFailed, TableStatus::kDropped, TableStatus::kReset}) {
    if (text == ToString(status)) return status;
  }
  return std::nullopt;
}

const char* ToString(ModelStatus status) {
  switch (status) {
    case ModelStatus::kNew:
      return "new";
    case ModelStatus::kActive:
      return "active";
    case ModelStatus::kFailed:
      return "failed";
    case ModelStatus::kReset:
      return "reset";
  }
  return "active";  // unreachable: every enumerator is handled above
}

std::optional<ModelStatus> ModelStatusFromString(std::string_view text) {
  for (auto status : {ModelStatus::kNew, ModelStatus::kActive, ModelStatus::kFailed,
                      ModelStatus::kReset}) {
    if (text == ToString(status)) return status;
  }
  return std::nullopt;
}

const char* ToString(PartitionStatus status) {
  switch (status) {
    case PartitionStatus::kComputed:
      return "computed";
    case PartitionStatus::kFailed:
      return "failed";
    case PartitionStatus::kInProgress:
      return "in_progress";
    case PartitionStatus::kInterrupted:
      return "interrupted";
  }
  return "failed";  // unreachable: every enumerator is handled above
}

std::optional<PartitionStatus> PartitionStatusFromString(std::string_view text) {
  for (auto status : {PartitionStatus::kComputed, PartitionStatus::kFailed,
                      PartitionStatus::kInProgress, PartitionStatus::kInterrupted}) {
    if (text == ToString(status)) return status;
  }
  return std::nullopt;
}

const char* ToString(TableRunStatus status) {
  switch (status) {
    case TableRunStatus::kSucceeded:
      return "succeeded";
    case TableRunStatus::kFailed:
      return "failed";
  }
  return "failed";  // unreachable: every enumerator is handled above
}

std::optional<TableRunStatus> TableRunStatusFromString(std::string_view text) {
  if (text == "succeeded") return TableRunStatus::kSucceeded;
  if (text == "failed") return TableRunStatus::kFailed;
  return std::nullopt;
}

}  // namespace landfall::state
