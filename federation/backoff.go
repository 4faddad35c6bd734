package federation

import (
	"errors"
	"time"
)

// backoff is the pause after failed exchanges: min after the first,
// doubling with each failure in a row, never more than max.
type backoff struct {
	min, max time.Duration
}

// after returns the pause after the n-th failure in a row (n >= 1).
func (b backoff) after(n int) time.Duration {
	d := b.min
	for i := 1; i < n && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

// failure is a Source's run of failed refreshes: how many in a row, the
// last one's error and when the next exchange may start.
type failure struct {
	count   int
	err     *Error
	retryAt time.Time
}

// pausing reports whether, at now, no exchange may start yet.
func (f *failure) pausing(now time.Time) bool {
	return f.count > 0 && now.Before(f.retryAt)
}

// record adds a failed refresh, at now, to the run.
func (f *failure) record(err error, now time.Time, b backoff) {
	f.count++
	f.retryAt = now.Add(b.after(f.count))
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Step: StepTokenExchange, Err: err}
	}
	copied := *e
	copied.RetryAt = f.retryAt
	f.err = &copied
}
