#include <algorithm>
#include <map>
#include <set>
#include <string_view>

#include "lib/plan/plan.h"

namespace landfall::plan {

const char* ToString(Action action) {
  switch (action) {
    case Action::kSkip:
      return "skip";
    case Action::kCreate:
      return "create";
    case Action::kAppend:
      return "append";
    case Action::kEvolve:
      return "evolve";
    case Action::kRebuild:
      return "rebuild";
    case Action::kOrphan:
      return "orphan";
    case Action::kDrop:
      return "drop";
    case Action::kFail:
      return "fail";
  }
  return "?";
}

int ChangePlan::ActionableCount() const {
  return static_cast<int>(std::count_if(
      tables.begin(), tables.end(), [](const TablePlan& t) { return t.action != Action::kSkip; }));
}

namespace {

std::string Plural(size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "es");
}

std::string ColumnList(const schema::Schema& s) {
  std::string out;
  for (const auto& c : s.columns) out += (out.empty() ? "" : ", ") + c.name + " " + c.type;
  return "(" + out + ")";
}

// The rebuild target: every current batch unified, in path order.
Result<schema::Schema> UnifyAll(const std::vector<CurrentBatch>& batches,
                                const schema::SupertypeFn& supertype) {
  std::vector<const schema::Schema*> schemas;
  for (const auto& b : batches) schemas.push_back(b.schema.get());
  return schema::Unify(schema::Schema{}, schemas, supertype);
}

void AllBatches(const TableInputs& in, TablePlan& plan) {
  plan.batches.clear();
  for (const auto& b : in.batches) plan.batches.push_back(b.rel_path);
}

// The types `batches` carry for the target column `column`, distinct,
// in the order first seen; matched as Unify matches (field_id, else name).
std::vector<std::string> NewTypes(const schema::Column& column,
                                  const std::vector<const schema::Schema*>& batches) {
  std::vector<std::string> types;
  for (const auto* b : batches) {
    for (const auto& c : b->columns) {
      const bool same = (column.field_id && c.field_id == column.field_id) ||
                        schema::FoldName(c.name) == schema::FoldName(column.name);
      if (same && std::find(types.begin(), types.end(), c.type) == types.end()) {
        types.push_back(c.type);
      }
    }
  }
  return types;
}

// A rebuild unifies every batch: where the target column cannot hold every
// value some batch carries (DECIMAL(38,2) and DECIMAL(38,4) in one new table),
// a reason says so, unless a drift reason for that column already does.
void NoteRounding(const std::vector<CurrentBatch>& batches, TablePlan& plan) {
  std::vector<const schema::Schema*> schemas;
  for (const auto& b : batches) schemas.push_back(b.schema.get());
  for (const auto& column : plan.target.columns) {
    const std::vector<std::string> types = NewTypes(column, schemas);
    if (std::none_of(types.begin(), types.end(),
                     [&](const auto& t) { return schema::MayRound(t, column.type); })) {
      continue;
    }
    const std::string prefix = column.name + " ";
    const bool said =
        std::any_of(plan.reasons.begin(), plan.reasons.end(), [&](const PlanReason& r) {
          return (r.code == reason::kIncompatibleType || r.code == reason::kMayRound) &&
                 r.detail.starts_with(prefix) && r.detail.ends_with("(may round)");
        });
    if (said) continue;
    std::string detail = prefix;
    for (size_t i = 0; i < types.size(); ++i) detail += (i ? "+" : "") + types[i];
    plan.reasons.push_back({reason::kMayRound, detail + "\u2192" + column.type + " (may round)"});
  }
}

// Batches in the warehouse ledger whose files are gone (neither their content
// nor their path is present now) and whose rows on_batch_removed: keep keeps.
// A rebuild from the files present would drop them; the warehouse copies them
// over from the old table instead. A path now holding other content was
// rewritten, not removed: its old rows are replaced.
std::vector<std::string> KeptBatches(const TableInputs& in) {
  std::vector<std::string> kept;
  if (!in.warehouse.exists || in.policy.on_batch_removed != config::OnBatchRemoved::kKeep)
    return kept;
  std::set<std::string_view> ids, paths;
  for (const auto& b : in.batches) {
    ids.insert(b.batch_id);
    paths.insert(b.rel_path);
  }
  for (const auto& [id, entry] : in.warehouse.ledger) {
    if (!ids.contains(id) && !paths.contains(entry.rel_path)) kept.push_back(id);
  }
  return kept;
}

// Turns `plan` into a rebuild of every current batch (or a fail when the
// batches have no common schema), carrying over the rows of kept batches.
TablePlan& Rebuild(const TableInputs& in, TablePlan& plan, Action action,
                   const schema::SupertypeFn& supertype) {
  if (in.batches.empty()) {
    // Nothing to rebuild from: keep what is staged rather than empty the table.
    plan.action = Action::kSkip;
    plan.target = in.warehouse.columns;
    plan.reasons.push_back({reason::kNoChange, "no batches to rebuild from; staging table kept"});
    return plan;
  }
  plan.action = action;
  AllBatches(in, plan);
  auto kept = KeptBatches(in);
  Result<schema::Schema> target;
  if (kept.empty()) {
    target = UnifyAll(in.batches, supertype);
  } else {
    // Carried rows keep every column of the old table: the target starts from
    // the warehouse's columns. Without field ids, so that they match the old
    // table's columns by name, as the rows are copied.
    schema::Schema old = in.warehouse.columns;
    for (auto& c : old.columns) c.field_id.reset();
    std::vector<const schema::Schema*> schemas;
    for (const auto& b : in.batches) schemas.push_back(b.schema.get());
    target = schema::Unify(old, schemas, supertype);
  }
  if (!target) {
    plan.action = Action::kFail;
    plan.batches.clear();
    plan.reasons.push_back({reason::kSupertypeUnavailable, target.error().message});
    return plan;
  }
  plan.target = std::move(*target);
  NoteRounding(in.batches, plan);
  if (!kept.empty()) {
    plan.reasons.push_back(
        {reason::kBatchesCarriedOver,
         "kept " + Plural(kept.size(), "batch") +
             (kept.size() == 1 ? " whose file is gone" : " whose files are gone")});
    plan.carry_over = std::move(kept);
  }
  return plan;
}

// How new batches change a table's staging columns.
struct Drift {
  schema::Schema target;  // previous unified with the new batches
  std::vector<PlanReason> reasons;
  std::vector<warehouse::ColumnRename> renames;
  bool added = false, widened = false, incompatible = false;
  bool Changes() const { return added || widened || incompatible || !renames.empty(); }
};

Result<Drift> Classify(const schema::Schema& previous,
                       const std::vector<const schema::Schema*>& batches,
                       const schema::SupertypeFn& supertype) {
  auto unified = schema::Unify(previous, batches, supertype);
  if (!unified) return Fail(unified.error());
  Drift d;
  d.target = std::move(*unified);
  std::vector<const schema::Column*> added, absent;
  for (const auto& column : d.target.columns) {
    const schema::Column* old = nullptr;
    if (column.field_id) {
      for (const auto& p : previous.columns) {
        if (p.field_id == column.field_id) old = &p;
      }
    }
    if (!old) {
      // By name, unless that previous column's field_id went to another column
      // (it was renamed, and this is a new column under its old name).
      const schema::Column* named = previous.Find(column.name);
      const bool taken = named && named->field_id &&
                         std::any_of(d.target.columns.begin(), d.target.columns.end(),
                                     [&](const schema::Column& t) {
                                       return &t != &column && t.field_id == named->field_id;
                                     });
      if (!taken) old = named;
    }
    if (!old) {
      d.added = true;
      added.push_back(&column);
      d.reasons.push_back({reason::kColumnAdded, column.name + " " + column.type});
      continue;
    }
    if (schema::FoldName(old->name) != schema::FoldName(column.name)) {
      d.renames.push_back({old->name, column.name});
      const bool carried =
          std::any_of(batches.begin(), batches.end(),
                      [&](const schema::Schema* b) { return b->Find(column.name) != nullptr; });
      if (carried) {
        d.reasons.push_back({reason::kRenameByFieldId, old->name + "\u2192" + column.name +
                                                           " (field_id " +
                                                           std::to_string(*column.field_id) + ")"});
      } else {
        // No batch carries the new name: Unify moved the column aside for a rename.
        d.reasons.push_back({reason::kColumnDisplaced, old->name + "\u2192" + column.name +
                                                           " (its name went to a renamed column)"});
      }
    }
    // No silent rounding: where the target cannot hold every value of the
    // old column or of a new batch exactly (no type can: BIGINT and DOUBLE,
    // DECIMAL(38,2) and DECIMAL(38,4)), the detail names the types and says so.
    const std::vector<std::string> fresh_types = NewTypes(column, batches);
    const bool rounds = schema::MayRound(old->type, column.type) ||
                        std::any_of(fresh_types.begin(), fresh_types.end(), [&](const auto& t) {
                          return schema::MayRound(t, column.type);
                        });
    std::string types = old->type;
    for (const auto& t : fresh_types) {
      if (t != old->type) types += "+" + t;
    }
    const std::string change = column.name + " " + old->type + "\u2192" + column.type;
    const std::string rounding =
        column.name + " " + types + "\u2192" + column.type + " (may round)";
    if (old->type != column.type) {
      if (schema::IsLosslessWidening(old->type, column.type) && !rounds) {
        d.widened = true;
        d.reasons.push_back({reason::kTypeWidened, change});
      } else {
        d.incompatible = true;
        d.reasons.push_back({reason::kIncompatibleType, rounds ? rounding : change});
      }
    } else if (rounds) {
      // The column already has the common supertype, so a rebuild would give
      // the same column: the batch is appended with a cast, but not silently.
      d.reasons.push_back({reason::kMayRound, rounding});
    }
  }
  // A rename onto the name of a column that stays (possible only when that
  // column has no field_id for Unify to move it aside by): renaming in place
  // would leave two columns of one name, so the table is rebuilt.
  for (const auto& rename : d.renames) {
    const schema::Column* holder = previous.Find(rename.to);
    if (holder == nullptr) continue;
    const bool moves = std::any_of(d.renames.begin(), d.renames.end(), [&](const auto& r) {
      return schema::FoldName(r.from) == schema::FoldName(holder->name);
    });
    if (!moves) {
      d.incompatible = true;
      d.reasons.push_back({reason::kColumnDisplaced, holder->name + " keeps its name while " +
                                                         rename.from + "\u2192" + rename.to +
                                                         " takes it; rebuilt"});
    }
  }
  // Columns no new batch carries stay, NULL in the new rows.
  for (const auto& p : previous.columns) {
    bool seen = false;
    for (const auto* b : batches) {
      for (const auto& c : b->columns) {
        if ((p.field_id && c.field_id == p.field_id) ||
            schema::FoldName(c.name) == schema::FoldName(p.name)) {
          seen = true;
        }
      }
    }
    if (!seen) {
      absent.push_back(&p);
      d.reasons.push_back({reason::kColumnAbsent, p.name + " " + p.type + " (new rows NULL)"});
    }
  }
  // Without field ids a rename looks like one column gone and one of the same
  // type new: staged as add plus absent, but flagged for a human.
  for (const auto* gone : absent) {
    const schema::Column* match = nullptr;
    int same_type = 0;
    for (const auto* fresh : added) {
      if (fresh->type == gone->type) {
        match = fresh;
        ++same_type;
      }
    }
    if (same_type == 1) {
      d.reasons.push_back({reason::kSuspectedRename,
                           gone->name + "\u2192" + match->name + " (no field_id to prove it)"});
    }
  }
  return d;
}

}  // namespace

// What PlanTable decides, before NotePrecisionLost.
TablePlan Decide(const TableInputs& in, const PlanOptions& options,
                 const schema::SupertypeFn& supertype) {
  TablePlan plan;
  plan.table = in.table;
  plan.policy = in.policy.schema_evolution;
  const auto& wh = in.warehouse;
  const bool warehouse_knows = wh.exists || !wh.ledger.empty();

  // Its warehouse table is another table's: any statement under this name
  // would change that table. Nothing of this one is staged (its batches wait,
  // unquarantined), and the run fails it until one of the folders is renamed.
  if (in.collides_with) {
    plan.reasons.push_back(
        {reason::kTableNameCollision, in.table + " collides with " + *in.collides_with});
    plan.action = in.folder_exists ? Action::kFail : Action::kSkip;
    return plan;
  }

  // A table folder that disappeared: keep what is staged, mark it orphaned.
  if (!in.folder_exists) {
    plan.target = wh.columns;
    if (!warehouse_knows) {
      plan.reasons.push_back({reason::kNoChange, "no folder and nothing staged"});
    } else if (in.remembered && in.remembered->status == state::TableStatus::kOrphaned) {
      plan.reasons.push_back({reason::kTableRemoved, "folder still absent; staging table kept"});
    } else if (in.policy.on_table_removed == config::OnTableRemoved::kDrop) {
      plan.action = Action::kDrop;
      plan.reasons.push_back(
          {reason::kTableRemoved, "table folder disappeared; on_table_removed: drop"});
    } else {
      plan.action = Action::kOrphan;
      plan.reasons.push_back(
          {reason::kTableRemoved, "table folder disappeared; staging table kept"});
    }
    return plan;
  }

  if (in.batches.empty() && !wh.exists) {
    plan.reasons.push_back({reason::kNoChange, "no stageable batches yet"});
    return plan;
  }

  if (options.state_unusable) {
    plan.reasons.push_back({reason::kStateUnusable, options.state_unusable_why});
    return Rebuild(in, plan, Action::kRebuild, supertype);
  }
  if (options.full_refresh) {
    plan.reasons.push_back({reason::kFullRefreshRequested, "full refresh requested"});
    return Rebuild(in, plan, wh.exists ? Action::kRebuild : Action::kCreate, supertype);
  }

  if (!wh.exists) {
    if (warehouse_knows || (in.remembered && in.remembered->snapshot)) {
      plan.reasons.push_back(
          {reason::kWarehouseTableMissing,
           "state or ledger says the table was staged, but the warehouse has no table"});
      return Rebuild(in, plan, Action::kRebuild, supertype);
    }
    plan.reasons.push_back({reason::kNewTable, Plural(in.batches.size(), "batch")});
    return Rebuild(in, plan, Action::kCreate, supertype);
  }

  if (in.remembered && in.remembered->status == state::TableStatus::kReset) {
    plan.reasons.push_back({reason::kStateDeleted, "table state was deleted by an operator"});
    return Rebuild(in, plan, Action::kRebuild, supertype);
  }
  if (in.remembered && in.remembered->status == state::TableStatus::kOrphaned) {
    plan.reasons.push_back({reason::kTableReturned, "table folder is back"});
  }

  // What the table looked like before this run. The warehouse's own columns
  // are checked against the state's snapshot: a table altered by hand, or
  // state that lags the warehouse, cannot be appended to safely.
  schema::Schema previous = wh.columns;
  bool rederive = false;
  if (!in.remembered || !in.remembered->snapshot) {
    if (in.remembered && in.remembered->unreadable) {
      plan.reasons.push_back(
          {reason::kStateUnreadable, "stored schema snapshot cannot be parsed; re-derived"});
    } else {
      plan.reasons.push_back({reason::kStateMissing, "no stored state for the table; re-derived"});
    }
    rederive = true;
  } else if (!in.remembered->snapshot->SameStagingColumns(wh.columns)) {
    plan.reasons.push_back(
        {reason::kWarehouseSchemaMismatch, "state " + ColumnList(*in.remembered->snapshot) +
                                               ", warehouse " + ColumnList(wh.columns)});
    return Rebuild(in, plan, Action::kRebuild, supertype);
  } else {
    previous = *in.remembered->snapshot;  // same columns, plus field ids
  }

  // Compare the ledger (what is staged) with the batches now present. Most
  // ledger entries are a current batch with the same id and path; look the
  // others up by path (batches are sorted by it) and by id.
  std::vector<std::string_view> current_ids;
  auto by_path = [&](const std::string& rel_path) -> const CurrentBatch* {
    auto it = std::lower_bound(
        in.batches.begin(), in.batches.end(), rel_path,
        [](const CurrentBatch& b, const std::string& p) { return b.rel_path < p; });
    return it != in.batches.end() && it->rel_path == rel_path ? &*it : nullptr;
  };
  auto is_current = [&](const std::string& id) {
    if (current_ids.empty()) {
      for (const auto& b : in.batches) current_ids.push_back(b.batch_id);
      std::sort(current_ids.begin(), current_ids.end());
    }
    return std::binary_search(current_ids.begin(), current_ids.end(), std::string_view(id));
  };
  bool rewritten = false;
  bool removed = false;
  for (const auto& [id, entry] : wh.ledger) {
    const CurrentBatch* now = by_path(entry.rel_path);
    if (now && now->batch_id != id) {
      plan.reasons.push_back(
          {reason::kBatchRewritten, entry.rel_path + " changed content after it was staged"});
      rewritten = true;
    } else if (!now && !is_current(id)) {
      removed = true;
      plan.reasons.push_back(
          {reason::kBatchRemoved,
           entry.rel_path + (in.policy.on_batch_removed == config::OnBatchRemoved::kRebuild
                                 ? " was deleted; rebuilding without it"
                                 : " was deleted; its rows are kept")});
    }
  }
  // State says staged, the ledger says not (a ledger edited by hand, a
  // warehouse restored from an older copy): its rows may or may not be in the
  // table, so neither appending nor skipping it is safe.
  bool lost = false;
  for (const auto& b : in.batches) {
    if (b.staged && !wh.ledger.contains(b.batch_id)) {
      lost = true;
      plan.reasons.push_back(
          {reason::kLedgerMismatch,
           b.rel_path + " is staged according to state but not in the warehouse ledger"});
    }
  }
  if (rewritten || lost) return Rebuild(in, plan, Action::kRebuild, supertype);
  if (removed && in.policy.on_batch_removed == config::OnBatchRemoved::kRebuild) {
    return Rebuild(in, plan, Action::kRebuild, supertype);
  }

  if (rederive) {
    // Re-derive the snapshot from the footers of the staged batches and
    // compare it with what the warehouse holds.
    std::vector<const schema::Schema*> staged;
    for (const auto& b : in.batches) {
      if (wh.ledger.contains(b.batch_id)) staged.push_back(b.schema.get());
    }
    auto derived = schema::Unify(schema::Schema{}, staged, supertype);
    if (!derived || !derived->SameStagingColumns(wh.columns)) {
      plan.reasons.push_back(
          {reason::kLedgerMismatch, "staged batches' footers " +
                                        (derived ? ColumnList(*derived) : derived.error().message) +
                                        " disagree with the warehouse " + ColumnList(wh.columns)});
      return Rebuild(in, plan, Action::kRebuild, supertype);
    }
    previous = std::move(*derived);
  }

  std::vector<const CurrentBatch*> fresh;
  std::vector<const schema::Schema*> fresh_schemas;
  for (const auto& b : in.batches) {
    if (!wh.ledger.contains(b.batch_id)) {
      fresh.push_back(&b);
      fresh_schemas.push_back(b.schema.get());
    }
  }
  if (fresh.empty()) {
    plan.target = std::move(previous);
    plan.reasons.push_back({reason::kNoChange, "no new batches, same schema"});
    return plan;
  }

  auto drift = Classify(previous, fresh_schemas, supertype);
  if (!drift) {
    plan.reasons.push_back({reason::kSupertypeUnavailable, drift.error().message});
    plan.action = Action::kFail;
    return plan;
  }
  for (const auto& r : drift->reasons) plan.reasons.push_back(r);

  auto append = [&](const std::vector<const CurrentBatch*>& batches,
                    schema::Schema target) -> TablePlan& {
    plan.target = std::move(target);
    if (batches.empty()) {
      plan.reasons.push_back({reason::kNoChange, "no stageable new batches"});
      return plan;
    }
    plan.action = Action::kAppend;
    for (const auto* b : batches) plan.batches.push_back(b->rel_path);
    plan.reasons.insert(plan.reasons.begin(),
                        {reason::kNewBatches, Plural(batches.size(), "new batch")});
    return plan;
  };

  // No schema change; the unified target still records nullability and field
  // ids the new batches brought.
  if (!drift->Changes()) return append(fresh, std::move(drift->target));
  plan.reasons.insert(plan.reasons.begin(),
                      {reason::kSchemaChanged, "new batches change the staging columns"});

  const config::SchemaEvolution policy = in.policy.schema_evolution;
  if (policy == config::SchemaEvolution::kRebuild) {
    plan.reasons.push_back({reason::kPolicyRebuild, "schema_evolution: rebuild"});
    return Rebuild(in, plan, Action::kRebuild, supertype);
  }
  if (policy == config::SchemaEvolution::kFail) {
    plan.action = Action::kFail;
    plan.target = std::move(previous);
    plan.reasons.push_back({reason::kSchemaChangeBlocked,
                            "schema_evolution: fail; the table stops until an operator acts "
                            "(remove the batch, change the policy, or delete the table's state)"});
    return plan;
  }
  if (policy == config::SchemaEvolution::kFreeze) {
    // Stage the batches that fit the current columns; quarantine the others.
    std::vector<const CurrentBatch*> fitting;
    for (const auto* b : fresh) {
      auto own = Classify(previous, {b->schema.get()}, supertype);
      if (own && !own->Changes()) {
        fitting.push_back(b);
        continue;
      }
      std::string why;
      if (own) {
        for (const auto& r : own->reasons) {
          if (r.code == reason::kColumnAbsent || r.code == reason::kSuspectedRename) continue;
          why += (why.empty() ? "" : "; ") + r.code + ": " + r.detail;
        }
      } else {
        why = own.error().message;
      }
      plan.quarantine.push_back(
          {b->rel_path, reason::kSchemaFrozen, "schema_evolution: freeze; " + why});
    }
    plan.reasons.push_back({reason::kSchemaFrozen, Plural(plan.quarantine.size(), "batch") +
                                                       " with a different schema quarantined"});
    return append(fitting, std::move(previous));
  }

  // evolve: in place when every change is safe, a rebuild of this table when not.
  if (drift->incompatible) return Rebuild(in, plan, Action::kRebuild, supertype);
  plan.action = Action::kEvolve;
  plan.target = std::move(drift->target);
  plan.renames = std::move(drift->renames);
  for (const auto* b : fresh) plan.batches.push_back(b->rel_path);
  plan.reasons.insert(plan.reasons.begin(),
                      {reason::kNewBatches, Plural(fresh.size(), "new batch")});
  return plan;
}

std::map<std::string, std::string> NameCollisions(const std::map<std::string, NameHold>& names) {
  std::map<std::string, std::vector<std::pair<std::string, NameHold>>> groups;  // by folded name
  for (const auto& [name, hold] : names) groups[schema::FoldName(name)].emplace_back(name, hold);
  std::map<std::string, std::string> losers;
  for (const auto& [folded, group] : groups) {
    if (group.size() < 2) continue;
    // `names` is sorted, so the first of the firmest holds is first in byte order.
    const auto* winner = &group.front();
    for (const auto& entry : group) {
      if (entry.second > winner->second) winner = &entry;
    }
    for (const auto& entry : group) {
      if (&entry != winner) losers[entry.first] = winner->first;
    }
  }
  return losers;
}

// Columns the action gives a type the warehouse stores less precisely
// (PlanOptions::lossy_types), unless its table already had them so.
void NotePrecisionLost(const TableInputs& in, const PlanOptions& options, TablePlan& plan) {
  if (options.lossy_types.empty()) return;
  if (plan.action != Action::kCreate && plan.action != Action::kAppend &&
      plan.action != Action::kEvolve && plan.action != Action::kRebuild) {
    return;
  }
  for (const auto& column : plan.target.columns) {
    auto lossy = options.lossy_types.find(column.type);
    if (lossy == options.lossy_types.end()) continue;
    bool already = false;
    for (const auto& c : in.warehouse.columns.columns) {
      already |= in.warehouse.exists && schema::FoldName(c.name) == schema::FoldName(column.name) &&
                 c.type == column.type;
    }
    if (!already) {
      plan.reasons.push_back({reason::kPrecisionLost, "column " + column.name + ": " + column.type +
                                                          " is stored as " + lossy->second});
    }
  }
}

TablePlan PlanTable(const TableInputs& in, const PlanOptions& options,
                    const schema::SupertypeFn& supertype) {
  TablePlan plan = Decide(in, options, supertype);
  NotePrecisionLost(in, options, plan);
  return plan;
}

ChangePlan PlanAll(const std::vector<TableInputs>& inputs, const PlanOptions& options,
                   const schema::SupertypeFn& supertype) {
  ChangePlan plan;
  plan.full_rebuild = options.state_unusable;
  if (options.state_unusable)
    plan.reasons.push_back({reason::kStateUnusable, options.state_unusable_why});
  for (const auto& in : inputs) plan.tables.push_back(PlanTable(in, options, supertype));
  std::sort(plan.tables.begin(), plan.tables.end(),
            [](const TablePlan& a, const TablePlan& b) { return a.table < b.table; });
  return plan;
}

}  // namespace landfall::plan
