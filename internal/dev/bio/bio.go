// Package bio adapts the biography source to a machine that may be
// offline: `crossfaas dev` asks the real Wikipedia client, and when
// Wikipedia cannot be reached it answers a clear line saying so instead of
// failing the match (which would retry and end in "Sorry, that failed").
package bio

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

// OfflineLine is the biography given when the source is unreachable.
const OfflineLine = "(No biography offline: Wikipedia could not be reached from this machine.)"

// DefaultCooldown is how long Fallback stops asking an unreachable source,
// so an offline machine does not pay a failed lookup on every match.
const DefaultCooldown = time.Minute

// Fallback is a sleuth.Biographies that asks its source and stands in for
// it while it is unreachable. It is safe for concurrent use.
type Fallback struct {
	source   sleuth.Biographies
	cooldown time.Duration
	now      func() time.Time
	logger   *slog.Logger

	mu        sync.Mutex
	downUntil time.Time
}

var _ sleuth.Biographies = (*Fallback)(nil)

// NewFallback wraps source (nil means there is none: every lookup gets
// OfflineLine). cooldown is how long an unreachable source is left alone
// (DefaultCooldown when zero); now is the clock (nil means time.Now).
func NewFallback(source sleuth.Biographies, cooldown time.Duration, now func() time.Time, logger *slog.Logger) *Fallback {
	if cooldown <= 0 {
		cooldown = DefaultCooldown
	}
	if now == nil {
		now = time.Now
	}
	return &Fallback{source: source, cooldown: cooldown, now: now, logger: logger}
}

// Biography returns the source's biography of name. ErrNoBiography passes
// through; when the source fails otherwise (unreachable, timed out) it
// returns OfflineLine and no error, and skips the source for the cooldown.
// An error of ctx itself (the caller gave up) is returned as it is.
func (f *Fallback) Biography(ctx context.Context, name string) (string, error) {
	if f.source == nil {
		return OfflineLine, nil
	}
	f.mu.Lock()
	down := f.now().Before(f.downUntil)
	f.mu.Unlock()
	if down {
		return OfflineLine, nil
	}
	text, err := f.source.Biography(ctx, name)
	switch {
	case err == nil, errors.Is(err, sleuth.ErrNoBiography):
		return text, err
	case ctx.Err() != nil:
		return "", err
	}
	f.mu.Lock()
	f.downUntil = f.now().Add(f.cooldown)
	f.mu.Unlock()
	f.logger.WarnContext(ctx, "biography source unreachable; answering without one", "err", err, "retry_after", f.cooldown.String())
	return OfflineLine, nil
}
