package main

import (
	"bytes"
	"strings"
	"testing"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// JSON as an operator reads it: zero values kept, ids in hex, reserved
// ports by name, flow text unescaped, an unset time null.
func TestJSONConventions(t *testing.T) {
	var out bytes.Buffer
	msg := &pb.ListFlowsResponse{Flows: []*pb.Flow{{Text: "table=0, priority=0 actions=load:0x1->NXM_NX_REG0[],goto_table:1", Cookie: 0x4c4d010000000001, App: "l2"}}}
	if err := render(&out, "json", msg, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"priority": 0`, `"cookie": "0x4c4d010000000001"`, `"text": "table=0, priority=0 actions=load:0x1->NXM_NX_REG0[],goto_table:1"`, `"packets": 0`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("flows JSON lacks %s:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := render(&out, "json", &pb.Port{Dpid: 0xc1, No: 0xfffffffe, Name: "vswitch02"}, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"no": "LOCAL"`) || !strings.Contains(out.String(), `"vm": null`) {
		t.Errorf("port JSON:\n%s", out.String())
	}
	out.Reset()
	if err := render(&out, "json", &pb.Host{Mac: "52:54:00:00:00:01"}, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"last_seen": null`) {
		t.Errorf("an unset time is not null:\n%s", out.String())
	}
}
