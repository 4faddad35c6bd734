// The command handlers' work: what each command does under its claim, and
// how a retry reconciles what an earlier attempt may have done.

package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/command"
)

// Attempt markers: what a command recorded before its call that changes
// things.
const (
	markerCreate = "create-collection"
	markerIndex  = "index-face"
)

// run does the work of the job's command under claim.
func (w *Worker) run(ctx context.Context, log *slog.Logger, job sleuth.Job, claim sleuth.Claim) (outcome, error) {
	collectionID := sleuth.CollectionID(w.prefix, job.Collection)
	switch job.Command {
	case sleuth.VerbAddCollection:
		if claim.Attempt == "" {
			if err := w.ledger.Attempt(ctx, claim, createMarker(w.now())); err != nil {
				return outcome{}, err
			}
		}
		created, err := w.faces.CreateCollection(ctx, collectionID)
		switch {
		case err != nil:
			return w.userOutcome(job, err)
		case created:
			return outcome{reply: replyCreated(job.Collection), result: "created"}, nil
		case claim.Attempt != "":
			// An earlier attempt of this step called CreateCollection and
			// died, or lost the answer: the collection is its if it was
			// created after that attempt began.
			ours, err := w.createdSince(ctx, collectionID, claim.Attempt)
			if err != nil {
				return w.userOutcome(job, err)
			}
			if ours {
				log.InfoContext(ctx, "collection found created by an earlier attempt")
				return outcome{reply: replyCreated(job.Collection), result: "created"}, nil
			}
			log.InfoContext(ctx, "collection found created before the earlier attempt")
		}
		return outcome{reply: replyExists(job.Collection), result: "exists"}, nil
	case sleuth.VerbAddImage:
		externalID := sleuth.FaceExternalID(job.Name, job.MessageSid)
		if claim.Attempt != "" {
			indexed, err := w.faces.FaceIndexed(ctx, collectionID, externalID)
			if err != nil {
				return w.userOutcome(job, err)
			}
			if indexed {
				log.InfoContext(ctx, "face found indexed by an earlier attempt")
				return outcome{reply: replyAdded(job), result: "indexed"}, nil
			}
		}
		image, err := w.fetch(ctx, job)
		if err != nil {
			return w.userOutcome(job, err)
		}
		if claim.Attempt == "" {
			if err := w.ledger.Attempt(ctx, claim, markerIndex); err != nil {
				return outcome{}, err
			}
		}
		if err := w.faces.IndexFace(ctx, collectionID, externalID, image); err != nil {
			return w.userOutcome(job, err)
		}
		return outcome{reply: replyAdded(job), result: "indexed"}, nil
	default: // sleuth.VerbMatch, by check; no side effect
		image, err := w.fetch(ctx, job)
		if err != nil {
			return w.userOutcome(job, err)
		}
		match, err := w.faces.SearchFace(ctx, collectionID, image, w.threshold)
		if err != nil {
			return w.userOutcome(job, err)
		}
		return outcome{reply: replyMatched(match, w.biography(ctx, log, match)), result: "matched"}, nil
	}
}

// createSkew is how much earlier than the worker's own clock Rekognition
// may date a collection the worker's CreateCollection created: the skew
// between the clocks of a Lambda host and Rekognition's. A collection
// someone else created less than this before our attempt counts as ours.
const createSkew = 2 * time.Second

// createMarker is the attempt marker of a CreateCollection sent at t.
func createMarker(t time.Time) string {
	return markerCreate + "@" + strconv.FormatInt(t.UnixMilli(), 10)
}

// createdSince reports whether collectionID was created by the attempt
// that recorded marker: at or after the marker's time, less createSkew.
// A marker without a time (recorded before markers had one) counts as
// ours, as it did then.
func (w *Worker) createdSince(ctx context.Context, collectionID, marker string) (bool, error) {
	msText, ok := strings.CutPrefix(marker, markerCreate+"@")
	if !ok {
		return true, nil
	}
	ms, err := strconv.ParseInt(msText, 10, 64)
	if err != nil {
		return false, fmt.Errorf("attempt marker %q has no time", marker)
	}
	created, err := w.faces.CollectionCreated(ctx, collectionID)
	if err != nil {
		return false, err
	}
	return !created.Before(time.UnixMilli(ms).Add(-createSkew)), nil
}

// successReply rebuilds the success reply of addcol and addimg, for steps
// recorded done before the ledger kept replies.
func (w *Worker) successReply(job sleuth.Job) string {
	if job.Command == sleuth.VerbAddCollection {
		return replyCreated(job.Collection)
	}
	return replyAdded(job)
}

// userOutcome turns an error the user caused into its reply; any other
// error is returned for a retry.
func (w *Worker) userOutcome(job sleuth.Job, err error) (outcome, error) {
	if reply, result, ok := userReply(job, w.threshold, err); ok {
		return outcome{reply: reply, result: result, problem: true}, nil
	}
	return outcome{}, err
}

// errNoImage is the user's: a command that needs a photo came without.
var errNoImage = fmt.Errorf("%w: no image attached", sleuth.ErrMediaRefused)

// fetch downloads the job's image.
func (w *Worker) fetch(ctx context.Context, job sleuth.Job) ([]byte, error) {
	if job.MediaURL == "" {
		return nil, errNoImage
	}
	return w.media.Fetch(ctx, job.MediaURL, job.MediaContentType)
}

// biography returns the biography of a match's person, or the line that
// replaces it: a match is worth sending without one.
func (w *Worker) biography(ctx context.Context, log *slog.Logger, m sleuth.Match) string {
	ctx, cancel := context.WithTimeout(ctx, BiographyTimeout)
	defer cancel()
	bio, err := w.bios.Biography(ctx, command.DisplayName(sleuth.PersonName(m.ExternalID)))
	switch {
	case err == nil && strings.TrimSpace(bio) != "":
		return bio
	case err == nil || errors.Is(err, sleuth.ErrNoBiography):
		return replyNoBio
	default:
		log.WarnContext(ctx, "biography unavailable", "name", m.ExternalID, "error", err)
		return replyBioDown
	}
}
