package main

import (
	"os"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// backupCollector re-exports the figures scripts/check_backup_status.sh
// writes to its Prometheus textfile, so the stale-backup alert works where
// the engine is the only thing Prometheus scrapes. With no file (or no
// backup yet) the timestamp is 0, which reads as "never backed up".
type backupCollector struct {
	path string
	desc map[string]*prometheus.Desc
}

var backupMetrics = map[string]string{
	"backup_last_success_timestamp_seconds": "Unix time of the newest backup that passed its checks.",
	"backup_last_size_bytes":                "Size of the newest backup.",
	"backup_checksum_ok":                    "1 when the newest backup matches its checksum.",
	"backup_age_seconds":                    "Age of the newest backup.",
}

func newBackupCollector(path string) *backupCollector {
	c := &backupCollector{path: path, desc: map[string]*prometheus.Desc{}}
	for name, help := range backupMetrics {
		c.desc[name] = prometheus.NewDesc(name, help, []string{"kind"}, nil)
	}
	return c
}

func (c *backupCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.desc {
		ch <- d
	}
}

func (c *backupCollector) Collect(ch chan<- prometheus.Metric) {
	families := map[string]*dto.MetricFamily{}
	if f, err := os.Open(c.path); err == nil {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, _ = parser.TextToMetricFamilies(f)
		f.Close()
	}
	for name, desc := range c.desc {
		fam, ok := families[name]
		if !ok || len(fam.GetMetric()) == 0 {
			if name == "backup_last_success_timestamp_seconds" {
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, 0, "db")
			}
			continue
		}
		for _, m := range fam.GetMetric() {
			kind := "db"
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" {
					kind = l.GetValue()
				}
			}
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, m.GetGauge().GetValue(), kind)
		}
	}
}
