package ovsdb

import (
	"encoding/json"
	"fmt"
)

// TableUpdates2 is an object that maps from a table name to a
// TableUpdate2
type TableUpdates2 map[string]TableUpdate2

// TableUpdate2 is an object that maps from the row's UUID to a
// RowUpdate2
type TableUpdate2 map[string]*RowUpdate2

// RowUpdate2 represents a row update according to ovsdb-server.7
type RowUpdate2 struct {
	Initial *Row `json:"initial,omitempty"`
	Insert  *Row `json:"insert,omitempty"`
	Modify  *Row `json:"modify,omitempty"`
	Delete  *Row `json:"delete,omitempty"`
	Old     *Row `json:"-"`
	New     *Row `json:"-"`
}

// UnmarshalJSON unmarshals table updates; an error names the table and row.
func (t *TableUpdates2) UnmarshalJSON(b []byte) error {
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*t = make(TableUpdates2, len(raw))
	for table, rows := range raw {
		tu := make(TableUpdate2, len(rows))
		for uuid, r := range rows {
			var ru *RowUpdate2
			if err := json.Unmarshal(r, &ru); err != nil {
				return fmt.Errorf("table %s: row %s: %w", table, uuid, err)
			}
			tu[uuid] = ru
		}
		(*t)[table] = tu
	}
	return nil
}
