// Running a model's data checks (lib/model/checks.h) after its write: each
// check's value observed by the warehouse, judged, logged and appended to the
// check history, then the row-count anomaly test. README: "Data checks".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/model/model.h"
#include "lib/state/state_store.h"
#include "lib/warehouse/model_warehouse.h"

namespace landfall::exec {

// Runs `model`'s checks, in config order, on its target in `schema` as the
// warehouse holds it now; with `anomaly`, then the row-count anomaly test
// (severity warn, never failing the model) against the row counts of the
// model's last AnomalyConfig::runs results in the check history. A check
// whose query fails (a column that does not exist) is a failed check, with
// the error as its detail. Failures are logged (error checks at error,
// the rest at warn). With run_id > 0 the results are appended to the check
// history; a state store that cannot take them loses only them (logged).
std::vector<state::CheckRecord> RunModelChecks(const model::Model& model, const std::string& schema,
                                               bool anomaly, warehouse::ModelWarehouse& warehouse,
                                               state::StateStore& state, int64_t run_id);

// Whether a check of severity error failed.
bool ErrorCheckFailed(const std::vector<state::CheckRecord>& checks);
// The failed error checks as "not_null(id): 2 (expected 0 rows), ...".
std::string FailedErrorChecks(const std::vector<state::CheckRecord>& checks);
// A result's metric label: "pass", "fail" (error), "warn" or "anomaly".
std::string CheckResultLabel(const state::CheckRecord& check);

}  // namespace landfall::exec
