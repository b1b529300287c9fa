package accounts_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"comanda/accounts"
	"comanda/accounts/accountstest"
)

// limiterContract is what every Limiter must do, for a limit of 3 a minute.
func limiterContract(t *testing.T, newLimiter func(t *testing.T) accounts.Limiter) {
	t.Run("AllowsTheLimitThenRefusesWithAWait", func(t *testing.T) {
		l := newLimiter(t)
		for i := range 3 {
			ok, _, err := l.Allow(t.Context(), "k")
			require.NoError(t, err)
			require.True(t, ok, "attempt %d", i+1)
		}

		ok, wait, err := l.Allow(t.Context(), "k")

		require.NoError(t, err)
		require.False(t, ok)
		require.Greater(t, wait, time.Duration(0))
		require.LessOrEqual(t, wait, time.Minute)
	})
	t.Run("CountsEachKeyApart", func(t *testing.T) {
		l := newLimiter(t)
		for range 3 {
			_, _, err := l.Allow(t.Context(), "a")
			require.NoError(t, err)
		}

		ok, _, err := l.Allow(t.Context(), "b")

		require.NoError(t, err)
		require.True(t, ok)
	})
}

func TestMemoryLimiter_Contract(t *testing.T) {
	limiterContract(t, func(*testing.T) accounts.Limiter {
		return accounts.NewMemoryLimiter(3, time.Minute, time.Now)
	})
}

func TestRedisLimiter_Contract(t *testing.T) {
	url := accountstest.StartRedis(t)
	limiterContract(t, func(t *testing.T) accounts.Limiter {
		l, closeLimiter, err := accounts.OpenLimiter(t.Context(), accounts.LimiterConfig{
			RedisURL: url, Limit: 3, Window: time.Minute,
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = closeLimiter() })
		return prefixedLimiter{l, t.Name()}
	})
}

// prefixedLimiter keeps the subtests apart in the one Redis server.
type prefixedLimiter struct {
	accounts.Limiter
	prefix string
}

func (p prefixedLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	return p.Limiter.Allow(ctx, p.prefix+":"+key)
}

func TestRedisLimiter_InstancesSharingAServerShareTheLimit(t *testing.T) {
	url := accountstest.StartRedis(t)
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	var limiters []accounts.Limiter
	for range 2 {
		client := redis.NewClient(opts)
		t.Cleanup(func() { _ = client.Close() })
		limiters = append(limiters, accounts.NewRedisLimiter(client, 4, time.Minute))
	}

	for i := range 4 {
		ok, _, err := limiters[i%2].Allow(t.Context(), "shared")
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, wait, err := limiters[0].Allow(t.Context(), "shared")

	require.NoError(t, err)
	require.False(t, ok)
	require.Greater(t, wait, time.Duration(0))
}

func TestOpenLimiter_UnreachableRedisFails(t *testing.T) {
	_, _, err := accounts.OpenLimiter(t.Context(), accounts.LimiterConfig{
		RedisURL: "redis://127.0.0.1:1/0", Limit: 3, Window: time.Minute,
	})

	require.Error(t, err)
}

func TestMemoryLimiter_RefillsOverTheWindow(t *testing.T) {
	clk := &clock{now: time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)}
	l := accounts.NewMemoryLimiter(3, time.Minute, clk.Now)
	for range 3 {
		ok, _, _ := l.Allow(t.Context(), "k")
		require.True(t, ok)
	}

	ok, wait, _ := l.Allow(t.Context(), "k")
	require.False(t, ok)
	require.Equal(t, 20*time.Second, wait, "one attempt comes back every window/limit")
	clk.Advance(wait)
	ok, _, _ = l.Allow(t.Context(), "k")
	require.True(t, ok)
	ok, _, _ = l.Allow(t.Context(), "k")
	require.False(t, ok, "a refused attempt does not count, and a refill buys one attempt")
}

func TestMemoryLimiter_ForgetsKeysIdleForAWindow(t *testing.T) {
	clk := &clock{now: time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)}
	l := accounts.NewMemoryLimiter(3, time.Minute, clk.Now)
	_, _, _ = l.Allow(t.Context(), "idle")
	clk.Advance(30 * time.Second)
	_, _, _ = l.Allow(t.Context(), "busy")
	require.Equal(t, 2, l.Len())

	clk.Advance(40 * time.Second)
	_, _, _ = l.Allow(t.Context(), "busy")

	require.Equal(t, 1, l.Len())
}
