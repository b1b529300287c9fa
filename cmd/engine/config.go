package main

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/caarlos0/env/v11"
)

// config is every setting of the engine, read from the environment. The
// README's configuration table lists the same names and defaults.
type config struct {
	Env          string        `env:"APP_ENV" envDefault:"development"`
	HTTPAddr     string        `env:"HTTP_ADDR" envDefault:":8080"`
	DatabaseURL  string        `env:"DATABASE_URL"`
	DataDir      string        `env:"DATA_DIR" envDefault:".data"`
	PGBinDir     string        `env:"PG_BIN_DIR"`
	LogLevel     string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat    string        `env:"LOG_FORMAT" envDefault:"text"`
	CORSOrigins  []string      `env:"CORS_ORIGINS" envSeparator:","`
	MaxBodyBytes int64         `env:"MAX_BODY_BYTES" envDefault:"1048576"`
	ReadWait     time.Duration `env:"READ_WAIT_TIMEOUT" envDefault:"2s"`
	PollInterval time.Duration `env:"PROJECTION_POLL_INTERVAL" envDefault:"50ms"`
	DBMaxConns   int32         `env:"DB_MAX_CONNS" envDefault:"32"`
	ShutdownWait time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`

	JWTSecret       string        `env:"JWT_SECRET"`
	AccessTokenTTL  time.Duration `env:"ACCESS_TOKEN_TTL" envDefault:"15m"`
	RefreshTokenTTL time.Duration `env:"REFRESH_TOKEN_TTL" envDefault:"720h"`
	RedisURL        string        `env:"REDIS_URL"`
	LoginRateLimit  int           `env:"LOGIN_RATE_LIMIT" envDefault:"10"`
	LoginRateWindow time.Duration `env:"LOGIN_RATE_WINDOW" envDefault:"1m"`

	UploadsDir    string `env:"UPLOADS_DIR" envDefault:"uploads"`
	MaxImageBytes int64  `env:"MAX_IMAGE_BYTES" envDefault:"2097152"`

	MPAccessToken   string        `env:"MERCADOPAGO_ACCESS_TOKEN"`
	MPWebhookSecret string        `env:"MERCADOPAGO_WEBHOOK_SECRET"`
	MPWebhookWindow time.Duration `env:"MERCADOPAGO_WEBHOOK_WINDOW" envDefault:"10m"`
	PublicBaseURL   string        `env:"PUBLIC_BASE_URL"`

	BackupStatusFile string `env:"BACKUP_STATUS_FILE"`

	// PprofAddr, when set, serves Go's profiler on that address (keep it on
	// localhost: profiles show the program's internals).
	PprofAddr string `env:"PPROF_ADDR"`
}

// developmentSecret signs tokens in development when no secret is set; the
// engine refuses it anywhere else.
const developmentSecret = "development-only-secret-change-me"

func loadConfig() (config, error) {
	cfg, err := env.ParseAs[config]()
	if err != nil {
		return config{}, fmt.Errorf("read configuration: %w", err)
	}
	switch cfg.Env {
	case "development", "test":
		if cfg.JWTSecret == "" {
			cfg.JWTSecret = developmentSecret
		}
		if cfg.MPWebhookSecret == "" {
			cfg.MPWebhookSecret = "development-webhook-secret"
		}
	case "staging", "production":
		if cfg.JWTSecret == "" || cfg.JWTSecret == developmentSecret || len(cfg.JWTSecret) < 32 {
			return config{}, errors.New("JWT_SECRET must be set to a random value of at least " +
				"32 characters outside development")
		}
	default:
		return config{}, fmt.Errorf("APP_ENV %q is not one of development, test, staging, production", cfg.Env)
	}
	if cfg.PublicBaseURL == "" {
		cfg.PublicBaseURL = defaultPublicURL(cfg.HTTPAddr)
	}
	return cfg, nil
}

// defaultPublicURL is where a local engine listening on addr is reached.
func defaultPublicURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://localhost:8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
