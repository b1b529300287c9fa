package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// vegetaReport is the part of "vegeta report -type=json" the table uses. Latencies are in
// nanoseconds; throughput counts only successful requests.
type vegetaReport struct {
	Latencies struct {
		P50 float64 `json:"50th"`
		P99 float64 `json:"99th"`
		Max float64 `json:"max"`
	} `json:"latencies"`
	Requests    int64            `json:"requests"`
	Rate        float64          `json:"rate"`
	Throughput  float64          `json:"throughput"`
	Success     float64          `json:"success"`
	StatusCodes map[string]int64 `json:"status_codes"`
	Errors      []string         `json:"errors"`
}

// errTargetMissed is returned by report --strict when a figure misses its target.
var errTargetMissed = errors.New("a target was missed")

// The targets of this machine size, stated in scripts/loadtest.sh's help.
const (
	createToCeilingTarget = 0.5
	halfRateP99Target     = 20 * time.Millisecond
	getToBareTarget       = 0.4
)

// reportConfig names the files and settings of a finished run.
type reportConfig struct {
	dir      string
	ceiling  string
	cpu      string
	notes    string
	workers  int
	duration string
	halfRate int
	strict   bool
}

// runReport prints the markdown table of the run whose vegeta reports are in --dir.
func runReport(args []string) error {
	var cfg reportConfig
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.StringVar(&cfg.dir, "dir", "", "directory with create-max.json, create-half.json, "+
		"get-max.json and bare-max.json")
	fs.StringVar(&cfg.ceiling, "ceiling", "", "KEY=VALUE results of pgbench_ceiling.sh --out")
	fs.StringVar(&cfg.cpu, "cpu", "", "KEY=VALUE CPU seconds of each attack, optional")
	fs.StringVar(&cfg.notes, "notes", "", "file of sentences to add under the table, optional")
	fs.IntVar(&cfg.workers, "workers", 0, "vegeta -max-workers of the maximum-rate attacks")
	fs.StringVar(&cfg.duration, "duration", "", "length of each attack, as given to vegeta")
	fs.IntVar(&cfg.halfRate, "half-rate", 0, "requests per second of the half-rate attack")
	fs.BoolVar(&cfg.strict, "strict", false, "fail when a figure misses its target")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if cfg.dir == "" || cfg.ceiling == "" {
		return errors.New("report: --dir and --ceiling are required")
	}

	reports := map[string]vegetaReport{}
	for _, a := range attacks {
		r, err := readVegeta(filepath.Join(cfg.dir, a.key+".json"))
		if err != nil {
			return err
		}
		reports[a.key] = r
	}
	ceil, err := readKeyValues(cfg.ceiling)
	if err != nil {
		return err
	}
	cpu := map[string]string{}
	if cfg.cpu != "" {
		if cpu, err = readKeyValues(cfg.cpu); err != nil {
			return err
		}
	}
	var notes []byte
	if cfg.notes != "" {
		if notes, err = os.ReadFile(cfg.notes); err != nil {
			return err
		}
	}
	missed := writeReport(os.Stdout, cfg, reports, ceil)
	_, _ = os.Stdout.Write(notes)
	writeCPU(os.Stdout, reports, cpu)
	if missed && cfg.strict {
		return errTargetMissed
	}
	return nil
}

func readVegeta(path string) (vegetaReport, error) {
	var r vegetaReport
	raw, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("decode %s: %w", path, err)
	}
	return r, nil
}

// readKeyValues reads KEY=VALUE lines, dropping the single quotes around quoted values.
func readKeyValues(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	values := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = strings.ReplaceAll(v[1:len(v)-1], `'\''`, `'`)
		}
		values[k] = v
	}
	return values, sc.Err()
}

// writeReport writes the table and the notes under it, and tells whether any target was
// missed.
func writeReport(w io.Writer, cfg reportConfig, r map[string]vegetaReport, ceil map[string]string) bool {
	ceilTPS, _ := strconv.ParseFloat(ceil["CEIL_INSERT1_C16_TPS"], 64)
	createMax, createHalf, getMax, bareMax := r["create-max"], r["create-half"], r["get-max"], r["bare-max"]
	maxLoad := fmt.Sprintf("rate=0, %d workers, %s", cfg.workers, cfg.duration)

	createRatio := ratio(createMax.Throughput, ceilTPS)
	getRatio := ratio(getMax.Throughput, bareMax.Throughput)
	createOK := createRatio >= createToCeilingTarget && createMax.Success == 1
	halfOK := time.Duration(createHalf.Latencies.P99) < halfRateP99Target && createHalf.Success == 1
	getOK := getRatio >= getToBareTarget && getMax.Success == 1

	fmt.Fprintln(w, "| Measurement | Load | Requests | Success | Throughput (req/s) | p50 (ms) "+
		"| p99 (ms) | Ratio | Target | Met |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|---|---|")
	fmt.Fprintf(w, "| pgbench one-row insert (ceiling) | 16 clients, %s s | – | – | %.1f | avg %s | – "+
		"| – | – | – |\n", ceil["CEIL_SECONDS"], ceilTPS, ceil["CEIL_INSERT1_C16_LATENCY_MS"])
	row(w, "create-order, maximum", maxLoad, createMax,
		fmt.Sprintf("%.2fx of pgbench", createRatio), fmt.Sprintf("≥ %.1fx", createToCeilingTarget), createOK)
	row(w, "create-order, half rate", fmt.Sprintf("%d req/s, %s", cfg.halfRate, cfg.duration), createHalf,
		"–", fmt.Sprintf("p99 < %d ms", halfRateP99Target.Milliseconds()), halfOK)
	row(w, "bare Echo GET / (ceiling)", maxLoad, bareMax, "–", "–", true)
	row(w, "get-order, maximum", maxLoad, getMax,
		fmt.Sprintf("%.2fx of bare", getRatio), fmt.Sprintf("≥ %.1fx", getToBareTarget), getOK)

	fmt.Fprintln(w)
	fmt.Fprintf(w, "Machine: %d cores (nproc), %s, %s RAM. PostgreSQL %s with fsync=%s, "+
		"synchronous_commit=%s, full_page_writes=%s.\n", runtime.NumCPU(), cpuModel(), memTotal(),
		ceil["CEIL_PG_VERSION"], ceil["CEIL_FSYNC"], ceil["CEIL_SYNCHRONOUS_COMMIT"],
		ceil["CEIL_FULL_PAGE_WRITES"])
	fmt.Fprintln(w, "The load generator (vegeta) runs on the same two cores as the engine and "+
		"PostgreSQL, so every figure above pays for it; while the bare handler is measured, the "+
		"engine and PostgreSQL are idle.")
	for _, a := range attacks {
		if rep := r[a.key]; rep.Success < 1 {
			fmt.Fprintf(w, "\n%s: %d requests failed; status codes %v; first errors: %s\n", a.label,
				rep.Requests-int64(rep.Success*float64(rep.Requests)+0.5), rep.StatusCodes,
				strings.Join(rep.Errors[:min(3, len(rep.Errors))], "; "))
		}
	}
	return !createOK || !halfOK || !getOK
}

func row(w io.Writer, name, load string, r vegetaReport, ratio, target string, met bool) {
	verdict := "yes"
	if !met {
		verdict = "**no**"
	}
	if target == "–" {
		verdict = "–"
	}
	fmt.Fprintf(w, "| %s | %s | %d | %.2f%% | %.1f | %.2f | %.2f | %s | %s | %s |\n", name, load,
		r.Requests, r.Success*100, r.Throughput, ms(r.Latencies.P50), ms(r.Latencies.P99),
		ratio, target, verdict)
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

func ms(ns float64) float64 { return ns / float64(time.Millisecond) }

// cpuModel is the first "model name" of /proc/cpuinfo, or the architecture without one.
func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for line := range strings.Lines(string(raw)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

// memTotal is MemTotal of /proc/meminfo in GiB, or "unknown".
func memTotal() string {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(raw)) {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			if kib, err := strconv.ParseFloat(fields[1], 64); err == nil {
				return fmt.Sprintf("%.1f GiB", kib/(1<<20))
			}
		}
	}
	return "unknown"
}

// attacks are the measured attacks, in the order of the table, with their names in it.
var attacks = []struct{ key, label string }{
	{"create-max", "create-order, maximum"},
	{"create-half", "create-order, half rate"},
	{"bare-max", "bare Echo GET /"},
	{"get-max", "get-order, maximum"},
}

// writeCPU writes where the CPU time of each attack went, per request, when cpu has it: the
// HTTP server (the engine, or the bare handler), PostgreSQL (every server process) and vegeta.
func writeCPU(w io.Writer, r map[string]vegetaReport, cpu map[string]string) {
	if len(cpu) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| CPU per request (µs) | HTTP server | PostgreSQL | vegeta | Total |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|")
	for _, a := range attacks {
		n := float64(r[a.key].Requests)
		if n == 0 {
			continue
		}
		prefix := "CPU_" + strings.ReplaceAll(a.key, "-", "_") + "_"
		var cells [3]float64
		for i, part := range []string{"SERVER", "POSTGRES", "VEGETA"} {
			seconds, _ := strconv.ParseFloat(cpu[prefix+part], 64)
			cells[i] = seconds / n * 1e6
		}
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.0f | %.0f |\n", a.label, cells[0], cells[1], cells[2],
			cells[0]+cells[1]+cells[2])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CPU time is read from /proc over each attack; for the engine the window lasts "+
		"until its read models have caught up, so the projectors' work is counted. The HTTP server "+
		"is the engine, or the bare handler's process in its row. The two cores give 2,000,000 "+
		"µs of CPU per second, so a request costing T µs in total cannot run faster than "+
		"2,000,000 / T per second.")
}
