// Schema snapshots and their rules: canonical types (nested types become
// JSON), case-insensitive names, the schema hash and what it ignores,
// unifying batch schemas (added and absent columns, nullability, supertypes,
// renames proven by field id), lossless widenings, numeric supertypes and
// the casts that may round.
#include "lib/schema/schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace landfall::schema {
namespace {

using ::testing::HasSubstr;

Column Col(std::string name, std::string type, bool nullable = true,
           std::optional<int32_t> field_id = std::nullopt) {
  Column c;
  c.name = std::move(name);
  c.source_type = type;
  c.type = std::move(type);
  c.nullable = nullable;
  c.field_id = field_id;
  return c;
}

Schema S(std::vector<Column> columns) { return Schema{std::move(columns)}; }

// A stand-in for the warehouse: INTEGER and BIGINT widen to BIGINT; nothing
// else has a supertype. Records every call.
struct FakeSupertype {
  std::vector<std::pair<std::string, std::string>> calls;
  SupertypeFn Fn() {
    return [this](const std::string& a, const std::string& b) -> Result<std::string> {
      calls.emplace_back(a, b);
      if (a == b) return a;
      if ((a == "INTEGER" && b == "BIGINT") || (a == "BIGINT" && b == "INTEGER")) {
        return std::string("BIGINT");
      }
      return Fail("no_supertype", "the fake warehouse has no supertype for " + a + " and " + b);
    };
  }
};

// ---- canonical types ----

TEST(CanonicalTypeTest, ScalarTypesAreKept) {
  EXPECT_EQ(CanonicalType("INTEGER"), "INTEGER");
  EXPECT_EQ(CanonicalType("VARCHAR"), "VARCHAR");
  EXPECT_EQ(CanonicalType("TIMESTAMP WITH TIME ZONE"), "TIMESTAMP WITH TIME ZONE");
}

TEST(CanonicalTypeTest, DecimalKeepsPrecisionAndScale) {
  EXPECT_EQ(CanonicalType("DECIMAL(18,2)"), "DECIMAL(18,2)");
  EXPECT_FALSE(IsNestedType("DECIMAL(18,2)"));
}

TEST(CanonicalTypeTest, StructBecomesJson) {
  EXPECT_TRUE(IsNestedType("STRUCT(a INTEGER, b VARCHAR)"));
  EXPECT_EQ(CanonicalType("STRUCT(a INTEGER, b VARCHAR)"), "JSON");
}

TEST(CanonicalTypeTest, MapBecomesJson) {
  EXPECT_TRUE(IsNestedType("MAP(VARCHAR, INTEGER)"));
  EXPECT_EQ(CanonicalType("MAP(VARCHAR, INTEGER)"), "JSON");
}

TEST(CanonicalTypeTest, ListBecomesJson) {
  EXPECT_TRUE(IsNestedType("INTEGER[]"));
  EXPECT_EQ(CanonicalType("INTEGER[]"), "JSON");
}

TEST(CanonicalTypeTest, FixedSizeArrayBecomesJson) {
  EXPECT_TRUE(IsNestedType("INTEGER[3]"));
  EXPECT_EQ(CanonicalType("INTEGER[3]"), "JSON");
}

TEST(CanonicalTypeTest, UnionBecomesJson) {
  EXPECT_TRUE(IsNestedType("UNION(num INTEGER, str VARCHAR)"));
  EXPECT_EQ(CanonicalType("UNION(num INTEGER, str VARCHAR)"), "JSON");
}

TEST(CanonicalTypeTest, ListOfStructsBecomesJson) {
  EXPECT_EQ(CanonicalType("STRUCT(a INTEGER)[]"), "JSON");
}

TEST(CanonicalTypeTest, ScalarTypesAreNotNested) {
  for (const char* type : {"INTEGER", "BIGINT", "VARCHAR", "DOUBLE", "DATE", "BLOB", "BOOLEAN",
                           "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "UUID", ""}) {
    EXPECT_FALSE(IsNestedType(type)) << type;
  }
}

// ---- names ----

TEST(FoldNameTest, LowerCasesAsciiOnly) {
  EXPECT_EQ(FoldName("OrderID"), "orderid");
  EXPECT_EQ(FoldName("already_lower_1"), "already_lower_1");
  // Non-ASCII bytes are left alone (DuckDB folds ASCII only).
  EXPECT_EQ(FoldName("\xC3\x84pfel"), "\xC3\x84pfel");
}

TEST(SchemaTest, FindIsCaseInsensitive) {
  Schema s = S({Col("Id", "INTEGER"), Col("name", "VARCHAR")});
  ASSERT_NE(s.Find("ID"), nullptr);
  EXPECT_EQ(s.Find("ID")->name, "Id");
  ASSERT_NE(s.Find("NAME"), nullptr);
  EXPECT_EQ(s.Find("NAME")->type, "VARCHAR");
  EXPECT_EQ(s.Find("missing"), nullptr);
}

// ---- hash ----

TEST(SchemaHashTest, IsSixteenLowerCaseHexCharacters) {
  std::string hash = S({Col("id", "INTEGER")}).Hash();
  ASSERT_EQ(hash.size(), 16u);
  EXPECT_EQ(hash.find_first_not_of("0123456789abcdef"), std::string::npos) << hash;
}

TEST(SchemaHashTest, IsDeterministic) {
  EXPECT_EQ(S({Col("id", "INTEGER")}).Hash(), S({Col("id", "INTEGER")}).Hash());
  EXPECT_EQ(Schema{}.Hash(), Schema{}.Hash());
}

TEST(SchemaHashTest, IgnoresColumnOrder) {
  EXPECT_EQ(S({Col("id", "INTEGER"), Col("name", "VARCHAR")}).Hash(),
            S({Col("name", "VARCHAR"), Col("id", "INTEGER")}).Hash());
}

TEST(SchemaHashTest, IgnoresNameCase) {
  EXPECT_EQ(S({Col("OrderId", "INTEGER")}).Hash(), S({Col("orderid", "INTEGER")}).Hash());
}

TEST(SchemaHashTest, IgnoresNullability) {
  EXPECT_EQ(S({Col("id", "INTEGER", true)}).Hash(), S({Col("id", "INTEGER", false)}).Hash());
}

TEST(SchemaHashTest, IgnoresFieldId) {
  EXPECT_EQ(S({Col("id", "INTEGER", true, 1)}).Hash(), S({Col("id", "INTEGER", true, 7)}).Hash());
  EXPECT_EQ(S({Col("id", "INTEGER", true, 1)}).Hash(), S({Col("id", "INTEGER")}).Hash());
}

TEST(SchemaHashTest, IgnoresChangesInsideANestedType) {
  Column before = Col("payload", "JSON");
  before.source_type = "STRUCT(a INTEGER)";
  Column after = Col("payload", "JSON");
  after.source_type = "STRUCT(a INTEGER, b VARCHAR)";
  EXPECT_EQ(S({before}).Hash(), S({after}).Hash());
}

TEST(SchemaHashTest, ChangesWithAColumnType) {
  EXPECT_NE(S({Col("id", "INTEGER")}).Hash(), S({Col("id", "BIGINT")}).Hash());
}

TEST(SchemaHashTest, ChangesWithANewColumn) {
  EXPECT_NE(S({Col("id", "INTEGER")}).Hash(),
            S({Col("id", "INTEGER"), Col("name", "VARCHAR")}).Hash());
}

TEST(SchemaHashTest, ChangesWithAColumnName) {
  EXPECT_NE(S({Col("id", "INTEGER")}).Hash(), S({Col("key", "INTEGER")}).Hash());
}

TEST(SchemaHashTest, DoesNotConfuseNameAndTypeBoundaries) {
  // "ab" + "C" must not hash like "a" + "bC".
  EXPECT_NE(S({Col("ab", "INTEGER")}).Hash(), S({Col("a", "bINTEGER")}).Hash());
}

TEST(SchemaTest, SameStagingColumnsIgnoresOrderCaseAndNullability) {
  Schema a = S({Col("ID", "INTEGER", false), Col("name", "VARCHAR")});
  Schema b = S({Col("name", "VARCHAR"), Col("id", "INTEGER", true, 3)});
  EXPECT_TRUE(a.SameStagingColumns(b));
}

TEST(SchemaTest, SameStagingColumnsSeesTypeAndColumnChanges) {
  Schema a = S({Col("id", "INTEGER")});
  EXPECT_FALSE(a.SameStagingColumns(S({Col("id", "BIGINT")})));
  EXPECT_FALSE(a.SameStagingColumns(S({Col("id", "INTEGER"), Col("x", "VARCHAR")})));
  EXPECT_FALSE(a.SameStagingColumns(Schema{}));
}

// ---- unify ----

TEST(UnifyTest, NothingToAddReturnsBase) {
  FakeSupertype fake;
  Schema base = S({Col("id", "INTEGER", false), Col("name", "VARCHAR")});
  auto out = Unify(base, {}, fake.Fn());
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(*out, base);
  EXPECT_TRUE(fake.calls.empty());
}

TEST(UnifyTest, AddsNewColumnsAfterBaseInFirstSeenOrder) {
  FakeSupertype fake;
  Schema base = S({Col("id", "INTEGER"), Col("name", "VARCHAR")});
  Schema one = S({Col("zeta", "DOUBLE"), Col("id", "INTEGER")});
  Schema two = S({Col("alpha", "DATE"), Col("zeta", "DOUBLE")});
  auto out = Unify(base, {&one, &two}, fake.Fn());
  ASSERT_TRUE(out) << out.error().ToString();
  std::vector<std::string> names;
  for (const auto& c : out->columns) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"id", "name", "zeta", "alpha"}));
  EXPECT_EQ(out->Find("zeta")->type, "DOUBLE");
  EXPECT_EQ(out->Find("alpha")->type, "DATE");
}

TEST(UnifyTest, AddedColumnIsNullableBecauseOlderBatchesLackIt) {
  FakeSupertype fake;
  Schema base = S({Col("id", "INTEGER", false)});
  Schema more = S({Col("id", "INTEGER", false), Col("extra", "VARCHAR", false, 9)});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out);
  ASSERT_NE(out->Find("extra"), nullptr);
  EXPECT_TRUE(out->Find("extra")->nullable);
  EXPECT_EQ(out->Find("extra")->field_id, 9);
  EXPECT_FALSE(out->Find("id")->nullable);
}

TEST(UnifyTest, FirstSchemaKeepsItsNullability) {
  FakeSupertype fake;
  Schema one = S({Col("id", "INTEGER", false), Col("note", "VARCHAR", true)});
  Schema two = S({Col("id", "INTEGER", false), Col("extra", "DATE", false)});
  auto out = Unify(Schema{}, {&one, &two}, fake.Fn());
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->Find("id")->nullable);
  EXPECT_TRUE(out->Find("note")->nullable);
  EXPECT_TRUE(out->Find("extra")->nullable);  // the first schema lacks it
}

TEST(UnifyTest, ColumnAbsentFromLaterSchemaIsKept) {
  FakeSupertype fake;
  Schema base = S({Col("id", "INTEGER"), Col("note", "VARCHAR")});
  Schema more = S({Col("id", "INTEGER")});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, base);
}

TEST(UnifyTest, NamesMatchCaseInsensitivelyAndKeepTheFirstSpelling) {
  FakeSupertype fake;
  Schema base = S({Col("OrderId", "INTEGER")});
  Schema more = S({Col("orderid", "INTEGER")});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out);
  ASSERT_EQ(out->columns.size(), 1u);
  EXPECT_EQ(out->columns[0].name, "OrderId");
}

TEST(UnifyTest, NullabilityIsTheUnion) {
  FakeSupertype fake;
  Schema base = S({Col("id", "INTEGER", false)});
  Schema more = S({Col("id", "INTEGER", true)});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->columns[0].nullable);
}

TEST(UnifyTest, SameTypesDoNotAskForASupertype) {
  FakeSupertype fake;
  Schema base = S({Col("id", "INTEGER")});
  Schema more = S({Col("id", "INTEGER")});
  ASSERT_TRUE(Unify(base, {&more}, fake.Fn()));
  EXPECT_TRUE(fake.calls.empty());
}

TEST(UnifyTest, ConflictingTypesUseTheSupertype) {
  FakeSupertype fake;
  Schema base = S({Col("id", "INTEGER"), Col("name", "VARCHAR")});
  Schema more = S({Col("id", "BIGINT")});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->Find("id")->type, "BIGINT");
  ASSERT_EQ(fake.calls.size(), 1u);
  EXPECT_EQ(fake.calls[0], (std::pair<std::string, std::string>{"INTEGER", "BIGINT"}));
}

TEST(UnifyTest, SupertypeAccumulatesAcrossSchemas) {
  FakeSupertype fake;
  Schema one = S({Col("id", "INTEGER")});
  Schema two = S({Col("id", "BIGINT")});
  Schema three = S({Col("id", "INTEGER")});
  auto out = Unify(Schema{}, {&one, &two, &three}, fake.Fn());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->Find("id")->type, "BIGINT");
  // The third schema is compared with the widened type, not the first one.
  ASSERT_EQ(fake.calls.size(), 2u);
  EXPECT_EQ(fake.calls[1], (std::pair<std::string, std::string>{"BIGINT", "INTEGER"}));
}

TEST(UnifyTest, NoSupertypeIsAnErrorNamingColumnAndTypes) {
  FakeSupertype fake;
  Schema base = S({Col("id", "INTEGER")});
  Schema more = S({Col("ID", "VARCHAR")});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, "no_common_supertype");
  EXPECT_THAT(out.error().message, HasSubstr("ID"));
  EXPECT_THAT(out.error().message, HasSubstr("INTEGER"));
  EXPECT_THAT(out.error().message, HasSubstr("VARCHAR"));
  // The supertype function's own explanation is kept.
  EXPECT_THAT(out.error().message, HasSubstr("the fake warehouse has no supertype"));
}

// ---- unify by Parquet field_id ----

std::vector<std::string> Names(const Schema& s) {
  std::vector<std::string> out;
  for (const auto& c : s.columns) out.push_back(c.name);
  return out;
}

TEST(UnifyFieldIdTest, SameFieldIdUnderANewNameIsARenameAndTheLaterNameWins) {
  FakeSupertype fake;
  Schema base = S({Col("id", "INTEGER", true, 1), Col("cust", "INTEGER", true, 2)});
  Schema more = S({Col("id", "INTEGER", true, 1), Col("customer_id", "INTEGER", true, 2)});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(Names(*out), (std::vector<std::string>{"id", "customer_id"}));
  EXPECT_EQ(out->Find("customer_id")->field_id, 2);
  EXPECT_EQ(out->Find("cust"), nullptr);
}

// b dropped, then a renamed to b: the old b cannot keep its name (a table has
// one column per name), so it moves aside, keeping its field id.
TEST(UnifyFieldIdTest, RenameOntoTheNameOfAColumnTheBatchLacksMovesThatColumnAside) {
  FakeSupertype fake;
  Schema base = S({Col("a", "INTEGER", true, 1), Col("b", "VARCHAR", true, 2)});
  Schema more = S({Col("b", "INTEGER", true, 1)});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(Names(*out), (std::vector<std::string>{"b", "b__replaced"}));
  EXPECT_EQ(out->Find("b")->field_id, 1);
  EXPECT_EQ(out->Find("b")->type, "INTEGER");
  EXPECT_EQ(out->Find("b__replaced")->field_id, 2);
}

TEST(UnifyFieldIdTest, ColumnsSwappingNamesMoveNothingAside) {
  FakeSupertype fake;
  Schema base = S({Col("a", "INTEGER", true, 1), Col("b", "VARCHAR", true, 2)});
  Schema more = S({Col("b", "INTEGER", true, 1), Col("a", "VARCHAR", true, 2)});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(Names(*out), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(out->Find("b")->field_id, 1);
  EXPECT_EQ(out->Find("a")->field_id, 2);
}

TEST(UnifyFieldIdTest, RenamedColumnKeepsItsPlaceAndUnifiesItsType) {
  FakeSupertype fake;
  Schema base = S({Col("cust", "INTEGER", false, 2), Col("id", "INTEGER", true, 1)});
  Schema more = S({Col("id", "INTEGER", true, 1), Col("customer_id", "BIGINT", true, 2)});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(Names(*out), (std::vector<std::string>{"customer_id", "id"}));
  EXPECT_EQ(out->columns[0].type, "BIGINT");
  EXPECT_TRUE(out->columns[0].nullable);
}

TEST(UnifyFieldIdTest, FieldIdWinsOverAMatchingName) {
  // Two columns swap names: the ids say which data is which.
  FakeSupertype fake;
  Schema base = S({Col("a", "INTEGER", true, 1), Col("b", "BIGINT", true, 2)});
  Schema more = S({Col("b", "INTEGER", true, 1), Col("a", "BIGINT", true, 2)});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(Names(*out), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(out->columns[0].type, "INTEGER");
  EXPECT_EQ(out->columns[0].field_id, 1);
  EXPECT_EQ(out->columns[1].type, "BIGINT");
  EXPECT_TRUE(fake.calls.empty());
}

TEST(UnifyFieldIdTest, NameFreedByARenameCanBeTakenByANewColumn) {
  FakeSupertype fake;
  Schema base = S({Col("cust", "INTEGER", true, 2)});
  Schema more = S({Col("cust", "VARCHAR", true, 3), Col("customer_id", "INTEGER", true, 2)});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(Names(*out), (std::vector<std::string>{"customer_id", "cust"}));
  EXPECT_EQ(out->Find("customer_id")->type, "INTEGER");
  EXPECT_EQ(out->Find("cust")->type, "VARCHAR");
  EXPECT_EQ(out->Find("cust")->field_id, 3);
}

TEST(UnifyFieldIdTest, SameNameUnderANewFieldIdIsStillOneColumn) {
  FakeSupertype fake;
  Schema base = S({Col("id", "INTEGER", true, 1)});
  Schema more = S({Col("id", "BIGINT", true, 7)});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out) << out.error().ToString();
  ASSERT_EQ(out->columns.size(), 1u);
  EXPECT_EQ(out->columns[0].type, "BIGINT");
  EXPECT_EQ(out->columns[0].field_id, 1);  // the first identity is kept
}

TEST(UnifyFieldIdTest, ColumnWithoutFieldIdMatchesByNameAndAdoptsTheId) {
  FakeSupertype fake;
  Schema base = S({Col("id", "INTEGER")});
  Schema more = S({Col("ID", "INTEGER", true, 5)});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out);
  ASSERT_EQ(out->columns.size(), 1u);
  EXPECT_EQ(out->columns[0].name, "id");
  EXPECT_EQ(out->columns[0].field_id, 5);
}

TEST(UnifyFieldIdTest, ColumnWithFieldIdMatchesABaseColumnWithoutOneByName) {
  FakeSupertype fake;
  Schema base = S({Col("id", "INTEGER", true, 1)});
  Schema more = S({Col("id", "INTEGER")});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, base);
}

TEST(UnifyFieldIdTest, RenameAcrossSeveralBatchesFollowsTheLastName) {
  FakeSupertype fake;
  Schema one = S({Col("cust", "INTEGER", true, 2)});
  Schema two = S({Col("customer", "INTEGER", true, 2)});
  Schema three = S({Col("customer_id", "INTEGER", true, 2)});
  auto out = Unify(Schema{}, {&one, &two, &three}, fake.Fn());
  ASSERT_TRUE(out);
  EXPECT_EQ(Names(*out), (std::vector<std::string>{"customer_id"}));
}

TEST(UnifyFieldIdTest, NewFieldIdUnderANewNameIsANewColumn) {
  FakeSupertype fake;
  Schema base = S({Col("id", "INTEGER", true, 1)});
  Schema more = S({Col("id", "INTEGER", true, 1), Col("note", "VARCHAR", false, 2)});
  auto out = Unify(base, {&more}, fake.Fn());
  ASSERT_TRUE(out);
  EXPECT_EQ(Names(*out), (std::vector<std::string>{"id", "note"}));
  EXPECT_EQ(out->Find("note")->field_id, 2);
  EXPECT_TRUE(out->Find("note")->nullable);
}

TEST(UnifyFieldIdTest, NameTwiceInOneFileIsOneColumn) {
  FakeSupertype fake;
  Schema more = S({Col("id", "INTEGER"), Col("ID", "INTEGER")});
  auto out = Unify(Schema{}, {&more}, fake.Fn());
  ASSERT_TRUE(out);
  EXPECT_EQ(Names(*out), (std::vector<std::string>{"id"}));
}

// ---- lossless widening ----

TEST(LosslessWideningTest, SignedIntegersWidenUpward) {
  const char* ladder[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"};
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 5; ++j) {
      EXPECT_EQ(IsLosslessWidening(ladder[i], ladder[j]), j > i)
          << ladder[i] << " -> " << ladder[j];
    }
  }
}

TEST(LosslessWideningTest, UnsignedIntegersWidenUpward) {
  const char* ladder[] = {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"};
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 5; ++j) {
      EXPECT_EQ(IsLosslessWidening(ladder[i], ladder[j]), j > i)
          << ladder[i] << " -> " << ladder[j];
    }
  }
}

TEST(LosslessWideningTest, UnsignedWidensOnlyToAStrictlyWiderSigned) {
  EXPECT_TRUE(IsLosslessWidening("UTINYINT", "SMALLINT"));
  EXPECT_TRUE(IsLosslessWidening("USMALLINT", "INTEGER"));
  EXPECT_TRUE(IsLosslessWidening("UINTEGER", "BIGINT"));
  EXPECT_TRUE(IsLosslessWidening("UBIGINT", "HUGEINT"));
  EXPECT_TRUE(IsLosslessWidening("UTINYINT", "BIGINT"));
  EXPECT_FALSE(IsLosslessWidening("UTINYINT", "TINYINT"));
  EXPECT_FALSE(IsLosslessWidening("UINTEGER", "INTEGER"));
  EXPECT_FALSE(IsLosslessWidening("UBIGINT", "BIGINT"));
  EXPECT_FALSE(IsLosslessWidening("UHUGEINT", "HUGEINT"));
}

TEST(LosslessWideningTest, SignedNeverWidensToUnsigned) {
  EXPECT_FALSE(IsLosslessWidening("TINYINT", "USMALLINT"));
  EXPECT_FALSE(IsLosslessWidening("INTEGER", "UBIGINT"));
  EXPECT_FALSE(IsLosslessWidening("INTEGER", "UINTEGER"));
}

TEST(LosslessWideningTest, FloatWidensToDouble) {
  EXPECT_TRUE(IsLosslessWidening("FLOAT", "DOUBLE"));
  EXPECT_FALSE(IsLosslessWidening("DOUBLE", "FLOAT"));
}

TEST(LosslessWideningTest, IntegersUpTo32BitsWidenToDouble) {
  for (const char* t : {"TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT", "UINTEGER"}) {
    EXPECT_TRUE(IsLosslessWidening(t, "DOUBLE")) << t;
  }
  // A double has a 53-bit mantissa: not every 64-bit integer survives.
  for (const char* t : {"BIGINT", "UBIGINT", "HUGEINT", "UHUGEINT"}) {
    EXPECT_FALSE(IsLosslessWidening(t, "DOUBLE")) << t;
  }
}

TEST(LosslessWideningTest, IntegersUpTo16BitsWidenToFloat) {
  for (const char* t : {"TINYINT", "SMALLINT", "UTINYINT", "USMALLINT"}) {
    EXPECT_TRUE(IsLosslessWidening(t, "FLOAT")) << t;
  }
  // A float has a 24-bit mantissa.
  for (const char* t : {"INTEGER", "UINTEGER", "BIGINT"}) {
    EXPECT_FALSE(IsLosslessWidening(t, "FLOAT")) << t;
  }
}

TEST(LosslessWideningTest, DecimalWidensWhenIntegerDigitsAndScaleBothFit) {
  EXPECT_TRUE(IsLosslessWidening("DECIMAL(10,2)", "DECIMAL(12,2)"));
  EXPECT_TRUE(IsLosslessWidening("DECIMAL(9,0)", "DECIMAL(38,0)"));
  // Scale up with the integer digits kept: every old value is still exact.
  EXPECT_TRUE(IsLosslessWidening("DECIMAL(10,2)", "DECIMAL(12,4)"));
  EXPECT_TRUE(IsLosslessWidening("DECIMAL(10,2)", "DECIMAL(11,3)"));
  EXPECT_FALSE(IsLosslessWidening("DECIMAL(12,2)", "DECIMAL(10,2)"));  // precision down
  EXPECT_FALSE(IsLosslessWidening("DECIMAL(10,2)", "DECIMAL(10,3)"));  // an integer digit lost
  EXPECT_FALSE(IsLosslessWidening("DECIMAL(10,3)", "DECIMAL(12,2)"));  // scale down
}

TEST(LosslessWideningTest, LossyOrIncompatibleChangesAreNotWidenings) {
  const std::pair<const char*, const char*> cases[] = {
      {"BIGINT", "DOUBLE"},
      {"INTEGER", "FLOAT"},
      {"DOUBLE", "BIGINT"},
      {"BIGINT", "INTEGER"},
      {"INTEGER", "VARCHAR"},
      {"VARCHAR", "INTEGER"},
      {"INTEGER", "JSON"},
      {"JSON", "INTEGER"},
      {"DATE", "TIMESTAMP"},
      {"INTEGER", "DECIMAL(12,2)"},
      {"DOUBLE", "DECIMAL(38,10)"},
      {"BOOLEAN", "INTEGER"},
      {"TIMESTAMP", "TIMESTAMP WITH TIME ZONE"},
  };
  for (const auto& [from, to] : cases)
    EXPECT_FALSE(IsLosslessWidening(from, to)) << from << " -> " << to;
}

// ---- landfall's numeric supertype ----

struct SupertypeCase {
  std::string a, b;
  std::string type;  // the supertype
  bool exact;        // every value of both survives
};

TEST(NumericSupertypeTest, EveryPairGetsTheNarrowestTypeThatHoldsBoth) {
  const SupertypeCase cases[] = {
      // integers
      {"TINYINT", "SMALLINT", "SMALLINT", true},
      {"INTEGER", "BIGINT", "BIGINT", true},
      {"BIGINT", "HUGEINT", "HUGEINT", true},
      {"UTINYINT", "UINTEGER", "UINTEGER", true},
      {"UINTEGER", "INTEGER", "BIGINT", true},
      {"UTINYINT", "SMALLINT", "SMALLINT", true},
      {"UBIGINT", "TINYINT", "HUGEINT", true},
      {"UHUGEINT", "TINYINT", "DOUBLE", false},  // nothing holds both
      // integers with binary floats: DOUBLE, never FLOAT
      {"INTEGER", "FLOAT", "DOUBLE", true},
      {"SMALLINT", "FLOAT", "DOUBLE", true},
      {"UINTEGER", "DOUBLE", "DOUBLE", true},
      {"BIGINT", "FLOAT", "DOUBLE", false},  // above 2^53 a double rounds
      {"BIGINT", "DOUBLE", "DOUBLE", false},
      {"UBIGINT", "DOUBLE", "DOUBLE", false},
      {"FLOAT", "DOUBLE", "DOUBLE", true},
      // decimals: the larger integer digits and the larger scale
      {"DECIMAL(10,2)", "DECIMAL(12,2)", "DECIMAL(12,2)", true},
      {"DECIMAL(10,2)", "DECIMAL(10,3)", "DECIMAL(11,3)", true},
      {"DECIMAL(10,2)", "DECIMAL(12,4)", "DECIMAL(12,4)", true},
      {"DECIMAL(18,2)", "DECIMAL(10,8)", "DECIMAL(24,8)", true},
      {"DECIMAL(38,2)", "DECIMAL(38,2)", "DECIMAL(38,2)", true},
      {"DECIMAL(36,2)", "DECIMAL(36,4)", "DECIMAL(38,4)", true},
      {"DECIMAL(38,2)", "DECIMAL(38,4)", "DOUBLE", false},  // would need 40 digits
      {"DECIMAL(38,0)", "DECIMAL(1,1)", "DOUBLE", false},
      // integers with decimals: the integer as a decimal of its digits
      {"INTEGER", "DECIMAL(12,2)", "DECIMAL(12,2)", true},
      {"BIGINT", "DECIMAL(18,2)", "DECIMAL(21,2)", true},
      {"UBIGINT", "DECIMAL(5,5)", "DECIMAL(25,5)", true},
      {"BIGINT", "DECIMAL(38,20)", "DOUBLE", false},
      {"HUGEINT", "DECIMAL(4,0)", "DOUBLE", false},
      // decimals with binary floats
      {"DECIMAL(15,2)", "DOUBLE", "DOUBLE", true},
      {"DECIMAL(6,2)", "FLOAT", "DOUBLE", true},
      {"DECIMAL(18,2)", "DOUBLE", "DOUBLE", false},
      {"DECIMAL(38,4)", "FLOAT", "DOUBLE", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(NumericSupertypeOf(c.a, c.b), (NumericSupertype{c.type, c.exact}))
        << c.a << " + " << c.b;
    EXPECT_EQ(NumericSupertypeOf(c.b, c.a), (NumericSupertype{c.type, c.exact}))
        << c.b << " + " << c.a << " (the other way round)";
  }
}

TEST(NumericSupertypeTest, NonNumericTypesAreLeftToTheWarehouse) {
  for (const auto& [a, b] :
       std::vector<std::pair<std::string, std::string>>{{"INTEGER", "VARCHAR"},
                                                        {"DATE", "TIMESTAMP"},
                                                        {"JSON", "DOUBLE"},
                                                        {"BOOLEAN", "INTEGER"},
                                                        {"VARCHAR", "VARCHAR"}}) {
    EXPECT_EQ(NumericSupertypeOf(a, b), std::nullopt) << a << " + " << b;
  }
}

TEST(MayRoundTest, NamesEveryCastThatCanChangeAValue) {
  const std::tuple<const char*, const char*, bool> cases[] = {
      {"INTEGER", "BIGINT", false},
      {"BIGINT", "INTEGER", true},
      {"UINTEGER", "INTEGER", true},
      {"UINTEGER", "BIGINT", false},
      {"TINYINT", "UBIGINT", true},  // negatives
      {"INTEGER", "DOUBLE", false},
      {"BIGINT", "DOUBLE", true},
      {"SMALLINT", "FLOAT", false},
      {"INTEGER", "FLOAT", true},
      {"DOUBLE", "FLOAT", true},
      {"FLOAT", "DOUBLE", false},
      {"DOUBLE", "BIGINT", true},
      {"DECIMAL(38,4)", "DECIMAL(38,2)", true},  // what DuckDB's supertype did
      {"DECIMAL(10,2)", "DECIMAL(12,4)", false},
      {"DECIMAL(12,2)", "DECIMAL(11,2)", true},
      {"DECIMAL(9,0)", "INTEGER", false},
      {"DECIMAL(10,0)", "INTEGER", true},
      {"DECIMAL(10,1)", "BIGINT", true},
      {"INTEGER", "DECIMAL(10,0)", false},
      {"BIGINT", "DECIMAL(18,0)", true},
      {"DECIMAL(15,3)", "DOUBLE", false},
      {"DECIMAL(16,3)", "DOUBLE", true},
      {"DOUBLE", "DECIMAL(38,10)", true},
      // not a question of rounding
      {"INTEGER", "VARCHAR", false},
      {"DOUBLE", "JSON", false},
      {"TIMESTAMP", "DATE", false},
  };
  for (const auto& [from, to, rounds] : cases) {
    EXPECT_EQ(MayRound(from, to), rounds) << from << " -> " << to;
  }
}

TEST(LosslessWideningTest, SameTypeIsNotAWidening) {
  for (const char* t : {"INTEGER", "DOUBLE", "DECIMAL(10,2)", "VARCHAR", "JSON"}) {
    EXPECT_FALSE(IsLosslessWidening(t, t)) << t;
  }
}

// ---- JSON form ----

TEST(SchemaJsonTest, RoundTripKeepsEveryField) {
  Column payload = Col("payload", "JSON", false, 4);
  payload.source_type = "STRUCT(a INTEGER, b VARCHAR[])";
  Schema s = S({Col("id", "BIGINT", false, 1), Col("Name", "VARCHAR"),
                Col("amount", "DECIMAL(18,2)", true, 3), payload});
  auto back = SchemaFromJson(ToJson(s));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, s);
  EXPECT_EQ(back->Hash(), s.Hash());
}

TEST(SchemaJsonTest, EmptySchemaRoundTrips) {
  auto back = SchemaFromJson(ToJson(Schema{}));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_TRUE(back->columns.empty());
}

TEST(SchemaJsonTest, HasTheDocumentedShape) {
  Column payload = Col("payload", "JSON", false, 2);
  payload.source_type = "MAP(VARCHAR, INTEGER)";
  auto j = nlohmann::json::parse(ToJson(S({Col("id", "INTEGER"), payload})));
  ASSERT_TRUE(j.contains("columns"));
  ASSERT_EQ(j["columns"].size(), 2u);
  EXPECT_EQ(j["columns"][0]["name"], "id");
  EXPECT_EQ(j["columns"][0]["type"], "INTEGER");
  EXPECT_EQ(j["columns"][0]["nullable"], true);
  EXPECT_FALSE(j["columns"][0].contains("field_id"));
  EXPECT_EQ(j["columns"][1]["field_id"], 2);
  EXPECT_EQ(j["columns"][1]["nullable"], false);
  EXPECT_EQ(j["columns"][1]["source_type"], "MAP(VARCHAR, INTEGER)");
}

TEST(SchemaJsonTest, MissingOptionalFieldsGetDefaults) {
  auto s = SchemaFromJson(R"({"columns":[{"name":"id","type":"INTEGER"}]})");
  ASSERT_TRUE(s) << s.error().ToString();
  ASSERT_EQ(s->columns.size(), 1u);
  EXPECT_TRUE(s->columns[0].nullable);
  EXPECT_FALSE(s->columns[0].field_id.has_value());
  EXPECT_EQ(s->columns[0].source_type, "INTEGER");
}

TEST(SchemaJsonTest, NotJsonIsAnError) {
  auto s = SchemaFromJson("{columns: [");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "schema_invalid");
}

TEST(SchemaJsonTest, EmptyTextIsAnError) {
  auto s = SchemaFromJson("");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "schema_invalid");
}

TEST(SchemaJsonTest, MissingColumnsIsAnError) {
  auto s = SchemaFromJson(R"({"cols":[]})");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "schema_invalid");
}

TEST(SchemaJsonTest, ColumnsThatIsNotAListIsAnError) {
  auto s = SchemaFromJson(R"({"columns":5})");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "schema_invalid");
}

TEST(SchemaJsonTest, ColumnWithoutTypeIsAnError) {
  auto s = SchemaFromJson(R"({"columns":[{"name":"id"}]})");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "schema_invalid");
}

TEST(SchemaJsonTest, ColumnWithEmptyNameIsAnError) {
  auto s = SchemaFromJson(R"({"columns":[{"name":"","type":"INTEGER"}]})");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "schema_invalid");
}

TEST(SchemaJsonTest, WrongFieldTypesAreAnError) {
  EXPECT_FALSE(SchemaFromJson(R"({"columns":[{"name":1,"type":"INTEGER"}]})"));
  EXPECT_FALSE(SchemaFromJson(R"({"columns":[{"name":"id","type":"INTEGER","nullable":"yes"}]})"));
  EXPECT_FALSE(SchemaFromJson(R"({"columns":[{"name":"id","type":"INTEGER","field_id":"x"}]})"));
}

// Seen in review and reproduced with fuzz/fuzz_schema_json (whose first 60 s
// run had not hit it): a double out of int range was converted with
// undefined behaviour; fractions and wrapped integers were accepted.
TEST(SchemaJsonTest, FieldIdOutsideInt32IsAnError) {
  for (const char* id : {"1e99", "1.5", "-1e99", "2147483648", "-2147483649",
                         "18446744073709551615", "null"}) {
    auto s = SchemaFromJson(std::string(R"({"columns":[{"name":"id","type":"INTEGER","field_id":)") +
                            id + "}]}");
    ASSERT_FALSE(s) << id;
    EXPECT_EQ(s.error().code, "schema_invalid") << id;
  }
  auto s = SchemaFromJson(
      R"({"columns":[{"name":"a","type":"INTEGER","field_id":2147483647},)"
      R"({"name":"b","type":"INTEGER","field_id":-2147483648}]})");
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(s->columns[0].field_id, 2147483647);
  EXPECT_EQ(s->columns[1].field_id, -2147483648);
}

}  // namespace
}  // namespace landfall::schema
