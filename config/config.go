// Package config is loomd's typed configuration: defaults, the YAML file,
// and validation that names the field (and line) that is wrong.
package config

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/network"
	"github.com/loomsdn/loom/ovsdb"
)

// Config is the whole loomd configuration.
type Config struct {
	OpenFlow    OpenFlow     `yaml:"openflow"`
	Flows       Flows        `yaml:"flows"`
	Hypervisors []Hypervisor `yaml:"hypervisors"`
	// HypervisorsDiscovery says from which networks Loom may find OVSDBs
	// it was not told about (off unless allow lists some).
	HypervisorsDiscovery HypervisorsDiscovery `yaml:"hypervisors_discovery"`
	// OVSDBTLS is the client certificate and CA for ssl: OVSDB endpoints.
	OVSDBTLS TLSFiles `yaml:"ovsdb_tls"`
	// OVSDBProbeInterval is how often each OVSDB connection is probed
	// with an echo; a server silent for two intervals is disconnected.
	OVSDBProbeInterval Duration `yaml:"ovsdb_probe_interval"`
	Apps               Apps     `yaml:"apps"`
	Tunnels            Tunnels  `yaml:"tunnels"`
	// Cluster, with etcd members listed, shares this loomd's state and
	// switches with other instances.
	Cluster Cluster `yaml:"cluster"`
	// Networks, Trunks and ACLs are the live part of the file: SIGHUP
	// (or the API's reload) applies changes to them without a restart.
	Networks []network.Network `yaml:"networks"`
	Trunks   []network.Trunk   `yaml:"trunks"`
	ACLs     []network.Rule    `yaml:"acls"`
}

// NetworkSpec returns the file's network declarations.
func (c Config) NetworkSpec() network.Spec {
	return network.Spec{Networks: c.Networks, Trunks: c.Trunks, ACLs: c.ACLs}
}

// OVSDBServerNames maps each hypervisor with an ovsdb_server_name to it.
func (c Config) OVSDBServerNames() map[string]string {
	out := map[string]string{}
	for _, h := range c.Hypervisors {
		if h.OVSDBServerName != "" {
			out[h.Name] = h.OVSDBServerName
		}
	}
	return out
}

// TLSFiles names PEM files for a TLS client.
type TLSFiles struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Client returns the TLS client configuration, or nil when none is set.
// Errors name the field whose file is wrong.
func (f TLSFiles) Client(at string) (*tls.Config, error) {
	if f.CA == "" && f.Cert == "" && f.Key == "" {
		return nil, nil
	}
	if f.CA == "" || f.Cert == "" || f.Key == "" {
		return nil, fieldErr(at, "ca, cert and key are all required")
	}
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fieldErr(at+".ca", "%v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fieldErr(at+".ca", "%s holds no PEM certificate", f.CA)
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fieldErr(at+".cert", "%v", err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Hypervisor is one KVM host whose OVSDB Loom reads and writes. Hosts not
// listed are found from their bridges' OpenFlow connections, at
// tcp:<the connection's source address>:6640, only when
// hypervisors_discovery allows the source's network.
type Hypervisor struct {
	Name     string `yaml:"name"`
	OVSDB    string `yaml:"ovsdb"`     // unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT
	TunnelIP string `yaml:"tunnel_ip"` // the host's tunnel endpoint (optional here)
	// OVSDBServerName is the name the ssl: OVSDB server's certificate must
	// carry; by default the endpoint's host (as TLS checks anyway).
	OVSDBServerName string `yaml:"ovsdb_server_name"`
}

// Tunnels configures the tunnel mesh between hypervisors.
type Tunnels struct {
	// Type is vxlan (default), gre, or none (no mesh: Loom makes no tunnel
	// ports and removes those it made).
	Type string `yaml:"type"`
	// Bridge is the tunnel bridge on every hypervisor; empty: every bridge
	// connected to Loom that holds VM ports.
	Bridge string `yaml:"bridge"`
	// ProbeInterval is how often each peer is probed through the tunnel; a
	// peer is down after three intervals without a probe.
	ProbeInterval Duration `yaml:"probe_interval"`
	// PeerTimeout is how long a hypervisor whose switches disconnected
	// stays in the mesh before its flows are withdrawn everywhere.
	PeerTimeout Duration `yaml:"peer_timeout"`
}

// Flows configures the flow engine.
type Flows struct {
	// VerifyInterval is how often each switch's table is re-read and
	// drift repaired.
	VerifyInterval Duration `yaml:"verify_interval"`
	// Foreign is "keep" (leave flows without Loom's cookie alone) or
	// "remove" (Loom owns the whole table).
	Foreign string `yaml:"foreign"`
}

// OpenFlow configures the switch-facing side.
type OpenFlow struct {
	// Listen holds listener addresses: "tcp:HOST:PORT", ":PORT",
	// "unix:PATH", or "ssl:HOST:PORT" (TLS, with the files in tls).
	Listen []string `yaml:"listen"`
	// TLS holds the files of ssl: listeners (the --openflow-tls-* flags
	// override them).
	TLS OpenFlowTLS `yaml:"tls"`
	// Targets are further controller targets that mean this loomd, as
	// bridges name it (ovs-vsctl set-controller BR tcp:HOST:PORT) when
	// they reach it by an address it does not listen on: a VIP, a NAT
	// address, a DNS name. Only bridges whose controller targets name
	// this loomd (a listener or one of these) are Loom's to change.
	Targets []string `yaml:"targets"`
	// EchoInterval is the keepalive period; a switch silent for two
	// intervals is dropped.
	EchoInterval Duration `yaml:"echo_interval"`
	// HelloTimeout bounds the wait for a connecting peer's HELLO.
	HelloTimeout Duration `yaml:"hello_timeout"`
	// PacketInRate caps each switch's packet-ins per second at the switch
	// (OVS's controller meter); 0 turns the meter off.
	PacketInRate uint32 `yaml:"packet_in_rate"`
	// ForgetAfter is how long a switch may stay away before Loom forgets
	// it: its topology entry and the flows apps declared for it (API
	// clients' flows stay until `loomctl forget switch --all`).
	ForgetAfter Duration `yaml:"forget_after"`
}

// OpenFlowTLS is the server side of ssl: OpenFlow listeners. The files
// are read at startup and again on SIGHUP (same paths, new contents).
type OpenFlowTLS struct {
	Cert string `yaml:"cert"` // the listener's certificate (PEM)
	Key  string `yaml:"key"`  // its private key (PEM)
	// CA holds the CA certificates (PEM, one or more) that switches'
	// certificates must chain to.
	CA string `yaml:"ca"`
	// ClientCerts is "require" (default: a switch without a certificate
	// the CA signed is refused in the handshake) or "none" (encryption
	// only; any peer may connect, as on tcp:).
	ClientCerts string `yaml:"client_certs"`
	// PeerCNIsHypervisor makes health name every switch on an ssl:
	// listener whose certificate's subject CN is not the name (under
	// hypervisors:) of the hypervisor whose OVSDB lists its datapath id.
	// A report, never a refusal: the session and its flows go on.
	PeerCNIsHypervisor bool `yaml:"peer_cn_is_hypervisor"`
}

// HasSSL says whether one of the listeners is ssl:.
func (o OpenFlow) HasSSL() bool {
	for _, l := range o.Listen {
		if strings.HasPrefix(strings.TrimSpace(l), "ssl:") {
			return true
		}
	}
	return false
}

// Apps configures the built-in apps.
type Apps struct {
	L2        L2        `yaml:"l2"`
	Static    Static    `yaml:"static"`
	Discovery Discovery `yaml:"discovery"`
	// Sections are the configs of apps that read their own (by app name;
	// appsections.go): the wiring hands each its section and refuses one
	// no app reads.
	Sections map[string]yaml.Node `yaml:",inline"`
}

// Discovery configures LLDP link discovery.
type Discovery struct {
	// Interval is how often every switch port is probed; a link not seen
	// for three intervals is removed.
	Interval Duration `yaml:"interval"`
}

// Static lists flows to install as configured.
type Static struct {
	Flows []StaticFlow `yaml:"flows"`
}

// StaticFlow is one configured flow.
type StaticFlow struct {
	// Name, when set, keys the flow (unique among the static flows);
	// otherwise its content does.
	Name string `yaml:"name"`
	// Switch is a datapath id ("0x00000000000000c1") or "*" for all.
	Switch string `yaml:"switch"`
	// Flow is in ovs-ofctl syntax: "table=1, priority=500,dl_dst=... actions=output:2".
	Flow string `yaml:"flow"`
}

// L2 configures the learning switch.
type L2 struct {
	// MaxMACs bounds the MAC table of each switch.
	MaxMACs int `yaml:"max_macs"`
	// MoveHoldDown is how long a MAC must keep appearing on a second port,
	// while its first port is up, before Loom moves it there.
	MoveHoldDown Duration `yaml:"move_holddown"`
	// SpoofHold is how long a source l2 refuses stays refused by a flow at
	// the switch (a VM port sending as another MAC, sources past max_macs).
	SpoofHold Duration `yaml:"spoof_hold"`
}

// Duration is a time.Duration written as "5s", "250ms".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 5s or 250ms", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Default returns the configuration loomd runs with when given none.
func Default() Config {
	return Config{
		OpenFlow: OpenFlow{Listen: []string{"tcp::6653"}, EchoInterval: Duration(5 * time.Second), HelloTimeout: Duration(5 * time.Second),
			ForgetAfter: Duration(30 * time.Minute), PacketInRate: 1000},
		Flows:              Flows{VerifyInterval: Duration(10 * time.Second), Foreign: "keep"},
		Apps:               Apps{L2: L2{MaxMACs: 8192, MoveHoldDown: Duration(10 * time.Second), SpoofHold: Duration(time.Minute)}, Discovery: Discovery{Interval: Duration(5 * time.Second)}},
		Tunnels:            Tunnels{Type: "vxlan", ProbeInterval: Duration(time.Second), PeerTimeout: Duration(30 * time.Second)},
		OVSDBProbeInterval: Duration(5 * time.Second),
	}
}

// Load reads path over the defaults. Unknown keys are errors, so a typo
// never silently leaves a default in force.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Default(), fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse reads a config file's contents over the defaults; path names it in
// errors.
func Parse(data []byte, path string) (Config, error) {
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) /* empty file: all defaults */ {
		return c, fmt.Errorf("config %s: %s", path, explainUnknown(strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	if err := c.Validate(); err != nil {
		var root yaml.Node
		_ = yaml.Unmarshal(data, &root) // decoded once above: this pass only finds line numbers
		var fe *FieldError
		if errors.As(err, &fe) {
			if line := lineOf(&root, fe.Path); line > 0 {
				return c, fmt.Errorf("config %s: line %d: %w", path, line, err)
			}
		}
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Validate checks every field and names the first one that is wrong.
func (c Config) Validate() error {
	if len(c.OpenFlow.Listen) == 0 {
		return fieldErr("openflow.listen", "at least one address is required")
	}
	for i, l := range c.OpenFlow.Listen {
		if l = strings.TrimSpace(l); l == "" || l == "unix:" || l == "tcp:" || l == "ssl:" {
			return fieldErr(fmt.Sprintf("openflow.listen[%d]", i), "empty address")
		}
	}
	switch c.OpenFlow.TLS.ClientCerts {
	case "", "require", "none":
	default:
		return fieldErr("openflow.tls.client_certs", "%q is not require or none", c.OpenFlow.TLS.ClientCerts)
	}
	if d := time.Duration(c.OpenFlow.EchoInterval); d < 100*time.Millisecond || d > time.Hour {
		return fieldErr("openflow.echo_interval", "%v is outside 100ms..1h", d)
	}
	if d := time.Duration(c.OpenFlow.HelloTimeout); d < 100*time.Millisecond || d > time.Minute {
		return fieldErr("openflow.hello_timeout", "%v is outside 100ms..1m", d)
	}
	if d := time.Duration(c.Flows.VerifyInterval); d < 100*time.Millisecond || d > 24*time.Hour {
		return fieldErr("flows.verify_interval", "%v is outside 100ms..24h", d)
	}
	if c.Flows.Foreign != "keep" && c.Flows.Foreign != "remove" {
		return fieldErr("flows.foreign", "%q is not keep or remove", c.Flows.Foreign)
	}
	if err := c.Cluster.validate(); err != nil {
		return err
	}
	names := map[string]bool{}
	for i, h := range c.Hypervisors {
		at := fmt.Sprintf("hypervisors[%d]", i)
		switch {
		case !validName(h.Name):
			return fieldErr(at+".name", "%q: want 1-64 letters, digits, '.', '_' or '-'", h.Name)
		case names[h.Name]:
			return fieldErr(at+".name", "%q is listed twice", h.Name)
		}
		names[h.Name] = true
		scheme, _, err := ovsdb.ParseEndpoint(h.OVSDB)
		if err != nil {
			return fieldErr(at+".ovsdb", "%v", err)
		}
		if scheme == "ssl" && c.OVSDBTLS.CA == "" {
			return fieldErr(at+".ovsdb", "an ssl: endpoint needs ovsdb_tls (ca, cert, key)")
		}
		if h.OVSDBServerName != "" && scheme != "ssl" {
			return fieldErr(at+".ovsdb_server_name", "only an ssl: endpoint has a certificate to name (ovsdb is %s)", h.OVSDB)
		}
		if h.TunnelIP != "" {
			if _, err := netip.ParseAddr(h.TunnelIP); err != nil {
				return fieldErr(at+".tunnel_ip", "%q is not an IP address", h.TunnelIP)
			}
		}
	}
	if _, err := c.OVSDBTLS.Client("ovsdb_tls"); err != nil {
		return err
	}
	if err := c.validateDiscovery(); err != nil {
		return err
	}
	staticNames := map[string]bool{}
	for i, sf := range c.Apps.Static.Flows {
		if _, _, _, err := sf.Parse(); err != nil {
			return fieldErr(fmt.Sprintf("apps.static.flows[%d]", i), "%v", err)
		}
		if sf.Name != "" && staticNames[sf.Name] {
			return fieldErr(fmt.Sprintf("apps.static.flows[%d].name", i), "%q names another static flow too", sf.Name)
		}
		staticNames[sf.Name] = true
	}
	if d := time.Duration(c.OVSDBProbeInterval); d < 100*time.Millisecond || d > 5*time.Minute {
		return fieldErr("ovsdb_probe_interval", "%v is outside 100ms..5m", d)
	}
	if c.OpenFlow.PacketInRate > 1000000 {
		return fieldErr("openflow.packet_in_rate", "%d is over 1000000 packets/s", c.OpenFlow.PacketInRate)
	}
	if d := time.Duration(c.OpenFlow.ForgetAfter); d < time.Second || d > 365*24*time.Hour {
		return fieldErr("openflow.forget_after", "%v is outside 1s..8760h", d)
	}
	if d := time.Duration(c.Apps.Discovery.Interval); d < 100*time.Millisecond || d > time.Hour {
		return fieldErr("apps.discovery.interval", "%v is outside 100ms..1h", d)
	}
	if d := time.Duration(c.Apps.L2.MoveHoldDown); d < 0 || d > time.Hour {
		return fieldErr("apps.l2.move_holddown", "%v is outside 0..1h", d)
	}
	if d := time.Duration(c.Apps.L2.SpoofHold); d < time.Second || d > 24*time.Hour {
		return fieldErr("apps.l2.spoof_hold", "%v is outside 1s..24h", d)
	}
	if c.Apps.L2.MaxMACs < 1 || c.Apps.L2.MaxMACs > 1<<20 {
		return fieldErr("apps.l2.max_macs", "%d is outside 1..1048576", c.Apps.L2.MaxMACs)
	}
	switch c.Tunnels.Type {
	case "vxlan", "gre", "none":
	default:
		return fieldErr("tunnels.type", "%q is not vxlan, gre or none", c.Tunnels.Type)
	}
	if d := time.Duration(c.Tunnels.ProbeInterval); d < 100*time.Millisecond || d > time.Minute {
		return fieldErr("tunnels.probe_interval", "%v is outside 100ms..1m", d)
	}
	if d := time.Duration(c.Tunnels.PeerTimeout); d < time.Second || d > 24*time.Hour {
		return fieldErr("tunnels.peer_timeout", "%v is outside 1s..24h", d)
	}
	if _, err := network.Compile(c.NetworkSpec()); err != nil {
		var fe *network.FieldError
		if errors.As(err, &fe) {
			return &FieldError{Path: fe.Path, Err: fe.Err}
		}
		return err
	}
	return nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Parse returns the switch (all when "*") and the flow of sf.
func (sf StaticFlow) Parse() (all bool, dpid uint64, f flow.Flow, err error) {
	switch sf.Switch {
	case "*":
		all = true
	case "":
		return false, 0, f, errors.New(`switch: required (a datapath id like 0x00000000000000c1, or "*")`)
	default:
		dpid, err = strconv.ParseUint(strings.TrimPrefix(sf.Switch, "0x"), 16, 64)
		if err != nil {
			return false, 0, f, fmt.Errorf("switch: %q is not a datapath id like 0x00000000000000c1", sf.Switch)
		}
	}
	f, err = flow.Parse(sf.Flow)
	if err != nil {
		return false, 0, f, fmt.Errorf("flow: %w", err)
	}
	return all, dpid, f, nil
}
