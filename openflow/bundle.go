package openflow

import (
	"encoding/binary"
	"fmt"
)

// ONF extension 230: bundles on OpenFlow 1.3, as OVS implements them. A
// bundle collects messages and commits them atomically and in order.
const (
	expTypeBundleControl = 2300
	expTypeBundleAdd     = 2301

	BundleOpenRequest    uint16 = 0
	BundleOpenReply      uint16 = 1
	BundleCloseRequest   uint16 = 2
	BundleCommitRequest  uint16 = 4
	BundleCommitReply    uint16 = 5
	BundleDiscardRequest uint16 = 6

	BundleAtomic  uint16 = 1
	BundleOrdered uint16 = 2
)

// BundleControl opens, closes, commits or discards bundle BundleID.
type BundleControl struct {
	BundleID uint32
	Type     uint16
	Flags    uint16
}

func (BundleControl) MsgType() uint8 { return TypeExperimenter }
func (c BundleControl) AppendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, ONFExperimenterID)
	b = binary.BigEndian.AppendUint32(b, expTypeBundleControl)
	b = binary.BigEndian.AppendUint32(b, c.BundleID)
	b = binary.BigEndian.AppendUint16(b, c.Type)
	return binary.BigEndian.AppendUint16(b, c.Flags)
}

// BundleAdd adds Msg to bundle BundleID. The inner message gets the same
// xid as the outer one, so an error for it can be traced either way.
type BundleAdd struct {
	BundleID uint32
	Flags    uint16
	Msg      Outgoing
}

func (BundleAdd) MsgType() uint8 { return TypeExperimenter }

// AppendBody needs the xid for the inner header; Conn.sendXid writes it
// through appendWithXid.
func (a BundleAdd) AppendBody(b []byte) []byte { return a.appendBody(b, 0) }

func (a BundleAdd) appendBody(b []byte, xid uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, ONFExperimenterID)
	b = binary.BigEndian.AppendUint32(b, expTypeBundleAdd)
	b = binary.BigEndian.AppendUint32(b, a.BundleID)
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint16(b, a.Flags)
	return AppendEncoded(b, a.Msg, xid)
}

// BundleReply is a bundle control reply.
type BundleReply struct {
	BundleID uint32
	Type     uint16
	Flags    uint16
}

// ParseBundleReply reads a bundle control reply out of an experimenter
// message; ok is false for any other experimenter message.
func ParseBundleReply(e *Experimenter) (BundleReply, bool, error) {
	if e.Experimenter != ONFExperimenterID || e.ExpType != expTypeBundleControl {
		return BundleReply{}, false, nil
	}
	if len(e.Data) < 8 {
		return BundleReply{}, true, fmt.Errorf("bundle control reply of %d bytes, need 8", len(e.Data))
	}
	return BundleReply{BundleID: binary.BigEndian.Uint32(e.Data), Type: binary.BigEndian.Uint16(e.Data[4:]),
		Flags: binary.BigEndian.Uint16(e.Data[6:])}, true, nil
}
