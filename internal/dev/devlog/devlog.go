// Package devlog writes `crossfaas dev`'s logs for a person at a terminal:
// one line per hop of a message through the system (the phone texting the
// bot, each function invocation, the labeler answering), with the time,
// the function, the MessageSid and what happened:
//
//	14:02:11       phone     MM1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d texted the bot "face match celebs" (media_type=image/jpeg, media_bytes=38112)
//	14:02:11       request   MM1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d job published (command=match, collection=celebs) · 200, 3 ms
//	14:02:12       match     MM1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d job done (collection=celebs, result=matched) · 412 ms
//	14:02:12       respond   MM1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d sms sent (to=********0100) · 2 ms
//	14:02:15 WARN  match     MM5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b step failed, will be retried: twilio media: ... · attempt 1 of 3, retry in 2s
//
// The MessageSid is shown whole: it is what `crossfaas logs --grep` and
// the page's messages (on hover) show, and a prefix of it is not unique.
//
// A hop is a record carrying the attribute HopKey: the gateway and the
// local SNS log one when an invocation ends, with its request id; what the
// function itself logged during that invocation (records whose context
// holds the invocation's lambdacontext, from a logger with a "function"
// attribute) says what happened: the most severe record, the last of
// those. Warnings and errors outside hops get a line of their own; other
// records are left out. Verbose shows every record, debug ones included,
// with all their attributes.
package devlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// HopKey is the attribute that marks a record as the end of a hop: its
// value is true.
const HopKey = "hop"

// Hop is the attribute marking a record as a hop.
func Hop() slog.Attr { return slog.Bool(HopKey, true) }

// Options configures a Handler.
type Options struct {
	// Verbose writes every record, debug ones included, with all their
	// attributes.
	Verbose bool
	// Prefix is stripped from function names ("crossfaas-local-"), which
	// all share it.
	Prefix string
}

// maxPending bounds the outcomes kept for invocations whose hop record
// has not come yet (a function that never ends keeps its outcome until
// then).
const maxPending = 1000

// state is what the handlers derived from one NewHandler share.
type state struct {
	w    io.Writer
	opts Options

	mu      sync.Mutex
	pending map[string]outcome // by the invocation's request id
	order   []string           // request ids of pending, oldest first
}

// outcome is what a function logged during an invocation.
type outcome struct {
	level slog.Level
	text  string
}

// Handler is the slog.Handler of NewHandler.
type Handler struct {
	st    *state
	attrs []slog.Attr // from WithAttrs, keys qualified by groups
	group string      // "a.b." prefix of WithGroup
}

// NewHandler returns a handler writing human lines to w.
func NewHandler(w io.Writer, opts Options) *Handler {
	return &Handler{st: &state{w: w, opts: opts, pending: map[string]outcome{}}}
}

// Enabled reports whether records of level are written.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return h.st.opts.Verbose || level >= slog.LevelInfo
}

// WithAttrs returns a handler adding attrs to every record.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = slices.Clone(h.attrs)
	for _, a := range attrs {
		h2.attrs = append(h2.attrs, slog.Attr{Key: h.group + a.Key, Value: a.Value})
	}
	return &h2
}

// WithGroup returns a handler qualifying the keys of later attributes.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}

// record is a slog.Record with its handler's attributes, flattened.
type record struct {
	slog.Record
	attrs []slog.Attr
}

func (r record) get(key string) (slog.Value, bool) {
	for i := len(r.attrs) - 1; i >= 0; i-- {
		if r.attrs[i].Key == key {
			return r.attrs[i].Value.Resolve(), true
		}
	}
	return slog.Value{}, false
}

func (r record) str(key string) string {
	v, ok := r.get(key)
	if !ok {
		return ""
	}
	return v.String()
}

// Handle writes r as described in the package documentation.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	rec := record{Record: r, attrs: slices.Clone(h.attrs)}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs = append(rec.attrs, slog.Attr{Key: h.group + a.Key, Value: a.Value})
		return true
	})
	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.opts.Verbose {
		return st.write(rec, rec.Level, describe(rec, true), "")
	}
	lc, inInvocation := lambdacontext.FromContext(ctx)
	_, fromFunction := rec.get("function")
	hop, _ := rec.get(HopKey)
	switch {
	case hop.Kind() == slog.KindBool && hop.Bool():
		text, level := describe(rec, false), rec.Level
		if id := rec.str("request_id"); id != "" {
			if o, ok := st.pending[id]; ok {
				st.forget(id)
				text, level = o.text, max(level, o.level)
			}
		}
		return st.write(rec, level, text, hopDetails(rec))
	case inInvocation && fromFunction && lc.AwsRequestID != "":
		st.remember(lc.AwsRequestID, outcome{level: rec.Level, text: describe(rec, false)})
		return nil
	case rec.Level >= slog.LevelWarn:
		return st.write(rec, rec.Level, describe(rec, false), "")
	}
	return nil
}

// remember keeps o as the outcome of the invocation id, unless a more
// severe one is kept.
func (st *state) remember(id string, o outcome) {
	if prev, ok := st.pending[id]; ok {
		if prev.level > o.level {
			return
		}
		st.forget(id)
	}
	if len(st.order) >= maxPending {
		st.forget(st.order[0])
	}
	st.pending[id] = o
	st.order = append(st.order, id)
}

func (st *state) forget(id string) {
	delete(st.pending, id)
	if i := slices.Index(st.order, id); i >= 0 {
		st.order = slices.Delete(st.order, i, i+1)
	}
}

// write writes one line: time, level (for warnings and errors), source,
// MessageSid and text, then details after a middle dot.
func (st *state) write(rec record, level slog.Level, text, details string) error {
	lvl := ""
	if level >= slog.LevelWarn || st.opts.Verbose {
		lvl = level.String()
	}
	source := rec.str("function")
	if source == "" {
		source = strings.TrimSuffix(rec.str("component"), ":")
	}
	if source == "" {
		source = "dev"
	}
	source = strings.TrimPrefix(source, st.opts.Prefix)
	sid := rec.str("sid")
	if sid == "" {
		sid = "-"
	}
	if details != "" {
		text += " · " + details
	}
	_, err := fmt.Fprintf(st.w, "%s %-5s %-9s %-34s %s\n", rec.Time.Format(time.TimeOnly), lvl, source, sid, oneLine(text))
	return err
}

// keys are the attributes describe shows, in order, for a record that is
// not verbose; the rest are the record's plumbing.
var keys = []string{"command", "collection", "result", "kind", "imageUri", "labels", "media_type", "media_bytes", "to"}

// internal are attributes never shown, even verbose: they are this
// package's or already in the line.
var internal = []string{HopKey, "function", "component", "sid"}

// describe says what a record tells: its message, "body" quoted, the
// attributes of keys (all of them when verbose) and, last, its error.
func describe(rec record, verbose bool) string {
	var b strings.Builder
	b.WriteString(strings.TrimPrefix(rec.Message, strings.TrimSuffix(rec.str("component"), ":")+": "))
	if body, ok := rec.get("body"); ok && body.String() != "" {
		fmt.Fprintf(&b, " %q", body.String())
	}
	var shown []string
	if verbose {
		for _, a := range rec.attrs {
			if !slices.Contains(internal, a.Key) && a.Key != "body" && !isError(a.Key) {
				shown = append(shown, a.Key+"="+a.Value.Resolve().String())
			}
		}
	} else {
		for _, k := range keys {
			if v, ok := rec.get(k); ok && v.String() != "" {
				shown = append(shown, k+"="+v.String())
			}
		}
	}
	if len(shown) > 0 {
		b.WriteString(" (" + strings.Join(shown, ", ") + ")")
	}
	for _, k := range []string{"error", "err", "reason", "error_message"} {
		if v, ok := rec.get(k); ok && v.String() != "" {
			b.WriteString(": " + v.String())
			break
		}
	}
	return b.String()
}

func isError(key string) bool {
	return key == "error" || key == "err" || key == "reason" || key == "error_message"
}

// hopDetails says how a hop went, from the attributes the gateway and the
// local SNS put on it: the HTTP status, the duration, the attempt.
func hopDetails(rec record) string {
	var parts []string
	if v, ok := rec.get("status"); ok {
		parts = append(parts, v.String())
	}
	if v, ok := rec.get("duration_ms"); ok {
		parts = append(parts, v.String()+" ms")
	}
	if a, ok := rec.get("attempt"); ok {
		if of, ok := rec.get("of"); ok && (a.String() != "1" || rec.Level >= slog.LevelWarn) {
			parts = append(parts, "attempt "+a.String()+" of "+of.String())
		}
	}
	if v, ok := rec.get("retry_in"); ok {
		parts = append(parts, "retry in "+v.String())
	}
	return strings.Join(parts, ", ")
}

// oneLine keeps a line a line: newlines (of joined errors) become "; ".
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), "; ")
}
