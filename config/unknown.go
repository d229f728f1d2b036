package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/loomsdn/loom/network"
)

// unknownField matches the YAML decoder's error for a key no struct has:
// "line 2: field netwroks not found in type config.Config".
var unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type (\S+)`)

// explainUnknown rewrites the decoder's unknown-key errors for an operator:
// the key, the keys allowed there and the nearest of them, instead of a Go
// type name.
func explainUnknown(msg string) string { return explainUnknownIn(msg, keysOf) }

// explainUnknownIn is explainUnknown with the keys of each type from keys.
func explainUnknownIn(msg string, keys func(typ string) []string) string {
	return unknownField.ReplaceAllStringFunc(msg, func(m string) string {
		g := unknownField.FindStringSubmatch(m)
		line, key, typ := g[1], g[2], g[3]
		known := keys(typ)
		out := fmt.Sprintf("line %s: unknown key %q", line, key)
		if near := nearest(key, known); near != "" {
			out += fmt.Sprintf(" (did you mean %q?)", near)
		}
		if len(known) > 0 {
			out += "; keys here: " + strings.Join(known, ", ")
		}
		return out
	})
}

// configTypes are the structs a config file decodes into, by the name the
// decoder gives them.
var configTypes = map[string]reflect.Type{}

func init() {
	for _, v := range []any{Config{}, TLSFiles{}, Hypervisor{}, HypervisorsDiscovery{}, Tunnels{}, Flows{}, OpenFlow{}, OpenFlowTLS{}, Apps{},
		Discovery{}, Static{}, StaticFlow{}, L2{}, network.Network{}, network.Trunk{}, network.Rule{}} {
		t := reflect.TypeOf(v)
		configTypes[t.String()] = t
	}
}

// keysOf lists the YAML keys of the type the decoder named.
func keysOf(typ string) []string { return fieldKeys(configTypes[typ]) }

// fieldKeys lists the YAML keys of struct type t (none for nil).
func fieldKeys(t reflect.Type) []string {
	if t == nil {
		return nil
	}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}

// nearest is the known key closest to key, when close enough to be a typo
// (at most a third of its letters off).
func nearest(key string, known []string) string {
	best, bestD := "", len(key)/3+1
	for _, k := range known {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance, transpositions counted once
// (netwroks is one edit from networks).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
