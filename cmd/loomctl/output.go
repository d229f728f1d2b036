package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// table is rows under a header, printed aligned.
type table struct {
	header []string
	rows   [][]string
	then   *table // a second table printed after a blank line
}

func (t *table) add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
		if row[i] == "" {
			row[i] = "-"
		}
	}
	t.rows = append(t.rows, row)
}

func (t *table) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, c)
		}
		fmt.Fprintln(tw)
	}
	line(t.header)
	for _, r := range t.rows {
		line(r)
	}
	if err := tw.Flush(); err != nil || t.then == nil {
		return err
	}
	fmt.Fprintln(w)
	return t.then.write(w)
}

// render writes msg as JSON or YAML, or calls asTable for a table.
func render(w io.Writer, format string, msg proto.Message, asTable func() *table) error {
	switch format {
	case "table":
		return asTable().write(w)
	}
	// protojson's own layout is deliberately unstable; normalise it
	// through a generic value so output (and golden tests) are stable.
	raw, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false}.Marshal(msg)
	if err != nil {
		return err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	if format == "yaml" {
		return yaml.NewEncoder(w).Encode(v)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func dpid(d uint64) string { return fmt.Sprintf("0x%016x", d) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// portNo names OpenFlow's reserved ports.
func portNo(n uint32) string {
	switch n {
	case 0xfffffffe:
		return "LOCAL"
	case 0xfffffffd:
		return "CONTROLLER"
	}
	return fmt.Sprint(n)
}
