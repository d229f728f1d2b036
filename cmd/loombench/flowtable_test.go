package main

import (
	"testing"

	"github.com/loomsdn/loom/openflow"
)

func flowMod(cmd uint8, table uint8, prio uint16, cookie, mask uint64, inPort uint32) []byte {
	f := openflow.NewFlowMod(cmd)
	f.TableID, f.Priority, f.Cookie, f.CookieMask = table, prio, cookie, mask
	if inPort != 0 {
		f.Match = []openflow.OXM{openflow.InPortOXM(inPort)}
	}
	return openflow.Encode(f, 1)
}

// dump parses what the table reports.
func dump(t *testing.T, ft *flowTable) []openflow.FlowStats {
	t.Helper()
	var all []openflow.FlowStats
	for _, m := range ft.replies(9) {
		fs, err := openflow.ParseFlowStats(m[16:]) // header, then the multipart header
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, fs...)
	}
	return all
}

// The emulated table reports what was added, replaces on the same key,
// and forgets what strict and cookie deletes remove: a controller
// verifying its flows finds exactly what it installed.
func TestEmulatedFlowTable(t *testing.T) {
	ft := newFlowTable()
	ft.apply(flowMod(openflow.FlowAdd, 0, 100, 0xa, 0, 1))
	ft.apply(flowMod(openflow.FlowAdd, 0, 100, 0xb, 0, 1)) // same key: replaced
	ft.apply(flowMod(openflow.FlowAdd, 1, 0, 0xa, 0, 0))
	ft.apply(flowMod(openflow.FlowAdd, 1, 5, 0xc, 0, 2))
	got := dump(t, ft)
	if len(got) != 3 {
		t.Fatalf("%d flows reported, want 3: %+v", len(got), got)
	}
	for _, f := range got {
		if f.TableID == 0 && (f.Priority != 100 || f.Cookie != 0xb || len(f.Match) != 1) {
			t.Fatalf("table 0 flow %+v, want the replacement (cookie 0xb, in_port match)", f)
		}
	}
	ft.apply(flowMod(openflow.FlowDeleteStrict, 1, 5, 0xc, ^uint64(0), 2))
	if n := len(dump(t, ft)); n != 2 {
		t.Fatalf("%d flows after a strict delete, want 2", n)
	}
	ft.apply(flowMod(openflow.FlowDelete, 0xff, 0, 0xa, ^uint64(0), 0)) // every table, cookie 0xa
	got = dump(t, ft)
	if len(got) != 1 || got[0].Cookie != 0xb {
		t.Fatalf("after deleting cookie 0xa everywhere: %+v", got)
	}
}
