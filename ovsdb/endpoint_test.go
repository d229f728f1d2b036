package ovsdb

import (
	"strings"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	for ep, want := range map[string]string{
		"unix:/var/run/openvswitch/db.sock": "",
		"tcp:10.0.0.1:6640":                 "",
		"ssl:[::1]:6640":                    "",
		"tcp:10.0.0.1":                      "needs HOST:PORT",
		"unix:":                             "want unix:PATH",
		"udp:1.2.3.4:6640":                  `unknown scheme "udp"`,
		"/var/run/db.sock":                  "want unix:PATH",
	} {
		_, _, err := ParseEndpoint(ep)
		if (err == nil) != (want == "") || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: error %v, want %q", ep, err, want)
		}
	}
}
