package accounts

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"comanda/domain"
)

// The bounds of an acceptable password, counted in characters.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 128
)

// CheckPassword returns a validation error naming the field "password" when
// password is too short, too long, or one character repeated.
func CheckPassword(password string) error {
	var v domain.Validator
	checkPassword(&v, password, "")
	return v.Err()
}

// checkPassword records at most one error about password, which must also
// differ from the account's email when one is given.
func checkPassword(v *domain.Validator, password, email string) {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLength:
		v.Check(false, "password", fmt.Sprintf("must have at least %d characters", MinPasswordLength))
	case n > MaxPasswordLength:
		v.Check(false, "password", fmt.Sprintf("must have at most %d characters", MaxPasswordLength))
	case oneRepeatedRune(password):
		v.Check(false, "password", "must not be a single character repeated")
	case email != "" && strings.EqualFold(password, email):
		v.Check(false, "password", "must not be the email address")
	}
}

func oneRepeatedRune(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	return strings.Trim(s, string(first)) == ""
}

// PasswordCost is the cost of an argon2id password hash. Hashes record the
// cost they were made with, so changing it leaves existing hashes valid.
type PasswordCost struct {
	// Memory is in KiB.
	Memory  uint32
	Time    uint32
	Threads uint8
}

// DefaultPasswordCost is 19 MiB of memory and two passes on one thread.
var DefaultPasswordCost = PasswordCost{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLength = 16
	keyLength  = 32
)

// The most a stored hash may ask for, so that a damaged row cannot make one
// sign-in exhaust the machine.
const (
	maxHashMemory  = 1 << 20 // 1 GiB
	maxHashTime    = 16
	maxHashThreads = 16
)

var b64 = base64.RawStdEncoding

// hashPassword returns the argon2id hash of password in the PHC string
// format: $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<key>.
func hashPassword(random io.Reader, cost PasswordCost, password string) (string, error) {
	salt := make([]byte, saltLength)
	if _, err := io.ReadFull(random, salt); err != nil {
		return "", fmt.Errorf("read password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, cost.Time, cost.Memory, cost.Threads, keyLength)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		cost.Memory, cost.Time, cost.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// errBadHash is returned by verifyPassword for a stored hash it cannot read.
var errBadHash = errors.New("accounts: stored password hash is not a valid argon2id hash")

// verifyPassword reports whether password matches the encoded hash.
func verifyPassword(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var cost PasswordCost
	_, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &cost.Memory, &cost.Time, &cost.Threads)
	if err != nil || cost.Memory == 0 || cost.Memory > maxHashMemory || cost.Time == 0 ||
		cost.Time > maxHashTime || cost.Threads == 0 || cost.Threads > maxHashThreads {
		return false, errBadHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, cost.Time, cost.Memory, cost.Threads,
		uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
