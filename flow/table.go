package flow

// Miss is what a table does with a packet no flow matches.
type Miss int

const (
	// MissDrop drops the packet (OpenFlow's default without a miss flow).
	MissDrop Miss = iota
	// MissController sends the packet to the controller.
	MissController
	// MissFlood floods the packet.
	MissFlood
	// MissNext continues at the next table.
	MissNext
)

// Table declares one table of the pipeline: apps declare their tables as
// data, and the controller installs each table's miss flow.
type Table struct {
	ID    uint8
	Name  string
	Owner string // app name
	Miss  Miss
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
		f = f.Then(t.ID + 1)
	}
	return f
}
