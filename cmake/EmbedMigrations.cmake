# cmake -DOUT=file.cpp -DDIR=migrations -P EmbedMigrations.cmake
# Writes a C++ file defining landfall::state::EmbeddedMigrations() from DIR/NNNN_name.sql.
file(GLOB files "${DIR}/*.sql")
list(SORT files)
set(body "")
foreach(f IN LISTS files)
  get_filename_component(base "${f}" NAME_WE)
  if(NOT base MATCHES "^([0-9]+)_(.+)$")
    message(FATAL_ERROR "migration ${f}: name must be NNNN_name.sql")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")
  set(name "${CMAKE_MATCH_2}")
  file(READ "${f}" sql)
  string(APPEND body "    {${version}, \"${name}\", R\"landfall_sql(${sql})landfall_sql\"},\n")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated from migrations/*.sql by cmake/EmbedMigrations.cmake. Do not edit.
#include \"lib/state/state_store.h\"

namespace landfall::state {
const std::vector<Migration>& EmbeddedMigrations() {
  static const std::vector<Migration> migrations = {
${body}  };
  return migrations;
}
}  // namespace landfall::state
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
