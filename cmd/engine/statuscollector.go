package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"comanda/projections/orders"
)

// statusCollector reports how many orders are in each status at scrape time.
type statusCollector struct {
	orders *orders.Reader
	desc   *prometheus.Desc
}

func newStatusCollector(r *orders.Reader) *statusCollector {
	return &statusCollector{orders: r, desc: prometheus.NewDesc("orders_by_status",
		"Orders in each status, from the orders read model.", []string{"status"}, nil)}
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.orders.StatusCounts(ctx)
	if err != nil {
		return
	}
	for _, s := range []string{"placed", "confirmed", "preparing", "ready", "out_for_delivery",
		"delivered", "picked_up", "cancelled"} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[s]), s)
	}
}
