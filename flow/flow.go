package flow

import (
	"fmt"
	"strings"

	"github.com/loomsdn/loom/openflow"
)

// Flow is one flow entry as an app wants it.
type Flow struct {
	Table    uint8
	Priority uint16
	Match    Match
	Actions  []Action // applied in order; none and no goto means drop
	// Goto continues at table GotoTable after the actions when set.
	Goto      bool
	GotoTable uint8
	Cookie    Cookie // stamped by the controller, never by apps
}

// Key is the identity of a flow on a switch: two flows with the same key
// cannot coexist, the later replaces the earlier.
type Key struct {
	Table    uint8
	Priority uint16
	Match    Match
}

// Key returns f's identity.
func (f Flow) Key() Key { return Key{f.Table, f.Priority, f.Match} }

// Then sets the goto-table instruction.
func (f Flow) Then(table uint8) Flow { f.Goto, f.GotoTable = true, table; return f }

// String renders f in ovs-ofctl add-flow syntax (without the cookie,
// which is bookkeeping, not behaviour).
func (f Flow) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table=%d, priority=%d", f.Table, f.Priority)
	if m := f.Match.String(); m != "" {
		b.WriteString("," + m)
	}
	b.WriteString(" actions=")
	b.WriteString(f.ActionsString())
	return b.String()
}

// ActionsString renders the actions and goto of f.
func (f Flow) ActionsString() string {
	var parts []string
	for _, a := range f.Actions {
		parts = append(parts, a.String())
	}
	if f.Goto {
		parts = append(parts, fmt.Sprintf("goto_table:%d", f.GotoTable))
	}
	if len(parts) == 0 {
		return "drop"
	}
	return strings.Join(parts, ",")
}

// SameBehaviour reports whether f and g do the same thing: same actions and
// goto. Keys are compared separately.
func (f Flow) SameBehaviour(g Flow) bool {
	if f.Goto != g.Goto || f.GotoTable != g.GotoTable || len(f.Actions) != len(g.Actions) {
		return false
	}
	for i := range f.Actions {
		if f.Actions[i] != g.Actions[i] {
			return false
		}
	}
	return true
}

// FlowMod builds the wire message for cmd (add, modify-strict,
// delete-strict) of f.
func (f Flow) FlowMod(cmd uint8) openflow.FlowMod {
	fm := openflow.NewFlowMod(cmd)
	fm.TableID = f.Table
	fm.Priority = f.Priority
	fm.Cookie = uint64(f.Cookie)
	fm.Match = f.Match.OXMs()
	if cmd == openflow.FlowDeleteStrict || cmd == openflow.FlowDelete {
		return fm
	}
	fm.Instructions = f.Instructions()
	return fm
}

// Less orders keys by table, priority, then match: a total order that
// needs no formatting.
func (k Key) Less(o Key) bool {
	if k.Table != o.Table {
		return k.Table < o.Table
	}
	if k.Priority != o.Priority {
		return k.Priority < o.Priority
	}
	return k.Match.less(o.Match)
}
