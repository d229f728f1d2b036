package api

import (
	"fmt"
	"regexp"
	"strings"
)

// Scope is what a token may do. Each scope includes the ones below it:
// operator > app > read.
type Scope int

const (
	// ScopeRead may call the Get, List and Watch RPCs, Plan and GetStatus.
	ScopeRead Scope = iota + 1
	// ScopeApp is an external app: read, plus SetFlows and DeleteFlows of
	// its own flows (client equal to the token's name), the packet-in
	// watch and packet-out.
	ScopeApp
	// ScopeOperator may call everything.
	ScopeOperator
)

func (s Scope) String() string {
	switch s {
	case ScopeRead:
		return "read"
	case ScopeApp:
		return "app"
	case ScopeOperator:
		return "operator"
	}
	return fmt.Sprintf("scope(%d)", int(s))
}

// ParseScope reads a scope's name.
func ParseScope(s string) (Scope, error) {
	switch s {
	case "read":
		return ScopeRead, nil
	case "app":
		return ScopeApp, nil
	case "operator":
		return ScopeOperator, nil
	}
	return 0, fmt.Errorf("unknown scope %q: want read, app or operator", s)
}

// Token is one API client's credential: its name (in logs and errors,
// and for an app token the client name of the flows it may change), its
// scope and the secret it sends as "authorization: Bearer <secret>".
type Token struct {
	Name   string
	Scope  Scope
	Secret string
}

// DefaultTokenName names the token of a file in the old format (one bare
// token) and of LOOM_TOKEN.
const DefaultTokenName = "default"

var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ParseTokens reads a token file. The format, one token per line:
//
//	# comment (a line whose first non-blank character is #)
//	NAME SCOPE TOKEN
//
// separated by blanks; NAME is letters, digits, '.', '_' and '-', SCOPE
// is read, app or operator, TOKEN is printable ASCII without blanks.
// Names and tokens must be unique. A file whose only content is one bare
// token (the old format) is one operator token named "default". source
// names the file in errors, which give the line number and never the
// secret. A file without any token is an error.
func ParseTokens(data []byte, source string) ([]Token, error) {
	type line struct {
		no     int
		fields []string
	}
	var lines []line
	for i, text := range strings.Split(string(data), "\n") {
		text = strings.TrimSpace(text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		lines = append(lines, line{i + 1, strings.Fields(text)})
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s holds no token: write one per line as NAME SCOPE TOKEN", source)
	}
	if len(lines) == 1 && len(lines[0].fields) == 1 { // the old format
		if err := checkSecret(lines[0].fields[0]); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", source, lines[0].no, err)
		}
		return []Token{{Name: DefaultTokenName, Scope: ScopeOperator, Secret: lines[0].fields[0]}}, nil
	}
	var out []Token
	names := map[string]int{}
	secrets := map[string]int{}
	for _, l := range lines {
		f := l.fields
		if len(f) > 3 && strings.HasPrefix(f[3], "#") {
			f = f[:3] // a trailing comment
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: want NAME SCOPE TOKEN, got %d fields", source, l.no, len(f))
		}
		if !tokenName.MatchString(f[0]) {
			return nil, fmt.Errorf("%s:%d: name %q: use letters, digits, '.', '_' and '-'", source, l.no, f[0])
		}
		if prev, dup := names[f[0]]; dup {
			return nil, fmt.Errorf("%s:%d: name %q is already on line %d", source, l.no, f[0], prev)
		}
		scope, err := ParseScope(f[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", source, l.no, err)
		}
		if err := checkSecret(f[2]); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", source, l.no, err)
		}
		if prev, dup := secrets[f[2]]; dup {
			return nil, fmt.Errorf("%s:%d: the token of %q is the same as line %d's: give each its own", source, l.no, f[0], prev)
		}
		names[f[0]], secrets[f[2]] = l.no, l.no
		out = append(out, Token{Name: f[0], Scope: scope, Secret: f[2]})
	}
	return out, nil
}

// checkSecret refuses a secret gRPC metadata cannot carry.
func checkSecret(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return fmt.Errorf("the token holds a character other than printable ASCII (at byte %d)", i+1)
		}
	}
	return nil
}
