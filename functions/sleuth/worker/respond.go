package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/twilio"
)

// Responder is the respond Lambda: it sends each sleuth.Reply by SMS, once.
// Build it once per execution environment; it is safe for concurrent use.
type Responder struct {
	ledger sleuth.Ledger
	sms    sleuth.SMSSender
	log    *slog.Logger
}

// NewResponder returns a Responder. logger nil means
// lambdacontext.NewLogger().
func NewResponder(ledger sleuth.Ledger, sms sleuth.SMSSender, logger *slog.Logger) (*Responder, error) {
	if ledger == nil || sms == nil {
		return nil, errors.New("worker: responder needs a Ledger and an SMSSender")
	}
	if logger == nil {
		logger = lambdacontext.NewLogger()
	}
	return &Responder{ledger: ledger, sms: sms, log: logger}, nil
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
	return sendOnce(ctx, r.ledger, r.sms, log, reply.MessageSid+"#sms:"+reply.Step, reply.From, reply.To, reply.Body)
}

// sendOnce sends an SMS under the ledger key, so duplicates don't send it
// again.
func sendOnce(ctx context.Context, ledger sleuth.Ledger, sms sleuth.SMSSender, log *slog.Logger, key, from, to, body string) error {
	proceed, err := ledger.Begin(ctx, key)
	if err != nil {
		log.WarnContext(ctx, "sms deferred: step not claimed", "error", err)
		return fmt.Errorf("worker: %s: %w", key, err)
	}
	if !proceed {
		log.InfoContext(ctx, "duplicate dropped: sms already sent")
		return nil
	}
	if err := sms.Send(ctx, from, to, body); err != nil {
		if errors.Is(err, twilio.ErrRejected) {
			// Sending again can't succeed: record the step so no retry or
			// duplicate tries.
			log.ErrorContext(ctx, "sms rejected by Twilio, not retried", "error", err)
			if err := ledger.Done(ctx, key); err != nil {
				log.ErrorContext(ctx, "rejection not recorded", "error", err)
			}
			return nil
		}
		log.WarnContext(ctx, "sms not sent, will be retried", "error", err)
		if relErr := ledger.Release(ctx, key); relErr != nil {
			log.WarnContext(ctx, "claim not released", "error", relErr)
		}
		return fmt.Errorf("worker: %s: %w", key, err)
	}
	if err := ledger.Done(ctx, key); err != nil {
		// The SMS is out; an error would only make a retry send it again.
		log.ErrorContext(ctx, "sms sent but not recorded", "error", err)
	}
	log.InfoContext(ctx, "sms sent")
	return nil
}
