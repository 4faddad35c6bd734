// Package logs merges the logs of every function of a crossfaas stack, on
// both clouds, into one time-ordered stream: CloudWatch Logs for the
// Lambdas (aws-sdk-go-v2's cloudwatchlogs, FilterLogEvents) and Cloud
// Logging for the labeler (cloud.google.com/go/logging/logadmin). Each
// event carries its correlation id: the MessageSid of the SMS a sleuth
// function handles, or the W3C trace id the proxy sends the labeler in
// traceparent and both log.
//
// Follow mode polls every source (FilterLogEvents for CloudWatch, whose
// live tail is an event stream this keeps out of the way; ListLogEntries
// for Cloud Logging) and prints what arrived since the last poll, in time
// order within each poll: an event that reaches its log service late is
// printed when it arrives. A transient API error (throttling, 5xx, a lost
// connection) is retried with exponential backoff and noted on stderr;
// the query resumes after the last event received, so no event is lost
// or printed twice.
package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Event is one log line of one function.
type Event struct {
	Time time.Time `json:"time"`
	// Cloud is "aws" or "gcp"; Function the function's name without the
	// stack prefix ("proxy", "labeler", "sleuth-match", ...).
	Cloud    string `json:"cloud"`
	Function string `json:"function"`
	// Level is the log level in upper case (INFO, WARN, ERROR, ...), ""
	// when the line has none.
	Level   string `json:"level,omitempty"`
	Message string `json:"message"`
	// Correlation is the MessageSid or trace id the line belongs to, "" when
	// it names none.
	Correlation string `json:"correlationId,omitempty"`
	// Fields are the structured fields of a JSON line, besides the ones
	// above.
	Fields map[string]any `json:"fields,omitempty"`
	// ID identifies the event within its source (CloudWatch's eventId,
	// Cloud Logging's insertId), to drop the duplicates of overlapping
	// queries.
	ID string `json:"-"`
}

// Source is the log of one function.
type Source interface {
	// Name names the source in messages, e.g. "CloudWatch Logs
	// /aws/lambda/crossfaas-dev-proxy".
	Name() string
	// Fetch calls each for every event from start (inclusive) to end
	// (exclusive), oldest first, paging through the service's results. An
	// error from each stops Fetch and is returned.
	Fetch(ctx context.Context, start, end time.Time, each func(Event) error) error
}

// Options control Stream.
type Options struct {
	Sources []Source
	// Since is how far back the stream starts.
	Since time.Duration
	// Follow keeps polling for new events until ctx is done.
	Follow bool
	// Grep keeps only the events whose message, correlation id or fields
	// contain it (case-sensitive); "" keeps all.
	Grep string
	// PollInterval is the time between polls when following; 0 means 2 s.
	PollInterval time.Duration
	// Lag is how far before the newest event seen a follow poll starts
	// again, so late events are not missed; 0 means 30 s.
	Lag time.Duration
	// Retry is the backoff of transient errors.
	Retry Backoff
	// Write prints an event; Stderr gets the retry notes.
	Write  func(Event) error
	Stderr io.Writer
	// Now and Sleep stand in for the clock in tests; nil means the real
	// one.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Backoff is an exponential backoff.
type Backoff struct {
	// Initial is the first wait (0 means 500 ms), doubled after each retry
	// up to Max (0 means 30 s).
	Initial, Max time.Duration
	// Attempts bounds the attempts of one query outside follow mode (0
	// means 5); follow mode retries until ctx is done.
	Attempts int
}

func (o *Options) defaults() {
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.Lag <= 0 {
		o.Lag = 30 * time.Second
	}
	if o.Retry.Initial <= 0 {
		o.Retry.Initial = 500 * time.Millisecond
	}
	if o.Retry.Max <= 0 {
		o.Retry.Max = 30 * time.Second
	}
	if o.Retry.Attempts <= 0 {
		o.Retry.Attempts = 5
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
}

// Stream writes every source's events from Since ago until now, merged by
// time; with Follow it then polls for new events until ctx is done, and
// returns nil when it is (Ctrl-C ends a tail cleanly).
func Stream(ctx context.Context, opts Options) error {
	opts.defaults()
	if len(opts.Sources) == 0 {
		return errors.New("logs: no function to read the logs of")
	}
	cursors := make([]cursor, len(opts.Sources))
	start := opts.Now().Add(-opts.Since)
	for i := range cursors {
		cursors[i] = cursor{from: start, seen: map[string]time.Time{}}
	}
	for {
		end := opts.Now()
		var batch []Event
		for i, src := range opts.Sources {
			events, err := opts.fetch(ctx, src, &cursors[i], end)
			if err != nil {
				if opts.Follow && ctx.Err() != nil {
					return nil
				}
				return err
			}
			batch = append(batch, events...)
		}
		slices.SortStableFunc(batch, func(a, b Event) int { return a.Time.Compare(b.Time) })
		for _, e := range batch {
			if !opts.matches(e) {
				continue
			}
			if err := opts.Write(e); err != nil {
				return fmt.Errorf("logs: write: %w", err)
			}
		}
		if !opts.Follow {
			return nil
		}
		for i := range cursors {
			cursors[i].advance(end, opts.Lag)
		}
		if err := opts.Sleep(ctx, opts.PollInterval); err != nil {
			return nil // ctx is done: a clean end of the tail
		}
	}
}

// cursor is where the next query of one source starts, and the events
// already printed from there on.
type cursor struct {
	from time.Time
	seen map[string]time.Time // event id -> time
	// newest is the time of the newest event received.
	newest time.Time
}

// advance moves the next query's start to lag before the newest event
// received (or before end when there is none), never back, and forgets the
// events before it.
func (c *cursor) advance(end time.Time, lag time.Duration) {
	next := end.Add(-lag)
	if !c.newest.IsZero() && c.newest.Add(-lag).Before(next) {
		next = c.newest.Add(-lag)
	}
	if next.After(c.from) {
		c.from = next
	}
	for id, t := range c.seen {
		if t.Before(c.from) {
			delete(c.seen, id)
		}
	}
}

// fetch returns the events of src from its cursor to end that were not
// returned before. A transient error is noted on stderr and the query
// retried, after backoff, from the last event received.
func (o *Options) fetch(ctx context.Context, src Source, c *cursor, end time.Time) ([]Event, error) {
	var out []Event
	from := c.from
	wait := o.Retry.Initial
	for attempt := 1; ; attempt++ {
		err := src.Fetch(ctx, from, end, func(e Event) error {
			if e.ID != "" {
				if _, dup := c.seen[e.ID]; dup {
					return nil
				}
				c.seen[e.ID] = e.Time
			}
			if e.Time.After(c.newest) {
				c.newest = e.Time
			}
			// A retry starts at the last event received: events of the
			// same millisecond come again and are dropped as seen.
			if e.Time.After(from) {
				from = e.Time
			}
			out = append(out, e)
			return nil
		})
		if err == nil {
			return out, nil
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if !Transient(err) || (!o.Follow && attempt >= o.Retry.Attempts) {
			return out, fmt.Errorf("logs: %s: %w", src.Name(), err)
		}
		fmt.Fprintf(o.Stderr, "crossfaas logs: %s: %v; retrying in %v\n", src.Name(), err, wait)
		if err := o.Sleep(ctx, wait); err != nil {
			return out, err
		}
		wait = min(2*wait, o.Retry.Max)
	}
}

// matches applies Grep.
func (o *Options) matches(e Event) bool {
	if o.Grep == "" {
		return true
	}
	if strings.Contains(e.Message, o.Grep) || strings.Contains(e.Correlation, o.Grep) || strings.Contains(e.Function, o.Grep) {
		return true
	}
	for k, v := range e.Fields {
		if strings.Contains(k, o.Grep) || strings.Contains(fmt.Sprint(v), o.Grep) {
			return true
		}
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
