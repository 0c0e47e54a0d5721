// Reads the model files under `models.dir`: <name>.sql, an optional
// <name>.yaml beside it, and _defaults.yaml files whose keys apply to every
// model in their folder and below. README: "Models".
#pragma once

#include <string>
#include <vector>

#include "lib/common/result.h"
#include "lib/config/config.h"
#include "lib/model/model.h"

namespace landfall::model {

// Every model under `config.models.dir` (recursively), sorted by name; an
// empty list when `models.dir` is not set. A key set in the model's YAML wins
// over the nearest _defaults.yaml, which wins over those of parent folders,
// key by key (`incremental.by` and `incremental.driver` can come from
// different files). Fails with "model_invalid" and a message naming the file,
// the line where known, and the key, on: a missing dir, an unknown key, a bad
// value, a missing required key (watermark needs timestamp_column, merge needs
// unique_key), a bad `checks:` item (an unknown check, a missing column or
// age, severity other than error|warn), a name that is not [A-Za-z_][A-Za-z0-9_]*, the same name in two
// folders, a .yaml without its .sql, an empty .sql. Whether the SQL is one
// SELECT is checked by BuildDag.
Result<std::vector<Model>> LoadModels(const config::Config& config);

// A model's effective config as canonical JSON (keys sorted): "strategy",
// "depends_on" and its strategy's own keys; not `checks` or the anomaly keys
// (editing them does not rebuild the model). Model::config_hash is its SHA-256.
std::string CanonicalConfig(const Model& model);

}  // namespace landfall::model
