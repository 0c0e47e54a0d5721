// SQL text is built here and only here: identifier quoting and literals.
#pragma once

#include <string>
#include <string_view>

namespace landfall::warehouse::sql {

// "name" with embedded double quotes doubled: a folder called a"b; drop table x
// is just a strange identifier.
std::string Ident(std::string_view name);
// "schema"."name"
std::string Qualified(std::string_view schema, std::string_view name);
// 'text' with embedded single quotes doubled.
std::string Literal(std::string_view text);

}  // namespace landfall::warehouse::sql
