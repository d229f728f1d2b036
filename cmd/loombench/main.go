// Command loombench is an OpenFlow 1.3 load generator for controllers.
//
// It emulates switches that complete a real handshake (HELLO, FEATURES,
// PORT_DESC, flow dumps, barriers, ONF bundles, echo) and then:
//
//	loombench reactive  packet-ins between learned MACs, in throughput mode
//	                    (a window of outstanding packet-ins per switch) or
//	                    latency mode (--window 1), counting a packet-in as
//	                    answered by a PACKET_OUT carrying its frame or a
//	                    FLOW_MOD matching its source or destination MAC
//	loombench connect   N switches connect at once; time until each has its
//	                    initial flows, and the controller's RSS per switch
//	loombench null      a trivial controller answering every packet-in with
//	                    a prepared FLOW_MOD: the ceiling of this machine
//	loombench churn     connect storms round after round with the same DPIDs,
//	                    some rounds dropping and reconnecting a share of the
//	                    switches at once (soak and chaos tests)
//	loombench hello     connections that send HELLO and nothing else, many
//	                    at once (more than a controller has descriptors)
//	loombench pktin     packet-ins with random source MACs at a fixed rate,
//	                    not waiting for answers (a flood)
//	loombench watch     topology watch streams against loomd's gRPC API,
//	                    some never read (--api, not --controller)
//	loombench cluster   every switch connects to each of a cluster's
//	                    controllers and arbitrates roles as OVS does: time
//	                    until each has one MASTER, the masters' spread,
//	                    refusals; with --kill-pid, SIGKILL one controller
//	                    and time the takeover of its switches
//
// --controller takes HOST:PORT, tcp:HOST:PORT or unix:PATH.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "reactive":
		err = reactive(os.Args[2:])
	case "connect":
		err = connect(os.Args[2:])
	case "null":
		err = null(os.Args[2:])
	case "churn":
		err = churn(os.Args[2:])
	case "hello":
		err = hello(os.Args[2:])
	case "pktin":
		err = pktin(os.Args[2:])
	case "watch":
		err = watch(os.Args[2:])
	case "cluster":
		err = cluster(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loombench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: loombench reactive|connect|null|churn|hello|pktin|watch|cluster [flags]   (loombench CMD -h for flags)")
	os.Exit(2)
}
