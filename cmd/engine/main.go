// Command engine runs the order engine's HTTP API and its projectors, and
// offers the administration commands (migrations, users, projections, the
// event log) as subcommands of the same binary.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"comanda/pglocal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCommand().ExecuteContext(ctx); err != nil {
		// Missing PostgreSQL binaries get one plain line, not a trace.
		if errors.Is(err, pglocal.ErrBinariesMissing) {
			fmt.Fprintln(os.Stderr, "engine:", pglocal.ErrBinariesMissing)
		} else {
			fmt.Fprintln(os.Stderr, "engine:", err)
		}
		os.Exit(1)
	}
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "engine",
		Short:         "Event-sourced order engine",
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context()) },
	}
	root.AddCommand(
		&cobra.Command{
			Use:   "serve",
			Short: "Run the HTTP API and the projectors (the default)",
			RunE:  func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context()) },
		},
		&cobra.Command{
			Use:   "migrate",
			Short: "Apply pending database migrations and exit",
			RunE:  func(cmd *cobra.Command, _ []string) error { return migrate(cmd.Context()) },
		},
		healthcheckCommand(),
	)
	for _, add := range extraCommands {
		root.AddCommand(add())
	}
	return root
}

// extraCommands are added by the files that implement them.
var extraCommands []func() *cobra.Command

func newLogger(cfg config) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
