package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// Paths of the files under test, relative to this package's directory, where
// go test runs.
const (
	repoRoot       = ".."
	composeFile    = "docker-compose.staging.yml" // relative to repoRoot
	envExample     = "staging.env.example"
	prometheusYML  = "prometheus/prometheus.yml"
	alertsYML      = "prometheus/alerts.yml"
	alertsTestYML  = "prometheus/alerts_test.yml"
	dashboardJSON  = "grafana/dashboards/engine.json"
	datasourceYML  = "grafana/provisioning/datasources/prometheus.yml"
	setupStep      = "scripts/setup.d/30-observability.sh"
	engineJobLabel = "engine"
)

// engineMetrics lists the metric families the engine exports. Dashboards and
// alerts may query these and nothing else (plus "up", which Prometheus adds).
var engineMetrics = []string{
	"http_requests_total",
	"commands_total",
	"events_appended_total",
	"projection_position",
	"projection_head_position",
	"projection_lag_events",
	"projection_lag_seconds",
	"projection_events_applied_total",
	"projection_handler_errors_total",
	"projection_rebuild_progress_ratio",
	"webhook_notifications_total",
	"payment_inbox_backlog",
	"payment_dead_letters",
	"orders_by_status",
	"payments_by_status",
	"db_pool_acquired_conns",
	"db_pool_idle_conns",
	"db_pool_total_conns",
	"db_pool_max_conns",
	"backup_last_success_timestamp_seconds",

	// The Go runtime and process collectors of client_golang.
	"go_goroutines",
	"go_threads",
	"go_info",
	"go_memstats_alloc_bytes",
	"go_memstats_heap_alloc_bytes",
	"go_memstats_heap_inuse_bytes",
	"go_memstats_sys_bytes",
	"process_cpu_seconds_total",
	"process_resident_memory_bytes",
	"process_virtual_memory_bytes",
	"process_open_fds",
	"process_max_fds",
	"process_start_time_seconds",
}

// engineHistograms and engineSummaries are exported with the usual series
// suffixes.
var (
	engineHistograms = []string{"http_request_duration_seconds"}
	engineSummaries  = []string{"go_gc_duration_seconds"}
)

// allowedMetricNames returns every series name that a query may select.
func allowedMetricNames() map[string]bool {
	names := map[string]bool{"up": true}
	for _, name := range engineMetrics {
		names[name] = true
	}
	for _, name := range engineHistograms {
		names[name+"_bucket"] = true
		names[name+"_sum"] = true
		names[name+"_count"] = true
	}
	for _, name := range engineSummaries {
		names[name] = true
		names[name+"_sum"] = true
		names[name+"_count"] = true
	}
	return names
}

// requireTool returns the path of an executable. Where it is missing the test
// fails under CI=true, since the setup step should have installed it, and is
// skipped elsewhere with a note on how to install it.
func requireTool(t *testing.T, name string) string {
	t.Helper()

	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s is not installed; run %s", name, setupStep)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// composeCommand returns the argv prefix of a docker compose implementation:
// docker-compose v1 where installed, else the docker compose v2 plugin.
func composeCommand(t *testing.T) []string {
	t.Helper()

	if path, err := exec.LookPath("docker-compose"); err == nil {
		return []string{path}
	}
	if docker, err := exec.LookPath("docker"); err == nil {
		if exec.CommandContext(t.Context(), docker, "compose", "version").Run() == nil {
			return []string{docker, "compose"}
		}
	}
	requireTool(t, "docker-compose")
	return nil
}

// run runs a command in dir with extra environment and returns its combined
// output, failing the test when the command fails.
func run(t *testing.T, dir string, env []string, argv ...string) string {
	t.Helper()

	out, err := runCommand(t, dir, env, argv...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return out
}

// runCommand runs a command with a two-minute limit and returns its combined
// output and error.
func runCommand(t *testing.T, dir string, env []string, argv ...string) (string, error) {
	t.Helper()

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// envWithout returns the process environment less the named variables, so a
// developer's own settings cannot leak into a command under test.
func envWithout(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			env = append(env, kv)
		}
	}
	return env
}

func readFile(t *testing.T, path string) string {
	t.Helper()

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPrometheusConfig_PassesPromtoolCheck(t *testing.T) {
	promtool := requireTool(t, "promtool")

	out := run(t, ".", nil, promtool, "check", "config", prometheusYML)
	if !strings.Contains(out, "1 rule files found") {
		t.Errorf("prometheus.yml should load alerts.yml:\n%s", out)
	}
}

func TestAlertRules_PassPromtoolCheck(t *testing.T) {
	promtool := requireTool(t, "promtool")

	run(t, ".", nil, promtool, "check", "rules", alertsYML)
}

func TestAlertRules_FireAndStayQuietAsTheirUnitTestsExpect(t *testing.T) {
	promtool := requireTool(t, "promtool")

	run(t, "prometheus", nil, promtool, "test", "rules", filepath.Base(alertsTestYML))
}

// exampleEnv parses staging.env.example into its settings, in file order, and
// the comment block above each.
type envSetting struct {
	Name, Value, Doc string
	Line             int
}

func exampleEnv(t *testing.T) []envSetting {
	t.Helper()

	var (
		settings []envSetting
		doc      []string
	)
	sc := bufio.NewScanner(strings.NewReader(readFile(t, envExample)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			doc = nil
		case strings.HasPrefix(line, "#"):
			doc = append(doc, strings.TrimSpace(strings.TrimPrefix(line, "#")))
		default:
			name, value, ok := strings.Cut(line, "=")
			if !ok || !regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`).MatchString(name) {
				t.Fatalf("%s:%d: want KEY=value, got %q", envExample, n, line)
			}
			settings = append(settings, envSetting{name, value, strings.Join(doc, " "), n})
			doc = nil
		}
	}
	return settings
}

func TestStagingEnvExample_DocumentsEverySetting(t *testing.T) {
	settings := exampleEnv(t)
	text := readFile(t, envExample)

	defined := map[string]bool{}
	for _, s := range settings {
		if defined[s.Name] {
			t.Errorf("%s:%d: %s is set twice", envExample, s.Line, s.Name)
		}
		defined[s.Name] = true
		if len(s.Doc) < 20 {
			t.Errorf("%s:%d: %s needs a comment above it that says what it is", envExample, s.Line, s.Name)
		}
		if strings.ContainsAny(s.Value, `"' `) {
			t.Errorf("%s:%d: %s: compose v1 keeps quotes and spaces literally", envExample, s.Line, s.Name)
		}
	}

	// Settings that the compose file sets for the engine are explained in a
	// comment; a value in the file would be silently overridden.
	setByCompose := []string{
		"HTTP_ADDR", "DATABASE_URL", "DATA_DIR", "REDIS_URL", "UPLOADS_DIR", "BACKUP_STATUS_FILE",
	}
	for _, name := range setByCompose {
		if defined[name] {
			t.Errorf("%s sets %s, which docker-compose.staging.yml overrides", envExample, name)
		}
		if !regexp.MustCompile(`(?m)^# ` + name + `: \S`).MatchString(text) {
			t.Errorf("%s does not explain %s in a '# %s: ...' comment", envExample, name, name)
		}
	}
	read := map[string]bool{}
	for _, name := range engineSettings(t) {
		read[name] = true
		if !defined[name] && !regexp.MustCompile(`(?m)^# `+name+`: \S`).MatchString(text) {
			t.Errorf("%s neither sets nor explains the engine setting %s", envExample, name)
		}
	}

	// Every ${VAR} that the compose file interpolates comes from the env file
	// or from the deploy script.
	fromScript := map[string]bool{"ENGINE_IMAGE": true, "ENGINE_REVISION": true, "STAGING_ENV_FILE": true}
	compose := readFile(t, filepath.Join(repoRoot, composeFile))
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(compose, -1) {
		read[m[1]] = true
		if !defined[m[1]] && !fromScript[m[1]] {
			t.Errorf("%s interpolates ${%s}, which %s does not set", composeFile, m[1], envExample)
		}
	}

	// And nothing in the file is a setting that no one reads.
	for _, s := range settings {
		if !read[s.Name] {
			t.Errorf("%s:%d: neither the engine nor the compose file reads %s", envExample, s.Line, s.Name)
		}
	}
}

// engineSettings returns the environment variables that the engine reads: the
// env struct tags of cmd/engine.
func engineSettings(t *testing.T) []string {
	t.Helper()

	files, err := filepath.Glob(filepath.Join(repoRoot, "cmd", "engine", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var names []string
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		for _, m := range regexp.MustCompile(`env:"([A-Z][A-Z0-9_]*)`).FindAllStringSubmatch(readFile(t, file), -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				names = append(names, m[1])
			}
		}
	}
	// The settings named in the engine's specification, whether or not the
	// code reads them yet.
	for _, name := range []string{
		"HTTP_ADDR", "DATABASE_URL", "DATA_DIR", "APP_ENV", "JWT_SECRET", "REDIS_URL", "CORS_ORIGINS",
		"UPLOADS_DIR", "MERCADOPAGO_ACCESS_TOKEN", "MERCADOPAGO_WEBHOOK_SECRET", "PUBLIC_BASE_URL",
		"PROJECTION_POLL_INTERVAL", "LOG_LEVEL", "BACKUP_STATUS_FILE",
	} {
		if !seen[name] {
			names = append(names, name)
		}
	}
	return names
}

// composeConfig runs `docker compose config` on the staging compose file with
// the example settings and extra arguments.
func composeConfig(t *testing.T, args ...string) string {
	t.Helper()

	var names []string
	for _, s := range exampleEnv(t) {
		names = append(names, s.Name)
	}
	argv := append(composeCommand(t), "-f", composeFile, "--env-file", "deploy/"+envExample, "config")
	argv = append(argv, args...)

	cmd := exec.CommandContext(t.Context(), argv[0], argv[1:]...)
	cmd.Dir = repoRoot
	cmd.Env = append(envWithout(append(names, "ENGINE_IMAGE", "STAGING_ENV_FILE", "COMPOSE_FILE")...),
		"STAGING_ENV_FILE=deploy/"+envExample)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, stderr.String())
	}
	return string(out)
}

func TestComposeFile_IsValidWithTheExampleSettings(t *testing.T) {
	out := composeConfig(t)

	// The service blocks of the canonical output, which both compose
	// versions print with two-space indentation.
	healthchecks := map[string]bool{}
	var service string
	inServices := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case line == "services:":
			inServices = true
		case line != "" && !strings.HasPrefix(line, " "):
			inServices = false
		case inServices && regexp.MustCompile(`^  [a-z0-9_-]+:$`).MatchString(line):
			service = strings.TrimSuffix(strings.TrimSpace(line), ":")
			healthchecks[service] = false
		case inServices && strings.HasPrefix(line, "    healthcheck:"):
			healthchecks[service] = true
		}
	}

	want := []string{"engine", "grafana", "postgres", "prometheus", "redis"}
	var got []string
	for name := range healthchecks {
		got = append(got, name)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("services = %v, want %v", got, want)
	}
	for name, ok := range healthchecks {
		if !ok {
			t.Errorf("service %s has no health check", name)
		}
	}

	for _, want := range []string{
		"DATABASE_URL: postgres://comanda:change-me@postgres:5432/comanda?sslmode=disable",
		"condition: service_healthy",
		"/usr/local/bin/engine",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("compose config lacks %q", want)
		}
	}
}

func TestComposeFile_KeepsStateInNamedVolumes(t *testing.T) {
	out := composeConfig(t, "--volumes")

	got := strings.Fields(out)
	sort.Strings(got)
	want := []string{"backups", "grafana-data", "postgres-data", "prometheus-data", "redis-data", "uploads"}
	if !slices.Equal(got, want) {
		t.Errorf("volumes = %v, want %v", got, want)
	}
}

// Grafana dashboard JSON, as far as the tests read it.
type (
	dashboard struct {
		UID           string  `json:"uid"`
		Title         string  `json:"title"`
		SchemaVersion int     `json:"schemaVersion"`
		Panels        []panel `json:"panels"`
	}
	panel struct {
		ID         int            `json:"id"`
		Type       string         `json:"type"`
		Title      string         `json:"title"`
		GridPos    gridPos        `json:"gridPos"`
		Datasource *datasourceRef `json:"datasource"`
		Targets    []target       `json:"targets"`
	}
	gridPos struct {
		H int `json:"h"`
		W int `json:"w"`
		X int `json:"x"`
		Y int `json:"y"`
	}
	datasourceRef struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	target struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	}
)

func loadDashboard(t *testing.T) dashboard {
	t.Helper()

	var d dashboard
	if err := json.Unmarshal([]byte(readFile(t, dashboardJSON)), &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardJSON, err)
	}
	return d
}

// dashboardQueries returns every PromQL expression of the dashboard, keyed by
// "panel title/refId".
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()

	queries := map[string]string{}
	for _, p := range loadDashboard(t).Panels {
		for _, tg := range p.Targets {
			queries[p.Title+"/"+tg.RefID] = tg.Expr
		}
	}
	return queries
}

func TestDashboard_IsValidGrafanaJSON(t *testing.T) {
	d := loadDashboard(t)

	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("dashboard needs uid, title and schemaVersion; got %q, %q, %d", d.UID, d.Title, d.SchemaVersion)
	}

	m := regexp.MustCompile(`(?m)^\s*uid:\s*(\S+)`).FindStringSubmatch(readFile(t, datasourceYML))
	if m == nil {
		t.Fatalf("%s gives the datasource no uid", datasourceYML)
	}
	datasourceUID := m[1]

	ids := map[int]bool{}
	occupied := map[[2]int]string{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true

		g := p.GridPos
		if g.W < 1 || g.H < 1 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q has gridPos %+v outside the 24-column grid", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := occupied[[2]int{x, y}]; ok {
					t.Fatalf("panels %q and %q overlap at (%d,%d)", other, p.Title, x, y)
				}
				occupied[[2]int{x, y}] = p.Title
			}
		}

		if p.Type == "row" {
			continue
		}
		if p.Title == "" || len(p.Targets) == 0 {
			t.Errorf("panel %d needs a title and at least one query", p.ID)
		}
		if p.Datasource == nil || p.Datasource.UID != datasourceUID {
			t.Errorf("panel %q does not use the provisioned datasource %q", p.Title, datasourceUID)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.Expr == "" || tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: each query needs an expression and its own refId", p.Title)
			}
			refs[tg.RefID] = true
			if tg.Datasource == nil || tg.Datasource.UID != datasourceUID {
				t.Errorf("panel %q/%s does not use datasource %q", p.Title, tg.RefID, datasourceUID)
			}
		}
	}
}

func TestDashboard_ShowsEveryRequiredSignal(t *testing.T) {
	var all strings.Builder
	for _, expr := range dashboardQueries(t) {
		all.WriteString(expr + "\n")
	}
	text := all.String()

	required := map[string]string{
		"traffic":             "rate(http_requests_total",
		"5xx error rate":      `code=~"5.."`,
		"latency p50":         "histogram_quantile(0.5,",
		"latency p95":         "histogram_quantile(0.95,",
		"latency p99":         "histogram_quantile(0.99,",
		"orders by status":    "orders_by_status",
		"payments by status":  "payments_by_status",
		"projection lag":      "projection_lag_events",
		"projection lag time": "projection_lag_seconds",
		"inbox backlog":       "payment_inbox_backlog",
		"dead letters":        "payment_dead_letters",
		"commands by outcome": "sum by (outcome) (rate(commands_total",
		"db pool in use":      "db_pool_acquired_conns",
		"db pool size":        "db_pool_max_conns",
		"goroutines":          "go_goroutines",
		"memory":              "process_resident_memory_bytes",
	}
	for signal, fragment := range required {
		if !strings.Contains(text, fragment) {
			t.Errorf("no dashboard query shows %s (looked for %q)", signal, fragment)
		}
	}
}
