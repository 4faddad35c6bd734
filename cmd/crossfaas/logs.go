package main

import (
	"bytes"
	"io"
	"sync"
)

// gate is a writer that holds what is written until Open, then passes it
// through: `crossfaas dev` writes its logs through one so that none comes
// before the banner. It is safe for concurrent use.
type gate struct {
	w io.Writer

	mu   sync.Mutex
	open bool
	held bytes.Buffer
}

func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open {
		return g.held.Write(p)
	}
	return g.w.Write(p)
}

// Open writes what was held and lets later writes through.
func (g *gate) Open() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = true
	_, err := g.w.Write(g.held.Bytes())
	g.held = bytes.Buffer{}
	return err
}
