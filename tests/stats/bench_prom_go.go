// Reference for bench_prom: Go's expfmt.TextParser (what Prometheus itself
// uses to scrape) on the same file. Prints the best MB/s of several runs.
package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/common/expfmt"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench_prom_go FILE [RUNS]")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runs := 20
	if len(os.Args) > 2 {
		runs, _ = strconv.Atoi(os.Args[2])
	}
	best := 0.0
	for i := 0; i < runs; i++ {
		var parser expfmt.TextParser
		start := time.Now()
		families, err := parser.TextToMetricFamilies(bytes.NewReader(data))
		elapsed := time.Since(start).Seconds()
		if err != nil {
			fmt.Fprintln(os.Stderr, "parse:", err)
			os.Exit(1)
		}
		if len(families) == 0 {
			fmt.Fprintln(os.Stderr, "parse: no families")
			os.Exit(1)
		}
		if mbps := float64(len(data)) / 1e6 / elapsed; mbps > best {
			best = mbps
		}
	}
	fmt.Printf("%.3f\n", best)
}
