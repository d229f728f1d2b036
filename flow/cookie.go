package flow

import "fmt"

// Cookie is the structured cookie Loom puts on every flow:
//
//	bits 63..48  marker 0x4c4d ("LM"): the flow is Loom's
//	bits 47..40  app id: which app owns it
//	bits 39..32  generation
//	bits 31..0   hash of the owner key
//
// The marker lets Loom leave foreign flows alone; the app id lets an
// operator list one app's flows and routes packet-ins.
type Cookie uint64

const (
	cookieMarker     = 0x4c4d
	cookieMarkerMask = Cookie(0xffff) << 48
	// MarkerMask selects the marker bits, for cookie-masked requests.
	MarkerMask = uint64(cookieMarkerMask)
	// Marker is the marker in place, for cookie-masked requests.
	Marker = uint64(cookieMarker) << 48
)

// AppID identifies an app in cookies. IDs are fixed per app, because they
// outlive the process: they sit in the switches' flow tables.
type AppID uint8

// MakeCookie composes a Loom cookie.
func MakeCookie(app AppID, generation uint8, hash uint32) Cookie {
	return Cookie(uint64(cookieMarker)<<48 | uint64(app)<<40 | uint64(generation)<<32 | uint64(hash))
}

// IsLoom reports whether the cookie carries Loom's marker.
func (c Cookie) IsLoom() bool { return c&cookieMarkerMask == Cookie(Marker) }

// App returns the owning app's id.
func (c Cookie) App() AppID { return AppID(c >> 40) }

// Generation returns the generation byte.
func (c Cookie) Generation() uint8 { return uint8(c >> 32) }

// Hash returns the owner-key hash.
func (c Cookie) Hash() uint32 { return uint32(c) }

func (c Cookie) String() string { return fmt.Sprintf("0x%016x", uint64(c)) }
