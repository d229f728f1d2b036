package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"
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
	v := wireValue(msg.ProtoReflect())
	if format == "yaml" {
		// YAML has no json.Number: through JSON once, numbers as numbers.
		var plain any
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&plain); err != nil {
			return err
		}
		return yaml.NewEncoder(w).Encode(numbersForYAML(plain))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "->" in flow text stays as written
	return enc.Encode(v)
}

// numbersForYAML turns json.Numbers into integers (or floats) so YAML
// prints them as numbers, not strings.
func numbersForYAML(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = numbersForYAML(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbersForYAML(e)
		}
	case json.Number:
		if n, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return n
		}
		if n, err := x.Int64(); err == nil {
			return n
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
	}
	return v
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
