package accounts_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"comanda/accounts"
	"comanda/domain"
	"comanda/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

var secret = []byte("a-test-secret-that-is-32-bytes-long")

// cheap keeps password hashing fast in tests; one test checks the default.
var cheap = accounts.PasswordCost{Memory: 1024, Time: 1, Threads: 1}

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	store *accounts.Store
	pool  *pgxpool.Pool
	clock *clock
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	pool, _ := testkit.NewDatabase(t)
	clk := &clock{now: time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)}
	store := accounts.New(pool, accounts.Config{
		Secret: secret, AccessTTL: 15 * time.Minute, RefreshTTL: 24 * time.Hour,
		PasswordCost: cheap, Now: clk.Now,
	})
	return fixture{store: store, pool: pool, clock: clk}
}

// register creates a customer with password "correct horse".
func (f fixture) register(t *testing.T, email string) accounts.Account {
	t.Helper()
	acc, err := f.store.Register(t.Context(), email, "correct horse", "Ana", domain.RoleCustomer)
	require.NoError(t, err)
	return acc
}

// login signs the account with email in and returns its first token pair.
func (f fixture) login(t *testing.T, email string) accounts.TokenPair {
	t.Helper()
	acc, err := f.store.Authenticate(t.Context(), email, "correct horse")
	require.NoError(t, err)
	pair, err := f.store.Issue(t.Context(), acc)
	require.NoError(t, err)
	return pair
}

func requireCode(t *testing.T, err error, code domain.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, domain.ErrorCode(err), "error: %v", err)
}

func requireFields(t *testing.T, err error, fields ...string) {
	t.Helper()
	requireCode(t, err, domain.CodeValidation)
	var de *domain.Error
	require.True(t, errors.As(err, &de))
	var got []string
	for _, f := range de.Fields {
		got = append(got, f.Field)
	}
	require.ElementsMatch(t, fields, got, "fields: %+v", de.Fields)
}

func TestRegister_NormalisesTheEmailAndReturnsTheAccount(t *testing.T) {
	f := newFixture(t)

	acc, err := f.store.Register(t.Context(), "  Ana@Example.COM ", "correct horse", " Ana ",
		domain.RoleBusinessOwner)

	require.NoError(t, err)
	require.NotEqual(t, uuid.Nil, acc.ID)
	require.Equal(t, "ana@example.com", acc.Email)
	require.Equal(t, "Ana", acc.Name)
	require.Equal(t, domain.RoleBusinessOwner, acc.Role)
	require.Equal(t, f.clock.Now(), acc.CreatedAt)
	got, err := f.store.Get(t.Context(), acc.ID)
	require.NoError(t, err)
	require.Equal(t, acc, got)
}

func TestRegister_DuplicateEmailInAnyCaseIsAConflict(t *testing.T) {
	f := newFixture(t)
	f.register(t, "ana@example.com")

	_, err := f.store.Register(t.Context(), "ANA@example.com", "another password", "Other",
		domain.RoleCustomer)

	requireCode(t, err, domain.CodeConflict)
	require.ErrorIs(t, err, accounts.ErrEmailTaken)
}

func TestRegister_OnlyCustomersAndBusinessOwnersSignUp(t *testing.T) {
	f := newFixture(t)
	for _, role := range []domain.Role{domain.RoleStaff, domain.RoleAdmin, domain.RoleAuditor, "chef"} {
		_, err := f.store.Register(t.Context(), "x@example.com", "correct horse", "X", role)

		requireFields(t, err, "role")
	}
}

func TestRegister_ListsEveryInvalidField(t *testing.T) {
	f := newFixture(t)

	_, err := f.store.Register(t.Context(), "not-an-email", "short", " ", domain.RoleCustomer)

	requireFields(t, err, "email", "password", "name")
}

func TestCheckPassword_AcceptsEightToOneHundredTwentyEightCharacters(t *testing.T) {
	require.NoError(t, accounts.CheckPassword("abcdefgh"))
	require.NoError(t, accounts.CheckPassword(strings.Repeat("ab", 64)))
	require.NoError(t, accounts.CheckPassword("contraseña"))
	requireFields(t, accounts.CheckPassword("abcdefg"), "password")
	requireFields(t, accounts.CheckPassword(strings.Repeat("ab", 64)+"c"), "password")
	requireFields(t, accounts.CheckPassword("aaaaaaaaaa"), "password")
	// Characters count, not bytes: seven two-byte letters are too short.
	requireFields(t, accounts.CheckPassword("ñññññññ"), "password")
}

func TestCreateUser_CreatesOnlyAdminsAndAuditors(t *testing.T) {
	f := newFixture(t)

	admin, err := f.store.CreateUser(t.Context(), "root@example.com", "correct horse", "Root",
		domain.RoleAdmin)
	require.NoError(t, err)
	auditor, err := f.store.CreateUser(t.Context(), "audit@example.com", "correct horse", "Eve",
		domain.RoleAuditor)
	require.NoError(t, err)
	_, err = f.store.CreateUser(t.Context(), "c@example.com", "correct horse", "C",
		domain.RoleCustomer)

	require.Equal(t, domain.RoleAdmin, admin.Role)
	require.Equal(t, domain.RoleAuditor, auditor.Role)
	requireFields(t, err, "role")
}

func TestCreateStaff_RecordsTheBusiness(t *testing.T) {
	f := newFixture(t)
	business := uuid.New()

	staff, err := f.store.CreateStaff(t.Context(), business, "mozo@example.com", "correct horse",
		"Mozo")
	require.NoError(t, err)
	_, missing := f.store.CreateStaff(t.Context(), uuid.Nil, "m2@example.com", "correct horse",
		"Mozo")

	require.Equal(t, domain.RoleStaff, staff.Role)
	require.Equal(t, business, staff.BusinessID)
	got, err := f.store.Get(t.Context(), staff.ID)
	require.NoError(t, err)
	require.Equal(t, business, got.BusinessID)
	requireFields(t, missing, "business_id")
}

func TestAuthenticate_RightPasswordSignsIn(t *testing.T) {
	f := newFixture(t)
	acc := f.register(t, "ana@example.com")

	got, err := f.store.Authenticate(t.Context(), " ANA@example.com", "correct horse")

	require.NoError(t, err)
	require.Equal(t, acc, got)
}

func TestAuthenticate_WrongPasswordAndUnknownEmailFailAlike(t *testing.T) {
	f := newFixture(t)
	f.register(t, "ana@example.com")

	_, wrongPassword := f.store.Authenticate(t.Context(), "ana@example.com", "wrong horse")
	_, unknownEmail := f.store.Authenticate(t.Context(), "bob@example.com", "correct horse")

	for _, err := range []error{wrongPassword, unknownEmail} {
		requireCode(t, err, domain.CodeUnauthorized)
		require.ErrorIs(t, err, accounts.ErrInvalidCredentials)
	}
	require.Equal(t, domain.ErrorMessage(wrongPassword), domain.ErrorMessage(unknownEmail))
}

func TestAuthenticate_DisabledAccountCannotSignIn(t *testing.T) {
	f := newFixture(t)
	acc := f.register(t, "ana@example.com")
	_, err := f.pool.Exec(t.Context(), "UPDATE accounts SET disabled = true WHERE id = $1", acc.ID)
	require.NoError(t, err)

	_, err = f.store.Authenticate(t.Context(), "ana@example.com", "correct horse")

	require.ErrorIs(t, err, accounts.ErrInvalidCredentials)
}

func TestPasswordHash_IsArgon2idWithTheDefaultCostAndNeverThePassword(t *testing.T) {
	pool, _ := testkit.NewDatabase(t)
	store := accounts.New(pool, accounts.Config{Secret: secret})
	acc, err := store.Register(t.Context(), "ana@example.com", "correct horse", "Ana",
		domain.RoleCustomer)
	require.NoError(t, err)

	var hash string
	err = pool.QueryRow(t.Context(), "SELECT password_hash FROM accounts WHERE id = $1", acc.ID).
		Scan(&hash)
	require.NoError(t, err)

	require.True(t, strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$"), hash)
	require.NotContains(t, hash, "correct horse")
	_, err = store.Authenticate(t.Context(), "ana@example.com", "correct horse")
	require.NoError(t, err)
}

func TestPasswordHash_SamePasswordGetsDifferentSalts(t *testing.T) {
	f := newFixture(t)
	a := f.register(t, "a@example.com")
	b := f.register(t, "b@example.com")

	var hashA, hashB string
	q := "SELECT password_hash FROM accounts WHERE id = $1"
	require.NoError(t, f.pool.QueryRow(t.Context(), q, a.ID).Scan(&hashA))
	require.NoError(t, f.pool.QueryRow(t.Context(), q, b.ID).Scan(&hashB))

	require.NotEqual(t, hashA, hashB)
}

func TestGet_UnknownAccountIsNotFound(t *testing.T) {
	f := newFixture(t)

	_, err := f.store.Get(t.Context(), uuid.New())

	requireCode(t, err, domain.CodeNotFound)
	require.ErrorIs(t, err, accounts.ErrNotFound)
}

func TestIssue_AccessTokenStatesTheHolder(t *testing.T) {
	f := newFixture(t)
	business := uuid.New()
	staff, err := f.store.CreateStaff(t.Context(), business, "mozo@example.com",
		"correct horse", "Mozo")
	require.NoError(t, err)

	pair := f.login(t, "mozo@example.com")
	claims, err := accounts.ParseAccessToken(secret, pair.AccessToken, f.clock.Now())

	require.NoError(t, err)
	require.Equal(t, staff.ID, claims.AccountID)
	require.Equal(t, domain.RoleStaff, claims.Role)
	require.Equal(t, business, claims.BusinessID)
	require.NotEmpty(t, claims.TokenID)
	require.Equal(t, f.clock.Now(), claims.IssuedAt.UTC())
	require.Equal(t, f.clock.Now().Add(15*time.Minute), claims.ExpiresAt.UTC())
	require.Equal(t, 15*time.Minute, pair.ExpiresIn)
	require.NotEmpty(t, pair.RefreshToken)
}

func TestParseAccessToken_RefusesExpiredForgedAndUnsignedTokens(t *testing.T) {
	f := newFixture(t)
	f.register(t, "ana@example.com")
	pair := f.login(t, "ana@example.com")
	claims, err := accounts.ParseAccessToken(secret, pair.AccessToken, f.clock.Now())
	require.NoError(t, err)
	unsigned, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"sub": claims.AccountID.String(), "role": "admin", "jti": "x",
		"iat": f.clock.Now().Unix(), "exp": f.clock.Now().Add(time.Hour).Unix(),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)

	_, expired := accounts.ParseAccessToken(secret, pair.AccessToken,
		f.clock.Now().Add(15*time.Minute))
	_, forged := accounts.ParseAccessToken([]byte("another-secret-of-32-bytes-length"),
		pair.AccessToken, f.clock.Now())
	_, none := accounts.ParseAccessToken(secret, unsigned, f.clock.Now())
	_, garbage := accounts.ParseAccessToken(secret, "not.a.token", f.clock.Now())

	for _, err := range []error{expired, forged, none, garbage} {
		requireCode(t, err, domain.CodeUnauthorized)
		require.ErrorIs(t, err, accounts.ErrInvalidAccessToken)
	}
}

func TestRefresh_RotatesTheRefreshToken(t *testing.T) {
	f := newFixture(t)
	acc := f.register(t, "ana@example.com")
	first := f.login(t, "ana@example.com")
	f.clock.Advance(time.Minute)

	second, err := f.store.Refresh(t.Context(), first.RefreshToken)
	require.NoError(t, err)
	f.clock.Advance(time.Minute)
	third, err := f.store.Refresh(t.Context(), second.RefreshToken)
	require.NoError(t, err)

	require.NotEqual(t, first.RefreshToken, second.RefreshToken)
	require.NotEqual(t, second.RefreshToken, third.RefreshToken)
	claims, err := accounts.ParseAccessToken(secret, third.AccessToken, f.clock.Now())
	require.NoError(t, err)
	require.Equal(t, acc.ID, claims.AccountID)
	require.Equal(t, f.clock.Now(), claims.IssuedAt.UTC())

	var families, used int
	require.NoError(t, f.pool.QueryRow(t.Context(), `
		SELECT count(DISTINCT family_id), count(used_at) FROM refresh_tokens`).
		Scan(&families, &used))
	require.Equal(t, 1, families, "rotation keeps the sign-in's family")
	require.Equal(t, 2, used)
}

func TestRefresh_StoresOnlyAHashOfTheToken(t *testing.T) {
	f := newFixture(t)
	f.register(t, "ana@example.com")
	pair := f.login(t, "ana@example.com")

	raw, err := base64.RawURLEncoding.DecodeString(pair.RefreshToken)
	require.NoError(t, err)
	sum := sha256.Sum256(raw)

	var hashed, plain int
	q := "SELECT count(*) FROM refresh_tokens WHERE token_hash = $1"
	require.NoError(t, f.pool.QueryRow(t.Context(), q, sum[:]).Scan(&hashed))
	require.NoError(t, f.pool.QueryRow(t.Context(), q, raw).Scan(&plain))

	require.Equal(t, 1, hashed)
	require.Zero(t, plain)
}

func TestRefresh_ReusedTokenRevokesTheWholeFamily(t *testing.T) {
	f := newFixture(t)
	f.register(t, "ana@example.com")
	first := f.login(t, "ana@example.com")
	second, err := f.store.Refresh(t.Context(), first.RefreshToken)
	require.NoError(t, err)
	third, err := f.store.Refresh(t.Context(), second.RefreshToken)
	require.NoError(t, err)
	other := f.login(t, "ana@example.com") // another device, another family

	_, reused := f.store.Refresh(t.Context(), first.RefreshToken)
	_, newest := f.store.Refresh(t.Context(), third.RefreshToken)
	_, otherErr := f.store.Refresh(t.Context(), other.RefreshToken)

	requireCode(t, reused, domain.CodeUnauthorized)
	require.ErrorIs(t, reused, accounts.ErrRefreshTokenReused)
	require.ErrorIs(t, newest, accounts.ErrInvalidRefreshToken,
		"the newest token of a family whose old token was reused stops working")
	require.NoError(t, otherErr, "other sign-ins are not affected")
}

func TestRefresh_ConcurrentRefreshesOfOneTokenCannotBothWin(t *testing.T) {
	f := newFixture(t)
	f.register(t, "ana@example.com")
	pair := f.login(t, "ana@example.com")

	const n = 8
	var (
		wg   sync.WaitGroup
		errs = make([]error, n)
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = f.store.Refresh(t.Context(), pair.RefreshToken)
		})
	}
	close(start)
	wg.Wait()

	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
			continue
		}
		require.ErrorIs(t, err, accounts.ErrRefreshTokenReused)
	}
	require.Equal(t, 1, wins)
	var unused int
	require.NoError(t, f.pool.QueryRow(t.Context(),
		"SELECT count(*) FROM refresh_tokens WHERE used_at IS NULL").Scan(&unused))
	require.Equal(t, 1, unused, "exactly one replacement was issued")
}

func TestRefresh_ExpiredTokenIsRefused(t *testing.T) {
	f := newFixture(t)
	f.register(t, "ana@example.com")
	pair := f.login(t, "ana@example.com")
	f.clock.Advance(24 * time.Hour)

	_, err := f.store.Refresh(t.Context(), pair.RefreshToken)

	require.ErrorIs(t, err, accounts.ErrInvalidRefreshToken)
}

func TestRefresh_UnknownOrMalformedTokenIsRefused(t *testing.T) {
	f := newFixture(t)

	for _, token := range []string{"", "garbage!", strings.Repeat("A", 43)} {
		_, err := f.store.Refresh(t.Context(), token)

		requireCode(t, err, domain.CodeUnauthorized)
		require.ErrorIs(t, err, accounts.ErrInvalidRefreshToken)
	}
}

func TestRefresh_DisabledAccountIsRefused(t *testing.T) {
	f := newFixture(t)
	acc := f.register(t, "ana@example.com")
	pair := f.login(t, "ana@example.com")
	_, err := f.pool.Exec(t.Context(), "UPDATE accounts SET disabled = true WHERE id = $1", acc.ID)
	require.NoError(t, err)

	_, err = f.store.Refresh(t.Context(), pair.RefreshToken)

	require.ErrorIs(t, err, accounts.ErrInvalidRefreshToken)
}

func TestLogout_RevokesTheFamily(t *testing.T) {
	f := newFixture(t)
	f.register(t, "ana@example.com")
	first := f.login(t, "ana@example.com")
	second, err := f.store.Refresh(t.Context(), first.RefreshToken)
	require.NoError(t, err)

	require.NoError(t, f.store.Logout(t.Context(), second.RefreshToken))
	require.NoError(t, f.store.Logout(t.Context(), second.RefreshToken), "twice is fine")
	_, err = f.store.Refresh(t.Context(), second.RefreshToken)

	require.ErrorIs(t, err, accounts.ErrInvalidRefreshToken)
	require.ErrorIs(t, f.store.Logout(t.Context(), strings.Repeat("B", 43)),
		accounts.ErrInvalidRefreshToken)
}

func TestPurgeRefreshTokens_DeletesOnlyWhollyExpiredFamilies(t *testing.T) {
	f := newFixture(t)
	f.register(t, "ana@example.com")
	old := f.login(t, "ana@example.com")
	_, err := f.store.Refresh(t.Context(), old.RefreshToken)
	require.NoError(t, err)
	f.clock.Advance(12 * time.Hour)
	recent := f.login(t, "ana@example.com")

	n, err := f.store.PurgeRefreshTokens(t.Context(), f.clock.Now().Add(13*time.Hour))

	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	_, err = f.store.Refresh(t.Context(), recent.RefreshToken)
	require.NoError(t, err)
}
