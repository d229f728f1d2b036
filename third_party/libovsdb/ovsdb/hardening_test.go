package ovsdb

import (
	"encoding/json"
	"strings"
	"testing"
)

// Input from a server that panicked v0.7.0 is an error naming what is
// wrong (FORK.md).
func TestMalformedServerInputIsAnError(t *testing.T) {
	schema := func(column string) string {
		return `{"name":"db","version":"1","tables":{"T":{"columns":{"c":` + column + `}}}}`
	}
	for _, tc := range []struct {
		name, in string
		into     interface{}
		want     string
	}{
		{"column without a type", schema(`{}`), new(DatabaseSchema), `table T: column c: column without a "type"`},
		{"column with a null type", schema(`{"type":null}`), new(DatabaseSchema), `without a "type"`},
		{"null column", schema(`null`), new(DatabaseSchema), "null instead of a column schema"},
		{"column of extended type float", schema(`{"type":{"key":{"type":"float"}}}`), new(DatabaseSchema), `non atomic type "float"`},
		{"type without a key", schema(`{"type":{"value":"string","min":0,"max":"unlimited"}}`), new(DatabaseSchema), `without a "key"`},
		{"enum of one element", schema(`{"type":{"key":{"type":"string","enum":["set"]}}}`), new(DatabaseSchema), "enum"},
		{"enum set not an array", schema(`{"type":{"key":{"type":"string","enum":["set","a"]}}}`), new(DatabaseSchema), "enum"},
		{"empty index", `{"name":"db","tables":{"T":{"columns":{"c":{"type":"string"}},"indexes":[[]]}}}`, new(DatabaseSchema), "index 0 has no columns"},
		{"index of no column", `{"name":"db","tables":{"T":{"columns":{"c":{"type":"string"}},"indexes":[["x"]]}}}`, new(DatabaseSchema), `"x"`},
		{"one-element map pair", `{"c":["map",[["k"]]]}`, new(Row), "not a 2-element array"},
		{"empty map pair", `{"c":["map",[[]]]}`, new(Row), "not a 2-element array"},
		{"map pairs not an array", `{"c":["map",5]}`, new(Row), "the pairs must be an array"},
		{"set as a map key", `{"c":["map",[[["set",[1]],2]]]}`, new(Row), "is not an atom"},
		{"array as a map key", `{"c":["map",[[["a","b"],2]]]}`, new(Row), "is not an atom"},
		{"object as a map key", `{"c":["map",[[{},2]]]}`, new(Row), "is not an atom"},
		{"empty array", `{"c":[]}`, new(Row), "an empty array is not an OVSDB value"},
		{"one-element uuid", `{"c":["uuid"]}`, new(Row), "want a 2-element array"},
		{"one-element set", `{"c":["set"]}`, new(Row), "OvsSet"},
		{"set elements not an array", `{"c":["set",1]}`, new(Row), "the elements must be an array"},
		{"set of a non-string uuid", `["uuid",1]`, new(OvsSet), "a uuid must be a string"},
		{"operation result with a one-element uuid", `[{"uuid":["uuid"]}]`, new([]OperationResult), "want a 2-element array"},
		{"condition with a non-string column", `[1,"==",2]`, new(Condition), "column name"},
		{"condition with a non-string function", `["c",1,2]`, new(Condition), "function"},
		{"row update of a bad row names it", `{"T":{"u1":{"insert":{"c":[]}}}}`, new(TableUpdates2), "table T: row u1: an empty array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := json.Unmarshal([]byte(tc.in), tc.into)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestNullIsNotAnInteger(t *testing.T) {
	if _, err := OvsToNativeAtomic(TypeInteger, nil); err == nil {
		t.Fatal("null converted to an integer")
	}
	column := &ColumnSchema{Type: TypeMap, TypeObj: &ColumnType{Key: &BaseType{Type: TypeInteger}, Value: &BaseType{Type: TypeString}}}
	if _, err := OvsToNative(column, OvsMap{GoMap: map[interface{}]interface{}{nil: "x"}}); err == nil {
		t.Fatal("a null map key converted to an integer")
	}
}

// The real OVS schemas still decode.
func TestWellFormedSchemaDecodes(t *testing.T) {
	in := `{"name":"db","version":"1","tables":{"T":{"columns":{` +
		`"s":{"type":"string"},"e":{"type":{"key":{"type":"string","enum":["set",["a","b"]]},"min":0,"max":1}},` +
		`"one":{"type":{"key":{"type":"string","enum":"a"}}},"m":{"type":{"key":"string","value":{"type":"integer","minInteger":0},"min":0,"max":"unlimited"}},` +
		`"r":{"type":{"key":{"type":"uuid","refTable":"T","refType":"weak"},"min":0,"max":"unlimited"}}},"indexes":[["s"],["_uuid"]],"isRoot":true}}}`
	var s DatabaseSchema
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if s.Tables["T"].Columns["e"].Type != TypeSet || s.Tables["T"].Columns["one"].Type != TypeEnum ||
		s.Tables["T"].Columns["m"].Type != TypeMap || !s.Tables["T"].IsRoot || len(s.Tables["T"].Indexes) != 2 {
		t.Fatalf("%+v", s.Tables["T"])
	}
}
