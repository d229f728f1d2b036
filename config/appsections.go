package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// An app that owns its configuration (apps/<name>/config.go) reads its
// own section under `apps:`; the config package knows no such app. The
// wiring hands each app its section (Section), and refuses a section no
// running app claimed (Unclaimed), so a misspelt app name is still an
// error naming the key, as any unknown key is.

// Section is the config of the app named name (nil when the file has
// none).
func (a Apps) Section(name string) *yaml.Node {
	if n, ok := a.Sections[name]; ok {
		return &n
	}
	return nil
}

// Unclaimed refuses a section under `apps:` that no app in claimed
// reads, suggesting the nearest name.
func (a Apps) Unclaimed(claimed []string) error {
	known := append(keysOf("config.Apps"), claimed...)
	sort.Strings(known)
	known = slices.Compact(known) // the built-in apps are claimers too
	var names []string
	for name := range a.Sections {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if slices.Contains(claimed, name) {
			continue
		}
		msg := fmt.Sprintf("no app of that name reads configuration (apps here: %s)", strings.Join(known, ", "))
		if near := nearest(name, known); near != "" {
			msg = fmt.Sprintf("no app of that name (did you mean %q?); apps here: %s", near, strings.Join(known, ", "))
		}
		return fieldErr("apps."+name, "%s", msg)
	}
	return nil
}

// DecodeSection decodes an app's section into out, refusing unknown keys;
// errors name the field under apps.<name> and its line in the file. A nil
// or empty section (`name:` with nothing under it) leaves out as it is
// (the app's defaults).
func DecodeSection(name string, section *yaml.Node, out any) error {
	if section == nil || section.Kind == yaml.ScalarNode && section.Tag == "!!null" {
		return nil
	}
	if err := decodeStrict(section, out); err != nil {
		return fmt.Errorf("apps.%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

// decodeStrict is yaml.Node.Decode with unknown keys refused (Node.Decode
// alone accepts them). The node is decoded as it sits in the file, so
// errors carry the file's lines, and aliases to anchors anywhere in the
// file resolve; unknown keys are found by walking it against out's type.
func decodeStrict(n *yaml.Node, out any) error {
	types := map[string]reflect.Type{}
	collectTypes(reflect.TypeOf(out), types)
	var msgs []string
	unknownIn(n, reflect.TypeOf(out), map[walked]bool{}, &msgs)
	if err := n.Decode(out); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return err
		}
		msgs = append(msgs, te.Errors...)
	}
	if len(msgs) == 0 {
		return nil
	}
	for i, m := range msgs {
		msgs[i] = explainUnknownIn(m, func(typ string) []string { return fieldKeys(types[typ]) })
	}
	return errors.New(strings.Join(msgs, "; "))
}

// walked is a node already checked against a type: an alias seen again
// is not walked again (an alias bomb stays linear).
type walked struct {
	n *yaml.Node
	t reflect.Type
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// unknownIn adds, in the decoder's words, every key of n that t has no
// field for ("line 4: field samplng not found in type sflow.Config").
func unknownIn(n *yaml.Node, t reflect.Type, seen map[walked]bool, msgs *[]string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if seen[walked{n, t}] || reflect.PointerTo(t).Implements(unmarshalerType) {
		return // the type reads its own node
	}
	seen[walked{n, t}] = true
	switch {
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for _, c := range n.Content {
			unknownIn(c, t.Elem(), seen, msgs)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 1; i < len(n.Content); i += 2 {
			unknownIn(n.Content[i], t.Elem(), seen, msgs)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields, open := structKeys(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" { // <<: a mapping, an alias or a list of them
				if v.Kind == yaml.SequenceNode {
					for _, m := range v.Content {
						unknownIn(m, t, seen, msgs)
					}
				} else {
					unknownIn(v, t, seen, msgs)
				}
				continue
			}
			if ft, ok := fields[k.Value]; ok {
				unknownIn(v, ft, seen, msgs)
			} else if !open {
				*msgs = append(*msgs, fmt.Sprintf("line %d: field %s not found in type %s", k.Line, k.Value, t.String()))
			}
		}
	}
}

// structKeys are the YAML keys of struct type t with their types, those
// of inlined structs included; open says an inlined map takes any key.
func structKeys(t reflect.Type) (keys map[string]reflect.Type, open bool) {
	keys = map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := strings.Split(f.Tag.Get("yaml"), ",")
		switch {
		case tag[0] == "-":
		case slices.Contains(tag[1:], "inline") && f.Type.Kind() == reflect.Map:
			open = true
		case slices.Contains(tag[1:], "inline"):
			inner, innerOpen := structKeys(f.Type)
			maps.Copy(keys, inner)
			open = open || innerOpen
		case tag[0] != "":
			keys[tag[0]] = f.Type
		default:
			keys[strings.ToLower(f.Name)] = f.Type
		}
	}
	return keys, open
}

// collectTypes finds the struct types a section decodes into.
func collectTypes(t reflect.Type, into map[string]reflect.Type) {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map) {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct || into[t.String()] != nil {
		return
	}
	into[t.String()] = t
	for i := 0; i < t.NumField(); i++ {
		collectTypes(t.Field(i).Type, into)
	}
}
