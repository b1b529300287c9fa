package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"comanda/migrations"
	"comanda/pglocal"
)

func init() {
	extraCommands = append(extraCommands, databaseCommand)
}

func databaseCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "database", Short: "Work with the embedded database"}
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run only the embedded database in DATA_DIR, migrated, until interrupted",
		Long: "Prints the connection string as a DATABASE_URL=... line once the server is\n" +
			"ready, so psql, pg_dump or the benchmark script can use it.",
		RunE: func(c *cobra.Command, _ []string) error {
			ctx := c.Context()
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			dir, err := filepath.Abs(cfg.DataDir)
			if err != nil {
				return err
			}
			srv, err := pglocal.Start(ctx, pglocal.Config{DataDir: filepath.Join(dir, "postgres"),
				BinDir: cfg.PGBinDir, Logger: newLogger(cfg)})
			if err != nil {
				return err
			}
			//nolint:errcheck // stopping on the way out; nothing is left to report to
			defer srv.Stop(context.WithoutCancel(ctx))
			if _, err := migrations.Up(ctx, srv.URL()); err != nil {
				return err
			}
			fmt.Printf("DATABASE_URL=%s\n", srv.URL())
			<-ctx.Done()
			return nil
		},
	}
	cmd.AddCommand(serve)
	return cmd
}
