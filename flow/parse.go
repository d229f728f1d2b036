package flow

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/loomsdn/loom/openflow"
)

// Parse reads a flow in the text form String writes (ovs-ofctl syntax,
// the subset Loom's flows use), e.g.
//
//	table=1, priority=100,dl_dst=02:00:00:00:00:01 actions=output:2
//
// Errors name the field that is wrong.
func Parse(s string) (Flow, error) {
	var f Flow
	head, acts, ok := strings.Cut(s, "actions=")
	if !ok {
		return f, fmt.Errorf("flow %q: no actions= part", s)
	}
	icmpv6 := "" // an icmpv6_ field named: checked against dl_type once all are read
	for _, field := range strings.FieldsFunc(head, func(r rune) bool { return r == ',' || r == ' ' }) {
		name, value, _ := strings.Cut(field, "=")
		if err := f.parseField(name, value); err != nil {
			return f, fmt.Errorf("flow %q: %s: %w", s, name, err)
		}
		if strings.HasPrefix(name, "icmpv6_") {
			icmpv6 = name
		}
	}
	if m := f.Match; icmpv6 != "" && m.set&fEthType != 0 && m.ethType != ethTypeIPv6 {
		return f, fmt.Errorf("flow %q: %s: ICMPv6 needs dl_type=0x86dd, not 0x%04x", s, icmpv6, m.ethType)
	}
	if err := f.parseActions(strings.TrimSpace(acts)); err != nil {
		return f, fmt.Errorf("flow %q: actions: %w", s, err)
	}
	return f, nil
}

func (f *Flow) parseField(name, value string) error {
	switch name {
	case "table":
		n, err := strconv.ParseUint(value, 10, 8)
		f.Table = uint8(n)
		return err
	case "priority":
		n, err := strconv.ParseUint(value, 10, 16)
		f.Priority = uint16(n)
		return err
	case "cookie":
		n, err := strconv.ParseUint(strings.TrimPrefix(value, "0x"), 16, 64)
		f.Cookie = Cookie(n)
		return err
	case "in_port":
		n, err := strconv.ParseUint(value, 10, 32)
		f.Match = f.Match.InPort(uint32(n))
		return err
	case "dl_src", "dl_dst":
		m, err := ParseMAC(value)
		if name == "dl_src" {
			f.Match = f.Match.EthSrc(m)
		} else {
			f.Match = f.Match.EthDst(m)
		}
		return err
	case "dl_vlan":
		n, err := strconv.ParseUint(value, 10, 12)
		f.Match = f.Match.VLAN(uint16(n))
		return err
	case "vlan_tci":
		if value != "0x0000/0x1fff" {
			return fmt.Errorf("only vlan_tci=0x0000/0x1fff (no tag) is supported")
		}
		f.Match = f.Match.Untagged()
		return nil
	case "dl_type":
		n, err := strconv.ParseUint(strings.TrimPrefix(value, "0x"), 16, 16)
		f.Match = f.Match.EthType(uint16(n))
		return err
	}
	return f.parseL3Field(name, value)
}

var namedPorts = map[string]uint32{
	"CONTROLLER:65535": openflow.PortController, "FLOOD": openflow.PortFlood, "ALL": openflow.PortAll,
	"TABLE": openflow.PortTable, "IN_PORT": openflow.PortInPort, "LOCAL": openflow.PortLocal, "NORMAL": openflow.PortNormal,
}

// ParseActions reads an action list in ovs-ofctl syntax ("output:2,FLOOD").
func ParseActions(s string) ([]Action, error) {
	var f Flow
	if err := f.parseActions(s); err != nil {
		return nil, err
	}
	if f.Goto {
		return nil, fmt.Errorf("goto_table is an instruction, not an action")
	}
	return f.Actions, nil
}

func (f *Flow) parseActions(s string) error {
	if s == "drop" || s == "" {
		return nil
	}
	for _, a := range splitActions(s) {
		switch {
		case namedPorts[a] != 0:
			f.Actions = append(f.Actions, Output(namedPorts[a]))
		case strings.HasPrefix(a, "output:"):
			n, err := strconv.ParseUint(strings.TrimPrefix(a, "output:"), 10, 32)
			if err != nil {
				return fmt.Errorf("%q: port is not a number", a)
			}
			f.Actions = append(f.Actions, Output(uint32(n)))
		case a == "push_vlan:0x8100":
			f.Actions = append(f.Actions, PushVLAN())
		case a == "pop_vlan":
			f.Actions = append(f.Actions, PopVLAN())
		case strings.HasPrefix(a, "set_field:") && strings.HasSuffix(a, "->vlan_vid"):
			n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(a, "set_field:"), "->vlan_vid"), 10, 16)
			if err != nil || n&vlanPresent == 0 {
				return fmt.Errorf("%q: want set_field:<vid|4096>->vlan_vid", a)
			}
			f.Actions = append(f.Actions, SetVLAN(uint16(n)))
		case strings.HasPrefix(a, "set_field:") && (strings.HasSuffix(a, "->tun_id") || strings.HasSuffix(a, "->tun_dst")):
			act, err := parseTunnelSetField(a)
			if err != nil {
				return err
			}
			f.Actions = append(f.Actions, act)
		case a == "ct" || strings.HasPrefix(a, "ct("):
			ct, err := parseCT(a)
			if err != nil {
				return err
			}
			f.Actions = append(f.Actions, ct)
		case strings.HasPrefix(a, "goto_table:"):
			n, err := strconv.ParseUint(strings.TrimPrefix(a, "goto_table:"), 10, 8)
			if err != nil {
				return fmt.Errorf("%q: table is not a number", a)
			}
			*f = f.Then(uint8(n))
		default:
			return fmt.Errorf("%q: unknown action", a)
		}
	}
	return nil
}

// splitActions splits an action list at the commas outside parentheses:
// ct(commit,zone=10) is one action.
func splitActions(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
