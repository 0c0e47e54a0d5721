#include <algorithm>
#include <map>
#include <set>

#include "lib/plan/plan.h"

namespace landfall::plan {

const char* ToString(Action action) {
  switch (action) {
    case Action::kSkip: return "skip";
    case Action::kCreate: return "create";
    case Action::kAppend: return "append";
    case Action::kEvolve: return "evolve";
    case Action::kRebuild: return "rebuild";
    case Action::kOrphan: return "orphan";
    case Action::kDrop: return "drop";
    case Action::kFail: return "fail";
  }
  return "?";
}

int ChangePlan::ActionableCount() const {
  return static_cast<int>(std::count_if(tables.begin(), tables.end(), [](const TablePlan& t) {
    return t.action != Action::kSkip;
  }));
}

namespace {

std::string Plural(size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "es");
}

// Describes how `after` differs from `before` as reasons (column_added, type_changed).
std::vector<PlanReason> DescribeDrift(const schema::Schema& before, const schema::Schema& after) {
  std::vector<PlanReason> reasons;
  for (const auto& column : after.columns) {
    const schema::Column* old = before.Find(column.name);
    if (!old) {
      reasons.push_back({reason::kColumnAdded, column.name + " " + column.type});
    } else if (old->type != column.type) {
      reasons.push_back({reason::kTypeChanged, column.name + " " + old->type + "\u2192" + column.type});
    }
  }
  for (const auto& column : before.columns) {
    if (!after.Find(column.name)) {
      reasons.push_back({"column_missing", column.name + " " + column.type});
    }
  }
  return reasons;
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
  for (const auto& b : batches) schemas.push_back(&b.schema);
  return schema::Unify(schema::Schema{}, schemas, supertype);
}

void AllBatches(const TableInputs& in, TablePlan& plan) {
  plan.batches.clear();
  for (const auto& b : in.batches) plan.batches.push_back(b.rel_path);
}

// Turns `plan` into a rebuild of every current batch (or a fail when the
// batches have no common schema).
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
  auto target = UnifyAll(in.batches, supertype);
  if (!target) {
    plan.action = Action::kFail;
    plan.batches.clear();
    plan.reasons.push_back({reason::kSupertypeUnavailable, target.error().message});
  } else {
    plan.target = std::move(*target);
  }
  return plan;
}

}  // namespace

TablePlan PlanTable(const TableInputs& in, const PlanOptions& options,
                    const schema::SupertypeFn& supertype) {
  TablePlan plan;
  plan.table = in.table;
  const auto& wh = in.warehouse;
  const bool warehouse_knows = wh.exists || !wh.ledger.empty();

  // A table folder that disappeared: keep what is staged, mark it orphaned.
  if (!in.folder_exists) {
    plan.target = wh.columns;
    if (!warehouse_knows) {
      plan.reasons.push_back({reason::kNoChange, "no folder and nothing staged"});
    } else if (in.remembered && in.remembered->status == "orphaned") {
      plan.reasons.push_back({reason::kTableRemoved, "folder still absent; staging table kept"});
    } else {
      plan.action = Action::kOrphan;
      plan.reasons.push_back({reason::kTableRemoved, "table folder disappeared; staging table kept"});
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
      plan.reasons.push_back({reason::kWarehouseTableMissing,
                              "state or ledger says the table was staged, but the warehouse has no table"});
      return Rebuild(in, plan, Action::kRebuild, supertype);
    }
    plan.reasons.push_back({reason::kNewTable, Plural(in.batches.size(), "batch")});
    return Rebuild(in, plan, Action::kCreate, supertype);
  }

  if (in.remembered && in.remembered->status == "reset") {
    plan.reasons.push_back({reason::kStateDeleted, "table state was deleted by an operator"});
    return Rebuild(in, plan, Action::kRebuild, supertype);
  }
  if (in.remembered && in.remembered->status == "orphaned") {
    plan.reasons.push_back({reason::kTableReturned, "table folder is back"});
  }

  // What the table looked like before this run. The warehouse's own columns
  // are checked against the state's snapshot: a table altered by hand, or
  // state that lags the warehouse, cannot be appended to safely.
  schema::Schema previous = wh.columns;
  bool rederive = false;
  if (!in.remembered || !in.remembered->snapshot) {
    if (in.remembered && in.remembered->unreadable) {
      plan.reasons.push_back({reason::kStateUnreadable, "stored schema snapshot cannot be parsed; re-derived"});
    } else {
      plan.reasons.push_back({reason::kStateMissing, "no stored state for the table; re-derived"});
    }
    rederive = true;
  } else if (!in.remembered->snapshot->SameStagingColumns(wh.columns)) {
    plan.reasons.push_back({reason::kWarehouseSchemaMismatch,
                            "state " + ColumnList(*in.remembered->snapshot) + ", warehouse " +
                                ColumnList(wh.columns)});
    return Rebuild(in, plan, Action::kRebuild, supertype);
  }

  // Compare the ledger (what is staged) with the batches now present.
  std::map<std::string, const CurrentBatch*> by_path;
  std::set<std::string> current_ids;
  for (const auto& b : in.batches) {
    by_path[b.rel_path] = &b;
    current_ids.insert(b.batch_id);
  }
  bool rewritten = false;
  for (const auto& [id, entry] : wh.ledger) {
    auto it = by_path.find(entry.rel_path);
    if (it != by_path.end() && it->second->batch_id != id) {
      plan.reasons.push_back({reason::kBatchRewritten, entry.rel_path + " changed content after it was staged"});
      rewritten = true;
    } else if (it == by_path.end() && !current_ids.contains(id)) {
      plan.reasons.push_back({reason::kBatchRemoved, entry.rel_path + " was deleted; its rows are kept"});
    }
  }
  if (rewritten) return Rebuild(in, plan, Action::kRebuild, supertype);

  if (rederive) {
    // Re-derive the snapshot from the footers of the staged batches and
    // compare it with what the warehouse holds.
    std::vector<const schema::Schema*> staged;
    for (const auto& b : in.batches) {
      if (wh.ledger.contains(b.batch_id)) staged.push_back(&b.schema);
    }
    auto derived = schema::Unify(schema::Schema{}, staged, supertype);
    if (!derived || !derived->SameStagingColumns(wh.columns)) {
      plan.reasons.push_back({reason::kLedgerMismatch,
                              "staged batches' footers " +
                                  (derived ? ColumnList(*derived) : derived.error().message) +
                                  " disagree with the warehouse " + ColumnList(wh.columns)});
      return Rebuild(in, plan, Action::kRebuild, supertype);
    }
  }

  std::vector<const CurrentBatch*> fresh;
  std::vector<const schema::Schema*> fresh_schemas;
  for (const auto& b : in.batches) {
    if (!wh.ledger.contains(b.batch_id)) {
      fresh.push_back(&b);
      fresh_schemas.push_back(&b.schema);
    }
  }
  auto target = schema::Unify(previous, fresh_schemas, supertype);
  if (!target || !target->SameStagingColumns(previous)) {
    // First version of the drift rules: any change to the unified staging
    // columns rebuilds this table (and only this table).
    plan.reasons.push_back({reason::kSchemaChanged,
                            target ? "staging columns change" : target.error().message});
    if (target) {
      for (auto& r : DescribeDrift(previous, *target)) {
        if (r.code != "column_missing") plan.reasons.push_back(std::move(r));
      }
    }
    return Rebuild(in, plan, Action::kRebuild, supertype);
  }
  plan.target = std::move(*target);
  if (fresh.empty()) {
    plan.reasons.push_back({reason::kNoChange, "no new batches, same schema"});
    return plan;
  }
  plan.action = Action::kAppend;
  for (const auto* b : fresh) plan.batches.push_back(b->rel_path);
  plan.reasons.push_back({reason::kNewBatches, Plural(fresh.size(), "new batch")});
  return plan;
}

ChangePlan PlanAll(const std::vector<TableInputs>& inputs, const PlanOptions& options,
                   const schema::SupertypeFn& supertype) {
  ChangePlan plan;
  plan.full_rebuild = options.state_unusable;
  if (options.state_unusable) plan.reasons.push_back({reason::kStateUnusable, options.state_unusable_why});
  for (const auto& in : inputs) plan.tables.push_back(PlanTable(in, options, supertype));
  std::sort(plan.tables.begin(), plan.tables.end(),
            [](const TablePlan& a, const TablePlan& b) { return a.table < b.table; });
  return plan;
}

}  // namespace landfall::plan
