// Command loadtest holds the Go parts of scripts/loadtest.sh:
//
//   - setup prepares a running engine for a load test over its HTTP API (an owner, a business
//     with products, customers with access tokens and one order each) and writes vegeta
//     target files for creating and reading orders;
//   - bare serves a trivial Echo handler, the reference against which reading an order is
//     judged;
//   - settle waits until the engine's read models have caught up, between measurements;
//   - report turns vegeta's JSON reports and the pgbench ceiling into a markdown table.
//
// It is not a load generator (vegeta is) and it imports nothing of the engine: it speaks to
// it only over HTTP, as any client would.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Usage: loadtest COMMAND [options]

Commands:
  setup   --base URL --out DIR   prepare an engine and write vegeta targets to DIR
  bare    --addr ADDR            serve GET / with a small JSON answer until SIGTERM
  settle  --base URL             wait until every projection has caught up
  report  --dir DIR ...          print the markdown table of a finished run

Run "loadtest COMMAND -h" for the options of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "setup":
		err = runSetup(ctx, args)
	case "bare":
		err = runBare(ctx, args)
	case "settle":
		err = runSettle(ctx, args)
	case "report":
		err = runReport(args)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "loadtest: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}

	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadtest: %v\n", err)
		if errors.Is(err, errTargetMissed) {
			os.Exit(3)
		}
		os.Exit(1)
	}
}

// parseFlags parses args into fs, reporting usage errors on stderr.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}
