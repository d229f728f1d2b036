package config

import (
	"errors"
	"fmt"
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
// errors name the field under apps.<name> and its line. A nil section
// leaves out as it is (the app's defaults).
func DecodeSection(name string, section *yaml.Node, out any) error {
	if section == nil {
		return nil
	}
	if err := decodeStrict(section, out); err != nil {
		return fmt.Errorf("apps.%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

// decodeStrict is yaml.Node.Decode with unknown keys refused (Node.Decode
// alone accepts them): the node is re-encoded and read back strictly.
func decodeStrict(n *yaml.Node, out any) error {
	data, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		return unknownKeys(err, n.Line-1, out)
	}
	return nil
}

// unknownKeys rewrites the decoder's errors for an operator (the keys
// allowed, the nearest) and puts back the file's line numbers, which the
// re-encoded section lost (offset: the section's first line in the file,
// less one).
func unknownKeys(err error, offset int, into any) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	types := map[string]reflect.Type{}
	collectTypes(reflect.TypeOf(into), types)
	var out []string
	for _, e := range te.Errors {
		out = append(out, explainUnknownIn(shiftLine(e, offset), func(typ string) []string { return fieldKeys(types[typ]) }))
	}
	return errors.New(strings.Join(out, "; "))
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

// shiftLine adds offset to the "line N:" a decoder message starts with.
func shiftLine(msg string, offset int) string {
	var line int
	var rest string
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		rest = msg[strings.IndexByte(msg, ':')+1:]
		return fmt.Sprintf("line %d:%s", line+offset, rest)
	}
	return msg
}
