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
)

// object is one object version named by an event.
type object struct {
	bucket, key, name        string // name: the key without incoming/
	version, etag, sequencer string
	size                     int64
}

func (o object) sidecarKey() string    { return ResultsPrefix + o.name + ".json" }
func (o object) quarantineKey() string { return QuarantinePrefix + o.name }

// publicKey is where the blurred copy goes: public/<name>, with ".jpg"
// added unless the name already ends in .jpg or .jpeg (the copy is a JPEG
// whatever the original was).
func (o object) publicKey() string {
	lower := strings.ToLower(o.name)
	if strings.HasSuffix(lower, ".jpg") || strings.HasSuffix(lower, ".jpeg") {
		return PublicPrefix + o.name
	}
	return PublicPrefix + o.name + ".jpg"
}

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

// run inspects o, resuming or skipping what its sidecar says is done.
func (h *Handler) run(ctx context.Context, o object, log *slog.Logger) (*Result, error) {
	prev, err := h.readResult(ctx, o)
	if err != nil {
		return nil, err
	}
	if prev != nil && prev.sameObject(o) {
		switch prev.State {
		case StateDone:
			log.InfoContext(ctx, "inspect: already done for this version (a repeated delivery); nothing to do")
			return prev, nil
		case StateActing:
			log.InfoContext(ctx, "inspect: resuming the action of an interrupted delivery")
			if err := h.tagObject(ctx, o, prev); err != nil && !errors.Is(err, errGone) {
				return nil, err
			}
			return prev, h.act(ctx, o, prev, nil)
		}
	}

	res := &Result{
		Bucket: o.bucket, Key: o.key, VersionID: o.version, ETag: o.etag, Sequencer: o.sequencer, Size: o.size,
		InspectedAt: h.now().UTC(),
	}
	if err := checkSize(o.size, h.cfg.MaxBytes); err != nil {
		return res, h.finishRejected(ctx, o, res, err)
	}
	data, err := h.fetch(ctx, o, h.cfg.MaxBytes)
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
	res.Verdict, res.Reason = Judge(reply.SafeSearch)
	res.Action = actionFor(res.Verdict, h.cfg.Action)
	if res.Action == ActionTag || res.Action == "none" {
		// Tags and one sidecar: nothing to resume.
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
	if err := h.writeResult(ctx, o, res); err != nil {
		return nil, err
	}
	if err := h.tagObject(ctx, o, res); err != nil {
		return nil, err
	}
	return res, h.act(ctx, o, res, img)
}

// finishRejected tags a rejected object with the reason and writes its
// sidecar: it is not sent anywhere and stays where it is.
func (h *Handler) finishRejected(ctx context.Context, o object, res *Result, why error) error {
	res.Verdict, res.Reason, res.Action = VerdictRejected, why.Error(), "none"
	if err := h.tagObject(ctx, o, res); err != nil && !errors.Is(err, errGone) {
		return err
	}
	return h.complete(ctx, o, res)
}

// act does the action of an unsafe verdict, in an order that loses
// nothing: the blurred copy first, then the original's copy in quarantine,
// then the deletion of that version under incoming/. img is the decoded
// original; nil on a resumed delivery, which reads it again if the blurred
// copy is still to be made.
func (h *Handler) act(ctx context.Context, o object, res *Result, img image.Image) error {
	if res.Action == ActionBlur {
		if img == nil {
			data, err := h.fetch(ctx, o, h.cfg.MaxBytes)
			switch {
			case errors.Is(err, errGone):
				// Deleted only after its copies were made.
				res.Note = "the original was already gone from " + IncomingPrefix + " when the interrupted blur resumed: its copies were made before"
				return h.complete(ctx, o, res)
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
		err := h.copyToQuarantine(ctx, o, res)
		switch {
		case errors.Is(err, errGone):
			res.Note = "the original was already gone from " + IncomingPrefix + " when the interrupted move resumed: it had been copied to " + QuarantinePrefix + " before"
			return h.complete(ctx, o, res)
		case err != nil:
			return err
		}
		if err := h.deleteOriginal(ctx, o); err != nil {
			return err
		}
	}
	return h.complete(ctx, o, res)
}

// complete marks res done and writes the sidecar.
func (h *Handler) complete(ctx context.Context, o object, res *Result) error {
	res.State = StateDone
	at := h.now().UTC().Truncate(time.Millisecond)
	res.CompletedAt = &at
	return h.writeResult(ctx, o, res)
}
