package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// grafanaVariables are the Grafana macros the dashboard may use, with the
// values the tests substitute before Prometheus sees a query.
var grafanaVariables = map[string]string{
	"$__rate_interval": "1m",
	"$__interval":      "15s",
	"$__range":         "1h",
}

// requiredAlerts are the alerts the staging stack must define.
var requiredAlerts = []string{
	"BackupStale",
	"EngineDown",
	"EngineHighErrorRate",
	"EngineHighLatencyP99",
	"PaymentDeadLetters",
	"PaymentInboxBacklog",
	"ProjectionHandlerErrors",
	"ProjectionLagEvents",
	"ProjectionLagSeconds",
}

// prometheusServer is a real prometheus process started for one test.
type prometheusServer struct {
	baseURL string
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()

	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// syncBuffer collects a process's output while a test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProcess starts argv in dir, in its own process group, with extra
// environment and its output in a buffer. When the test ends the group gets
// SIGTERM, the process grace to exit, and whatever is left SIGKILL.
func startProcess(t *testing.T, dir string, env []string, grace time.Duration, argv ...string) (
	*syncBuffer, <-chan struct{},
) {
	t.Helper()

	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out := &syncBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = grace
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", argv[0], err)
	}

	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
		// Children that outlived their parent are stopped too.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	return out, exited
}

// startPrometheus runs prometheus with the given scrape configs (YAML list
// items, may be empty) and this package's alerting rules.
func startPrometheus(t *testing.T, scrapeConfigs string) *prometheusServer {
	t.Helper()

	bin := requireTool(t, "prometheus")
	dir := t.TempDir()
	rules := readFile(t, alertsYML)
	if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	config := "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n" +
		"rule_files:\n  - alerts.yml\n" +
		"scrape_configs:" + scrapeConfigs + "\n"
	if scrapeConfigs == "" {
		config = strings.Replace(config, "scrape_configs:", "scrape_configs: []", 1)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	out, exited := startProcess(t, dir, nil, 10*time.Second, bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)

	p := &prometheusServer{baseURL: "http://" + addr}
	waitHTTP(t, p.baseURL+"/-/ready", 30*time.Second, exited, out)
	return p
}

// waitHTTP polls url until it answers 200, failing when the process behind it
// exits or the timeout passes.
func waitHTTP(t *testing.T, url string, timeout time.Duration, exited <-chan struct{}, out *syncBuffer) {
	t.Helper()

	deadline := time.Now().Add(timeout)
	for {
		status, _, err := httpGet(t.Context(), url)
		if err == nil && status == http.StatusOK {
			return
		}
		select {
		case <-exited:
			t.Fatalf("process exited before %s answered:\n%s", url, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within %s (last: %d, %v):\n%s", url, timeout, status, err, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func httpGet(ctx context.Context, url string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// apiResponse is the envelope of every Prometheus HTTP API answer.
type apiResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

// queryResult is the data of an instant query.
type queryResult struct {
	ResultType string            `json:"resultType"`
	Result     []json.RawMessage `json:"result"`
}

// get calls an API path and returns its data, or the error Prometheus gave.
func (p *prometheusServer) get(ctx context.Context, path string, params url.Values) (json.RawMessage, error) {
	_, body, err := httpGet(ctx, p.baseURL+path+"?"+params.Encode())
	if err != nil {
		return nil, err
	}
	var resp apiResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decode %s answer %q: %w", path, body, err)
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("%s: %s", resp.ErrorType, resp.Error)
	}
	return resp.Data, nil
}

// query evaluates an instant query.
func (p *prometheusServer) query(ctx context.Context, expr string) (queryResult, error) {
	var r queryResult
	data, err := p.get(ctx, "/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(data, &r)
}

// alertRules returns the loaded alerting rules' expressions by alert name.
func (p *prometheusServer) alertRules(t *testing.T) map[string]string {
	t.Helper()

	data, err := p.get(t.Context(), "/api/v1/rules", url.Values{"type": {"alert"}})
	if err != nil {
		t.Fatalf("list rules: %v", err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Name  string `json:"name"`
				Query string `json:"query"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs[r.Name] = r.Query
		}
	}
	return exprs
}

// expandGrafanaVariables replaces the dashboard's Grafana macros with values
// Prometheus understands.
func expandGrafanaVariables(expr string) (string, error) {
	for name, value := range grafanaVariables {
		expr = strings.ReplaceAll(expr, name, value)
	}
	if strings.Contains(expr, "$") {
		return "", errors.New("uses a template variable the dashboard does not define")
	}
	return expr, nil
}

// everyQuery returns the dashboard queries (macros expanded) and the alert
// expressions, keyed by where they come from.
func everyQuery(t *testing.T, p *prometheusServer) map[string]string {
	t.Helper()

	queries := map[string]string{}
	for where, expr := range dashboardQueries(t) {
		expanded, err := expandGrafanaVariables(expr)
		if err != nil {
			t.Errorf("dashboard %s: %v", where, err)
			continue
		}
		queries["dashboard "+where] = expanded
	}
	for name, expr := range p.alertRules(t) {
		queries["alert "+name] = expr
	}
	return queries
}

func TestQueries_ParseAndSelectOnlyExportedMetrics(t *testing.T) {
	p := startPrometheus(t, "")

	var alerts []string
	for name := range p.alertRules(t) {
		alerts = append(alerts, name)
	}
	sort.Strings(alerts)
	if !slices.Equal(alerts, requiredAlerts) {
		t.Errorf("alerts = %v, want %v", alerts, requiredAlerts)
	}

	allowed := allowedMetricNames()
	for where, expr := range everyQuery(t, p) {
		if _, err := p.query(t.Context(), expr); err != nil {
			t.Errorf("%s: prometheus rejects %q: %v", where, expr, err)
		}
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: %q selects no metric", where, expr)
		}
		for _, name := range names {
			if !allowed[name] {
				t.Errorf("%s: %q is not a metric the engine exports", where, name)
			}
		}
		if !strings.Contains(expr, `job="`+engineJobLabel+`"`) {
			t.Errorf("%s: %q should select job=%q, the scrape job of prometheus.yml", where, expr, engineJobLabel)
		}
	}
}

func TestPrometheusConfig_ScrapesTheEngineAsJobEngine(t *testing.T) {
	config := readFile(t, prometheusYML)

	for _, want := range []string{"job_name: " + engineJobLabel, `targets: ["engine:8080"]`, "- alerts.yml"} {
		if !strings.Contains(config, want) {
			t.Errorf("%s lacks %q", prometheusYML, want)
		}
	}
}
