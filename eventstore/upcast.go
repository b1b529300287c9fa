package eventstore

import (
	"encoding/json"
	"fmt"
	"sync"
)

// UpcastFunc turns a payload of one schema version into the next version.
type UpcastFunc func(payload json.RawMessage) (json.RawMessage, error)

// Upcasters is a registry of payload migrations, keyed by event type and the
// schema version they start from. Reads apply them in a chain until no
// upcaster matches, so handlers only ever see the current shape. It is safe
// for concurrent use.
type Upcasters struct {
	mu    sync.RWMutex
	funcs map[upcastKey]UpcastFunc
}

type upcastKey struct {
	eventType string
	from      int
}

// NewUpcasters returns an empty registry.
func NewUpcasters() *Upcasters { return &Upcasters{funcs: map[upcastKey]UpcastFunc{}} }

// Register adds the migration of eventType payloads from version from to
// from+1. Registering the same step twice is a bug and panics.
func (u *Upcasters) Register(eventType string, from int, fn UpcastFunc) {
	u.mu.Lock()
	defer u.mu.Unlock()
	k := upcastKey{eventType, from}
	if _, dup := u.funcs[k]; dup {
		panic(fmt.Sprintf("BUG: upcaster for %s v%d registered twice", eventType, from))
	}
	u.funcs[k] = fn
}

// Upcast returns e with its payload in the newest shape the registry knows.
func (u *Upcasters) Upcast(e Event) (Event, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	for {
		fn, ok := u.funcs[upcastKey{e.Type, e.SchemaVersion}]
		if !ok {
			return e, nil
		}
		payload, err := fn(e.Payload)
		if err != nil {
			return Event{}, fmt.Errorf("upcast %s from v%d at position %d: %w",
				e.Type, e.SchemaVersion, e.Position, err)
		}
		e.Payload = payload
		e.SchemaVersion++
	}
}
