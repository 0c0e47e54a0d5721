// Change plans: for every table, an action and the reasons for it.
//
// The planner is a pure function of what the state store remembers, what the
// warehouse holds and what the landing directory holds now. It runs no SQL and
// touches no file, so every decision can be unit-tested.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/config/config.h"
#include "lib/schema/schema.h"
#include "lib/warehouse/warehouse.h"

namespace landfall::plan {

enum class Action { kSkip, kCreate, kAppend, kEvolve, kRebuild, kOrphan, kDrop, kFail };
const char* ToString(Action action);

// Machine-readable reason codes (PlanReason::code).
namespace reason {
inline constexpr const char* kNewTable = "new_table";
inline constexpr const char* kNewBatches = "new_batches";
inline constexpr const char* kNoChange = "no_change";
inline constexpr const char* kSchemaChanged = "schema_changed";
inline constexpr const char* kColumnAdded = "column_added";
inline constexpr const char* kTypeChanged = "type_changed";
inline constexpr const char* kBatchRewritten = "batch_rewritten";
inline constexpr const char* kBatchRemoved = "batch_removed";
inline constexpr const char* kTableRemoved = "table_removed";
inline constexpr const char* kTableReturned = "table_returned";
inline constexpr const char* kWarehouseTableMissing = "warehouse_table_missing";
inline constexpr const char* kWarehouseSchemaMismatch = "warehouse_schema_mismatch";
inline constexpr const char* kLedgerMismatch = "ledger_mismatch";
inline constexpr const char* kStateMissing = "state_missing";
inline constexpr const char* kStateUnreadable = "state_unreadable";
inline constexpr const char* kStateUnusable = "state_unusable";
inline constexpr const char* kStateDeleted = "state_deleted";
inline constexpr const char* kFullRefreshRequested = "full_refresh_requested";
inline constexpr const char* kSupertypeUnavailable = "no_common_supertype";
inline constexpr const char* kTypeWidened = "type_widened";
inline constexpr const char* kRenameByFieldId = "rename_by_field_id";
inline constexpr const char* kSuspectedRename = "suspected_rename";
// A rename took the name of a column the new batches lack: that column is
// renamed to <name>__replaced (its rows keep their values).
inline constexpr const char* kColumnDisplaced = "column_displaced";
inline constexpr const char* kIncompatibleType = "incompatible_type";
inline constexpr const char* kColumnAbsent = "column_absent";
inline constexpr const char* kSchemaFrozen = "schema_frozen";
inline constexpr const char* kSchemaChangeBlocked = "schema_change_blocked";
inline constexpr const char* kPolicyRebuild = "policy_rebuild";
}  // namespace reason

struct PlanReason {
  std::string code;
  std::string detail;
};

struct TablePlan {
  std::string table;
  Action action = Action::kSkip;
  // Batches the action applies (rel paths): the new ones for append/create, all
  // of the table's batches for rebuild.
  std::vector<std::string> batches;
  std::vector<PlanReason> reasons;
  schema::Schema target;  // staging columns after the action
  std::string policy = "evolve";  // the schema_evolution policy that applied
  // evolve: columns renamed in place before the append (proven by field_id).
  std::vector<warehouse::ColumnRename> renames;
  // freeze: new batches whose schema differs, to quarantine instead of staging.
  struct Quarantined {
    std::string rel_path;
    std::string code;
    std::string detail;
  };
  std::vector<Quarantined> quarantine;
};

struct ChangePlan {
  bool full_rebuild = false;
  std::vector<PlanReason> reasons;
  std::vector<TablePlan> tables;  // sorted by table name

  // Tables whose action is not skip.
  int ActionableCount() const;
};

// One good batch of a table as the landing directory holds it now (duplicates
// and quarantined files are excluded before planning).
struct CurrentBatch {
  std::string batch_id;  // content fingerprint
  std::string rel_path;
  int64_t rows = 0;
  // Never null; shared by the batches that have the same footer schema.
  std::shared_ptr<const schema::Schema> schema;
  // The state store records it as staged: if the warehouse ledger lacks it, the
  // two disagree and the table is rebuilt rather than the batch staged twice.
  bool staged = false;
};

// What the state store remembers of a table.
struct RememberedTable {
  std::optional<schema::Schema> snapshot;  // nullopt: no snapshot stored
  bool unreadable = false;                 // a snapshot is stored but cannot be parsed
  std::string status = "active";  // active | orphaned | failed | reset (state deleted: rebuild)
};

struct TableInputs {
  std::string table;
  bool folder_exists = false;                // the raw table folder is in the landing dir
  std::vector<CurrentBatch> batches;         // sorted by rel_path
  std::optional<RememberedTable> remembered;  // nullopt: the state store has no row
  warehouse::TableContents warehouse;
  config::TablePolicy policy;
};

struct PlanOptions {
  bool full_refresh = false;        // rebuild every selected table
  bool state_unusable = false;      // the state as a whole cannot be trusted
  std::string state_unusable_why;
};

// Decides one table's plan. `supertype` resolves type conflicts between batches.
TablePlan PlanTable(const TableInputs& inputs, const PlanOptions& options,
                    const schema::SupertypeFn& supertype);

// Plans every table in `inputs`.
ChangePlan PlanAll(const std::vector<TableInputs>& inputs, const PlanOptions& options,
                   const schema::SupertypeFn& supertype);

// {"full_rebuild": bool, "reasons": [{"code","detail"}],
//  "tables": [{"table","action","batches","reasons","policy","schema_hash","columns"}]}
std::string ToJson(const ChangePlan& plan);
std::string ReasonsToJson(const std::vector<PlanReason>& reasons);
// A readable table for terminals.
std::string ToText(const ChangePlan& plan);

}  // namespace landfall::plan
