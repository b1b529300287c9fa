package pglocal

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// serverUser is the system account the server runs as when this program runs as root, since
// initdb and postgres refuse to run as root.
const serverUser = "postgres"

// account is the system user that owns the data directory and runs initdb and postgres.
type account struct {
	// cred is nil when they run as the current user.
	cred *syscall.Credential
}

// serverAccount returns the current user, or the postgres system user when running as root.
func serverAccount() (account, error) {
	if os.Geteuid() != 0 {
		return account{}, nil
	}

	u, err := user.Lookup(serverUser)
	if err != nil {
		return account{}, fmt.Errorf("look up the %s system user to run the server as: %w",
			serverUser, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return account{}, fmt.Errorf("parse the uid of the %s user: %w", serverUser, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return account{}, fmt.Errorf("parse the gid of the %s user: %w", serverUser, err)
	}
	return account{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}, nil
}

// chown hands path over to the account; it does nothing when running as the current user.
func (a account) chown(path string) error {
	if a.cred == nil {
		return nil
	}
	if err := os.Lchown(path, int(a.cred.Uid), int(a.cred.Gid)); err != nil {
		return fmt.Errorf("hand %s over to the %s user: %w", path, serverUser, err)
	}
	return nil
}

// checkReachable fails when the account, running as another user, cannot search dir or one
// of its ancestors, which would make initdb and postgres fail with less helpful messages.
// Only the mode bits are checked; access control lists are not.
func (a account) checkReachable(dir string) error {
	if a.cred == nil {
		return nil
	}
	for p := dir; ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", p, err)
		}
		if !a.canSearch(info) {
			return fmt.Errorf("the %s user cannot reach %s: %s has mode %v; "+
				"allow others to search it (chmod o+x %s) or choose another place",
				serverUser, dir, p, info.Mode().Perm(), p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// canSearch reports whether the account may search the directory described by info. The
// server runs without supplementary groups, so only its primary group counts.
func (a account) canSearch(info os.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := info.Mode().Perm()
	switch {
	case st.Uid == a.cred.Uid:
		return perm&0o100 != 0
	case st.Gid == a.cred.Gid:
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}
