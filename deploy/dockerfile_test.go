package deploy_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDockerfile_BuildsAStaticNonRootImageWithAHealthCheck(t *testing.T) {
	text := readFile(t, filepath.Join(repoRoot, "Dockerfile"))

	for _, want := range []string{
		"FROM golang:1.26 AS build",
		"--mount=type=cache,target=/go/pkg/mod",
		"CGO_ENABLED=0",
		"-trimpath",
		"./cmd/engine",
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"USER 65532:65532",
		"EXPOSE 8080",
		`HEALTHCHECK`,
		`"healthcheck", "--url", "http://127.0.0.1:8080/health"`,
		`ENTRYPOINT ["/usr/local/bin/engine"]`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// dockerignore holds the patterns of .dockerignore, in the subset of the
// syntax the file uses: paths relative to the context root, globs, and a
// leading **/ for "at any depth".
type dockerignore []string

func loadDockerignore(t *testing.T) dockerignore {
	t.Helper()

	var patterns dockerignore
	for _, line := range strings.Split(readFile(t, filepath.Join(repoRoot, ".dockerignore")), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") || strings.Contains(strings.TrimPrefix(line, "**/"), "**") {
			t.Fatalf(".dockerignore pattern %q is outside the subset this test understands", line)
		}
		patterns = append(patterns, strings.TrimSuffix(line, "/"))
	}
	return patterns
}

// excludes reports whether a slash-separated path relative to the context
// root, or one of its parent folders, matches a pattern.
func (d dockerignore) excludes(rel string) bool {
	parts := strings.Split(rel, "/")
	for _, pattern := range d {
		anyDepth := strings.HasPrefix(pattern, "**/")
		pattern = strings.TrimPrefix(pattern, "**/")
		for end := 1; end <= len(parts); end++ {
			starts := []int{0}
			if anyDepth {
				starts = starts[:0]
				for i := range end {
					starts = append(starts, i)
				}
			}
			for _, start := range starts {
				if ok, _ := filepath.Match(pattern, strings.Join(parts[start:end], "/")); ok {
					return true
				}
			}
		}
	}
	return false
}

func TestDockerignore_MatchesLikeDocker(t *testing.T) {
	d := dockerignore{".git", "**/*_test.go", "coverage.*", "deploy/staging.env"}
	cases := map[string]bool{
		".git/HEAD":              true,
		"domain/order_test.go":   true,
		"order_test.go":          true,
		"coverage.out":           true,
		"domain/coverage.out":    false,
		"deploy/staging.env":     true,
		"deploy/staging.env.txt": false,
		"domain/order.go":        false,
	}
	for path, want := range cases {
		if got := d.excludes(path); got != want {
			t.Errorf("excludes(%q) = %v, want %v", path, got, want)
		}
	}
}

// copyContext copies the repository into dir, leaving out what .dockerignore
// excludes: the files docker would send as the build context.
func copyContext(t *testing.T, ignore dockerignore, dir string) {
	t.Helper()

	err := filepath.WalkDir(repoRoot, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repoRoot, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if ignore.excludes(rel) {
			if entry.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dir, rel)
		if entry.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !entry.Type().IsRegular() {
			return nil
		}
		return copyFile(path, target)
	})
	if err != nil {
		t.Fatalf("copy the build context: %v", err)
	}
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()

	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		return err
	}
	return dst.Close()
}

// TestDockerfile_BuildCommandWorksOnTheBuildContext runs the Dockerfile's go
// build on exactly the files .dockerignore lets through, since no Docker
// engine is at hand to run the image build itself.
func TestDockerfile_BuildCommandWorksOnTheBuildContext(t *testing.T) {
	text := readFile(t, filepath.Join(repoRoot, "Dockerfile"))
	m := regexp.MustCompile(`(?m)^\s*go build (.*) -o /out/engine (\./cmd/engine)\s*$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("Dockerfile has no `go build ... -o /out/engine ./cmd/engine` line")
	}
	// Shell words of the flags; a quoted part such as -ldflags='-s -w' stays
	// one word.
	var flags []string
	for _, word := range regexp.MustCompile(`(?:[^\s']|'[^']*')+`).FindAllString(m[1], -1) {
		flags = append(flags, strings.ReplaceAll(word, "'", ""))
	}

	dir := t.TempDir()
	copyContext(t, loadDockerignore(t), dir)
	for _, required := range []string{"go.mod", "go.sum", "cmd/engine"} {
		if _, err := os.Stat(filepath.Join(dir, required)); err != nil {
			t.Fatalf(".dockerignore leaves %s out of the build context", required)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	args := append([]string{"build"}, flags...)
	args = append(args, "-o", filepath.Join(t.TempDir(), "engine"), m[2])
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
