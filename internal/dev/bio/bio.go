// Package bio provides the biographies of `crossfaas dev`, which makes no
// network call unless asked to:
//
//   - Local reads them from a JSON file in the data directory
//     (LocalFileName), which the developer may fill; a name it lacks gets
//     OfflineLine, or is asked of a next source when there is one;
//   - Fallback asks a source that may be unreachable (Wikipedia, with
//     `crossfaas dev --wikipedia`) and answers UnreachableLine instead of
//     failing the match (which would retry and end in "Sorry, that
//     failed").
package bio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

// OfflineLine is the biography given offline for a person the local file
// does not know.
const OfflineLine = "(No biography offline: crossfaas dev looks people up on Wikipedia only with --wikipedia or --cloud.)"

// UnreachableLine is the biography given when the source is unreachable.
const UnreachableLine = "(No biography: Wikipedia could not be reached from this machine.)"

// LocalFileName is the file of the data directory Local reads: a JSON
// object from display names to biographies, {"Mel Gibson": "Mel Gibson is
// an actor."}.
const LocalFileName = "biographies.json"

// Local is a sleuth.Biographies reading a JSON file (see LocalFileName).
// The file is read at every lookup, so edits apply at once; a missing file
// is an empty one. It is safe for concurrent use.
type Local struct {
	path string
	next sleuth.Biographies
}

var _ sleuth.Biographies = (*Local)(nil)

// NewLocal returns a Local reading path. next, if not nil, is asked for the
// names the file lacks; otherwise they get OfflineLine.
func NewLocal(path string, next sleuth.Biographies) *Local {
	return &Local{path: path, next: next}
}

// Biography returns the file's biography of name (matched without regard
// to case), else next's, else OfflineLine. A file that is not a JSON object
// of strings is an error naming it.
func (l *Local) Biography(ctx context.Context, name string) (string, error) {
	data, err := os.ReadFile(l.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("local biographies: %w", err)
	}
	if len(data) > 0 {
		var bios map[string]string
		if err := json.Unmarshal(data, &bios); err != nil {
			return "", fmt.Errorf("local biographies: %s is not a JSON object of names and biographies: %w", l.path, err)
		}
		for n, text := range bios {
			if strings.EqualFold(strings.TrimSpace(n), name) && strings.TrimSpace(text) != "" {
				return text, nil
			}
		}
	}
	if l.next != nil {
		return l.next.Biography(ctx, name)
	}
	return OfflineLine, nil
}

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
// UnreachableLine). cooldown is how long an unreachable source is left
// alone (DefaultCooldown when zero); now is the clock (nil means time.Now).
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
// returns UnreachableLine and no error, and skips the source for the
// cooldown. An error of ctx itself (the caller gave up) is returned as it
// is.
func (f *Fallback) Biography(ctx context.Context, name string) (string, error) {
	if f.source == nil {
		return UnreachableLine, nil
	}
	f.mu.Lock()
	down := f.now().Before(f.downUntil)
	f.mu.Unlock()
	if down {
		return UnreachableLine, nil
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
	return UnreachableLine, nil
}
