// Command report turns loombench's result lines into the comparison
// table of docs/PERFORMANCE.md: each controller beside the null-responder
// ceiling and the best peer.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"time"
)

type result struct {
	rate, cpuUS      float64
	p50, p99         time.Duration
	connP50, connP99 time.Duration
	connAll          time.Duration
	connected        int
	rssKB            float64
}

var (
	reRate    = regexp.MustCompile(`^reactive (\S+) switches=\d+ macs=\d+ window=(\d+): (\d+) responses/s.*?(?:\s([0-9.]+)µs/response)?(?: latency p50=(\S+) p99=(\S+))?$`)
	reConnect = regexp.MustCompile(`^connect (\S+) switches=\d+: (\d+) with initial flows(?: \(all within (\S+) of the first dial\) p50=(\S+) p99=(\S+))?.*?(?:= ([0-9.]+) KB per switch)?$`)
)

func main() {
	res := map[string]*result{}
	var order []string
	get := func(n string) *result {
		if r, ok := res[n]; ok {
			return r
		}
		res[n] = &result{}
		order = append(order, n)
		return res[n]
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		line := sc.Text()
		if m := reRate.FindStringSubmatch(line); m != nil {
			r := get(m[1])
			rate, _ := strconv.ParseFloat(m[3], 64)
			if m[2] == "1" {
				r.p50, _ = time.ParseDuration(m[5])
				r.p99, _ = time.ParseDuration(m[6])
				continue
			}
			r.rate = rate
			r.cpuUS, _ = strconv.ParseFloat(m[4], 64)
		} else if m := reConnect.FindStringSubmatch(line); m != nil {
			r := get(m[1])
			r.connected, _ = strconv.Atoi(m[2])
			r.connAll, _ = time.ParseDuration(m[3])
			r.connP50, _ = time.ParseDuration(m[4])
			r.connP99, _ = time.ParseDuration(m[5])
			r.rssKB, _ = strconv.ParseFloat(m[6], 64)
		}
	}
	ceiling := res["null"]
	best := 0.0
	for n, r := range res {
		if n != "null" && n != "loom" && r.rate > best {
			best = r.rate
		}
	}
	fmt.Println("| controller | responses/s | of ceiling | vs best peer | CPU µs/response | latency p50 / p99 | connect: with flows / all within / p99 | RSS KB/switch |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, n := range order {
		r := res[n]
		of, vs := "-", "-"
		if ceiling != nil && ceiling.rate > 0 {
			of = fmt.Sprintf("%.0f%%", 100*r.rate/ceiling.rate)
		}
		if best > 0 {
			vs = fmt.Sprintf("%.1fx", r.rate/best)
		}
		fmt.Printf("| %s | %.0f | %s | %s | %.2f | %v / %v | %d / %v / %v | %.1f |\n", n, r.rate, of, vs, r.cpuUS, r.p50, r.p99,
			r.connected, r.connAll, r.connP99, r.rssKB)
	}
}
