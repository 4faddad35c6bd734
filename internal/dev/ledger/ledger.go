// Package ledger is the in-memory idempotency ledger of `crossfaas dev`, a
// sleuth.Ledger with the semantics of the DynamoDB one: a claim on a key
// is exclusive until it is released, recorded as done, or expires (a
// crashed delivery must not block its retries forever); a done key stays
// done.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

// DefaultClaimTTL is how long a claim lasts when Memory is not told: a bit
// longer than the sleuth functions' timeout.
const DefaultClaimTTL = 2 * time.Minute

// Memory is a sleuth.Ledger kept in memory. Its methods are safe for
// concurrent use.
type Memory struct {
	claimTTL time.Duration
	now      func() time.Time

	mu      sync.Mutex
	entries map[string]entry
}

type entry struct {
	done       bool
	claimUntil time.Time
}

var _ sleuth.Ledger = (*Memory)(nil)

// NewMemory returns an empty ledger whose claims expire after claimTTL
// (DefaultClaimTTL when zero). now is its clock; nil means time.Now.
func NewMemory(claimTTL time.Duration, now func() time.Time) *Memory {
	if claimTTL <= 0 {
		claimTTL = DefaultClaimTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{claimTTL: claimTTL, now: now, entries: make(map[string]entry)}
}

// Begin claims key. It returns false when the step is already done, and an
// error wrapping sleuth.ErrInProgress while another live claim holds it.
func (m *Memory) Begin(ctx context.Context, key string) (bool, error) {
	if key == "" {
		return false, errors.New("ledger begin: empty key")
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("ledger begin %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e := m.entries[key]
	switch {
	case e.done:
		return false, nil
	case now.Before(e.claimUntil):
		return false, fmt.Errorf("ledger begin %s: %w", key, sleuth.ErrInProgress)
	}
	m.entries[key] = entry{claimUntil: now.Add(m.claimTTL)}
	return true, nil
}

// Done records key as done, claimed or not.
func (m *Memory) Done(ctx context.Context, key string) error {
	if key == "" {
		return errors.New("ledger done: empty key")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ledger done %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[key] = entry{done: true}
	return nil
}

// Release drops the claim on key so a retry can run; a done key stays
// done.
func (m *Memory) Release(ctx context.Context, key string) error {
	if key == "" {
		return errors.New("ledger release: empty key")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok && !e.done {
		delete(m.entries, key)
	}
	return nil
}
