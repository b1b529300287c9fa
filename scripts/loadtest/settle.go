package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// health is the part of GET /health that settle reads.
type health struct {
	Head        int64 `json:"head_position"`
	Projections []struct {
		Name      string `json:"name"`
		LagEvents int64  `json:"lag_events"`
	} `json:"projections"`
}

// lag is the largest number of events any projection is behind, and that projection's name.
func (h health) lag() (int64, string) {
	var most int64
	name := ""
	for _, p := range h.Projections {
		if p.LagEvents > most {
			most, name = p.LagEvents, p.Name
		}
	}
	return most, name
}

// runSettle waits until every projection of the engine at --base has caught up with the event
// store, so the next measurement does not pay for the previous one's backlog, and prints how
// far behind they were and how long they took.
func runSettle(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("settle", flag.ContinueOnError)
	base := fs.String("base", "", "base URL of the engine")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait at most")
	label := fs.String("after", "", "what ran before, for the printed sentence")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *base == "" {
		return errors.New("settle: --base is required")
	}
	c := &client{base: strings.TrimRight(*base, "/"), http: &http.Client{Timeout: 10 * time.Second}}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()
	var first int64 = -1
	var firstName string
	for {
		var h health
		if err := c.call(ctx, http.MethodGet, "/health", "", nil, nil, http.StatusOK, &h); err != nil {
			return fmt.Errorf("settle: %w", err)
		}
		lag, name := h.lag()
		if first < 0 {
			first, firstName = lag, name
		}
		if lag == 0 {
			if first == 0 {
				fmt.Printf("After %s the read models had caught up.\n", *label)
			} else {
				fmt.Printf("After %s the %s read model was %d events behind and caught up in %.1f s.\n",
					*label, firstName, first, time.Since(start).Seconds())
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("settle: the %s read model is still %d events behind after %s",
				name, lag, *timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
