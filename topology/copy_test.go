package topology

import (
	"fmt"
	"reflect"
	"testing"
	"time"
	"unsafe"
)

// The copies are written field by field (copy.go), so a pointer, slice or
// map field added later and not copied there would be shared with the
// model unnoticed. These tests find every such field by reflection
// instead of listing today's: fill sets every field, unexported ones
// included, and fails on a kind it does not know.

var timeType = reflect.TypeOf(time.Time{})

// settable returns f, settable even when unexported (f must be
// addressable).
func settable(f reflect.Value) reflect.Value {
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
}

// fill sets every field reachable from v (addressable) to a value that
// is not zero, numbering them from *n so the result is the same on every
// call; slices get two elements and maps one entry.
func fill(t *testing.T, v reflect.Value, n *int) {
	t.Helper()
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprint("s", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n % 100))
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(time.Unix(int64(*n), 0)))
			return
		}
		for i := range v.NumField() {
			fill(t, settable(v.Field(i)), n)
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(t, p.Elem(), n)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(t, s.Index(i), n)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k, n)
		fill(t, e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	default:
		t.Fatalf("fill: a %s field (%s): teach fill and the copies in copy.go about it", v.Kind(), v.Type())
	}
}

// mutate changes, in place, every value reachable from v (addressable):
// through pointers, slice elements and map entries.
func mutate(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "!")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Hour)))
			return
		}
		for i := range v.NumField() {
			mutate(settable(v.Field(i)))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			mutate(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			mutate(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			mutate(e)
			v.SetMapIndex(k, e)
		}
	}
}

// shared lists the paths at which a and b (the same type) hold the same
// pointer, slice array or map.
func shared(a, b reflect.Value, path string) []string {
	var out []string
	switch a.Kind() {
	case reflect.Struct:
		if a.Type() == timeType {
			return nil // a value; its *Location is never written
		}
		for i := range a.NumField() {
			out = append(out, shared(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)...)
		}
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return nil
		}
		if a.Pointer() == b.Pointer() {
			out = append(out, path)
		}
		out = append(out, shared(a.Elem(), b.Elem(), path)...)
	case reflect.Slice:
		if a.Len() > 0 && b.Len() > 0 && a.Pointer() == b.Pointer() {
			out = append(out, path)
		}
		for i := range min(a.Len(), b.Len()) {
			out = append(out, shared(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Map:
		if !a.IsNil() && a.Pointer() == b.Pointer() {
			out = append(out, path)
		}
		for _, k := range a.MapKeys() {
			if e := b.MapIndex(k); e.IsValid() {
				out = append(out, shared(a.MapIndex(k), e, fmt.Sprintf("%s[%v]", path, k))...)
			}
		}
	}
	return out
}

// Every copy is whole (equal to its original), shares no memory with it,
// and changing everything in the copy changes nothing in the original.
func TestClonesShareNoMemory(t *testing.T) {
	copies := map[string]struct {
		zero  any
		clone func(any) any
	}{
		"Port":       {Port{}, func(v any) any { return v.(Port).clone() }},
		"Host":       {Host{}, func(v any) any { return v.(Host).clone() }},
		"Snapshot":   {Snapshot{}, func(v any) any { return v.(Snapshot).clone() }},
		"clonePorts": {[]Port{}, func(v any) any { return clonePorts(v.([]Port)) }},
	}
	for name, c := range copies {
		t.Run(name, func(t *testing.T) {
			filled := func() any {
				v := reflect.New(reflect.TypeOf(c.zero)).Elem()
				n := 0
				fill(t, v, &n)
				return v.Interface()
			}
			orig, pristine := filled(), filled()
			cp := c.clone(orig)
			if !reflect.DeepEqual(cp, orig) {
				t.Fatalf("the copy differs from the original:\n%+v\n%+v", cp, orig)
			}
			if paths := shared(reflect.ValueOf(orig), reflect.ValueOf(cp), name); len(paths) > 0 {
				t.Fatalf("the copy shares memory with the original at %v", paths)
			}
			v := reflect.New(reflect.TypeOf(cp)).Elem()
			v.Set(reflect.ValueOf(cp))
			mutate(v)
			if reflect.DeepEqual(v.Interface(), pristine) {
				t.Fatal("mutate changed nothing: the test is not testing")
			}
			if !reflect.DeepEqual(orig, pristine) {
				t.Fatalf("changing the copy changed the original:\n%+v\nwas\n%+v", orig, pristine)
			}
		})
	}
}

// What the reads return is the caller's: changing all of it (VMs,
// tunnels, IPs, claimants) leaves the model as it was.
func TestReadsHandOutCopies(t *testing.T) {
	top := New()
	top.SetHypervisors([]Hypervisor{{Name: "kvm01", OVSDB: "tcp:192.0.2.10:6640"}})
	top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", hvView(), nil)
	top.OVSDBState("kvm02", "tcp:192.0.2.20:6640", hvView(), nil) // a second claimant of 0xc1
	top.SwitchConnected(0xc1, "192.0.2.10:40000", []OFPort{{No: 1, Name: "centos01_port1", Up: true}, {No: 3, Name: "vxlan-kvm02", Up: true}})
	top.SetLink(NewLink(Endpoint{0xc1, 1}, Endpoint{0xc2, 1}), true)
	top.HostSeen("02:00:00:00:00:01", 0xc1, 1, "192.0.2.99", time.Unix(1, 0))
	before := top.Snapshot()
	if len(before.Ports) != 2 || before.Ports[0].VM == nil || before.Ports[1].Tunnel == nil || len(before.Hosts) != 1 || len(before.Hosts[0].IPs) != 1 {
		t.Fatalf("the model lacks what this test changes: %+v", before)
	}

	change := func(v any) {
		p := reflect.New(reflect.TypeOf(v))
		p.Elem().Set(reflect.ValueOf(v))
		mutate(p.Elem()) // reaches v's own memory through its pointers, slices and maps
	}
	change(top.Snapshot())
	change(top.Ports(0xc1))
	for _, no := range []uint32{1, 3} {
		p, _ := top.Port(0xc1, no)
		change(p)
	}
	b := top.Bind(0xc1)
	change(b.Claimants)
	change(top.Conflicts())

	if after := top.Snapshot(); !reflect.DeepEqual(after, before) {
		t.Fatalf("changing what the reads returned changed the model:\n%+v\nwas\n%+v", after, before)
	}
	if b := top.Bind(0xc1); b.Claimants[0] != "kvm01" {
		t.Fatalf("claimants %v, want kvm01 first", b.Claimants)
	}
	if c := top.Conflicts(); len(c) != 1 || c[0].Claimants[1] != "kvm02" {
		t.Fatalf("conflicts %+v", c)
	}
}

// Events carry copies: a watcher changing an event's object leaves the
// model as it was, for each path that makes events: the full recompute,
// the per-switch update and a host's.
func TestEventObjectsAreNotTheModels(t *testing.T) {
	top := New()
	top.SetHypervisors([]Hypervisor{{Name: "kvm01", OVSDB: "tcp:192.0.2.10:6640"}})
	ports := []OFPort{{No: 1, Name: "centos01_port1", Up: true}, {No: 3, Name: "vxlan-kvm02", Up: true}}
	top.SwitchConnected(0xc1, "192.0.2.10:40000", ports)
	steps := []struct {
		name             string
		do               func()
		vms, tunnels, ip int // what the step's events must carry
	}{
		{"full recompute", func() { top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", hvView(), nil) }, 1, 1, 0},
		{"per switch", func() { top.SwitchDisconnected(0xc1) }, 1, 1, 0},
		{"host", func() { top.HostSeen("02:00:00:00:00:01", 0xc1, 1, "192.0.2.99", time.Unix(1, 0)) }, 0, 0, 1},
	}
	for _, s := range steps {
		cur := top.Follow()
		s.do()
		before := top.Snapshot()
		var vms, tunnels, ips int
		for _, e := range readAll(t, cur) {
			switch o := e.Object.(type) {
			case Port:
				if o.VM != nil {
					vms++
				}
				if o.Tunnel != nil {
					tunnels++
				}
			case Host:
				ips += len(o.IPs)
			}
			v := reflect.New(reflect.TypeOf(e.Object)).Elem()
			v.Set(reflect.ValueOf(e.Object))
			mutate(v)
		}
		if vms != s.vms || tunnels != s.tunnels || ips != s.ip {
			t.Fatalf("%s: events carried %d VMs, %d tunnels, %d IPs; want %d, %d, %d", s.name, vms, tunnels, ips, s.vms, s.tunnels, s.ip)
		}
		if after := top.Snapshot(); !reflect.DeepEqual(after, before) {
			t.Fatalf("%s: changing its events' objects changed the model:\n%+v\nwas\n%+v", s.name, after, before)
		}
	}
}

func TestParseEndpointReadsWhatStringWrites(t *testing.T) {
	e := Endpoint{DPID: 0xa1, Port: 7}
	got, err := ParseEndpoint(e.String())
	if err != nil || got != e {
		t.Fatalf("ParseEndpoint(%q) = %v, %v", e.String(), got, err)
	}
	for _, bad := range []string{"", "x", "0x00000000000000a1", "a1:1", "0x00000000000000a1:x", "00000000000000a1ff:1",
		"0x00000000000000a1:99999999999", "0xzzzzzzzzzzzzzzzz:1"} {
		if _, err := ParseEndpoint(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
