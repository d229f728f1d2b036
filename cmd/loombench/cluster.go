package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/loomsdn/loom/internal/procstat"
)

// cluster connects every emulated switch to every controller of a
// cluster, the switch arbitrating roles as OVS does (role.go), and
// measures the election: how soon every switch has exactly one MASTER
// connection, how the masters spread over the controllers, what the
// switches refused. With --kill-pid it then SIGKILLs one controller and
// measures the takeover of the switches it mastered: how soon each has a
// new MASTER, and what the new masters sent them.
//
// Each switch keeps one flow table for all its connections (what one
// master installed, the next one dumps), and redials a connection that
// fails or ends, as OVS does. "two MASTER connections at once" is the
// switch's own invariant (a new MASTER demotes the old, as on OVS); what
// shows two instances acting as master is "demoted" (the switch, not the
// controller, ended a mastership), IS_SLAVE refusals (a deposed master
// still writing) and writes beside a master (an EQUAL connection writing
// while another is MASTER, which OVS accepts).
//
// Result lines start "cluster LABEL"; the window lines give unix
// milliseconds, for a script sampling something else (etcd's metrics)
// over the same windows.
func cluster(args []string) error {
	fs := flag.NewFlagSet("cluster", flag.ExitOnError)
	ctlList := fs.String("controllers", "", "comma-separated controller addresses (HOST:PORT, tcp:HOST:PORT or unix:PATH): every switch dials each")
	n := fs.Int("switches", 1000, "switches (each with one connection per controller)")
	nports := fs.Int("ports", 4, "ports per switch")
	base := fs.Uint64("dpid-base", 0x40000, "DPID of the first switch; the others follow")
	timeout := fs.Duration("timeout", 60*time.Second, "give up waiting for masters, and for the takeover, after this")
	settle := fs.Duration("settle", 7*time.Second, "once every switch has a master, wait until no mastership moved for this long "+
		"(Loom hands a switch to its preferred instance after 5s); 0: do not wait")
	steady := fs.Duration("steady", 0, "then hold this long before the kill: the steady window")
	pidList := fs.String("pids", "", "the controllers' PIDs in the order of --controllers: RSS per switch of each")
	nameList := fs.String("names", "", "the controllers' names in the order of --controllers, for the output (default c0,c1,...)")
	kill := fs.String("kill", "", "which controller --kill-pid is: a name from --names, an address from --controllers, or an index from 0 "+
		"(default: where --kill-pid is in --pids)")
	killPid := fs.Int("kill-pid", 0, "SIGKILL this controller process after the steady window and measure the takeover of its switches")
	grace := fs.Duration("grace", 2*time.Second, "after the last takeover, go on counting what the switches get for this long "+
		"(a new master's reconcile follows its ROLE_REPLY)")
	hold := fs.Duration("hold", 0, "keep the switches connected this long after the last result (for a script sampling after the window)")
	reconnect := fs.Bool("reconnect", true, "redial a connection that failed or ended, as OVS does (after 1s, backing off to 8s)")
	missing := fs.Float64("missing", 0, "share of the (switch, controller) connections never dialed, at random: switches that reach only some instances")
	seed := fs.Uint64("seed", 1, "random seed for --missing")
	label := fs.String("label", "", "name for the result lines")
	_ = fs.Parse(args) // ExitOnError: a bad flag exits

	ctls := splitList(*ctlList)
	if len(ctls) == 0 {
		return errors.New("cluster: --controllers is required")
	}
	names := splitList(*nameList)
	if len(names) == 0 {
		for i := range ctls {
			names = append(names, "c"+strconv.Itoa(i))
		}
	}
	if len(names) != len(ctls) {
		return fmt.Errorf("cluster: %d names for %d controllers", len(names), len(ctls))
	}
	var pids []int
	for _, p := range splitList(*pidList) {
		v, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("cluster: --pids: %q: %w", p, err)
		}
		pids = append(pids, v)
	}
	if len(pids) != 0 && len(pids) != len(ctls) {
		return fmt.Errorf("cluster: %d pids for %d controllers", len(pids), len(ctls))
	}
	victim := -1
	if *killPid != 0 {
		var err error
		if victim, err = pickVictim(*kill, *killPid, ctls, names, pids); err != nil {
			return err
		}
	}
	tag := "cluster " + *label

	rss0 := make([]int, len(ctls))
	for i := range pids {
		rss0[i] = procstat.RSSKB(pids[i])
	}
	arbs := make([]*arbiter, *n)
	for i := range arbs {
		arbs[i] = newArbiter(*base + uint64(i))
	}
	start := time.Now()
	ls := newLinks(*n*len(ctls), *reconnect)
	rng := rand.New(rand.NewPCG(*seed, *seed^0x9e3779b97f4a7c15))
	skipped := 0
	for i, a := range arbs {
		keep := rng.IntN(len(ctls)) // every switch reaches one controller at least
		for c, addr := range ctls {
			if c != keep && *missing > 0 && rng.Float64() < *missing {
				skipped++
				continue
			}
			ls.start(i*len(ctls)+c, addr, a, c, *nports)
		}
	}
	ls.first.Wait()
	defer ls.close()
	defer time.Sleep(*hold)
	dialed := 0
	for _, e := range ls.all() {
		if e != nil {
			dialed++
		}
	}

	// Every switch with exactly one MASTER connection.
	deadline := start.Add(*timeout)
	withMaster := func() int {
		k := 0
		for _, a := range arbs {
			if a.masterCtl() >= 0 {
				k++
			}
		}
		return k
	}
	for withMaster() < *n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var firsts []time.Duration
	var allAt time.Duration
	for _, a := range arbs {
		if t := a.firstGrant(); !t.IsZero() {
			firsts = append(firsts, t.Sub(start))
			allAt = max(allAt, t.Sub(start))
		}
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	elected := withMaster()
	var setupAll time.Duration // the last connection the controllers began to set up
	setups := 0
	for _, e := range ls.all() {
		if e != nil {
			if t := e.portDescAt.Load(); t > 0 {
				setups++
				setupAll = max(setupAll, time.Unix(0, t).Sub(start))
			}
		}
	}

	// Settle: the cluster may move switches to their preferred instances.
	settledAt := time.Duration(0)
	if *settle > 0 && elected == *n {
		for {
			var last time.Time
			for _, a := range arbs {
				if t := a.lastGrant(); t.After(last) {
					last = t
				}
			}
			if time.Since(last) >= *settle && withMaster() == *n {
				settledAt = last.Sub(start)
				break
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	fmt.Printf("%s window election from=%d to=%d\n", tag, start.UnixMilli(), time.Now().UnixMilli())
	total := func() arbiterStats {
		var s arbiterStats
		for _, a := range arbs {
			s.add(a.stats())
		}
		return s
	}
	st := total()
	line := fmt.Sprintf("%s switches=%d controllers=%d conns=%d/%d (set up within %v: %d): %d with one master", tag, *n, len(ctls),
		dialed, *n*len(ctls)-skipped, setupAll.Round(time.Millisecond), setups, withMaster())
	if len(firsts) > 0 {
		line += fmt.Sprintf(" (all within %v of the first dial) p50=%v p99=%v", allAt.Round(time.Millisecond), pct(firsts, 50), pct(firsts, 99))
	}
	if *settle > 0 {
		if settledAt > 0 {
			line += fmt.Sprintf(" settled=%v", settledAt.Round(time.Millisecond))
		} else {
			line += " settled=never"
		}
	}
	line += fmt.Sprintf(" handovers=%d refused=%d closed=%d reconnected=%d stale=%d is_slave=%d demoted=%d max_masters=%d",
		st.grants-len(firsts), ls.refused.Load(), st.closed, ls.reconnected.Load(), st.stale, st.isSlave(), st.demoted, st.maxMasters)
	fmt.Println(line)
	printMasters(tag, arbs, names, *n)
	fmt.Println(tag + " roles: " + describeRoles(arbs))
	fmt.Println(tag + " writes: " + describeWrites(st.writes))
	printRefusing(tag, arbs, names)
	if len(pids) > 0 {
		time.Sleep(time.Second) // idle: the controllers settle
		var parts []string
		for i, p := range pids {
			r := procstat.RSSKB(p)
			parts = append(parts, fmt.Sprintf("%s %d→%d KB = %.1f KB per switch (%.1f KB per switch of the delta)", names[i], rss0[i], r,
				float64(r)/float64(*n), float64(r-rss0[i])/float64(*n)))
		}
		fmt.Println(tag + " rss: " + strings.Join(parts, ", "))
	}
	if elected < *n {
		printMasterless(tag, arbs, names)
		if *killPid != 0 {
			fmt.Printf("%s failover: not run, %d switches have no master\n", tag, *n-elected)
		}
		return nil
	}

	if *steady > 0 {
		from := time.Now()
		before := total()
		time.Sleep(*steady)
		after := total()
		fmt.Printf("%s window steady from=%d to=%d\n", tag, from.UnixMilli(), time.Now().UnixMilli())
		d := diffStats(after, before)
		fmt.Printf("%s steady %v: with one master at the end %d, handovers=%d stale=%d is_slave=%d demoted=%d closed=%d writes: %s\n", tag,
			steady.Round(time.Millisecond), withMaster(), d.grants, d.stale, d.isSlave(), d.demoted, d.closed, describeWrites(d.writes))
	}
	if *killPid == 0 {
		return nil
	}
	return failover(tag, arbs, names, victim, *killPid, *timeout, *grace)
}

// failover SIGKILLs controller victim and measures the takeover of its
// switches.
func failover(tag string, arbs []*arbiter, names []string, victim, pid int, timeout, grace time.Duration) error {
	var theirs, others []*arbiter
	alone := 0 // its switches no other controller reaches
	for _, a := range arbs {
		if a.masterCtl() == victim {
			theirs = append(theirs, a)
			if m, s, e := a.roles(); m+s+e == 1 {
				alone++
			}
		} else {
			others = append(others, a)
		}
	}
	sumOf := func(as []*arbiter) arbiterStats {
		var s arbiterStats
		for _, a := range as {
			s.add(a.stats())
		}
		return s
	}
	before, beforeOthers := sumOf(theirs), sumOf(others)
	t0 := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("cluster: kill %d: %w", pid, err)
	}
	fmt.Printf("%s killed %s (pid %d) at %d, master of %d switches\n", tag, names[victim], pid, t0.UnixMilli(), len(theirs))
	// takeover is when a switch first got a MASTER on another controller.
	takeover := func(a *arbiter) (time.Time, int) {
		for _, g := range a.grantsSince(t0) {
			if g.ctl != victim {
				return g.at, g.ctl
			}
		}
		return time.Time{}, -1
	}
	deadline := t0.Add(timeout)
	for {
		done := 0
		for _, a := range theirs {
			if t, _ := takeover(a); !t.IsZero() {
				done++
			}
		}
		if done == len(theirs)-alone || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(grace)
	end := time.Now()
	var lats []time.Duration
	to := make([]int, len(names))
	for _, a := range theirs {
		if t, c := takeover(a); !t.IsZero() {
			lats = append(lats, t.Sub(t0))
			to[c]++
		}
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	fmt.Printf("%s window failover from=%d to=%d\n", tag, t0.UnixMilli(), end.UnixMilli())
	d, dOthers := diffStats(sumOf(theirs), before), diffStats(sumOf(others), beforeOthers)
	all := d
	all.add(dOthers)
	line := fmt.Sprintf("%s failover killed=%s its_switches=%d: %d with a new master", tag, names[victim], len(theirs), len(lats))
	if alone > 0 {
		line += fmt.Sprintf(" of %d reached by another controller", len(theirs)-alone)
	}
	if len(lats) > 0 {
		line += fmt.Sprintf(" p50=%v p99=%v max=%v", pct(lats, 50), pct(lats, 99), lats[len(lats)-1].Round(time.Millisecond))
	}
	var spread []string
	for c, k := range to {
		if c != victim {
			spread = append(spread, fmt.Sprintf("%s=%d", names[c], k))
		}
	}
	line += fmt.Sprintf(" (to %s); flow_mods to them in the window=%d (to the other switches=%d, window %v)",
		strings.Join(spread, " "), d.writes.total(wFlowMod), dOthers.writes.total(wFlowMod), end.Sub(t0).Round(time.Millisecond))
	two := "never"
	if all.maxMasters > 1 {
		two = fmt.Sprintf("YES (max %d)", all.maxMasters)
	}
	line += fmt.Sprintf("; two MASTER connections at once: %s; demoted=%d writes_beside_master=%d stale=%d is_slave=%d other_switches_moved=%d",
		two, all.demoted, all.writes.besideMaster, all.stale, all.isSlave(), dOthers.grants)
	fmt.Println(line)
	fmt.Printf("%s failover writes to its switches: %s\n", tag, describeWrites(d.writes))
	if all.isSlave() > 0 {
		printRefusing(tag, arbs, names)
	}
	fmt.Printf("%s failover roles: %s\n", tag, describeRoles(arbs))
	return nil
}

// describeRoles counts the live connections by role: with every switch
// mastered, a controller leaving none EQUAL has each other connection
// SLAVE (told no packet-ins, refused writes).
func describeRoles(arbs []*arbiter) string {
	var m, s, e, mastered int
	for _, a := range arbs {
		am, as, ae := a.roles()
		m, s, e = m+am, s+as, e+ae
		if am > 0 {
			mastered++
		}
	}
	return fmt.Sprintf("connections master=%d slave=%d equal=%d (switches with a master %d of %d)", m, s, e, mastered, len(arbs))
}

// printMasterless describes the switches left without a master: how
// many, by their connections' roles, and the role history of a few.
func printMasterless(tag string, arbs []*arbiter, names []string) {
	kinds := map[string]int{}
	var examples []*arbiter
	for _, a := range arbs {
		if a.masterCtl() >= 0 {
			continue
		}
		m, s, e := a.roles()
		kinds[fmt.Sprintf("master=%d slave=%d equal=%d", m, s, e)]++
		if len(examples) < 3 {
			examples = append(examples, a)
		}
	}
	var ks []string
	for k, c := range kinds {
		ks = append(ks, fmt.Sprintf("%d with %s", c, k))
	}
	sort.Strings(ks)
	fmt.Printf("%s no master: %s\n", tag, strings.Join(ks, ", "))
	for _, a := range examples {
		fmt.Printf("%s no master: dpid 0x%016x:%s\n", tag, a.dpid, a.history(names))
	}
}

// printRefusing gives the role history of a few switches that refused
// writes as IS_SLAVE: what the controllers asked, in what order.
func printRefusing(tag string, arbs []*arbiter, names []string) {
	shown := 0
	for _, a := range arbs {
		if a.stats().isSlave() == 0 {
			continue
		}
		if shown++; shown > 3 {
			return
		}
		fmt.Printf("%s refused as IS_SLAVE: dpid 0x%016x:%s\n", tag, a.dpid, a.history(names))
	}
}

// pickVictim finds which controller --kill names.
func pickVictim(kill string, pid int, ctls, names []string, pids []int) (int, error) {
	if kill == "" {
		for i, p := range pids {
			if p == pid {
				return i, nil
			}
		}
		return 0, errors.New("cluster: --kill-pid is not in --pids: say which controller it is with --kill")
	}
	for i := range ctls {
		if kill == names[i] || kill == ctls[i] {
			return i, nil
		}
	}
	if i, err := strconv.Atoi(kill); err == nil && i >= 0 && i < len(ctls) {
		return i, nil
	}
	return 0, fmt.Errorf("cluster: --kill %q is no name, address or index of --controllers", kill)
}

// printMasters prints how the masters spread over the controllers, and
// whether each has its share within 10%.
func printMasters(tag string, arbs []*arbiter, names []string, n int) {
	count := make([]int, len(names))
	for _, a := range arbs {
		if c := a.masterCtl(); c >= 0 {
			count[c]++
		}
	}
	share := float64(n) / float64(len(names))
	balanced := "yes"
	var parts []string
	for i, k := range count {
		parts = append(parts, fmt.Sprintf("%s=%d (%.1f%%)", names[i], k, 100*float64(k)/float64(n)))
		if d := float64(k) - share; d > share/10 || d < -share/10 {
			balanced = "no"
		}
	}
	fmt.Printf("%s masters: %s; balanced within 10%% (each %.0f..%.0f): %s\n", tag, strings.Join(parts, " "),
		share*0.9, share*1.1, balanced)
}

func describeWrites(w writeCounts) string {
	var parts []string
	for k := 0; k < nWrites; k++ {
		if t := w.total(k); t > 0 || k <= wPacketOut {
			parts = append(parts, fmt.Sprintf("%s=%d (master %d of which after a handover %d, equal %d, slave %d)", writeNames[k], t,
				w.master[k], w.handover[k], w.equal[k], w.slave[k]))
		}
	}
	return strings.Join(parts, " ") + fmt.Sprintf(" beside_a_master=%d", w.besideMaster)
}

// diffStats is what happened between two readings (maxMasters: the later's).
func diffStats(after, before arbiterStats) arbiterStats {
	d := arbiterStats{maxMasters: after.maxMasters, demoted: after.demoted - before.demoted, stale: after.stale - before.stale,
		badRole: after.badRole - before.badRole, requests: after.requests - before.requests, closed: after.closed - before.closed,
		grants: after.grants - before.grants}
	for k := 0; k < nWrites; k++ {
		d.writes.master[k] = after.writes.master[k] - before.writes.master[k]
		d.writes.equal[k] = after.writes.equal[k] - before.writes.equal[k]
		d.writes.slave[k] = after.writes.slave[k] - before.writes.slave[k]
		d.writes.handover[k] = after.writes.handover[k] - before.writes.handover[k]
	}
	d.writes.besideMaster = after.writes.besideMaster - before.writes.besideMaster
	return d
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// links keeps every switch's connection to every controller: dialed at
// once, and with reconnect redialed as OVS does when a dial fails or the
// connection ends (after 1s, doubling to 8s while dials fail).
type links struct {
	reconnect bool
	first     sync.WaitGroup // every link's first dial
	wg        sync.WaitGroup
	stop      chan struct{}

	mu      sync.Mutex
	cur     []*emu
	stopped bool

	refused     atomic.Uint64 // dials that failed
	reconnected atomic.Uint64 // connections made again after one failed or ended
}

func newLinks(n int, reconnect bool) *links {
	return &links{reconnect: reconnect, stop: make(chan struct{}), cur: make([]*emu, n)}
}

func (l *links) start(i int, addr string, a *arbiter, ctl, ports int) {
	l.first.Add(1)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		first, backoff := true, time.Second
		for {
			e, err := dialSwitch(addr, a.dpid, ports, a, ctl)
			if err != nil {
				l.refused.Add(1)
			} else {
				l.mu.Lock()
				stopped := l.stopped
				if !stopped {
					l.cur[i] = e
				}
				l.mu.Unlock()
				if stopped {
					e.conn.Close()
				}
				if !first {
					l.reconnected.Add(1)
				}
			}
			if first {
				first = false
				l.first.Done()
			}
			if err == nil {
				select {
				case <-e.done:
					backoff = time.Second
				case <-l.stop:
					return
				}
			}
			if !l.reconnect {
				return
			}
			select {
			case <-l.stop:
				return
			case <-time.After(backoff):
			}
			if err != nil {
				backoff = min(2*backoff, 8*time.Second)
			}
		}
	}()
}

// all lists the current connections (nil where none).
func (l *links) all() []*emu {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*emu(nil), l.cur...)
}

// close ends every link.
func (l *links) close() {
	l.mu.Lock()
	l.stopped = true
	close(l.stop)
	for _, e := range l.cur {
		if e != nil {
			e.conn.Close()
		}
	}
	l.mu.Unlock()
	l.wg.Wait()
}
