package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"comanda/domain"
)

// TokenPair is what a sign-in or a refresh hands out.
type TokenPair struct {
	// AccessToken is a signed JWT that authenticates API calls.
	AccessToken string
	// RefreshToken is an opaque token that buys the next pair, once.
	RefreshToken string
	// ExpiresIn is how long the access token is valid from now.
	ExpiresIn time.Duration
}

// Claims are what an access token says about its holder.
type Claims struct {
	AccountID uuid.UUID
	Role      domain.Role
	// BusinessID is the business a staff account acts for; uuid.Nil otherwise.
	BusinessID uuid.UUID
	// TokenID is the token's unique id (jti).
	TokenID   string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// jwtClaims is the token's JSON: sub, role, biz, exp, iat and jti.
type jwtClaims struct {
	Role     domain.Role `json:"role"`
	Business string      `json:"biz,omitempty"`
	jwt.RegisteredClaims
}

// refreshTokenBytes is the length of a refresh token before encoding.
const refreshTokenBytes = 32

// Issue starts a new sign-in for acc: a fresh refresh token family and an
// access token. Call it after Authenticate.
func (s *Store) Issue(ctx context.Context, acc Account) (TokenPair, error) {
	now := s.now()
	id := s.cfg.NewID()
	refresh, hash, err := s.newRefreshToken()
	if err != nil {
		return TokenPair{}, err
	}
	_, err = s.pool.Exec(ctx, query("insert_refresh_token"), id, id, acc.ID, hash,
		now.Add(s.cfg.RefreshTTL), now)
	if err != nil {
		return TokenPair{}, fmt.Errorf("insert refresh token: %w", err)
	}
	return s.pair(acc, refresh, now)
}

// Refresh exchanges a refresh token for a new pair. The presented token is
// marked used and its replacement joins the same family. Presenting a token
// that was already used means it leaked: every token of its family is
// revoked, the newest included, and the answer is ErrRefreshTokenReused. Two
// concurrent refreshes of one token cannot both succeed.
func (s *Store) Refresh(ctx context.Context, refreshToken string) (TokenPair, error) {
	hash, ok := hashRefreshToken(refreshToken)
	if !ok {
		return TokenPair{}, invalidRefresh()
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return TokenPair{}, fmt.Errorf("begin token refresh: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	pair, rotateErr := s.rotate(ctx, tx, hash)
	if rotateErr != nil && !errors.Is(rotateErr, ErrRefreshTokenReused) {
		return TokenPair{}, rotateErr
	}
	// A reused token has revoked its family, which must be kept as well.
	if err := tx.Commit(ctx); err != nil {
		return TokenPair{}, fmt.Errorf("commit token refresh: %w", err)
	}
	return pair, rotateErr
}

// Logout revokes every token of the presented refresh token's family, which
// ends that sign-in; access tokens already issued stay valid until they
// expire. Logging out twice is not an error.
func (s *Store) Logout(ctx context.Context, refreshToken string) error {
	hash, ok := hashRefreshToken(refreshToken)
	if !ok {
		return invalidRefresh()
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin logout: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	tok, err := lockRefreshToken(ctx, tx, hash)
	if err != nil {
		return err
	}
	if err := revokeFamily(ctx, tx, tok.familyID, s.now()); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit logout: %w", err)
	}
	return nil
}

// PurgeRefreshTokens deletes the refresh token families whose every token
// expired before the given time, and returns how many tokens it deleted.
// Run it now and then; nothing else deletes tokens.
func (s *Store) PurgeRefreshTokens(ctx context.Context, expiredBefore time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, query("purge_refresh_tokens"), expiredBefore)
	if err != nil {
		return 0, fmt.Errorf("purge refresh tokens: %w", err)
	}
	return tag.RowsAffected(), nil
}

// storedToken is a refresh token's row with the account it was issued to.
type storedToken struct {
	id, familyID      uuid.UUID
	expiresAt         time.Time
	usedAt, revokedAt *time.Time
	account           Account
}

// rotate marks the token with hash used and issues its replacement, within tx.
func (s *Store) rotate(ctx context.Context, tx pgx.Tx, hash []byte) (TokenPair, error) {
	tok, err := lockRefreshToken(ctx, tx, hash)
	if err != nil {
		return TokenPair{}, err
	}
	now := s.now()
	switch {
	case tok.usedAt != nil:
		if err := revokeFamily(ctx, tx, tok.familyID, now); err != nil {
			return TokenPair{}, err
		}
		return TokenPair{}, &domain.Error{Code: domain.CodeUnauthorized,
			Message: "the refresh token was already used; sign in again",
			Err:     ErrRefreshTokenReused}
	case tok.revokedAt != nil, !now.Before(tok.expiresAt), tok.account.Disabled:
		return TokenPair{}, invalidRefresh()
	}

	next := s.cfg.NewID()
	refresh, nextHash, err := s.newRefreshToken()
	if err != nil {
		return TokenPair{}, err
	}
	_, err = tx.Exec(ctx, query("insert_refresh_token"), next, tok.familyID, tok.account.ID,
		nextHash, now.Add(s.cfg.RefreshTTL), now)
	if err != nil {
		return TokenPair{}, fmt.Errorf("insert refresh token: %w", err)
	}
	if _, err := tx.Exec(ctx, query("mark_refresh_token_used"), tok.id, now, next); err != nil {
		return TokenPair{}, fmt.Errorf("mark refresh token used: %w", err)
	}
	return s.pair(tok.account, refresh, now)
}

// lockRefreshToken locks the family of the token with hash, then the token,
// and returns the token; an unknown token is ErrInvalidRefreshToken.
func lockRefreshToken(ctx context.Context, tx pgx.Tx, hash []byte) (storedToken, error) {
	var root uuid.UUID
	err := tx.QueryRow(ctx, query("lock_family"), hash).Scan(&root)
	if errors.Is(err, pgx.ErrNoRows) {
		return storedToken{}, invalidRefresh()
	}
	if err != nil {
		return storedToken{}, fmt.Errorf("lock refresh token family: %w", err)
	}

	var (
		tok      storedToken
		role     string
		business uuid.NullUUID
	)
	acc := &tok.account
	err = tx.QueryRow(ctx, query("refresh_token_for_update"), hash).Scan(
		&tok.id, &tok.familyID, &tok.expiresAt, &tok.usedAt, &tok.revokedAt,
		&acc.ID, &acc.Email, &acc.Name, &role, &business, &acc.CreatedAt, &acc.Disabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return storedToken{}, invalidRefresh()
	}
	if err != nil {
		return storedToken{}, fmt.Errorf("lock refresh token: %w", err)
	}
	acc.Role, acc.BusinessID = domain.Role(role), business.UUID
	return tok, nil
}

func revokeFamily(ctx context.Context, tx pgx.Tx, family uuid.UUID, now time.Time) error {
	if _, err := tx.Exec(ctx, query("revoke_family"), family, now); err != nil {
		return fmt.Errorf("revoke refresh token family: %w", err)
	}
	return nil
}

func invalidRefresh() error {
	return &domain.Error{Code: domain.CodeUnauthorized,
		Message: "the refresh token is not valid; sign in again", Err: ErrInvalidRefreshToken}
}

// newRefreshToken returns a random opaque token and the hash to store.
func (s *Store) newRefreshToken() (token string, hash []byte, err error) {
	raw := make([]byte, refreshTokenBytes)
	if _, err := io.ReadFull(s.cfg.Random, raw); err != nil {
		return "", nil, fmt.Errorf("read refresh token: %w", err)
	}
	sum := sha256.Sum256(raw)
	return base64.RawURLEncoding.EncodeToString(raw), sum[:], nil
}

// hashRefreshToken returns the stored hash of token, or false when token
// cannot be one the store issued.
func hashRefreshToken(token string) ([]byte, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != refreshTokenBytes {
		return nil, false
	}
	sum := sha256.Sum256(raw)
	return sum[:], true
}

// pair signs an access token for acc and pairs it with refresh.
func (s *Store) pair(acc Account, refresh string, now time.Time) (TokenPair, error) {
	claims := jwtClaims{
		Role: acc.Role,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   acc.ID.String(),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.AccessTTL)),
			ID:        s.cfg.NewID().String(),
		},
	}
	if acc.BusinessID != uuid.Nil {
		claims.Business = acc.BusinessID.String()
	}
	access, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.cfg.Secret)
	if err != nil {
		return TokenPair{}, fmt.Errorf("sign access token: %w", err)
	}
	return TokenPair{AccessToken: access, RefreshToken: refresh, ExpiresIn: s.cfg.AccessTTL}, nil
}

// ErrInvalidAccessToken is returned by ParseAccessToken, with code
// unauthorized, for a token that is malformed, badly signed or expired.
var ErrInvalidAccessToken = errors.New("accounts: invalid access token")

// ParseAccessToken checks the signature (HS256 with secret) and the expiry of
// an access token at time now and returns its claims.
func ParseAccessToken(secret []byte, token string, now time.Time) (Claims, error) {
	var c jwtClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return Claims{}, invalidAccess(err)
	}
	id, err := uuid.Parse(c.Subject)
	if err != nil || !c.Role.Valid() || c.IssuedAt == nil || c.ID == "" {
		return Claims{}, invalidAccess(errors.New("missing or malformed claims"))
	}
	business := uuid.Nil
	if c.Business != "" {
		if business, err = uuid.Parse(c.Business); err != nil {
			return Claims{}, invalidAccess(fmt.Errorf("parse biz claim: %w", err))
		}
	}
	if (c.Role == domain.RoleStaff) != (business != uuid.Nil) {
		return Claims{}, invalidAccess(errors.New("biz claim does not match the role"))
	}
	return Claims{AccountID: id, Role: c.Role, BusinessID: business, TokenID: c.ID,
		IssuedAt: c.IssuedAt.Time, ExpiresAt: c.ExpiresAt.Time}, nil
}

func invalidAccess(cause error) error {
	return &domain.Error{Code: domain.CodeUnauthorized,
		Message: "the access token is not valid or has expired",
		Err:     fmt.Errorf("%w: %w", ErrInvalidAccessToken, cause)}
}
