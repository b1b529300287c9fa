package projections

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Registry holds the engine's projectors by name and runs them together.
type Registry struct {
	mu         sync.RWMutex
	projectors map[string]*Projector
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{projectors: map[string]*Projector{}} }

// Add registers p under its name, replacing any projector of that name.
func (r *Registry) Add(p *Projector) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.projectors[p.Name()] = p
}

// Get returns the projector called name.
func (r *Registry) Get(name string) (*Projector, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.projectors[name]
	return p, ok
}

// Names returns the registered names in order.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.projectors))
	for n := range r.projectors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Statuses returns the status of every projector, by name.
func (r *Registry) Statuses(ctx context.Context) ([]Status, error) {
	var out []Status
	for _, n := range r.Names() {
		p, _ := r.Get(n)
		st, err := p.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("status of %s: %w", n, err)
		}
		out = append(out, st)
	}
	return out, nil
}

// Run runs every registered projector until ctx is done, and returns when
// all of them have stopped.
func (r *Registry) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, n := range r.Names() {
		p, _ := r.Get(n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.Run(ctx)
		}()
	}
	wg.Wait()
}
