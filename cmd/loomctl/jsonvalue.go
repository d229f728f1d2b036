package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// wireValue turns an API message into plain values for JSON and YAML,
// the way an operator reads them rather than the way protojson writes
// them: every field present (a priority-0 flow has a priority), 64-bit
// numbers as numbers, datapath ids and cookies in hex, times (the *_unix
// fields, named without the suffix: started, last_seen) in RFC 3339 and
// null when unset, reserved port numbers by name. It walks the message's descriptor, so a new field is rendered
// without a change here.
func wireValue(m protoreflect.Message) map[string]any {
	out := map[string]any{}
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.ContainingOneof() != nil && !m.Has(fd) {
			continue // only the member that is set
		}
		name := string(fd.Name())
		key := strings.TrimSuffix(strings.TrimSuffix(name, "_nano"), "_unix") // a time: started, last_seen
		v := m.Get(fd)
		switch {
		case fd.IsList():
			list := []any{}
			for j := 0; j < v.List().Len(); j++ {
				list = append(list, fieldValue(fd, name, v.List().Get(j)))
			}
			out[key] = list
		case fd.IsMap():
			mp := map[string]any{}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				mp[k.String()] = fieldValue(fd.MapValue(), name, mv)
				return true
			})
			out[key] = mp
		case fd.Kind() == protoreflect.MessageKind && !m.Has(fd):
			out[key] = nil
		default:
			out[key] = fieldValue(fd, name, v)
		}
	}
	return out
}

// fieldValue renders one value of field fd (named name).
func fieldValue(fd protoreflect.FieldDescriptor, name string, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return wireValue(v.Message())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return int64(v.Enum())
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return v.Float()
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind, protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n := v.Uint()
		switch {
		case isID(name):
			return fmt.Sprintf("0x%016x", n)
		case isPort(name):
			if s := portNo(uint32(n)); s != fmt.Sprint(n) {
				return s
			}
		}
		return json.Number(fmt.Sprint(n))
	default: // signed integers
		n := v.Int()
		switch {
		case strings.HasSuffix(name, "_unix_nano"):
			return timeValue(time.Unix(0, n), n)
		case strings.HasSuffix(name, "_unix"):
			return timeValue(time.Unix(n, 0), n)
		}
		return json.Number(fmt.Sprint(n))
	}
}

// isID says whether a field holds a datapath id or a cookie: hex, as
// ovs-ofctl shows them.
func isID(name string) bool {
	return name == "dpid" || name == "cookie" || strings.HasSuffix(name, "_dpid")
}

// isPort says whether a field holds an OpenFlow port number.
func isPort(name string) bool { return name == "no" || name == "port" || name == "in_port" }

// timeValue is an RFC 3339 time, or nil for an unset one (0).
func timeValue(t time.Time, raw int64) any {
	if raw == 0 {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}
