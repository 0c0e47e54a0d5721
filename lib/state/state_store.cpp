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

}  // namespace landfall::state
