// Package accounts keeps the people who sign in to the engine and the
// credentials they sign in with: argon2id password hashes, short-lived signed
// access tokens (JWT), and opaque refresh tokens that rotate on every use and
// whose reuse revokes the whole sign-in. It also limits how often sign-in may
// be attempted, in process or shared through Redis.
//
// It is not the HTTP layer: it knows nothing about requests, headers or
// cookies. Its errors are *domain.Error values whose messages are safe to show
// to clients; it never logs.
package accounts

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"comanda/domain"
	"comanda/internal/sqlfile"
)

//go:embed queries/*.sql
var queryFiles embed.FS

// query returns the text of one of the package's embedded SQL files.
var query = sqlfile.Loader(queryFiles)

// The expected failures. Each reaches callers as the cause (Err) of a
// *domain.Error, so errors.Is finds it and the HTTP layer maps the code.
var (
	// ErrEmailTaken is returned by Register, CreateUser and CreateStaff, with
	// code conflict, when another account has the email.
	ErrEmailTaken = errors.New("accounts: email already registered")
	// ErrNotFound is returned by Get, with code not_found.
	ErrNotFound = errors.New("accounts: no such account")
	// ErrInvalidCredentials is returned by Authenticate, with code
	// unauthorized, for an unknown email, a wrong password or a disabled
	// account alike.
	ErrInvalidCredentials = errors.New("accounts: invalid credentials")
	// ErrInvalidRefreshToken is returned by Refresh and Logout, with code
	// unauthorized, for a refresh token that is unknown, expired or revoked.
	ErrInvalidRefreshToken = errors.New("accounts: invalid refresh token")
	// ErrRefreshTokenReused is returned by Refresh, with code unauthorized,
	// for a refresh token that was already exchanged; its whole family has
	// been revoked by then.
	ErrRefreshTokenReused = errors.New("accounts: refresh token reused")
)

// emailConstraint is the unique index on lower(email).
const emailConstraint = "accounts_email_key"

// Account is a person who signs in. Password hashes never leave the package.
type Account struct {
	ID    uuid.UUID
	Email string
	Name  string
	Role  domain.Role
	// BusinessID is the business a staff account acts for; uuid.Nil otherwise.
	BusinessID uuid.UUID
	CreatedAt  time.Time
	Disabled   bool
}

// Config holds the store's settings; only Secret is required.
type Config struct {
	// Secret signs access tokens with HMAC-SHA256.
	Secret []byte
	// AccessTTL is how long an access token is valid; 15 minutes when zero.
	AccessTTL time.Duration
	// RefreshTTL is how long a refresh token is valid; 30 days when zero.
	RefreshTTL time.Duration
	// PasswordCost is the argon2id cost of new hashes; DefaultPasswordCost
	// when zero.
	PasswordCost PasswordCost
	// Now, NewID and Random are injected so tests can be deterministic;
	// time.Now, uuid.New and crypto/rand when nil.
	Now    func() time.Time
	NewID  func() uuid.UUID
	Random io.Reader
}

// Store keeps accounts and refresh tokens in PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	cfg  Config
	// dummyHash is verified against when an email is unknown, so that an
	// unknown email costs as much time as a wrong password.
	dummyHash func() (string, error)
}

// New returns a store on pool. It panics when cfg.Secret is empty.
func New(pool *pgxpool.Pool, cfg Config) *Store {
	if len(cfg.Secret) == 0 {
		panic("BUG: accounts.New needs a secret to sign access tokens")
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 30 * 24 * time.Hour
	}
	if cfg.PasswordCost == (PasswordCost{}) {
		cfg.PasswordCost = DefaultPasswordCost
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = uuid.New
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	s := &Store{pool: pool, cfg: cfg}
	s.dummyHash = sync.OnceValues(func() (string, error) {
		return hashPassword(cfg.Random, cfg.PasswordCost, "not the password of any account")
	})
	return s
}

// now returns the store's clock at the precision PostgreSQL keeps.
func (s *Store) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// NormalizeEmail returns email as accounts store it: trimmed and lower case.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Register creates the account of a person who signs up: a customer or a
// business owner. Email is normalised; a taken email is a conflict.
func (s *Store) Register(ctx context.Context, email, password, name string,
	role domain.Role) (Account, error) {
	roleOK := role == domain.RoleCustomer || role == domain.RoleBusinessOwner
	return s.create(ctx, newAccount{email: email, password: password, name: name, role: role},
		roleOK, "must be customer or business_owner")
}

// CreateUser creates an admin or auditor account; only admins may call it.
func (s *Store) CreateUser(ctx context.Context, email, password, name string,
	role domain.Role) (Account, error) {
	roleOK := role == domain.RoleAdmin || role == domain.RoleAuditor
	return s.create(ctx, newAccount{email: email, password: password, name: name, role: role},
		roleOK, "must be admin or auditor")
}

// CreateStaff creates a staff account acting for the business businessID;
// only the business's owner or an admin may call it.
func (s *Store) CreateStaff(ctx context.Context, businessID uuid.UUID, email, password,
	name string) (Account, error) {
	return s.create(ctx, newAccount{email: email, password: password, name: name,
		role: domain.RoleStaff, businessID: businessID}, true, "")
}

type newAccount struct {
	email, password, name string
	role                  domain.Role
	businessID            uuid.UUID
}

// create validates in, hashes its password and inserts the account. roleOK
// says whether in.role may be created this way, and roleRule what may.
func (s *Store) create(ctx context.Context, in newAccount, roleOK bool,
	roleRule string) (Account, error) {
	acc := Account{
		ID:         s.cfg.NewID(),
		Email:      NormalizeEmail(in.email),
		Name:       strings.TrimSpace(in.name),
		Role:       in.role,
		BusinessID: in.businessID,
		CreatedAt:  s.now(),
	}
	if err := validate(acc, in.password, roleOK, roleRule); err != nil {
		return Account{}, err
	}
	hash, err := hashPassword(s.cfg.Random, s.cfg.PasswordCost, in.password)
	if err != nil {
		return Account{}, err
	}

	business := uuid.NullUUID{UUID: acc.BusinessID, Valid: acc.BusinessID != uuid.Nil}
	_, err = s.pool.Exec(ctx, query("insert_account"), acc.ID, acc.Email, acc.Name,
		string(acc.Role), business, hash, acc.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == emailConstraint {
		return Account{}, &domain.Error{Code: domain.CodeConflict,
			Message: "an account with this email already exists", Err: ErrEmailTaken}
	}
	if err != nil {
		return Account{}, fmt.Errorf("insert account: %w", err)
	}
	return acc, nil
}

// validate checks every field of a new account at once.
func validate(acc Account, password string, roleOK bool, roleRule string) error {
	var v domain.Validator
	v.Check(acc.Email != "", "email", "is required")
	v.Check(acc.Email == "" || validEmail(acc.Email), "email",
		"must be an email address such as ana@example.com")
	checkPassword(&v, password, acc.Email)
	v.Check(acc.Name != "", "name", "is required")
	v.Check(utf8.RuneCountInString(acc.Name) <= 100, "name", "must have at most 100 characters")
	v.Check(roleOK, "role", roleRule)
	v.Check(!roleOK || acc.Role != domain.RoleStaff || acc.BusinessID != uuid.Nil, "business_id",
		"is required for staff")
	return v.Err()
}

// validEmail reports whether email is a bare address with a dotted domain.
func validEmail(email string) bool {
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 {
		return false
	}
	_, domainPart, _ := strings.Cut(email, "@")
	return strings.Contains(strings.Trim(domainPart, "."), ".")
}

// Authenticate returns the account that email and password sign in to. An
// unknown email, a wrong password and a disabled account fail alike, with
// code unauthorized, and take about the same time.
func (s *Store) Authenticate(ctx context.Context, email, password string) (Account, error) {
	var (
		acc  Account
		hash string
	)
	row := s.pool.QueryRow(ctx, query("account_by_email"), NormalizeEmail(email))
	err := scanAccount(row, &acc, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		dummy, derr := s.dummyHash()
		if derr != nil {
			return Account{}, derr
		}
		_, _ = verifyPassword(dummy, password)
		return Account{}, badCredentials()
	}
	if err != nil {
		return Account{}, fmt.Errorf("find account by email: %w", err)
	}

	ok, err := verifyPassword(hash, password)
	if err != nil {
		return Account{}, fmt.Errorf("verify password of account %s: %w", acc.ID, err)
	}
	if !ok || acc.Disabled {
		return Account{}, badCredentials()
	}
	return acc, nil
}

func badCredentials() error {
	return &domain.Error{Code: domain.CodeUnauthorized,
		Message: "the email or the password is not right", Err: ErrInvalidCredentials}
}

// Get returns the account with id, or a not_found error.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (Account, error) {
	var acc Account
	err := scanAccount(s.pool.QueryRow(ctx, query("account_by_id"), id), &acc)
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, &domain.Error{Code: domain.CodeNotFound, Message: "no such account",
			Err: ErrNotFound}
	}
	if err != nil {
		return Account{}, fmt.Errorf("get account %s: %w", id, err)
	}
	return acc, nil
}

// scanAccount reads the account columns in their usual order, followed by
// any extra columns into extra.
func scanAccount(row pgx.Row, acc *Account, extra ...any) error {
	var (
		role     string
		business uuid.NullUUID
	)
	dest := append([]any{&acc.ID, &acc.Email, &acc.Name, &role, &business, &acc.CreatedAt,
		&acc.Disabled}, extra...)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	acc.Role, acc.BusinessID, acc.CreatedAt = domain.Role(role), business.UUID, acc.CreatedAt.UTC()
	return nil
}
