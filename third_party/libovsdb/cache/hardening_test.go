package cache

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"
)

type hBridge struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
	Ports       []string          `ovsdb:"ports"`
}

// A schema a server may legally send that v0.7.0's cache panicked on: an
// index over a map and one over a set (used as Go map keys), and an index
// of a column the client's model lacks (every insert failed).
const hSchema = `{"name":"H","version":"1","tables":{"Bridge":{"columns":{"name":{"type":"string"},` +
	`"external_ids":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},` +
	`"ports":{"type":{"key":"uuid","min":0,"max":"unlimited"}},"newer":{"type":"string"}},` +
	`"indexes":[["external_ids"],["ports"],["newer"],["name"]]}}}`

const (
	u1 = "11111111-1111-4111-8111-111111111111"
	u2 = "22222222-2222-4222-8222-222222222222"
)

func hCache(t *testing.T) *TableCache {
	t.Helper()
	var schema ovsdb.DatabaseSchema
	if err := json.Unmarshal([]byte(hSchema), &schema); err != nil {
		t.Fatal(err)
	}
	client, err := model.NewClientDBModel("H", map[string]model.Model{"Bridge": &hBridge{}})
	if err != nil {
		t.Fatal(err)
	}
	db, errs := model.NewDatabaseModel(schema, client)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	quiet := logr.Discard()
	c, err := NewTableCache(db, nil, &quiet)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func updates2(t *testing.T, s string) ovsdb.TableUpdates2 {
	var u ovsdb.TableUpdates2
	if err := json.Unmarshal([]byte(s), &u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCacheTakesHostileSchemaIndexes(t *testing.T) {
	c := hCache(t)
	err := c.Populate2(updates2(t, `{"Bridge":{`+
		`"`+u1+`":{"initial":{"name":"b1","external_ids":["map",[["k","v"]]],"ports":["set",[["uuid","`+u2+`"]]],"newer":"x"}},`+
		`"`+u2+`":{"initial":{"name":"b2","external_ids":["map",[["k","v"]]],"newer":"x"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	// A modify that touches a column the model lacks applies the rest.
	if err := c.Populate2(updates2(t, `{"Bridge":{"`+u1+`":{"modify":{"name":"b1new","newer":"y"}}}}`)); err != nil {
		t.Fatal(err)
	}
	uuid, m, err := c.Table("Bridge").RowByModel(&hBridge{Name: "b1new"})
	if err != nil || uuid != u1 || m.(*hBridge).ExternalIDs["k"] != "v" {
		t.Fatalf("lookup by name: %s %+v %v", uuid, m, err)
	}
}

func TestCacheRefusesNullAndMissingRows(t *testing.T) {
	c := hCache(t)
	if err := c.Populate2(ovsdb.TableUpdates2{"Bridge": {u1: nil}}); err == nil || !strings.Contains(err.Error(), "null instead of a row update") {
		t.Errorf("a null row update2: %v", err)
	}
	if err := c.Populate(ovsdb.TableUpdates{"Bridge": {u1: nil}}); err == nil || !strings.Contains(err.Error(), "null instead of a row update") {
		t.Errorf("a null row update: %v", err)
	}
	row := ovsdb.Row{"name": "b"}
	err := c.Populate(ovsdb.TableUpdates{"Bridge": {u1: &ovsdb.RowUpdate{Old: &row, New: &row}}})
	var inconsistent *ErrCacheInconsistent
	if !errors.As(err, &inconsistent) {
		t.Errorf("an update modifying a row that is not there: %v", err)
	}
}
