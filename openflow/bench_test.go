package openflow

import (
	"encoding/binary"
	"testing"

	ofp "github.com/contiv/libOpenflow/openflow13"
	"github.com/contiv/libOpenflow/util"
)

// The packet-in hot path, wire side: decode a packet-in as OVS sends it
// (NO_BUFFER, whole frame), encode the flow-mod and packet-out that answer it.

func benchPacketIn() []byte {
	// An ICMP echo request in Ethernet, well formed so both decoders
	// (libOpenflow parses the IP header) can take it.
	frame := make([]byte, 98)
	copy(frame, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0,
		0x45, 0, 0, 84, 0, 1, 0x40, 0, 64, 1, 0, 0, 172, 16, 123, 101, 172, 16, 123, 102, 8, 0})
	b := []byte{Version, TypePacketIn, 0, 0, 0, 0, 0, 1}
	b = binary.BigEndian.AppendUint32(b, NoBuffer)
	b = binary.BigEndian.AppendUint16(b, uint16(len(frame)))
	b = append(b, PacketInNoMatch, 0)
	b = binary.BigEndian.AppendUint64(b, 0x4c4d010000000001)
	b = appendMatch(b, []OXM{InPortOXM(1)})
	b = append(b, 0, 0)
	b = append(b, frame...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

func BenchmarkDecodePacketIn(b *testing.B) {
	msg := benchPacketIn()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeFlowModAndPacketOut(b *testing.B) {
	fm := NewFlowMod(FlowAdd)
	fm.Priority, fm.Cookie = 100, 0x4c4d010000000001
	fm.Match = []OXM{InPortOXM(1), BasicOXM(OXMEthSrc, []byte{2, 0, 0, 0, 0, 1})}
	fm.Instructions = []Instruction{GotoTable(1)}
	po := PacketOut{BufferID: NoBuffer, InPort: 1, Actions: []Action{Output(PortTable)}, Data: make([]byte, 98)}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEncoded(buf[:0], fm, 1)
		buf = AppendEncoded(buf, po, 2)
	}
}

// The same work through libOpenflow's own codecs, measured in the same run
// as the peer Loom's wire layer is compared with.

func BenchmarkPeerLibOpenflowDecodePacketIn(b *testing.B) {
	msg := benchPacketIn()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		pi := ofp.NewPacketIn()
		if err := pi.UnmarshalBinary(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPeerLibOpenflowEncodeFlowModAndPacketOut(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		fm := ofp.NewFlowMod()
		fm.Priority, fm.Cookie = 100, 0x4c4d010000000001
		fm.Match.AddField(*ofp.NewInPortField(1))
		fm.Match.AddField(*ofp.NewEthSrcField([]byte{2, 0, 0, 0, 0, 1}, nil))
		gt := ofp.NewInstrGotoTable(1)
		fm.AddInstruction(gt)
		if _, err := fm.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
		po := ofp.NewPacketOut()
		po.InPort = 1
		po.AddAction(ofp.NewActionOutput(ofp.P_TABLE))
		po.Data = util.NewBuffer(make([]byte, 98))
		if _, err := po.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}
