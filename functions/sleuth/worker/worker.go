// Package worker holds CelebritySleuth's Lambdas after the request: the
// command handlers (addcol, addimg, match) that call Rekognition and publish
// a sleuth.Reply, the respond handler that sends replies by SMS, and the
// failure handler that apologises when a command failed for good.
//
// All are SNS-triggered, so every message may arrive more than once, and
// Lambda retries an invocation that returns an error (twice, then the
// command Lambdas' on-failure destination feeds the failure handler).
// Errors the user caused are answered by SMS and never retried; failures
// (throttling, network) return an error so Lambda retries.
//
// Exactly once, with a sleuth.Ledger keyed "<MessageSid>#<step>":
//
//   - addcol and addimg claim their step before calling Rekognition and
//     mark it done right after the side effect (a collection created, a
//     face indexed). A duplicate delivery finds it done and publishes the
//     success reply again, rebuilt from the Job, instead of indexing the
//     face twice; that also covers a publish that failed after the side
//     effect. Outcomes without a side effect (user errors, a collection
//     that already existed) release the claim: repeating them is harmless.
//   - match has no side effect: it is marked done once its reply is
//     published, and duplicates are dropped.
//   - respond claims "<MessageSid>#sms:<reply step>" around the Twilio call,
//     so a reply published twice is sent once; failure does the same with
//     "sms:failure".
//
// The Ledger's lease (2 minutes) must exceed the functions' timeout.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/command"
)

// BiographyTimeout bounds the biography lookup of a match: without it the
// reply still goes out, with "(biography unavailable)".
const BiographyTimeout = 5 * time.Second

// Deps are the command handlers' collaborators.
type Deps struct {
	// Faces, Publisher and Ledger are required.
	Faces     sleuth.Faces
	Publisher sleuth.Publisher
	Ledger    sleuth.Ledger
	// Media is required for addimg and match; nil in a worker that only
	// serves addcol.
	Media sleuth.Media
	// Biographies is required for match.
	Biographies sleuth.Biographies
	// Logger receives one record per step. Nil means
	// lambdacontext.NewLogger().
	Logger *slog.Logger
}

// Worker runs the command handlers. Build it once per execution environment
// with New; its methods are safe for concurrent use.
type Worker struct {
	faces     sleuth.Faces
	media     sleuth.Media
	bios      sleuth.Biographies
	publisher sleuth.Publisher
	ledger    sleuth.Ledger
	prefix    string
	threshold float64
	responses string
	log       *slog.Logger
}

// New returns a Worker for cfg (Prefix, ResponsesTopicARN and Threshold are
// used) and deps.
func New(cfg Config, deps Deps) (*Worker, error) {
	switch {
	case deps.Faces == nil || deps.Publisher == nil || deps.Ledger == nil:
		return nil, errors.New("worker: Faces, Publisher and Ledger are required")
	case !validPrefix(cfg.Prefix):
		return nil, fmt.Errorf("worker: invalid prefix %q", cfg.Prefix)
	case cfg.ResponsesTopicARN == "":
		return nil, errors.New("worker: no responses topic")
	case !(cfg.Threshold >= 0 && cfg.Threshold <= 100):
		return nil, fmt.Errorf("worker: threshold %v is outside 0-100", cfg.Threshold)
	}
	log := deps.Logger
	if log == nil {
		log = lambdacontext.NewLogger()
	}
	return &Worker{
		faces: deps.Faces, media: deps.Media, bios: deps.Biographies,
		publisher: deps.Publisher, ledger: deps.Ledger,
		prefix: cfg.Prefix, threshold: cfg.Threshold, responses: cfg.ResponsesTopicARN,
		log: log,
	}, nil
}

// HandleSNS is the Lambda handler: each record's message is a JSON
// sleuth.Job. A record that is not a valid Job is logged and dropped
// (retrying can't fix it); the error joins the failures of the others.
func (w *Worker) HandleSNS(ctx context.Context, ev events.SNSEvent) error {
	var errs []error
	for _, rec := range ev.Records {
		var job sleuth.Job
		if err := json.Unmarshal([]byte(rec.SNS.Message), &job); err != nil {
			w.log.ErrorContext(ctx, "job dropped: message is not a JSON job",
				"snsMessageId", rec.SNS.MessageID, "error", err)
			continue
		}
		errs = append(errs, w.Process(ctx, job))
	}
	return errors.Join(errs...)
}

// outcome is the result of a command.
type outcome struct {
	reply  string // the SMS text
	result string // short name for the logs, e.g. "indexed", "no_face"
	// replayable means the step changed something (collection created, face
	// indexed) and reply can be rebuilt from the Job alone: the step is
	// marked done at once and duplicates publish reply again.
	replayable bool
	// problem means reply explains why the command could not be done
	// (sleuth.Reply.Error).
	problem bool
}

// Process runs one job: the transport-free core of HandleSNS, which
// `crossfaas dev` calls with its in-process bus. It returns an error only
// for failures worth retrying (including sleuth.ErrInProgress while a
// duplicate delivery holds the step); the user's mistakes are answered.
func (w *Worker) Process(ctx context.Context, job sleuth.Job) error {
	step := string(job.Command)
	log := w.log.With("sid", job.MessageSid, "step", step, "collection", job.Collection, "from", sleuth.MaskNumber(job.From))
	if err := check(job); err != nil {
		log.ErrorContext(ctx, "job dropped", "error", err)
		return nil
	}
	if err := w.serves(job.Command); err != nil {
		log.ErrorContext(ctx, "job refused", "error", err)
		return err
	}
	key := job.MessageSid + "#" + step
	proceed, err := w.ledger.Begin(ctx, key)
	if err != nil {
		log.WarnContext(ctx, "job deferred: step not claimed", "error", err)
		return fmt.Errorf("worker: %s: %w", key, err)
	}
	if !proceed {
		if job.Command == sleuth.VerbMatch {
			log.InfoContext(ctx, "duplicate dropped: reply already published")
			return nil
		}
		log.InfoContext(ctx, "duplicate: step already done, publishing its reply again")
		return w.publish(ctx, log, job, w.successReply(job), false)
	}

	out, err := w.run(ctx, log, job)
	if err != nil {
		log.WarnContext(ctx, "step failed, will be retried", "error", err)
		return errors.Join(fmt.Errorf("worker: %s: %w", key, err), w.release(ctx, log, key))
	}
	log = log.With("result", out.result)
	if out.replayable {
		if err := w.ledger.Done(ctx, key); err != nil {
			// Returning an error would retry a step that happened; the
			// reply still goes out, only later duplicates may repeat it.
			log.ErrorContext(ctx, "step done but not recorded", "error", err)
		}
	}
	if err := w.publish(ctx, log, job, out.reply, out.problem); err != nil {
		if !out.replayable {
			return errors.Join(err, w.release(ctx, log, key))
		}
		return err // a retry finds the step done and publishes again
	}
	switch {
	case out.replayable:
	case job.Command == sleuth.VerbMatch:
		if err := w.ledger.Done(ctx, key); err != nil {
			log.ErrorContext(ctx, "reply published but not recorded", "error", err)
		}
	default:
		_ = w.release(ctx, log, key) // logged; the claim lapses with its lease
	}
	log.InfoContext(ctx, "job done")
	return nil
}

// run does the work of the job's command.
func (w *Worker) run(ctx context.Context, log *slog.Logger, job sleuth.Job) (outcome, error) {
	collectionID := sleuth.CollectionID(w.prefix, job.Collection)
	switch job.Command {
	case sleuth.VerbAddCollection:
		created, err := w.faces.CreateCollection(ctx, collectionID)
		switch {
		case err != nil:
			return w.userOutcome(job, err)
		case created:
			return outcome{reply: replyCreated(job.Collection), result: "created", replayable: true}, nil
		default:
			return outcome{reply: replyExists(job.Collection), result: "exists"}, nil
		}
	case sleuth.VerbAddImage:
		image, err := w.fetch(ctx, job)
		if err != nil {
			return w.userOutcome(job, err)
		}
		if err := w.faces.IndexFace(ctx, collectionID, job.Name, image); err != nil {
			return w.userOutcome(job, err)
		}
		return outcome{reply: replyAdded(job), result: "indexed", replayable: true}, nil
	default: // sleuth.VerbMatch, by check
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

// successReply rebuilds the reply of a replayable step.
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
	bio, err := w.bios.Biography(ctx, command.DisplayName(m.ExternalID))
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

// publish publishes the reply to job; problem marks a reply explaining
// why the command could not be done.
func (w *Worker) publish(ctx context.Context, log *slog.Logger, job sleuth.Job, body string, problem bool) error {
	msg, err := json.Marshal(sleuth.Reply{
		MessageSid: job.MessageSid,
		Step:       string(job.Command),
		From:       job.To, // the Twilio number the user texted
		To:         job.From,
		Body:       body,
		Error:      problem,
	})
	if err != nil {
		return fmt.Errorf("worker: encode reply: %w", err)
	}
	if err := w.publisher.Publish(ctx, w.responses, msg); err != nil {
		log.WarnContext(ctx, "reply not published, will be retried", "error", err)
		return fmt.Errorf("worker: publish reply to %s: %w", job.MessageSid, err)
	}
	log.InfoContext(ctx, "reply published")
	return nil
}

// release drops the claim on key, logging a failure (the claim then lapses
// with its lease).
func (w *Worker) release(ctx context.Context, log *slog.Logger, key string) error {
	if err := w.ledger.Release(ctx, key); err != nil {
		log.WarnContext(ctx, "claim not released", "error", err)
		return err
	}
	return nil
}

// Ids as the request handler validates them (package command): a
// collection is 1 to 64 lower-case letters, digits, '_', '.' and '-'; a
// name the same with upper-case letters too.
const maxID = 64

// check rejects jobs no retry could process. The request handler never
// publishes them, so there is nobody to tell.
func check(job sleuth.Job) error {
	switch {
	case job.MessageSid == "" || job.From == "" || job.To == "":
		return errors.New("job has no messageSid, from or to")
	case !isID(job.Collection, maxID, true):
		return fmt.Errorf("invalid collection %q", job.Collection)
	}
	switch job.Command {
	case sleuth.VerbAddCollection, sleuth.VerbMatch:
	case sleuth.VerbAddImage:
		if !isID(job.Name, maxID, false) {
			return fmt.Errorf("invalid name %q", job.Name)
		}
	default:
		return fmt.Errorf("unknown command %q", job.Command)
	}
	return nil
}

// serves reports, as an error, a command this worker lacks the
// collaborators for: a deployment mistake (a topic wired to the wrong
// function), so the job fails and reaches the failure handler.
func (w *Worker) serves(verb sleuth.Verb) error {
	switch {
	case verb == sleuth.VerbAddImage && w.media == nil:
		return errors.New("worker: addimg needs a media fetcher: is the topic wired to the right function?")
	case verb == sleuth.VerbMatch && (w.media == nil || w.bios == nil):
		return errors.New("worker: match needs a media fetcher and biographies: is the topic wired to the right function?")
	}
	return nil
}
