//go:build unix && !linux

package pglocal

import "syscall"

// serverProcAttr runs the server as cred (nil for the current user) in a process group of its
// own, so that a Ctrl-C meant for this program does not reach it. Unlike on Linux, a server
// whose parent dies without stopping it keeps running.
func serverProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true}
}
