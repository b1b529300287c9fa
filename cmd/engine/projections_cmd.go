package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"comanda/eventstore"
	"comanda/projections"
)

func init() {
	extraCommands = append(extraCommands, projectionsCommand, eventsCommand)
}

// ownerLock is the advisory lock a running engine holds in shared mode; a
// command that changes read models itself takes it exclusively, so it never
// races a running engine's projectors.
const ownerLock = 0x636f6d616e6461 // "comanda"

func projectionsCommand() *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "projections",
		Short: "Inspect, rebuild and verify read models",
		Long: "With --url (and ADMIN_TOKEN) the commands ask a running engine; without it they\n" +
			"work on the database directly, which is refused while an engine is running.",
	}
	cmd.PersistentFlags().StringVar(&url, "url", "", "base URL of a running engine, e.g. http://localhost:8080")
	status := &cobra.Command{
		Use:   "status",
		Short: "Show every read model's position and lag",
		RunE: func(c *cobra.Command, _ []string) error {
			if url != "" {
				return remote(c.Context(), url, http.MethodGet, "/v1/admin/projections", os.Stdout)
			}
			return withLocalManager(c.Context(), func(ctx context.Context, e *engine) error {
				sts, err := e.projections.Statuses(ctx)
				if err != nil {
					return err
				}
				return printJSON(map[string]any{"items": sts})
			})
		},
	}
	rebuild := &cobra.Command{
		Use:   "rebuild NAME",
		Short: "Rebuild a read model from the start of the log, with a progress bar",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if url != "" {
				return remoteRebuild(c.Context(), url, args[0])
			}
			return withLocalManager(c.Context(), func(ctx context.Context, e *engine) error {
				r, err := e.manager.Rebuild(ctx, args[0])
				if err != nil {
					return err
				}
				return followRebuild(ctx, func(context.Context) (projections.Progress, error) {
					return r.Progress(), nil
				})
			})
		},
	}
	verify := &cobra.Command{
		Use:   "verify NAME",
		Short: "Replay the log into scratch tables and compare them with the live ones",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if url != "" {
				return remote(c.Context(), url, http.MethodPost, "/v1/admin/projections/"+args[0]+"/verify", os.Stdout)
			}
			return withLocalManager(c.Context(), func(ctx context.Context, e *engine) error {
				v, err := e.manager.Verify(ctx, args[0])
				if err != nil {
					return err
				}
				if err := printJSON(v); err != nil {
					return err
				}
				if len(v.Differences) > 0 {
					return fmt.Errorf("%d differences found", len(v.Differences))
				}
				return nil
			})
		},
	}
	cmd.AddCommand(status, rebuild, verify)
	return cmd
}

// withLocalManager builds the engine's read models on the database without
// serving HTTP, after making sure no engine is running on it.
func withLocalManager(ctx context.Context, fn func(ctx context.Context, e *engine) error) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if os.Getenv("LOG_LEVEL") == "" {
		// The command prints its own results; the engine's start-up notes
		// would only clutter them.
		cfg.LogLevel = "error"
	}
	log := newLogger(cfg)
	e, err := buildEngine(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer e.db.Close(context.WithoutCancel(ctx))
	conn, err := e.db.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", ownerLock).Scan(&got); err != nil {
		return err
	}
	if !got {
		return errors.New("an engine is running on this database: pass --url and ADMIN_TOKEN to ask it")
	}
	//nolint:errcheck // the lock goes with the connection anyway
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", ownerLock)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.manager.Run(runCtx)
	}()
	defer func() {
		stop()
		<-done
	}()
	return fn(ctx, e)
}

func followRebuild(ctx context.Context, poll func(context.Context) (projections.Progress, error)) error {
	bar := progressbar.NewOptions64(-1, progressbar.OptionSetDescription("rebuilding"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
		progressbar.OptionSetWriter(os.Stderr), progressbar.OptionThrottle(100*time.Millisecond))
	for {
		p, err := poll(ctx)
		if err != nil {
			return err
		}
		total := p.EventsDone + p.EventsRemaining
		if total > 0 {
			bar.ChangeMax64(total)
		}
		_ = bar.Set64(p.EventsDone)
		switch p.State {
		case "completed":
			_ = bar.Finish()
			fmt.Fprintf(os.Stderr, "\n%s rebuilt as version %d: %d events at %.0f events/s\n",
				p.Projection, p.Version, p.EventsDone, p.EventsPerSecond)
			return nil
		case "failed", "cancelled":
			return fmt.Errorf("rebuild %s: %s", p.State, p.Error)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func remoteRebuild(ctx context.Context, base, name string) error {
	if err := remote(ctx, base, http.MethodPost, "/v1/admin/projections/"+name+"/rebuild", io.Discard); err != nil {
		return err
	}
	return followRebuild(ctx, func(ctx context.Context) (projections.Progress, error) {
		var rep struct {
			Rebuild *projections.Progress `json:"rebuild"`
		}
		var buf strings.Builder
		if err := remote(ctx, base, http.MethodGet, "/v1/admin/projections/"+name, &buf); err != nil {
			return projections.Progress{}, err
		}
		if err := json.Unmarshal([]byte(buf.String()), &rep); err != nil || rep.Rebuild == nil {
			return projections.Progress{}, fmt.Errorf("read rebuild progress: %w", err)
		}
		return *rep.Rebuild, nil
	})
}

// remote calls an admin route of a running engine with ADMIN_TOKEN.
func remote(ctx context.Context, base, method, path string, out io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(base, "/")+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+os.Getenv("ADMIN_TOKEN"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("call %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(body)))
	}
	_, err = io.Copy(out, resp.Body)
	return err
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func eventsCommand() *cobra.Command {
	var (
		from, to     int64
		since, until string
		out          string
	)
	cmd := &cobra.Command{Use: "events", Short: "Work with the event log"}
	export := &cobra.Command{
		Use:   "export",
		Short: "Stream the event log as JSON Lines, in position order, for auditors",
		RunE: func(c *cobra.Command, _ []string) error {
			ctx := c.Context()
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			db, err := openDatabase(ctx, cfg, newLogger(cfg))
			if err != nil {
				return err
			}
			defer db.Close(context.WithoutCancel(ctx))
			w := io.Writer(os.Stdout)
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return exportEvents(ctx, db, w, from, to, since, until)
		},
	}
	export.Flags().Int64Var(&from, "from-position", 0, "first position (inclusive)")
	export.Flags().Int64Var(&to, "to-position", 0, "last position (inclusive); 0 means the head")
	export.Flags().StringVar(&since, "since", "", "only events recorded at or after this RFC 3339 time")
	export.Flags().StringVar(&until, "until", "", "only events recorded before this RFC 3339 time")
	export.Flags().StringVarP(&out, "output", "o", "-", "file to write; - for standard output")
	cmd.AddCommand(export)
	return cmd
}

func exportEvents(ctx context.Context, db *database, w io.Writer, from, to int64, since, until string) error {
	var lo, hi *time.Time
	for _, p := range []struct {
		raw string
		dst **time.Time
	}{{since, &lo}, {until, &hi}} {
		if p.raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, p.raw)
		if err != nil {
			return fmt.Errorf("time %q: %w", p.raw, err)
		}
		*p.dst = &t
	}
	if to <= 0 {
		to = 1<<63 - 1
	}
	rows, err := db.Pool.Query(ctx, query("export_events"), from, to, lo, hi)
	if err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	for rows.Next() {
		e, err := eventstore.ScanEvent(rows)
		if err != nil {
			return err
		}
		if err := enc.Encode(map[string]any{"position": e.Position, "event_id": e.EventID,
			"stream_id": e.StreamID, "stream_type": e.StreamType, "version": e.Version,
			"type": e.Type, "schema_version": e.SchemaVersion, "data": e.Payload,
			"metadata": e.Metadata, "recorded_at": e.RecordedAt}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return bw.Flush()
}
