package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/twilio"
)

// Responder is the respond Lambda: it sends each sleuth.Reply by SMS, once.
// Build it once per execution environment; it is safe for concurrent use.
type Responder struct {
	ledger  sleuth.Ledger
	sms     sleuth.SMSSender
	timeout time.Duration
	log     *slog.Logger
}

// NewResponder returns a Responder whose work on a reply ends with timeout
// (the function's, as the stack set it; zero means
// DefaultFunctionTimeout). logger nil means lambdacontext.NewLogger().
func NewResponder(ledger sleuth.Ledger, sms sleuth.SMSSender, timeout time.Duration, logger *slog.Logger) (*Responder, error) {
	if ledger == nil || sms == nil {
		return nil, errors.New("worker: responder needs a Ledger and an SMSSender")
	}
	if logger == nil {
		logger = lambdacontext.NewLogger()
	}
	return &Responder{ledger: ledger, sms: sms, timeout: Config{FunctionTimeout: timeout}.timeout(), log: logger}, nil
}

// HandleSNS is the Lambda handler: each record's message is a JSON
// sleuth.Reply. Records that are not are logged and dropped.
func (r *Responder) HandleSNS(ctx context.Context, ev events.SNSEvent) error {
	var errs []error
	for _, rec := range ev.Records {
		var reply sleuth.Reply
		if err := json.Unmarshal([]byte(rec.SNS.Message), &reply); err != nil {
			r.log.ErrorContext(ctx, "reply dropped: message is not a JSON reply",
				"snsMessageId", rec.SNS.MessageID, "error", err)
			continue
		}
		errs = append(errs, r.Process(ctx, reply))
	}
	return errors.Join(errs...)
}

// Process sends one reply, unless a delivery of the same reply (MessageSid
// and Step) already sent it. It returns an error for failures worth
// retrying; a message Twilio refused for good (twilio.ErrRejected) is
// logged and not retried.
func (r *Responder) Process(ctx context.Context, reply sleuth.Reply) error {
	log := r.log.With("sid", reply.MessageSid, "step", "sms:"+reply.Step, "to", sleuth.MaskNumber(reply.To))
	if reply.MessageSid == "" || reply.Step == "" || reply.From == "" || reply.To == "" || reply.Body == "" {
		log.ErrorContext(ctx, "reply dropped: messageSid, step, from, to and body are required")
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return sendOnce(ctx, r.ledger, r.sms, log, reply.MessageSid+"#sms:"+reply.Step, reply.From, reply.To, reply.Body)
}

// sendSkew is how much earlier than the attempt's own clock Twilio may
// date the message it created: clocks of different hosts, and Twilio's
// whole seconds.
const sendSkew = 2 * time.Second

// sendOnce sends an SMS under the ledger key, exactly once across
// duplicates, lost responses and crashes:
//
//   - the claim's attempt marker is the time of the first attempt to send,
//     recorded before the Twilio call;
//   - a later attempt that finds the marker asks Twilio for messages with
//     the same from, to and body created since then, and adopts the first
//     one no other step adopted (identical texts to one user, say two
//     "already exists", stay two messages); found, the step is done;
//   - after a send, the message is adopted and the step recorded done; an
//     outcome it can't be sure of (a 5xx, a broken connection) releases
//     the claim for a retry, which reconciles.
//
// ctx bounds the whole: the claim lapses LeaseMargin after its deadline.
func sendOnce(ctx context.Context, ledger sleuth.Ledger, sms sleuth.SMSSender, log *slog.Logger, key, from, to, body string) error {
	claim, err := ledger.Begin(ctx, key)
	if err != nil {
		log.WarnContext(ctx, "sms deferred: step not claimed", "error", err)
		return fmt.Errorf("worker: %s: %w", key, err)
	}
	if claim.Done {
		log.InfoContext(ctx, "duplicate dropped: sms already sent")
		return nil
	}
	fail := func(msg string, err error) error {
		log.WarnContext(ctx, msg, "error", err)
		if relErr := ledger.Release(ctx, claim); relErr != nil {
			log.WarnContext(ctx, "claim not released", "error", relErr)
		}
		return fmt.Errorf("worker: %s: %w", key, err)
	}
	if claim.Attempt != "" {
		sid, err := reconcileSMS(ctx, ledger, sms, claim, from, to, body)
		if err != nil {
			return fail("sms not reconciled, will be retried", err)
		}
		if sid != "" {
			if err := ledger.Done(ctx, claim, sid); err != nil {
				return fail("sms found sent but not recorded, will be retried", err)
			}
			log.InfoContext(ctx, "sms found sent by an earlier attempt", "messageSid", sid)
			return nil
		}
		log.InfoContext(ctx, "sms not sent by the earlier attempt: sending")
	} else if err := ledger.Attempt(ctx, claim, strconv.FormatInt(time.Now().UnixMilli(), 10)); err != nil {
		return fail("sms not sent: attempt not recorded, will be retried", err)
	}
	sid, err := sms.Send(ctx, from, to, body)
	if err != nil {
		if errors.Is(err, twilio.ErrRejected) {
			// Sending again can't succeed: record the step so no retry or
			// duplicate tries.
			log.ErrorContext(ctx, "sms rejected by Twilio, not retried", "error", err)
			if err := ledger.Done(ctx, claim, "rejected"); err != nil {
				log.ErrorContext(ctx, "rejection not recorded", "error", err)
			}
			return nil
		}
		return fail("sms not sent, will be retried", err)
	}
	log = log.With("messageSid", sid)
	// The SMS is out. Until the message is adopted and the step recorded,
	// a retry would find it by looking it up: failing here costs a retry,
	// never a second SMS.
	if ok, err := ledger.Adopt(ctx, adoptKey(sid), claim); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("message %s already belongs to another step", sid)
		}
		return fail("sms sent but not recorded, will be retried", err)
	}
	if err := ledger.Done(ctx, claim, sid); err != nil {
		return fail("sms sent but not recorded, will be retried", err)
	}
	log.InfoContext(ctx, "sms sent")
	return nil
}

// adoptKey is the ledger key of a Twilio message adopted by a step.
func adoptKey(messageSid string) string { return "twilio-message#" + messageSid }

// reconcileSMS looks for the message an earlier attempt of claim's step
// may have sent: one from from to to with body, created since the
// attempt's marker, that no other step adopted. It returns its SID, ""
// when there is none.
func reconcileSMS(ctx context.Context, ledger sleuth.Ledger, sms sleuth.SMSSender, claim sleuth.Claim, from, to, body string) (string, error) {
	ms, err := strconv.ParseInt(claim.Attempt, 10, 64)
	if err != nil {
		return "", fmt.Errorf("attempt marker %q is not a time", claim.Attempt)
	}
	sids, err := sms.Sent(ctx, from, to, body, time.UnixMilli(ms).Add(-sendSkew))
	if err != nil {
		return "", err
	}
	for _, sid := range sids {
		ok, err := ledger.Adopt(ctx, adoptKey(sid), claim)
		if err != nil {
			return "", err
		}
		if ok {
			return sid, nil
		}
	}
	return "", nil
}
