package flow

import "fmt"

// Miss is what a table does with a packet no flow matches.
type Miss int

const (
	// MissDrop drops the packet (OpenFlow's default without a miss flow).
	MissDrop Miss = iota
	// MissController sends the packet to the controller.
	MissController
	// MissFlood floods the packet.
	MissFlood
	// MissNext continues at the table's Next.
	MissNext
)

// Table declares one table of the pipeline: apps declare their tables as
// data, and the controller installs each table's miss flow.
type Table struct {
	ID    uint8
	Name  string
	Owner string // app name
	Miss  Miss
	// Match is the set of fields flows in this table may match on.
	Match Fields
	// Next is where a MissNext table continues: the next stage of the
	// pipeline (apps/pipeline), which need not be ID+1.
	Next uint8
}

// Check returns an error when f does not belong in t: another table, or a
// match on a field t does not allow.
func (t Table) Check(f Flow) error {
	if f.Table != t.ID {
		return fmt.Errorf("flow for table %d checked against table %d (%s)", f.Table, t.ID, t.Name)
	}
	if f.Goto && f.GotoTable <= f.Table {
		return fmt.Errorf("goto_table:%d is not after table %d (OpenFlow only goes forward): %s", f.GotoTable, f.Table, f)
	}
	if extra := f.Match.Fields() &^ t.Match; extra != 0 {
		return fmt.Errorf("table %d (%s) does not allow matching on %s (allowed: %s): %s", t.ID, t.Name, extra, t.Match, f)
	}
	return nil
}

// Pipeline is every table of a switch, declared as data.
type Pipeline map[uint8]Table

// Check validates f against its table.
func (p Pipeline) Check(f Flow) error {
	t, ok := p[f.Table]
	if !ok {
		return fmt.Errorf("no table %d in the pipeline: %s", f.Table, f)
	}
	return t.Check(f)
}

// MissFlow returns the priority-0 catch-all flow implementing t.Miss.
func (t Table) MissFlow() Flow {
	f := Flow{Table: t.ID, Priority: 0}
	switch t.Miss {
	case MissController:
		f.Actions = []Action{ToController()}
	case MissFlood:
		f.Actions = []Action{Flood()}
	case MissNext:
		f = f.Then(t.Next)
	}
	return f
}
