// Inspecting one object: the sidecar's states, the checks, the labeler and
// the action.

package inspector

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/crossfaas/crossfaas/functions/labeler/annotation"
)

// object is one object version named by an event.
type object struct {
	bucket, key, name        string // name: the key without incoming/
	version, etag, sequencer string
	size                     int64
}

// id names o's version in keys: its version id (or, in a bucket without
// versioning, "seq-" and the event's sequencer), with every byte outside
// [A-Za-z0-9_-] written "~XX" (hex), so that it has no "/" or "." and two
// versions never share an id.
func (o object) id() string {
	raw := o.version
	if raw == "" {
		raw = "seq-" + o.sequencer
	}
	var b strings.Builder
	for i := range len(raw) {
		c := raw[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "~%02X", c)
		}
	}
	return b.String()
}

// sidecarKey is results/<name>.json: the result of the newest version of
// the key inspected (by the events' sequencers).
func (o object) sidecarKey() string { return ResultsPrefix + o.name + ".json" }

// recordKey is results/<name>.json.versions/<id>: the result and state of
// this version, which idempotency and resumption go by. It never ends in
// ".json" (an id has no "."), so it is never the sidecar of another name.
func (o object) recordKey() string { return ResultsPrefix + o.name + ".json.versions/" + o.id() }

// quarantineKey is quarantine/<id>/<name>: one key per version, so two
// uploads (two keys, or two versions of one) never share a quarantined copy.
func (o object) quarantineKey() string { return QuarantinePrefix + o.id() + "/" + o.name }

// maxKeyBytes is S3's limit on a key's length, in bytes of UTF-8.
const maxKeyBytes = 1024

// longestKey is the longest of the keys the inspector writes for o.
func (o object) longestKey() string {
	longest := ""
	for _, k := range []string{o.sidecarKey(), o.recordKey(), o.quarantineKey(), o.publicKey()} {
		if len(k) > len(longest) {
			longest = k
		}
	}
	return longest
}

// publicKey is where the blurred copy goes: public/<id>/<name>.jpg (the
// copy is a JPEG whatever the original was). The suffix is added always,
// never only when missing, so that incoming/a.png and incoming/a.png.jpg
// do not meet at public/<id>/a.png.jpg; the id keeps versions apart.
func (o object) publicKey() string { return PublicPrefix + o.id() + "/" + o.name + ".jpg" }

// inspect handles one record of an S3 event.
func (h *Handler) inspect(ctx context.Context, rec events.S3EventRecord) error {
	start := h.now()
	key, err := url.QueryUnescape(rec.S3.Object.Key)
	if err != nil {
		h.logger.ErrorContext(ctx, "inspect: the event's key is not URL-encoded; skipped", "key", rec.S3.Object.Key)
		return nil
	}
	name, ok := strings.CutPrefix(key, IncomingPrefix)
	if !ok || name == "" || strings.HasSuffix(name, "/") || !strings.HasPrefix(rec.EventName, "ObjectCreated:") {
		// The stack only sends ObjectCreated under incoming/; a folder
		// marker ("incoming/") or another event is nothing to inspect.
		h.logger.InfoContext(ctx, "inspect: not an upload under "+IncomingPrefix+"; skipped", "key", key, "event", rec.EventName)
		return nil
	}
	o := object{
		bucket: rec.S3.Bucket.Name, key: key, name: name,
		version: rec.S3.Object.VersionID, etag: rec.S3.Object.ETag, sequencer: rec.S3.Object.Sequencer,
		size: rec.S3.Object.Size,
	}
	log := h.logger.With("bucket", o.bucket, "key", o.key, "versionId", o.version)
	if long := o.longestKey(); len(long) > maxKeyBytes {
		// Its record, sidecar or copies cannot be written: say so on the
		// object itself, and nowhere else.
		res := &Result{Verdict: VerdictRejected, Action: "none", Reason: fmt.Sprintf(
			"the key is too long: the inspector's key %s… would be %d bytes, over S3's %d", long[:40], len(long), maxKeyBytes)}
		log.WarnContext(ctx, "inspect: "+res.Reason)
		if err := h.tagObject(ctx, o, res); err != nil && !errors.Is(err, errGone) {
			return fmt.Errorf("inspect s3://%s/%s: %w", o.bucket, o.key, err)
		}
		return nil
	}
	res, err := h.run(ctx, o, log)
	attrs := []any{"durationMs", h.now().Sub(start).Milliseconds()}
	if res != nil {
		attrs = append(attrs, "verdict", res.Verdict, "action", res.Action, "state", res.State, "reason", res.Reason)
	}
	if err != nil {
		log.ErrorContext(ctx, "inspect failed", append(attrs, "error", err.Error())...)
		return fmt.Errorf("inspect s3://%s/%s (version %q): %w", o.bucket, o.key, o.version, err)
	}
	log.InfoContext(ctx, "inspected", attrs...)
	return nil
}

// run inspects o, resuming or skipping what its record says is done.
func (h *Handler) run(ctx context.Context, o object, log *slog.Logger) (*Result, error) {
	// A first delivery reads the object, and asks for the private link's
	// token, while it reads the record: on a cold start each of those is
	// a first connection. A repeated delivery drops what it read.
	sizeErr := checkSize(o.size, h.cfg.MaxBytes)
	var (
		data     []byte
		fetchErr error
	)
	fetched := make(chan struct{})
	if sizeErr == nil {
		if h.tokens != nil {
			// Errors are the labeler call's to report: it asks again.
			prefetched := make(chan struct{})
			defer func() { <-prefetched }()
			go func() {
				defer close(prefetched)
				h.tokens.Token(ctx)
			}()
		}
		go func() {
			defer close(fetched)
			data, fetchErr = h.fetch(ctx, o, h.cfg.MaxBytes)
		}()
	} else {
		close(fetched)
	}
	prev, err := h.readResult(ctx, o.bucket, o.recordKey())
	<-fetched
	if err != nil {
		return nil, err
	}
	if prev != nil && prev.sameObject(o) {
		data = nil
		switch prev.State {
		case StateDone:
			log.InfoContext(ctx, "inspect: already done for this version (a repeated delivery); nothing to do")
			// The delivery that finished may have stopped before the sidecar.
			return prev, h.publish(ctx, o, prev)
		case StateActing:
			log.InfoContext(ctx, "inspect: resuming the action of an interrupted delivery")
			if !prev.QuarantineCopied {
				if err := h.tagObject(ctx, o, prev); err != nil && !errors.Is(err, errGone) {
					return nil, err
				}
			}
			return prev, h.act(ctx, o, prev, nil)
		}
	}

	res := &Result{
		Bucket: o.bucket, Key: o.key, VersionID: o.version, ETag: o.etag, Sequencer: o.sequencer, Size: o.size,
		InspectedAt: h.now().UTC(),
	}
	if sizeErr != nil {
		return res, h.finishRejected(ctx, o, res, sizeErr)
	}
	err = fetchErr
	if errors.Is(err, errGone) {
		log.InfoContext(ctx, "inspect: the object version is gone (deleted before it was inspected); nothing to do")
		return nil, nil
	}
	var rej *rejection
	if errors.As(err, &rej) {
		return res, h.finishRejected(ctx, o, res, err)
	}
	if err != nil {
		return nil, err
	}
	res.Size = int64(len(data))
	keep := h.cfg.Action == ActionBlur
	facts, img, err := checkImage(data, keep)
	if err != nil {
		return res, h.finishRejected(ctx, o, res, err)
	}
	res.Image = facts

	reply, err := h.label(ctx, data, facts.Format)
	if errors.As(err, &rej) {
		return res, h.finishRejected(ctx, o, res, err)
	}
	if err != nil {
		return nil, err
	}
	data = nil // the labeler has it; a blurred copy needs only img
	res.Engine, res.EngineNote, res.Labels, res.SafeSearch = reply.Engine, reply.EngineNote, reply.Labels, reply.SafeSearch
	res.Languages, res.TranslationEngine, res.TranslationNote = reply.Languages, reply.TranslationEngine, reply.TranslationNote
	if res.Verdict, res.Reason, err = judgeReply(reply); err != nil {
		return nil, err
	}
	res.Action = actionFor(res.Verdict, h.cfg.Action)
	if res.Action == ActionTag || res.Action == "none" {
		// Tags and one record: nothing to resume.
		if err := h.tagObject(ctx, o, res); err != nil {
			return nil, err
		}
		return res, h.complete(ctx, o, res)
	}
	res.State = StateActing
	if res.Action == ActionBlur {
		res.PublicKey = o.publicKey()
	}
	res.QuarantineKey = o.quarantineKey()
	if err := h.writeResult(ctx, o.bucket, o.recordKey(), res); err != nil {
		return nil, err
	}
	if err := h.tagObject(ctx, o, res); err != nil {
		return nil, err
	}
	return res, h.act(ctx, o, res, img)
}

// judgeReply returns the verdict of the labeler's reply. A reply without
// SafeSearch, or with a judged category (adult, violence, racy) missing,
// UNKNOWN or not a likelihood name, is an error (retried, then
// dead-lettered), never a safe verdict: Vision's Go client reads a field it
// did not receive as UNKNOWN. Only the offline engine, which has no
// SafeSearch and says so, gives VerdictUnknown.
func judgeReply(reply *labelerReply) (verdict, reason string, err error) {
	ss := reply.SafeSearch
	if ss == nil {
		if reply.Engine == annotation.EngineOffline {
			verdict, reason = Judge(nil)
			return verdict, reason, nil
		}
		return "", "", fmt.Errorf("label: the labeler's reply (engine %q) has no SafeSearch estimate: the image cannot be judged", reply.Engine)
	}
	for _, c := range []struct{ name, value string }{{"adult", ss.Adult}, {"violence", ss.Violence}, {"racy", ss.Racy}} {
		switch c.value {
		case "VERY_UNLIKELY", "UNLIKELY", "POSSIBLE", "LIKELY", "VERY_LIKELY":
		default:
			return "", "", fmt.Errorf("label: the labeler's SafeSearch has %s %q, not a likelihood: the image cannot be judged", c.name, c.value)
		}
	}
	verdict, reason = Judge(ss)
	return verdict, reason, nil
}

// finishRejected tags a rejected object with the reason and writes its
// record: it is not sent anywhere and stays where it is.
func (h *Handler) finishRejected(ctx context.Context, o object, res *Result, why error) error {
	res.Verdict, res.Reason, res.Action = VerdictRejected, why.Error(), "none"
	if err := h.tagObject(ctx, o, res); err != nil && !errors.Is(err, errGone) {
		return err
	}
	return h.complete(ctx, o, res)
}

// act does the action of an unsafe verdict, in an order that loses
// nothing: the blurred copy first, then the original's copy in quarantine
// (recorded with its version in o's record), then the deletion of that
// version under incoming/. img is the decoded original; nil on a resumed
// delivery, which reads it again if the blurred copy is still to be made.
//
// The original missing before its quarantined copy is recorded is an
// error, not a move: it was deleted by someone else, or the request named
// the wrong object, and no copy of it exists.
func (h *Handler) act(ctx context.Context, o object, res *Result, img image.Image) error {
	if res.Action == ActionBlur && !res.QuarantineCopied {
		if img == nil {
			data, err := h.fetch(ctx, o, h.cfg.MaxBytes)
			switch {
			case errors.Is(err, errGone):
				return fmt.Errorf("blur: %w", errVanished)
			case err != nil:
				return err
			}
			if _, img, err = checkImage(data, true); err != nil {
				return fmt.Errorf("decode the original again for its blurred copy: %w", err)
			}
		}
		jpegBytes, err := blur(img)
		if err != nil {
			return err
		}
		if err := h.putBlurred(ctx, o, res, jpegBytes); err != nil {
			return err
		}
	}
	if res.Action == ActionBlur || res.Action == ActionQuarantine {
		if !res.QuarantineCopied {
			version, err := h.copyToQuarantine(ctx, o, res)
			switch {
			case errors.Is(err, errGone):
				return fmt.Errorf("quarantine: %w", errVanished)
			case err != nil:
				return err
			}
			res.QuarantineCopied, res.QuarantineVersionID = true, version
			if err := h.writeResult(ctx, o.bucket, o.recordKey(), res); err != nil {
				return err
			}
		}
		if err := h.deleteOriginal(ctx, o); err != nil {
			return err
		}
	}
	return h.complete(ctx, o, res)
}

// errVanished is the original version missing before its copy to
// quarantine/ was made.
var errVanished = errors.New("the original version is gone from " + IncomingPrefix + " and no copy of it was made: deleted by someone else, or not the object named; not marked done")

// complete marks res done and writes its record and the sidecar.
func (h *Handler) complete(ctx context.Context, o object, res *Result) error {
	res.State = StateDone
	at := h.now().UTC().Truncate(time.Millisecond)
	res.CompletedAt = &at
	if err := h.writeResult(ctx, o.bucket, o.recordKey(), res); err != nil {
		return err
	}
	return h.publish(ctx, o, res)
}

// publish writes res, done, as the key's sidecar unless the sidecar holds
// it already or holds the result of a newer version (an older version's
// event delivered late, or again, never replaces a newer result).
func (h *Handler) publish(ctx context.Context, o object, res *Result) error {
	latest, err := h.readResult(ctx, o.bucket, o.sidecarKey())
	if err != nil {
		return err
	}
	switch {
	case latest != nil && latest.sameObject(o) && latest.State == StateDone:
		return nil
	case latest != nil && !latest.sameObject(o) && sequencerAfter(latest.Sequencer, o.sequencer):
		h.logger.InfoContext(ctx, "inspect: the sidecar holds a newer version's result; this version's is in its record",
			"sidecar", o.sidecarKey(), "record", o.recordKey())
		return nil
	}
	return h.writeResult(ctx, o.bucket, o.sidecarKey(), res)
}

// sequencerAfter reports whether S3 event sequencer a is later than b (of
// the same key): the shorter is right-padded with zeros, then they compare
// as strings. An empty sequencer is never later, and nothing is later than
// it.
func sequencerAfter(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	a, b = strings.ToUpper(a), strings.ToUpper(b)
	if n := max(len(a), len(b)); len(a) < n {
		a += strings.Repeat("0", n-len(a))
	} else if len(b) < n {
		b += strings.Repeat("0", n-len(b))
	}
	return a > b
}
