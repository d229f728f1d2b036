package api

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseTokens(t *testing.T) {
	for _, c := range []struct {
		name, file string
		want       []Token
		err        string // a substring of the error; "" for none
	}{
		{name: "old format: one bare token", file: "s3cret\n",
			want: []Token{{Name: "default", Scope: ScopeOperator, Secret: "s3cret"}}},
		{name: "old format with blanks and a comment", file: "# loomd's token\n\n  s3cret  \n",
			want: []Token{{Name: "default", Scope: ScopeOperator, Secret: "s3cret"}}},
		{name: "named and scoped", file: "# who scope token\ngrafana read r-0123\n\nops operator o-4567 # the on-call team\nfloodguard app a-89ab\n",
			want: []Token{{"grafana", ScopeRead, "r-0123"}, {"ops", ScopeOperator, "o-4567"}, {"floodguard", ScopeApp, "a-89ab"}}},
		{name: "one named line", file: "ops operator o-4567",
			want: []Token{{"ops", ScopeOperator, "o-4567"}}},
		{name: "empty", file: "", err: "tokens holds no token"},
		{name: "only blanks", file: " \n\t\n", err: "holds no token"},
		{name: "only comments", file: "# nothing yet\n", err: "holds no token"},
		{name: "a bare token among named ones", file: "ops operator o-4567\ns3cret\n", err: "tokens:2: want NAME SCOPE TOKEN, got 1 fields"},
		{name: "two fields", file: "ops operator\n", err: "tokens:1: want NAME SCOPE TOKEN, got 2 fields"},
		{name: "four fields", file: "ops operator o-4567 extra\n", err: "tokens:1: want NAME SCOPE TOKEN, got 4 fields"},
		{name: "unknown scope", file: "# c\nops admin o-4567\n", err: `tokens:2: unknown scope "admin": want read, app or operator`},
		{name: "bad name", file: "o/ps operator o-4567\n", err: `tokens:1: name "o/ps"`},
		{name: "duplicate name", file: "ops operator o-1\nviewer read r-1\nops read o-2\n", err: `tokens:3: name "ops" is already on line 1`},
		{name: "duplicate secret", file: "ops operator dup-1234\nviewer read dup-1234\n", err: `tokens:2: the token of "viewer" is the same as line 1's`},
		{name: "non-ASCII secret", file: "ops operator s\u00e9cret\n", err: "tokens:1: the token holds a character other than printable ASCII"},
		{name: "non-ASCII bare secret", file: "s\u00e9cret\n", err: "tokens:1: the token holds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseTokens([]byte(c.file), "tokens")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				for _, secret := range []string{"o-4567", "dup-1234", "s\u00e9cret"} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("the error shows a secret: %v", err)
					}
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}
