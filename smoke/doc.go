// Package smoke holds no code: its tests check a running engine over HTTP only, the way a
// client would, so that the deploy script can run them against staging after a release.
//
// With SMOKE_BASE_URL set (for example http://127.0.0.1:8080) the tests speak to that engine.
// Without it they build the engine, start it on a fresh embedded database in a temporary
// directory and on a free port, and stop it when they end, so "go test ./..." always checks
// a live engine. Every run registers accounts with new email addresses, so runs against the
// same engine do not collide.
//
// The tests are not a functional suite: each route they touch is covered in depth by the
// tests of its own package. They check that a deployed engine is wired together and answers
// within the contract of one second per request.
package smoke
