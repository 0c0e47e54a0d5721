// Fuzzes the decoding of stored schema JSON (schema::SchemaFromJson, which the
// engine applies to the state store's tables.schema_json and batches'
// schema_json). Property: what it accepts re-encodes to a stored form that
// decodes to itself (ToJson is a fixpoint after one round).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/schema/schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto schema = landfall::schema::SchemaFromJson(text);
  if (!schema) return 0;
  (void)schema->Hash();
  const std::string stored = landfall::schema::ToJson(*schema);
  auto again = landfall::schema::SchemaFromJson(stored);
  if (!again || landfall::schema::ToJson(*again) != stored) __builtin_trap();
  for (const auto& column : schema->columns) {
    (void)landfall::schema::CanonicalType(column.source_type);
    (void)schema->Find(column.name);
  }
  return 0;
}
