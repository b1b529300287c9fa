package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// pendingEngineMetrics are queried by the dashboard or the alerts but may be
// missing from the engine's /metrics output on a fresh start, each with the
// reason. It is empty: the engine exports every series at start-up.
var pendingEngineMetrics = map[string]string{}

// buildEngine compiles ./cmd/engine into dir.
func buildEngine(t *testing.T, dir string) string {
	t.Helper()

	bin := filepath.Join(dir, "engine")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/engine")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the engine: %v\n%s", err, out)
	}
	return bin
}

// worldReadableTempDir returns a temporary directory that the postgres system
// account can enter, which the embedded database needs when tests run as root.
func worldReadableTempDir(t *testing.T) string {
	t.Helper()

	dir, err := os.MkdirTemp("", "deploy-live-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startEngine runs `engine serve` with its embedded database and returns its
// base URL once /health answers.
func startEngine(t *testing.T) string {
	t.Helper()

	dir := worldReadableTempDir(t)
	bin := buildEngine(t, dir)
	addr := freeAddr(t)

	env := []string{
		"APP_ENV=development",
		"HTTP_ADDR=" + addr,
		"DATA_DIR=" + filepath.Join(dir, "data"),
		"UPLOADS_DIR=" + filepath.Join(dir, "uploads"),
		"DATABASE_URL=",
		"REDIS_URL=",
		"LOG_LEVEL=warn",
	}
	out, exited := startProcess(t, dir, env, 30*time.Second, bin, "serve")

	base := "http://" + addr
	waitHTTP(t, base+"/health", 2*time.Minute, exited, out)
	return base
}

// exportedNames returns the series names in a Prometheus text exposition.
func exportedNames(t *testing.T, exposition []byte) map[string]bool {
	t.Helper()

	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(exposition))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		names[name] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// waitForScrapes waits until Prometheus has scraped the engine a few times,
// so that rate() over the samples has something to work with.
func waitForScrapes(t *testing.T, p *prometheusServer) {
	t.Helper()

	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := p.query(t.Context(), `count_over_time(up{job="`+engineJobLabel+`"}[1m]) >= 3`)
		if err == nil && len(r.Result) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus did not scrape the engine three times within a minute (last error: %v)", err)
		}
		time.Sleep(500 * time.Millisecond)
	}

	r, err := p.query(t.Context(), `up{job="`+engineJobLabel+`"} == 1`)
	if err != nil || len(r.Result) == 0 {
		t.Fatalf("the engine target is not up in prometheus: %v", err)
	}
}

func TestEngine_ServesEveryQueryOfTheDashboardAndAlerts(t *testing.T) {
	requireTool(t, "prometheus")
	base := startEngine(t)

	// A little traffic, so that the HTTP series exist.
	for _, path := range []string{"/health", "/openapi.json", "/v1/no-such-route", "/health"} {
		if _, _, err := httpGet(t.Context(), base+path); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}

	status, body, err := httpGet(t.Context(), base+"/metrics")
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", status, err)
	}
	exported := exportedNames(t, body)
	exported["up"] = true

	target := strings.TrimPrefix(base, "http://")
	p := startPrometheus(t, fmt.Sprintf("\n  - job_name: %s\n    static_configs:\n      - targets: [%q]",
		engineJobLabel, target))
	waitForScrapes(t, p)

	missing := map[string][]string{}
	for where, expr := range everyQuery(t, p) {
		if _, err := p.query(t.Context(), expr); err != nil {
			t.Errorf("%s: %q: %v", where, expr, err)
			continue
		}
		for _, name := range metricNames(expr) {
			if !exported[name] {
				missing[name] = append(missing[name], where)
			}
		}
	}

	var names []string
	for name := range missing {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := pendingEngineMetrics[name]; !ok {
			sort.Strings(missing[name])
			t.Errorf("the engine's /metrics lacks %s, used by %s", name, strings.Join(missing[name], ", "))
		}
	}
	for name := range pendingEngineMetrics {
		if exported[name] {
			t.Errorf("%s is exported now: remove it from pendingEngineMetrics", name)
		}
	}
}
