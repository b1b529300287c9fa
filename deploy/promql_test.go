package deploy_test

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

// promqlKeywords are identifiers that never name a series: aggregation
// operators, which may be followed by a "by" clause instead of "(", binary
// and modifier keywords, and number literals.
var promqlKeywords = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
	"and": true, "or": true, "unless": true, "atan2": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"inf": true, "nan": true,
}

// labelListKeywords are followed by a parenthesised list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// metricNames returns the sorted series names that a PromQL expression
// selects: bare identifiers that are not functions, keywords or label names,
// and names given as {__name__="..."}. It is a lexer, not a parser; the real
// parser checks the syntax when Prometheus evaluates the expression.
func metricNames(expr string) []string {
	found := map[string]bool{}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
		case c == '{':
			end := skipBlock(expr, i, '{', '}')
			if name := nameMatcher(expr[i:end]); name != "" {
				found[name] = true
			}
			i = end
		case c == '[':
			i = skipBlock(expr, i, '[', ']')
		case isDigit(c) || (c == '.' && i+1 < len(expr) && isDigit(expr[i+1])):
			// A number or a duration: 0.99, 1e3, 0x1f, 5m.
			for i < len(expr) && (isIdentChar(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(expr) && isIdentChar(expr[i]) {
				i++
			}
			word := expr[start:i]
			next := i
			for next < len(expr) && strings.IndexByte(" \t\r\n", expr[next]) >= 0 {
				next++
			}
			followedByParen := next < len(expr) && expr[next] == '('
			lower := strings.ToLower(word)
			switch {
			case labelListKeywords[lower] && followedByParen:
				i = skipBlock(expr, next, '(', ')')
			case promqlKeywords[lower], followedByParen:
				// An operator or a function call.
			default:
				found[word] = true
			}
		default:
			i++
		}
	}

	names := make([]string, 0, len(found))
	for name := range found {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// skipString returns the index just past the string literal starting at i.
func skipString(s string, i int) int {
	quote := s[i]
	for i++; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quote != '`':
			i++
		case s[i] == quote:
			return i + 1
		}
	}
	return len(s)
}

// skipBlock returns the index just past the bracketed block starting at i,
// stepping over string literals inside it.
func skipBlock(s string, i int, open, closing byte) int {
	depth := 0
	for i < len(s) {
		switch s[i] {
		case '"', '\'', '`':
			i = skipString(s, i)
			continue
		case open:
			depth++
		case closing:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return len(s)
}

// nameMatcher returns the series name of a {__name__="..."} matcher block.
func nameMatcher(block string) string {
	_, rest, ok := strings.Cut(block, "__name__")
	if !ok {
		return ""
	}
	rest = strings.TrimLeft(rest, " \t")
	if !strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "=~") {
		return ""
	}
	rest = strings.TrimLeft(rest[1:], " \t")
	if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
		return ""
	}
	end := skipString(rest, 0)
	return rest[1 : end-1]
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

func TestMetricNames_FindsSeriesAndSkipsEverythingElse(t *testing.T) {
	cases := []struct {
		expr string
		want []string
	}{
		{`up{job="engine"} == 0`, []string{"up"}},
		{
			`histogram_quantile(0.99, sum by (le, route) ` +
				`(rate(http_request_duration_seconds_bucket[$__rate_interval])))`,
			[]string{"http_request_duration_seconds_bucket"},
		},
		{
			`sum(rate(a_total{code=~"5..",x="}"}[5m])) by (route) / ` +
				`ignoring(code) group_left sum(b) > bool 0.05`,
			[]string{"a_total", "b"},
		},
		{
			`time() - backup_last_success_timestamp_seconds > 26 * 3600`,
			[]string{"backup_last_success_timestamp_seconds"},
		},
		{`max without (instance) (x offset 5m) or vector(0) unless on (job) y`, []string{"x", "y"}},
		{
			`{__name__="named_series", job="engine"} + count(c:recorded:rate5m) + 1e3 + Inf`,
			[]string{"c:recorded:rate5m", "named_series"},
		},
		{`topk(5, sum without(le) (rate(z[1h:5m])))`, []string{"z"}},
		{`label_replace(q, "dst", "$1", "src", "(.*)")`, []string{"q"}},
	}
	for _, c := range cases {
		if got := metricNames(c.expr); !slices.Equal(got, c.want) {
			t.Errorf("metricNames(%q) = %v, want %v", c.expr, got, c.want)
		}
	}
}
