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
// Exactly once, with a sleuth.Ledger keyed "<MessageSid>#<step>", under
// faults at any call (a crash, a lost response, a transient error):
//
//   - every command claims its step (a claim with an owner token, lapsing
//     LeaseMargin after the invocation's deadline: a dead attempt's claim
//     is free by Lambda's first retry), then records the outcome and its
//     reply with Done before publishing the reply. A duplicate, or the
//     retry of a publish that failed, finds the step done and publishes
//     the recorded reply again; the respond step's key makes it one SMS.
//   - the calls that change things, CreateCollection and IndexFaces, are
//     sent once (no SDK re-send) after an attempt marker is recorded on
//     the claim. A later attempt that finds the marker reconciles instead
//     of calling blindly: IndexFaces indexes under
//     "<name>:<MessageSid>" and a retry first looks for that face;
//     CreateCollection's marker holds the attempt's time, and an "already
//     exists" after it is our collection, created, when DescribeCollection
//     dates the collection at or after that time (less createSkew), and
//     someone else's, existing, when it dates it before.
//   - respond claims "<MessageSid>#sms:<reply step>" around the Twilio
//     send, records the attempt's time first and, after an uncertain
//     attempt, looks the message up in Twilio's Messages resource before
//     sending again (sendOnce); failure does the same for the apology,
//     "sms:failure".
//
// Errors the user caused are outcomes like any other: recorded and
// answered, never retried.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/crossfaas/crossfaas/functions/sleuth"
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
	timeout   time.Duration
	now       func() time.Time
	log       *slog.Logger
}

// New returns a Worker for cfg (Prefix, ResponsesTopicARN, Threshold and
// FunctionTimeout are used) and deps.
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Worker{
		faces: deps.Faces, media: deps.Media, bios: deps.Biographies,
		publisher: deps.Publisher, ledger: deps.Ledger,
		prefix: cfg.Prefix, threshold: cfg.Threshold, responses: cfg.ResponsesTopicARN,
		timeout: cfg.timeout(), now: cfg.Now, log: log,
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
	reply  string // the SMS text, recorded in the ledger
	result string // short name for the logs, e.g. "indexed", "no_face"
	// problem means reply explains why the command could not be done
	// (sleuth.Reply.Error).
	problem bool
}

// recorded is what the ledger keeps of a command's outcome: its reply, to
// publish again to duplicates.
type recorded struct {
	Reply   string `json:"reply"`
	Problem bool   `json:"problem,omitempty"`
}

// encodeResult is the ledger's record of out.
func encodeResult(out outcome) string {
	b, _ := json.Marshal(recorded{Reply: out.reply, Problem: out.problem}) // strings and a bool: never fails
	return string(b)
}

// decodeResult reads a ledger record of encodeResult; ok is false for an
// empty one (a step recorded before results were).
func decodeResult(result string) (r recorded, ok bool) {
	if result == "" {
		return recorded{}, false
	}
	if json.Unmarshal([]byte(result), &r) != nil || r.Reply == "" {
		return recorded{Reply: result}, true
	}
	return r, true
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
	// The work ends with the function's timeout, as the stack set it, and
	// so does the claim, LeaseMargin later: a retry can take over at once
	// after an attempt that died.
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	key := job.MessageSid + "#" + step
	claim, err := w.ledger.Begin(ctx, key)
	if err != nil {
		log.WarnContext(ctx, "job deferred: step not claimed", "error", err)
		return fmt.Errorf("worker: %s: %w", key, err)
	}
	if claim.Done {
		rec, ok := decodeResult(claim.Result)
		if !ok { // recorded before results were: only successes of addcol and addimg
			if job.Command == sleuth.VerbMatch {
				log.InfoContext(ctx, "duplicate dropped: reply already published")
				return nil
			}
			rec = recorded{Reply: w.successReply(job)}
		}
		log.InfoContext(ctx, "duplicate: step already done, publishing its reply again")
		return w.publish(ctx, log, job, rec.Reply, rec.Problem)
	}
	if claim.Attempt != "" {
		log = log.With("reconcile", claim.Attempt)
	}

	out, err := w.run(ctx, log, job, claim)
	if err != nil {
		log.WarnContext(ctx, "step failed, will be retried", "error", err)
		return errors.Join(fmt.Errorf("worker: %s: %w", key, err), w.release(ctx, log, claim))
	}
	log = log.With("result", out.result)
	if err := w.ledger.Done(ctx, claim, encodeResult(out)); err != nil {
		// The reply still goes out now. The claim is released: a
		// duplicate or retry reconciles (the attempt marker stays) and
		// rebuilds the same reply, which respond sends once.
		log.ErrorContext(ctx, "step done but not recorded", "error", err)
		_ = w.release(ctx, log, claim)
	}
	if err := w.publish(ctx, log, job, out.reply, out.problem); err != nil {
		return err // a retry finds the step done and publishes again
	}
	log.InfoContext(ctx, "job done")
	return nil
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

// release ends claim, logging a failure (the claim then lapses with its
// lease).
func (w *Worker) release(ctx context.Context, log *slog.Logger, claim sleuth.Claim) error {
	if err := w.ledger.Release(ctx, claim); err != nil {
		log.WarnContext(ctx, "claim not released", "error", err)
		return err
	}
	return nil
}

// Ids as the request handler validates them (package command): a
// collection is 1 to 64 lower-case letters, digits, '_' and '-' (never
// sleuth.CollectionSeparator); a name the same with upper-case letters and
// '.' too; a MessageSid, 1 to 64 letters and digits.
const maxID = 64

// check rejects jobs no retry could process. The request handler never
// publishes them, so there is nobody to tell.
func check(job sleuth.Job) error {
	switch {
	case job.MessageSid == "" || job.From == "" || job.To == "":
		return errors.New("job has no messageSid, from or to")
	case !isCollectionName(job.Collection):
		return fmt.Errorf("invalid collection %q", job.Collection)
	case !isSid(job.MessageSid):
		return fmt.Errorf("invalid messageSid %q", job.MessageSid)
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
