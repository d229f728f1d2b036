package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/loomsdn/loom/openflow"
)

// null is the ceiling: a controller that does the least possible work,
// answering each packet-in with a prepared FLOW_MOD for its source MAC.
func null(args []string) error {
	fs := flag.NewFlagSet("null", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:6654", "address to accept switches on")
	_ = fs.Parse(args) // ExitOnError: a bad flag exits
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "null responder listening on", l.Addr())
	fm := openflow.NewFlowMod(openflow.FlowAdd)
	fm.TableID, fm.Priority = 1, 100
	fm.Match = []openflow.OXM{openflow.BasicOXM(openflow.OXMEthSrc, make([]byte, 6))}
	fm.Instructions = []openflow.Instruction{openflow.ApplyActions(openflow.Output(1))}
	template := openflow.Encode(fm, 0)
	macAt := 48 + 4 + 4 // header+fixed fields, match header, OXM header
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go serveNull(c, template, macAt)
	}
}

func serveNull(c net.Conn, template []byte, macAt int) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 1<<16)
	w := bufio.NewWriterSize(c, 1<<16)
	w.Write(openflow.Encode(openflow.HelloMsg{}, 1))
	w.Flush()
	out := make([]byte, len(template))
	hdr := make([]byte, 8)
	var msg []byte
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[2:]))
		if n < 8 {
			return
		}
		if cap(msg) < n {
			msg = make([]byte, n)
		}
		msg = msg[:n]
		copy(msg, hdr)
		if _, err := io.ReadFull(r, msg[8:]); err != nil {
			return
		}
		switch msg[1] {
		case openflow.TypeHello:
			w.Write(openflow.Encode(openflow.FeaturesRequest, 2))
		case openflow.TypeEchoRequest:
			msg[1] = openflow.TypeEchoReply
			w.Write(msg)
		case openflow.TypePacketIn:
			// The frame starts after the 24-byte fixed part, the 16-byte
			// in_port match and 2 bytes of padding; its source MAC at +6.
			if n >= 42+14 {
				copy(out, template)
				copy(out[4:8], msg[4:8])
				copy(out[macAt:macAt+6], msg[48:54])
				w.Write(out)
			}
		}
		if r.Buffered() == 0 {
			w.Flush()
		}
	}
}
