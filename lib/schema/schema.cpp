#include "lib/schema/schema.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

namespace landfall::schema {

std::string FoldName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

const Column* Schema::Find(std::string_view name) const {
  const std::string folded = FoldName(name);
  for (const auto& column : columns) {
    if (FoldName(column.name) == folded) return &column;
  }
  return nullptr;
}

namespace {

// name -> type with folded names, sorted: the part of a schema staging cares about.
std::map<std::string, std::string> StagingView(const Schema& schema) {
  std::map<std::string, std::string> view;
  for (const auto& column : schema.columns) view[FoldName(column.name)] = column.type;
  return view;
}

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

}  // namespace

std::string Schema::Hash() const {
  std::string canonical;
  for (const auto& [name, type] : StagingView(*this)) {
    canonical += name;
    canonical += '\x1f';
    canonical += type;
    canonical += '\x1e';
  }
  return Sha256Hex(canonical).substr(0, 16);
}

bool Schema::SameStagingColumns(const Schema& other) const {
  return StagingView(*this) == StagingView(other);
}

bool IsNestedType(std::string_view type) {
  auto starts = [&](std::string_view prefix) { return type.substr(0, prefix.size()) == prefix; };
  if (starts("STRUCT") || starts("MAP") || starts("UNION")) return true;
  // LIST types print as INTEGER[] and fixed-size arrays as INTEGER[3].
  return !type.empty() && type.back() == ']';
}

std::string CanonicalType(std::string_view duckdb_type) {
  if (IsNestedType(duckdb_type)) return "JSON";
  return std::string(duckdb_type);
}

Result<Schema> Unify(const Schema& base, const std::vector<const Schema*>& more,
                     const SupertypeFn& supertype) {
  Schema out = base;
  for (const Schema* schema : more) {
    for (const auto& column : schema->columns) {
      Column* existing = nullptr;
      for (auto& c : out.columns) {
        if (FoldName(c.name) == FoldName(column.name)) existing = &c;
      }
      if (!existing) {
        out.columns.push_back(column);
        out.columns.back().nullable = true;  // older batches lack it
        continue;
      }
      if (existing->type != column.type) {
        auto unified = supertype(existing->type, column.type);
        if (!unified) {
          return Fail("no_common_supertype", "column \"" + column.name + "\": " + existing->type +
                                                 " and " + column.type + ": " +
                                                 unified.error().message);
        }
        existing->type = *unified;
      }
      existing->nullable = existing->nullable || column.nullable;
    }
  }
  return out;
}

std::string ToJson(const Schema& schema) {
  nlohmann::json columns = nlohmann::json::array();
  for (const auto& c : schema.columns) {
    nlohmann::json j = {{"name", c.name}, {"type", c.type}, {"nullable", c.nullable}};
    if (c.field_id) j["field_id"] = *c.field_id;
    if (!c.source_type.empty() && c.source_type != c.type) j["source_type"] = c.source_type;
    columns.push_back(std::move(j));
  }
  return nlohmann::json{{"columns", std::move(columns)}}.dump();
}

Result<Schema> SchemaFromJson(std::string_view text) {
  try {
    auto j = nlohmann::json::parse(text);
    Schema schema;
    for (const auto& c : j.at("columns")) {
      Column column;
      column.name = c.at("name").get<std::string>();
      column.type = c.at("type").get<std::string>();
      column.nullable = c.value("nullable", true);
      if (c.contains("field_id")) column.field_id = c.at("field_id").get<int32_t>();
      column.source_type = c.value("source_type", column.type);
      if (column.name.empty() || column.type.empty()) {
        return Fail("schema_invalid", "schema snapshot: column with empty name or type");
      }
      schema.columns.push_back(std::move(column));
    }
    return schema;
  } catch (const nlohmann::json::exception& e) {
    return Fail("schema_invalid", std::string("schema snapshot: ") + e.what());
  }
}

}  // namespace landfall::schema
