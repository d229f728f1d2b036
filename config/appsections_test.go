package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

type testItem struct {
	Name string `yaml:"name"`
}

type testSection struct {
	Targets  []string   `yaml:"targets"`
	Sampling int        `yaml:"sampling"`
	Every    Duration   `yaml:"every"`
	Items    []testItem `yaml:"items"`
}

func decodeTestSection(t *testing.T, text string) (testSection, error) {
	t.Helper()
	c, err := Parse([]byte(text), "t.yaml")
	if err != nil {
		t.Fatalf("%q: %v", text, err)
	}
	out := testSection{Sampling: 400}
	err = DecodeSection("probe", c.Apps.Section("probe"), &out)
	return out, err
}

// An app section's errors carry the file's own line numbers, whatever
// the section holds above the bad line (blank lines, comments, a flow
// mapping across lines); each is the line of the key or value at fault.
func TestSectionErrorsNameTheFilesLine(t *testing.T) {
	for text, want := range map[string]string{
		"apps:\n  probe:\n    targets: [a]\n\n\n    samplng: 5\n":                               `apps.probe: line 6: unknown key "samplng" (did you mean "sampling"?); keys here: targets, sampling, every, items`,
		"apps:\n  probe:\n    # the collectors\n    # more\n    targets: [a]\n    samplng: 5\n": `apps.probe: line 6: unknown key "samplng"`,
		"apps:\n  probe:\n    targets: [a]\n\n    sampling: many\n":                             `apps.probe: line 5: cannot unmarshal !!str ` + "`many`" + ` into int`,
		"apps:\n  probe: {targets: [a],\n\n    samplng: 5}\n":                                   `apps.probe: line 4: unknown key "samplng"`,
		"apps:\n  probe:\n    items:\n      - name: a\n\n      - nam: b\n":                      `apps.probe: line 6: unknown key "nam" (did you mean "name"?); keys here: name`,
		"apps:\n  probe:\n    sampling: 1\n\n    sampling: 2\n":                                 `apps.probe: line 5: mapping key "sampling" already defined at line 3`,
		"apps:\n  probe:\n    every: soon\n":                                                    `apps.probe: line 3:`,
	} {
		_, err := decodeTestSection(t, text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q:\n got %v\nwant %q", text, err, want)
		}
	}
}

// A section may use what YAML allows anywhere else in the file: an
// anchor defined outside it, a merge key, or no settings at all (`probe:`
// with everything under it commented out: the app's defaults).
func TestSectionsDecodeAsTheFileReads(t *testing.T) {
	for text, want := range map[string]testSection{
		"networks: [{name: web, vlan: &s 10, ports: [p1]}]\napps:\n  probe:\n    sampling: *s\n": {Sampling: 10},
		"apps:\n  l2: {max_macs: &n 7}\n  probe: {sampling: *n, targets: [a]}\n":                 {Sampling: 7, Targets: []string{"a"}},
		"apps:\n  probe:\n    <<: {targets: [a]}\n    sampling: 3\n":                             {Sampling: 3, Targets: []string{"a"}},
		"apps:\n  probe:\n    # targets: [a]\n":                                                  {Sampling: 400},
		"apps:\n  probe:\n    every: 2s\n    items: [{name: x}]\n":                               {Sampling: 400, Every: Duration(2 * time.Second), Items: []testItem{{Name: "x"}}},
	} {
		got, err := decodeTestSection(t, text)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %+v, %v; want %+v", text, got, err, want)
		}
	}
}

// Hostile sections end in an error, quickly: an alias bomb, and a
// section that is a list or a scalar where the app wants a mapping.
func TestHostileSectionsAreRefused(t *testing.T) {
	bomb := "apps:\n  probe:\n    targets: &a [x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += "    " + n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 8) + "*" + prev + "]\n"
		prev = n
	}
	bomb += "    items: *" + prev + "\n"
	for text, want := range map[string]string{
		bomb:                              `apps.probe: line 4: unknown key "b"`,
		"apps:\n  probe: [a, b]\n":        `apps.probe: line 2: cannot unmarshal !!seq`,
		"apps:\n  probe: 5\n":             `apps.probe: line 2: cannot unmarshal !!int`,
		"apps:\n  probe:\n    items: 5\n": `apps.probe: line 3: cannot unmarshal !!int`,
	} {
		start := time.Now()
		_, err := decodeTestSection(t, text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40q:\n got %.300v\nwant %q", text, err, want)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("%.40q took %v", text, time.Since(start))
		}
	}
}

// The apps listed in an unclaimed section's error are each named once.
func TestUnclaimedListsEachAppOnce(t *testing.T) {
	c, err := Parse([]byte("apps:\n  sfow: {}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Apps.Unclaimed([]string{"l2", "static", "discovery", "sflow"})
	if err == nil || !strings.Contains(err.Error(), "apps here: discovery, l2, sflow, static") {
		t.Fatalf("%v", err)
	}
}
