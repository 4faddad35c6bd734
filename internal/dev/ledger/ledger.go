// Package ledger is the in-memory idempotency ledger of `crossfaas dev`, a
// sleuth.Ledger with the semantics of the DynamoDB one: a claim on a key
// belongs to one owner until it is released, recorded as done, or lapses
// (LeaseMargin after the deadline of the attempt that took it, so a crashed
// delivery doesn't block its retries); an attempt marker survives a
// takeover; a done key stays done, with its result.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	sleuthledger "github.com/crossfaas/crossfaas/functions/sleuth/ledger"
)

// DefaultClaimTTL is how long a claim lasts when the caller's context has
// no deadline: the sleuth functions' timeout.
const DefaultClaimTTL = sleuthledger.DefaultLease

// Memory is a sleuth.Ledger kept in memory. Its methods are safe for
// concurrent use.
type Memory struct {
	claimTTL time.Duration
	now      func() time.Time

	mu      sync.Mutex
	entries map[string]entry
	adopted map[string]string // thing -> step key
}

type entry struct {
	done       bool
	result     string
	owner      string
	attempt    string
	claimUntil time.Time
}

var _ sleuth.Ledger = (*Memory)(nil)

// NewMemory returns an empty ledger whose claims lapse LeaseMargin after
// the claiming context's deadline, or after claimTTL (DefaultClaimTTL
// when zero) for a context without one. now is its clock; nil means
// time.Now.
func NewMemory(claimTTL time.Duration, now func() time.Time) *Memory {
	if claimTTL <= 0 {
		claimTTL = DefaultClaimTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{claimTTL: claimTTL, now: now, entries: make(map[string]entry), adopted: make(map[string]string)}
}

// Begin claims key for a new owner.
func (m *Memory) Begin(ctx context.Context, key string) (sleuth.Claim, error) {
	if key == "" {
		return sleuth.Claim{}, errors.New("ledger begin: empty key")
	}
	if err := ctx.Err(); err != nil {
		return sleuth.Claim{}, fmt.Errorf("ledger begin %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e := m.entries[key]
	switch {
	case e.done:
		return sleuth.Claim{Key: key, Done: true, Result: e.result, Attempt: e.attempt}, nil
	case now.Before(e.claimUntil):
		return sleuth.Claim{}, fmt.Errorf("ledger begin %s: %w", key, sleuth.ErrInProgress)
	}
	e.owner = sleuthledger.NewOwner()
	e.claimUntil = sleuthledger.LeaseEnd(ctx, now, m.claimTTL)
	m.entries[key] = e
	return sleuth.Claim{Key: key, Owner: e.owner, Attempt: e.attempt, Until: e.claimUntil}, nil
}

// Attempt records marker on c, unless one is recorded already.
func (m *Memory) Attempt(ctx context.Context, c sleuth.Claim, marker string) error {
	if c.Key == "" || c.Owner == "" || marker == "" {
		return errors.New("ledger attempt: a held claim and a marker are required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[c.Key]
	if e.done || e.owner != c.Owner {
		return fmt.Errorf("ledger attempt %s: the claim is no longer this attempt's: %w", c.Key, sleuth.ErrInProgress)
	}
	if e.attempt == "" {
		e.attempt = marker
	}
	m.entries[c.Key] = e
	return nil
}

// Done records c's key as done with result, claimed or not.
func (m *Memory) Done(ctx context.Context, c sleuth.Claim, result string) error {
	if c.Key == "" {
		return errors.New("ledger done: empty key")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ledger done %s: %w", c.Key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[c.Key]
	m.entries[c.Key] = entry{done: true, result: result, attempt: e.attempt}
	return nil
}

// Release ends c's claim now, keeping its attempt marker; a done key, or
// one claimed by another owner since, stays as it is.
func (m *Memory) Release(_ context.Context, c sleuth.Claim) error {
	if c.Key == "" {
		return errors.New("ledger release: empty key")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[c.Key]; ok && !e.done && e.owner == c.Owner {
		e.claimUntil = time.Time{}
		m.entries[c.Key] = e
	}
	return nil
}

// Status reads key without claiming it.
func (m *Memory) Status(_ context.Context, key string) (sleuth.StepStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[key]
	if e.done {
		return sleuth.StepStatus{Done: true, Result: e.result}, nil
	}
	return sleuth.StepStatus{Held: m.now().Before(e.claimUntil), Until: e.claimUntil}, nil
}

// Adopt makes thing belong to c's step, unless another step has it.
func (m *Memory) Adopt(_ context.Context, thing string, c sleuth.Claim) (bool, error) {
	if thing == "" || c.Key == "" {
		return false, errors.New("ledger adopt: a thing and a claim are required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if step, ok := m.adopted[thing]; ok {
		return step == c.Key, nil
	}
	m.adopted[thing] = c.Key
	return true, nil
}
