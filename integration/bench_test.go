package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loomsdn/loom/apps/pipeline"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/integration/harness"
	"github.com/loomsdn/loom/internal/benchsize"
	"github.com/loomsdn/loom/internal/procstat"
)

var reTook = regexp.MustCompile(`msg="switch connected".* took=([0-9.]+[mµn]?s)`)

// lastTook returns the "took" of the n-th "switch connected" log line.
func lastTook(t testing.TB, log string, n int) time.Duration {
	m := reTook.FindAllStringSubmatch(log, -1)
	if len(m) < n {
		t.Fatalf("only %d 'switch connected' lines, want %d", len(m), n)
	}
	d, err := time.ParseDuration(m[n-1][1])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func flowCount(t testing.TB, br *harness.Bridge) int { return aggregateCount(t, br) }

// aggregateCount is the flow_count of dump-aggregate with args.
func aggregateCount(t testing.TB, br *harness.Bridge, args ...string) int {
	t.Helper()
	out, err := br.Ofctl(append([]string{"dump-aggregate"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`flow_count=(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("dump-aggregate: %s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// appFlowCount is how many of br's flows carry app's cookie.
func appFlowCount(t testing.TB, br *harness.Bridge, app flow.AppID) int {
	t.Helper()
	const appMask = flow.MarkerMask | 0xff<<40
	return aggregateCount(t, br, fmt.Sprintf("cookie=0x%x/0x%x", uint64(flow.MakeCookie(app, 0, 0)), uint64(appMask)))
}

func rssKB(t testing.TB, pid int) int {
	n := procstat.RSSKB(pid)
	if n == 0 {
		t.Fatalf("no resident set for pid %d", pid)
	}
	return n
}

// BenchmarkFlowInstall100k installs 100,000 flows into a real OVS bridge
// through Loom (connect, dump, diff, one bundle, barrier, commit) and, in
// the same run, the same flows into a second bridge with
// `ovs-ofctl --bundle add-flows`; then changes 1% of them and reconnects.
// Run it with: go test -run '^$' -bench FlowInstall -benchtime 1x ./integration
func BenchmarkFlowInstall100k(b *testing.B) {
	n := benchsize.Pick(100_000, 1_000)
	for b.Loop() {
		lab := harness.New(b)
		hv := lab.Hypervisor("hv1")
		loomBr := hv.AddBridge("loombr", 0xb1)
		ofctlBr := hv.AddBridge("ofctlbr", 0xb2)

		flows := func(port int, changed int) []string {
			out := make([]string, n)
			for i := range out {
				p := port
				if i < changed {
					p = port + 1
				}
				out[i] = fmt.Sprintf("table=4, priority=200,dl_dst=02:%02x:%02x:%02x:00:01 actions=output:%d", i>>16&0xff, i>>8&0xff, i&0xff, p)
			}
			return out
		}
		config := func(lines []string) string {
			var sb strings.Builder
			sb.WriteString("flows:\n  verify_interval: 1h\napps:\n  static:\n    flows:\n")
			for _, l := range lines {
				fmt.Fprintf(&sb, "      - {switch: \"0x00000000000000b1\", flow: \"%s\"}\n", l)
			}
			return sb.String()
		}

		// ovs-ofctl first, on its own bridge.
		file := filepath.Join(lab.Dir(), "flows.txt")
		os.WriteFile(file, []byte(strings.Join(flows(1, 0), "\n")+"\n"), 0o644)
		start := time.Now()
		cmd := exec.Command("ip", "netns", "exec", hv.NS, "ovs-ofctl", "-O", "OpenFlow13", "--bundle", "add-flows",
			"unix:"+filepath.Join(hv.RunDir, "ofctlbr.mgmt"), file)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ovs-ofctl: %v %s", err, out)
		}
		ofctl := time.Since(start)

		// Loom: the same flows declared by the static app.
		cfg := writeConfig(b, lab, "loom.yaml", config(flows(1, 0)))
		l := startLoomdB(b, lab, "--config", cfg)
		loomBr.SetController("unix:" + l.sock)
		waitForB(b, "Loom's 100k flows", 300*time.Second, func() bool { return len(reTook.FindAllString(l.proc.Log(), -1)) >= 1 })
		loom := lastTook(b, l.proc.Log(), 1)
		// The static app's flows, by cookie: whatever else the pipeline
		// installs (table-miss flows, another app's) is not the
		// benchmark's to count, and may grow.
		if got := appFlowCount(b, loomBr, pipeline.AppStatic); got != n {
			b.Fatalf("Loom's bridge holds %d of the static app's flows, want %d (%d flows in all)", got, n, flowCount(b, loomBr))
		}
		if got := flowCount(b, ofctlBr); got != n {
			b.Fatalf("ovs-ofctl's bridge holds %d flows, want %d", got, n)
		}
		rss := rssKB(b, l.proc.PID())

		installLog := l.proc.Log()
		// Change 1% and reconnect: dump 100k, diff, bundle 1,000 modifies.
		writeConfig(b, lab, "loom.yaml", config(flows(1, n/100)))
		l.proc.Stop()
		l.startB(b, "--config", cfg)
		waitForB(b, "the 1% change", 300*time.Second, func() bool { return len(reTook.FindAllString(l.proc.Log(), -1)) >= 1 })
		change := lastTook(b, l.proc.Log(), 1)
		if !strings.Contains(l.proc.Log(), fmt.Sprintf("flow_mods=%d", n/100)) {
			b.Errorf("the 1%% change did not send exactly %d flow-mods:\n%s", n/100, tailLines(l.proc.Log(), 5))
		}

		for _, line := range strings.Split(installLog+l.proc.Log(), "\n") {
			if strings.Contains(line, "full reconcile") || strings.Contains(line, "switch connected") {
				b.Log(line)
			}
		}
		b.ReportMetric(loom.Seconds(), "loom-install-s")
		b.ReportMetric(ofctl.Seconds(), "ofctl-install-s")
		b.ReportMetric(loom.Seconds()/ofctl.Seconds(), "loom/ofctl")
		b.ReportMetric(change.Seconds(), "change1pct-reconnect-s")
		b.ReportMetric(float64(rss)*1024/float64(n), "rss-B/flow")
		lab.Close()
	}
}
