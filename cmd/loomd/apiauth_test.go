package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/loomsdn/loom/controller/api"
)

func TestLoadTokens(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	op := func(name, secret string) api.Token {
		return api.Token{Name: name, Scope: api.ScopeOperator, Secret: secret}
	}
	for _, c := range []struct {
		name, file, env string
		want            []api.Token
		err             string
	}{
		{name: "nothing: an open API"},
		{name: "LOOM_TOKEN", env: " s3cret\n", want: []api.Token{op("default", "s3cret")}},
		{name: "blank LOOM_TOKEN is none", env: "  "},
		{name: "old format", file: file("old", "s3cret\n"), want: []api.Token{op("default", "s3cret")}},
		{name: "the file wins over LOOM_TOKEN", file: file("new", "ops operator o-1\nviewer read r-1\n"), env: "other",
			want: []api.Token{op("ops", "o-1"), {Name: "viewer", Scope: api.ScopeRead, Secret: "r-1"}}},
		{name: "missing file", file: filepath.Join(dir, "absent"), err: "--grpc-token-file: open "},
		{name: "unreadable (a directory)", file: dir, err: "--grpc-token-file: read "},
		{name: "empty file", file: file("empty", ""), err: "holds no token"},
		{name: "whitespace file", file: file("blank", " \n\n\t"), err: "holds no token"},
		{name: "a bad line is named", file: file("bad", "ops operator o-1\nviewer reader r-1\n"), err: "bad:2: unknown scope \"reader\""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := loadTokens(c.file, c.env)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), "--grpc-token-file: ") {
					t.Fatalf("error %v, want one starting --grpc-token-file and containing %q", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestInsecureListenRule(t *testing.T) {
	read := []api.Token{{Name: "grafana", Scope: api.ScopeRead, Secret: "r"}}
	write := append(read, api.Token{Name: "ops", Scope: api.ScopeOperator, Secret: "o"})
	app := []api.Token{{Name: "floodguard", Scope: api.ScopeApp, Secret: "a"}}
	for _, c := range []struct {
		listen   string
		tls      bool
		tokens   []api.Token
		insecure bool
		err      string // "" when allowed
	}{
		// The default and the dev/demo/test setups: loopback, no TLS, no token.
		{listen: "127.0.0.1:9652"},
		{listen: "127.0.0.1:0"},
		{listen: "127.1.2.3:9652"},
		{listen: "[::1]:9652"},
		{listen: "localhost:9652"},
		{listen: "unix:/run/loom/api.sock"},
		{listen: ""}, // no API
		{listen: "127.0.0.1:9652", tokens: write},
		// Other hosts can reach these.
		{listen: "0.0.0.0:9652", err: "--grpc-listen 0.0.0.0:9652 is not a loopback address"},
		{listen: ":9652", err: "--grpc-insecure"},
		{listen: "[::]:9652", err: "--grpc-tls-cert/--grpc-tls-key"},
		{listen: "192.0.2.10:9652", err: "--grpc-token-file"},
		{listen: "192.0.2.10:9652", tokens: write, err: `token "ops" (scope operator) would cross the network in clear`},
		{listen: "192.0.2.10:9652", tokens: app, err: `token "floodguard" (scope app)`},
		{listen: "192.0.2.10:9652", tokens: read}, // read-only: not writable
		{listen: "192.0.2.10:9652", tls: true},    // TLS (e.g. mutual TLS) without tokens
		{listen: "192.0.2.10:9652", tls: true, tokens: write},
		{listen: "0.0.0.0:9652", insecure: true},
		{listen: "0.0.0.0:9652", tokens: write, insecure: true},
		{listen: "not-an-address", err: "--grpc-insecure"},
	} {
		err := checkAPIExposure(c.listen, c.tls, c.tokens, c.insecure)
		if c.err == "" && err != nil {
			t.Errorf("%+v: %v, want it allowed", c, err)
		}
		if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%+v: %v, want an error containing %q", c, err, c.err)
		}
	}
}

// loomd itself refuses to start with an open API on a network address,
// before it listens on anything.
func TestLoomdRefusesAnOpenAPIOnTheNetwork(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LOOM_TOKEN", "")
	base := []string{"--db", filepath.Join(dir, "loom.db"), "--openflow-listen", "unix:" + filepath.Join(dir, "of.sock"),
		"--metrics-listen", "", "--log-level", "error"}
	err := run(append(base, "--grpc-listen", "192.0.2.10:9652"))
	if err == nil || !strings.Contains(err.Error(), "--grpc-insecure") || !strings.Contains(err.Error(), "--grpc-tls-cert") {
		t.Fatalf("open API on 192.0.2.10: %v, want the refusal naming the flags", err)
	}
	tokens := filepath.Join(dir, "tokens")
	os.WriteFile(tokens, []byte("# none yet\n"), 0o600)
	err = run(append(base, "--grpc-listen", "127.0.0.1:0", "--grpc-token-file", tokens))
	if err == nil || !strings.Contains(err.Error(), "holds no token") {
		t.Fatalf("a token file without tokens: %v, want a startup error", err)
	}
}
