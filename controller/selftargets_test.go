package controller

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestSelfTargets(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "loom.sock")
	link := filepath.Join(dir, "ctl1.sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil { // the listener's socket file
		t.Fatal(err)
	}
	if err := os.Symlink(sock, link); err != nil {
		t.Fatal(err)
	}
	var s selfTargets
	s.setExtra([]string{"tcp:loom.example:6653", "ssl:203.0.113.7:6653"})
	s.listening(&net.UnixAddr{Name: sock, Net: "unix"})
	s.listening(&net.TCPAddr{IP: net.ParseIP("192.0.2.2"), Port: 6653})
	forget := s.listening(&net.TCPAddr{IP: net.IPv4zero, Port: 6633})
	for target, want := range map[string]bool{
		"unix:" + sock:                true,
		"unix:" + link:                true, // a lab's symlink to the socket
		"unix:" + dir + "/other.sock": false,
		"tcp:192.0.2.2:6653":          true,
		"ssl:192.0.2.2:6653":          true,
		"tcp:192.0.2.2":               true, // OVS's default port
		"tcp:192.0.2.3:6653":          false,
		"tcp:192.0.2.2:6654":          false,
		"tcp:127.0.0.1:6633":          true, // a 0.0.0.0 listener: loopback is this machine
		"tcp:[::ffff:127.0.0.1]:6633": true,
		"tcp:192.0.2.99:6633":         false, // not an address here
		"tcp:loom.example:6653":       true,  // configured
		"tcp:LOOM.example:6653":       true,
		"tcp:other.example:6653":      false, // names are never resolved
		"tcp:203.0.113.7:6653":        true,
		"ptcp:6653":                   false,
		"punix:" + sock:               false,
		"":                            false,
	} {
		if got := s.matches(target); got != want {
			t.Errorf("%q: matches=%v, want %v", target, got, want)
		}
	}
	forget()
	if s.matches("tcp:127.0.0.1:6633") {
		t.Error("a closed listener still matches")
	}
}
