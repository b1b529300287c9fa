//go:build linux

package pglocal

import "syscall"

// serverProcAttr runs the server as cred (nil for the current user) in a process group of its
// own, so that a Ctrl-C meant for this program does not reach it, and asks the kernel to send
// it SIGINT, a fast shutdown, should this program die without stopping it.
func serverProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGINT}
}
