package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const (
	deployScript   = "scripts/deploy_staging.sh" // relative to repoRoot
	coverageScript = "scripts/coverage_floor.sh" // relative to repoRoot
)

func TestShellScripts_PassShellcheck(t *testing.T) {
	shellcheck := requireTool(t, "shellcheck")

	run(t, repoRoot, nil, shellcheck, "--severity=style", deployScript, coverageScript, setupStep)
}

// validSettings are complete staging settings that pass the deploy script's
// checks.
const validSettings = `# Test settings.
APP_ENV=staging
JWT_SECRET=0123456789abcdef0123456789abcdef
PUBLIC_BASE_URL=https://api.staging.test
MERCADOPAGO_ACCESS_TOKEN=TEST-token
MERCADOPAGO_WEBHOOK_SECRET=webhook-secret
POSTGRES_PASSWORD=secret42
GRAFANA_ADMIN_PASSWORD=grafana-secret
ENGINE_PORT=18080
`

func writeSettings(t *testing.T, text string) string {
	t.Helper()

	path := filepath.Join(t.TempDir(), "staging.env")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDeployScript_CheckRejectsIncompleteSettings(t *testing.T) {
	absExample, err := filepath.Abs(envExample)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		envFile  string
		wantErrs []string
	}{
		{"example placeholders", absExample, []string{
			"JWT_SECRET still holds the example placeholder",
			"POSTGRES_PASSWORD still holds the example placeholder",
			"GRAFANA_ADMIN_PASSWORD still holds the example placeholder",
		}},
		{"missing file", filepath.Join(t.TempDir(), "absent.env"), []string{"not found"}},
		{"short secret", writeSettings(t, strings.Replace(validSettings,
			"JWT_SECRET=0123456789abcdef0123456789abcdef", "JWT_SECRET=short", 1)),
			[]string{"JWT_SECRET must be at least 32 characters"}},
		{"missing webhook secret", writeSettings(t, strings.Replace(validSettings,
			"MERCADOPAGO_WEBHOOK_SECRET=webhook-secret\n", "", 1)),
			[]string{"MERCADOPAGO_WEBHOOK_SECRET is not set"}},
		{"wrong environment", writeSettings(t, strings.Replace(validSettings,
			"APP_ENV=staging", "APP_ENV=production", 1)),
			[]string{"APP_ENV is 'production'"}},
		{"password unsafe in a URL", writeSettings(t, strings.Replace(validSettings,
			"POSTGRES_PASSWORD=secret42", "POSTGRES_PASSWORD=p@ss/word", 1)),
			[]string{"POSTGRES_PASSWORD may hold only letters and digits"}},
		{"shell syntax", writeSettings(t, validSettings+"export LOG_LEVEL=debug\n"),
			[]string{"expected KEY=value"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := runCommand(t, repoRoot, nil, "bash", deployScript, "--env-file", c.envFile, "--check")
			if err == nil {
				t.Fatalf("--check accepted the settings:\n%s", out)
			}
			for _, want := range c.wantErrs {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestDeployScript_CheckAcceptsCompleteSettings(t *testing.T) {
	composeCommand(t)

	out := run(t, repoRoot, envWithout("STAGING_ENV_FILE"),
		"bash", deployScript, "--env-file", writeSettings(t, validSettings), "--check")
	if !strings.Contains(out, "is valid") {
		t.Errorf("unexpected output:\n%s", out)
	}
}

func TestDeployScript_HelpDescribesEveryCommand(t *testing.T) {
	out := run(t, repoRoot, nil, "bash", deployScript, "--help")

	for _, want := range []string{"--check", "--down", "--logs [SERVICE]", "--env-file", "--help"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help does not mention %s", want)
		}
	}
	if _, err := runCommand(t, repoRoot, nil, "bash", deployScript, "--no-such-flag"); err == nil {
		t.Error("an unknown flag was accepted")
	}
}

// fakeDocker stands in for the docker CLI. It records every call with the
// ENGINE_IMAGE it saw, answers as if the engine container ran
// comanda-engine:previous and every service were healthy, and fails the call
// whose arguments contain $FAKE_DOCKER_FAIL.
const fakeDocker = `#!/usr/bin/env bash
printf '%s|%s\n' "${ENGINE_IMAGE:-}" "$*" >>"$FAKE_LOG"
if [[ -n ${FAKE_DOCKER_FAIL:-} && "$*" == *"$FAKE_DOCKER_FAIL"* ]]; then
	exit 1
fi
case "$*" in
*" ps -q "*) echo "container-${!#}" ;;
inspect*Config.Image*) echo comanda-engine:previous ;;
inspect*) echo healthy ;;
esac
`

// fakeGo stands in for the go command that runs the smoke tests.
const fakeGo = `#!/usr/bin/env bash
printf 'go|%s|%s\n' "$SMOKE_BASE_URL" "$*" >>"$FAKE_LOG"
exit "${FAKE_SMOKE_EXIT:-0}"
`

type deployRun struct {
	err      error
	output   string
	calls    []string
	stateDir string
}

// runDeploy runs a full deploy against the fake docker and go commands.
func runDeploy(t *testing.T, failDockerCall string, smokeExit string) deployRun {
	t.Helper()

	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, script := range map[string]string{"docker": fakeDocker, "go": fakeGo} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(dir, "calls.log")
	state := filepath.Join(dir, "state")

	// Later entries win over the process environment; empty ones count as
	// unset for the script.
	env := []string{
		"ENGINE_IMAGE=", "SMOKE_BASE_URL=", "STAGING_ENV_FILE=",
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"FAKE_LOG=" + log,
		"FAKE_DOCKER_FAIL=" + failDockerCall,
		"FAKE_SMOKE_EXIT=" + smokeExit,
		"STAGING_STATE_DIR=" + state,
		"HEALTH_TIMEOUT=10",
	}
	out, err := runCommand(t, repoRoot, env, "bash", deployScript, "--env-file", writeSettings(t, validSettings))

	logged, readErr := os.ReadFile(log)
	if readErr != nil {
		t.Fatalf("no calls recorded: %v\n%s", readErr, out)
	}
	return deployRun{err: err, output: out, calls: strings.Split(strings.TrimSpace(string(logged)), "\n"),
		stateDir: state}
}

// builtImage returns the tag that the deploy built.
func (d deployRun) builtImage(t *testing.T) string {
	t.Helper()

	for _, call := range d.calls {
		if m := regexp.MustCompile(`\|build .*-t (comanda-engine:\S+)`).FindStringSubmatch(call); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no image was built:\n%s", strings.Join(d.calls, "\n"))
	return ""
}

// index returns the position of the first call that has the given image and
// contains fragment, or -1.
func (d deployRun) index(image, fragment string) int {
	for i, call := range d.calls {
		img, args, _ := strings.Cut(call, "|")
		if img == image && strings.Contains(args, fragment) {
			return i
		}
	}
	return -1
}

func readState(t *testing.T, dir, name string) string {
	t.Helper()

	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func TestDeployScript_DeploysInOrderAndRecordsTheImage(t *testing.T) {
	d := runDeploy(t, "", "0")
	if d.err != nil {
		t.Fatalf("deploy failed: %v\n%s", d.err, d.output)
	}
	image := d.builtImage(t)

	if !regexp.MustCompile(`^comanda-engine:[0-9a-f]{12}(-dirty-[0-9]{14})?$`).MatchString(image) {
		t.Errorf("image %q is not tagged with the git commit", image)
	}
	steps := []int{
		d.index(image, "up -d --no-build postgres redis"),
		d.index(image, "run --rm --no-deps engine migrate"),
		d.index(image, "up -d --no-build --remove-orphans"),
		d.index("go", "test ./smoke/ -run . -count=1"),
	}
	for i, step := range steps {
		if step < 0 || (i > 0 && step < steps[i-1]) {
			t.Fatalf("steps out of order or missing %v:\n%s", steps, strings.Join(d.calls, "\n"))
		}
	}
	if d.index("go", "http://127.0.0.1:18080|") < 0 {
		t.Errorf("smoke tests did not get SMOKE_BASE_URL from ENGINE_PORT:\n%s", strings.Join(d.calls, "\n"))
	}
	if d.index("comanda-engine:previous", "up -d") >= 0 {
		t.Error("a successful deploy rolled back")
	}
	if got := readState(t, d.stateDir, "previous_image"); got != "comanda-engine:previous" {
		t.Errorf("previous_image = %q", got)
	}
	if got := readState(t, d.stateDir, "last_good_image"); got != image {
		t.Errorf("last_good_image = %q, want %q", got, image)
	}
}

func TestDeployScript_RollsBackToThePreviousImageOnFailure(t *testing.T) {
	cases := []struct {
		name, failDockerCall, smokeExit string
		wantSmoke                       bool
	}{
		{"failing smoke tests", "", "1", true},
		{"failing migration", "engine migrate", "0", false},
		{"stack that does not start", "--remove-orphans", "0", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := runDeploy(t, c.failDockerCall, c.smokeExit)
			if d.err == nil {
				t.Fatalf("deploy succeeded:\n%s", d.output)
			}

			rollback := d.index("comanda-engine:previous", "up -d --no-build engine")
			if rollback < 0 {
				t.Fatalf("no rollback to comanda-engine:previous:\n%s\n%s", strings.Join(d.calls, "\n"), d.output)
			}
			smoke := d.index("go", "./smoke/")
			if c.wantSmoke != (smoke >= 0) || smoke > rollback {
				t.Errorf("smoke tests ran=%v, want %v, before the rollback", smoke >= 0, c.wantSmoke)
			}
			if got := readState(t, d.stateDir, "last_good_image"); got != "" {
				t.Errorf("a failed deploy recorded last_good_image %q", got)
			}
			if !strings.Contains(d.output, "rolled back to comanda-engine:previous") {
				t.Errorf("output does not report the rollback:\n%s", d.output)
			}
		})
	}
}

func TestDeployScript_FailsBeforeBuildingWhenConfigIsInvalid(t *testing.T) {
	out, err := runCommand(t, repoRoot, nil, "bash", deployScript, "--env-file", envExample)
	if err == nil {
		t.Fatalf("deploy accepted the example settings:\n%s", out)
	}
	if strings.Contains(out, "building") || strings.Contains(out, "rolling back") {
		t.Errorf("deploy went past validation:\n%s", out)
	}
}

func TestCoverageFloor_PassesAndFailsPerPattern(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "cover.out")
	text := `mode: atomic
comanda/domain/order.go:10.2,12.3 8 1
comanda/domain/order.go:14.2,15.3 2 0
comanda/domain/money/money.go:3.1,4.2 10 3
comanda/domainx/x.go:1.1,2.2 50 0
comanda/eventstore/store.go:1.1,2.2 6 0
comanda/eventstore/store.go:1.1,2.2 6 4
comanda/eventstore/store.go:5.1,6.2 4 0
`
	if err := os.WriteFile(profile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name     string
		args     []string
		wantPass bool
		wantOut  string
	}{
		// domain/...: 18 of 20 statements; domainx is another package.
		{"above the floor", []string{profile, "./domain/..."}, true, "90.00% of 20 statements"},
		// A block reported by two test binaries counts once, covered.
		{"below the floor", []string{profile, "./domain/...", "./eventstore/..."}, false, "60.00% of 10 statements"},
		{"lower floor", []string{"--min", "60", profile, "./eventstore"}, true, "60.00%"},
		{"package absent from the profile", []string{profile, "./projections/..."}, false, "no statements"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := runCommand(t, repoRoot, nil, append([]string{"bash", coverageScript}, c.args...)...)
			if (err == nil) != c.wantPass {
				t.Errorf("passed = %v, want %v:\n%s", err == nil, c.wantPass, out)
			}
			if !strings.Contains(out, c.wantOut) {
				t.Errorf("output lacks %q:\n%s", c.wantOut, out)
			}
		})
	}
}
