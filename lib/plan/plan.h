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
#include "lib/state/state_store.h"
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
// Values some batch carries that their column's type may round (BIGINT into
// DOUBLE), since no type holds them all exactly: a new batch appended with a
// cast, or a batch of a create or rebuild.
inline constexpr const char* kMayRound = "may_round";
inline constexpr const char* kColumnAbsent = "column_absent";
inline constexpr const char* kSchemaFrozen = "schema_frozen";
inline constexpr const char* kSchemaChangeBlocked = "schema_change_blocked";
inline constexpr const char* kPolicyRebuild = "policy_rebuild";
// A rebuild copies the rows of batches whose files are gone but which
// on_batch_removed: keep keeps from the old table (TablePlan::carry_over).
inline constexpr const char* kBatchesCarriedOver = "batches_carried_over";
// A column gets a type the warehouse stores less precisely than its staging
// type (PlanOptions::lossy_types: TIMESTAMP_NS on PostgreSQL).
inline constexpr const char* kPrecisionLost = "precision_lost";
// Another table's name differs from this one's only in case (TableInputs::collides_with).
inline constexpr const char* kTableNameCollision = "table_name_collision";
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
  config::SchemaEvolution policy = config::SchemaEvolution::kEvolve;  // the one that applied
  // evolve: columns renamed in place before the append (proven by field_id).
  std::vector<warehouse::ColumnRename> renames;
  // freeze: new batches whose schema differs, to quarantine instead of staging.
  struct Quarantined {
    std::string rel_path;
    std::string code;
    std::string detail;
  };
  std::vector<Quarantined> quarantine;
  // create/rebuild: batch ids (in the warehouse ledger) whose files are gone
  // but whose rows on_batch_removed: keep keeps; the rebuild copies their rows
  // and ledger rows over from the old table instead of dropping them.
  std::vector<std::string> carry_over;
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
  state::TableStatus status = state::TableStatus::kActive;
};

struct TableInputs {
  std::string table;
  bool folder_exists = false;                 // the raw table folder is in the landing dir
  std::vector<CurrentBatch> batches;          // sorted by rel_path
  std::optional<RememberedTable> remembered;  // nullopt: the state store has no row
  warehouse::TableContents warehouse;
  config::TablePolicy policy;
  // The name of the table this one's name collides with (NameCollisions):
  // both would be one warehouse table, which belongs to the other.
  std::optional<std::string> collides_with;
};

struct PlanOptions {
  bool full_refresh = false;    // rebuild every selected table
  bool state_unusable = false;  // the state as a whole cannot be trusted
  std::string state_unusable_why;
  // Staging types the warehouse stores less precisely, and what it stores
  // (Warehouse::LossyTypes): a table given one gets reason precision_lost.
  std::map<std::string, std::string> lossy_types;
};

// How firmly a table name holds its warehouse table, for NameCollisions.
enum class NameHold {
  kNew,     // only a folder or batches: nothing staged under this name yet
  kKnown,   // the state store has its snapshot, or the warehouse ledger has rows for it
  kStaged,  // the warehouse has a staging table by exactly this name
};

// DuckDB identifiers are case-insensitive: names that differ only in case
// (`orders/` and `Orders/`) would be one staging table, each replacing the
// other. In every such group of `names` one name keeps the table: the one
// holding it most firmly, then the first in byte order ("Orders" before
// "orders"). Returns each other name of a group, mapped to that winner.
std::map<std::string, std::string> NameCollisions(const std::map<std::string, NameHold>& names);

// Decides one table's plan. `supertype` resolves type conflicts between batches.
TablePlan PlanTable(const TableInputs& inputs, const PlanOptions& options,
                    const schema::SupertypeFn& supertype);

// Plans every table in `inputs`.
ChangePlan PlanAll(const std::vector<TableInputs>& inputs, const PlanOptions& options,
                   const schema::SupertypeFn& supertype);

// {"full_rebuild": bool, "reasons": [{"code","detail"}],
//  "tables": [{"table","action","batches","reasons","policy","schema_hash","columns"}]}
std::string ToJson(const ChangePlan& plan);
// What a run records of its plan: as ToJson, but only the tables it acts on,
// each with "batch_count" instead of its "batches" paths, and the skipped
// tables as a count ("tables_skipped"), so that a run's record grows with what
// it did, not with the number of tables or batches.
std::string ToRunJson(const ChangePlan& plan);
std::string ReasonsToJson(const std::vector<PlanReason>& reasons);
// A readable table for terminals.
std::string ToText(const ChangePlan& plan);

}  // namespace landfall::plan
