// Command rawframe sends and captures raw Ethernet frames on one
// interface. The integration tests run it inside a VM namespace to play a
// misbehaving VM (forged LLDP, replays, spoofed source MACs).
//
//	rawframe send IFACE HEXFRAME
//	rawframe capture IFACE ETHERTYPE_HEX TIMEOUT   prints the first matching frame in hex
package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rawframe:", err)
		os.Exit(1)
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func open(iface string) (int, *syscall.SockaddrLinklayer, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return 0, nil, err
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(syscall.ETH_P_ALL)))
	if err != nil {
		return 0, nil, err
	}
	sll := &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_ALL), Ifindex: ifi.Index}
	if err := syscall.Bind(fd, sll); err != nil {
		return 0, nil, err
	}
	return fd, sll, nil
}

func run(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("usage: rawframe send IFACE HEX | rawframe capture IFACE ETHERTYPE TIMEOUT | rawframe flood IFACE COUNT")
	}
	fd, sll, err := open(args[1])
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	switch args[0] {
	case "send":
		frame, err := hex.DecodeString(args[2])
		if err != nil {
			return err
		}
		return syscall.Sendto(fd, frame, 0, sll)
	case "flood":
		// COUNT broadcast frames, each from a new random unicast source
		// MAC: every one misses the learning flows (a packet-in storm).
		n, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		frame := make([]byte, 60)
		copy(frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		frame[12], frame[13] = 0x88, 0xb5 // local experimental ethertype
		for i := 0; i < n; i++ {
			binary.BigEndian.PutUint32(frame[6:], rand.Uint32())
			binary.BigEndian.PutUint16(frame[10:], uint16(i))
			frame[6] = frame[6]&0xfe | 0x02 // unicast, locally administered
			if err := syscall.Sendto(fd, frame, 0, sll); err != nil && err != syscall.ENOBUFS {
				return err
			}
		}
		return nil
	case "capture":
		if len(args) < 4 {
			return fmt.Errorf("capture needs ETHERTYPE and TIMEOUT")
		}
		et, err := strconv.ParseUint(args[2], 16, 16)
		if err != nil {
			return err
		}
		timeout, err := time.ParseDuration(args[3])
		if err != nil {
			return err
		}
		deadline := time.Now().Add(timeout)
		tv := syscall.NsecToTimeval(int64(200 * time.Millisecond))
		// Without it Recvfrom blocks past the deadline on a quiet port.
		if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
			return fmt.Errorf("SO_RCVTIMEO: %w", err)
		}
		buf := make([]byte, 65536)
		for time.Now().Before(deadline) {
			n, _, err := syscall.Recvfrom(fd, buf, 0)
			if err != nil || n < 14 {
				continue
			}
			if binary.BigEndian.Uint16(buf[12:]) == uint16(et) {
				fmt.Println(hex.EncodeToString(buf[:n]))
				return nil
			}
		}
		return fmt.Errorf("no frame of ethertype %04x within %v", et, timeout)
	}
	return fmt.Errorf("unknown command %q", args[0])
}
