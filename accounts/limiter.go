package accounts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Limiter decides whether one more attempt under key may go ahead. When it
// may not, retryAfter says how long to wait. Every call counts as an attempt.
type Limiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// LimiterConfig chooses and sizes a Limiter.
type LimiterConfig struct {
	// RedisURL, when set, shares the limits between every engine instance
	// through Redis; otherwise each process keeps its own.
	RedisURL string
	// Limit attempts are allowed per Window, in bursts of up to Limit.
	Limit  int
	Window time.Duration
	// Now is the in-process limiter's clock; time.Now when nil.
	Now func() time.Time
}

// OpenLimiter returns the Limiter that cfg describes and a function that
// releases it. A Redis limiter checks that the server answers first.
func OpenLimiter(ctx context.Context, cfg LimiterConfig) (Limiter, func() error, error) {
	if cfg.Limit <= 0 || cfg.Window <= 0 {
		return nil, nil, fmt.Errorf("rate limit %d per %s: both must be positive", cfg.Limit, cfg.Window)
	}
	if cfg.RedisURL == "" {
		now := cfg.Now
		if now == nil {
			now = time.Now
		}
		return NewMemoryLimiter(cfg.Limit, cfg.Window, now), func() error { return nil }, nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		// The URL may hold a password, so it is not repeated.
		return nil, nil, errors.New("REDIS_URL is not a valid redis:// or rediss:// URL")
	}
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("reach redis at %s: %w", opts.Addr, err)
	}
	return NewRedisLimiter(client, cfg.Limit, cfg.Window), client.Close, nil
}

// MemoryLimiter is a Limiter that keeps a token bucket per key in this
// process. Buckets idle for a whole window are full again, so they are
// dropped; memory grows only with the keys seen within about one window.
type MemoryLimiter struct {
	every  rate.Limit
	burst  int
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	limiter  *rate.Limiter
	lastSeen time.Time
}

// NewMemoryLimiter allows limit attempts per window for each key, at most
// limit at once, on the clock now.
func NewMemoryLimiter(limit int, window time.Duration, now func() time.Time) *MemoryLimiter {
	return &MemoryLimiter{
		every:   rate.Limit(float64(limit) / window.Seconds()),
		burst:   limit,
		window:  window,
		now:     now,
		buckets: map[string]*bucket{},
	}
}

// Allow implements Limiter; it never fails.
func (l *MemoryLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()

	if now.Sub(l.lastSweep) >= l.window {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{limiter: rate.NewLimiter(l.every, l.burst)}
		l.buckets[key] = b
	}
	b.lastSeen = now

	r := b.limiter.ReserveN(now, 1)
	if !r.OK() {
		return false, l.window, nil
	}
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return false, wait, nil
	}
	return true, 0, nil
}

// sweep drops the buckets idle for a window or more; l.mu is held.
func (l *MemoryLimiter) sweep(now time.Time) {
	for key, b := range l.buckets {
		if now.Sub(b.lastSeen) >= l.window {
			delete(l.buckets, key)
		}
	}
	l.lastSweep = now
}

// Len returns how many keys the limiter keeps a bucket for.
func (l *MemoryLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// RedisLimiter is a Limiter whose buckets live in Redis (the GCRA of
// redis_rate), so every engine instance sharing the server shares the limits.
type RedisLimiter struct {
	limiter *redis_rate.Limiter
	limit   redis_rate.Limit
}

// NewRedisLimiter allows limit attempts per window for each key, at most
// limit at once, counted in the Redis server client talks to.
func NewRedisLimiter(client redis.UniversalClient, limit int, window time.Duration) *RedisLimiter {
	return &RedisLimiter{
		limiter: redis_rate.NewLimiter(client),
		limit:   redis_rate.Limit{Rate: limit, Burst: limit, Period: window},
	}
}

// Allow implements Limiter.
func (l *RedisLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	res, err := l.limiter.Allow(ctx, key, l.limit)
	if err != nil {
		return false, 0, fmt.Errorf("check rate limit in redis: %w", err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, res.RetryAfter, nil
}
