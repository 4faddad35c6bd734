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

// Failure is the failure Lambda. The command Lambdas' on-failure
// destination (an SNS topic) hands it Lambda's record of an async
// invocation that failed for good; it tells each user whose job failed
// "Sorry, that failed. Please try again later." once, by SMS. Build it
// once per execution environment; it is safe for concurrent use.
type Failure struct {
	ledger  sleuth.Ledger
	sms     sleuth.SMSSender
	timeout time.Duration
	log     *slog.Logger
}

// NewFailure returns a Failure whose work on a record ends with timeout
// (the function's, as the stack set it; zero means
// DefaultFunctionTimeout). logger nil means lambdacontext.NewLogger().
func NewFailure(ledger sleuth.Ledger, sms sleuth.SMSSender, timeout time.Duration, logger *slog.Logger) (*Failure, error) {
	if ledger == nil || sms == nil {
		return nil, errors.New("worker: failure handler needs a Ledger and an SMSSender")
	}
	if logger == nil {
		logger = lambdacontext.NewLogger()
	}
	return &Failure{ledger: ledger, sms: sms, timeout: Config{FunctionTimeout: timeout}.timeout(), log: logger}, nil
}

// DestinationRecord is the record Lambda sends to an on-failure
// destination for an asynchronous invocation.
type DestinationRecord struct {
	Version        string `json:"version"`
	Timestamp      string `json:"timestamp"`
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionARN            string `json:"functionArn"`
		Condition              string `json:"condition"` // "RetriesExhausted", "EventAgeExceeded", ...
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	// RequestPayload is the failed invocation's event: here an SNS event
	// whose messages are jobs.
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError"`
	} `json:"responseContext"`
	// ResponsePayload is the function's last answer, e.g.
	// {"errorMessage": "...", "errorType": "..."}.
	ResponsePayload json.RawMessage `json:"responsePayload"`
}

// HandleSNS is the Lambda handler: each record's message is a
// DestinationRecord.
func (f *Failure) HandleSNS(ctx context.Context, ev events.SNSEvent) error {
	var errs []error
	for _, rec := range ev.Records {
		errs = append(errs, f.Process(ctx, []byte(rec.SNS.Message)))
	}
	return errors.Join(errs...)
}

// Process handles one destination record: for every job in its request
// payload, it sends the apology once per MessageSid. A record it can't
// parse is logged and dropped (returning nil: the destination's own
// dead-letter queue keeps it); an SMS that could not be sent, or a job
// whose step a delivery still claims (see answered), returns an error, for
// a retry.
func (f *Failure) Process(ctx context.Context, message []byte) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	var rec DestinationRecord
	if err := json.Unmarshal(message, &rec); err != nil {
		f.log.ErrorContext(ctx, "no apology: not a Lambda destination record (the failed queue keeps it)", "error", err)
		return nil
	}
	var lastError struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	_ = json.Unmarshal(rec.ResponsePayload, &lastError) // absent or not an object: nothing to log
	log := f.log.With("failedFunction", rec.RequestContext.FunctionARN,
		"failedRequestId", rec.RequestContext.RequestID,
		"condition", rec.RequestContext.Condition,
		"attempts", rec.RequestContext.ApproximateInvokeCount,
		"lastError", lastError.ErrorMessage)
	var payload events.SNSEvent
	if err := json.Unmarshal(rec.RequestPayload, &payload); err != nil || len(payload.Records) == 0 {
		log.ErrorContext(ctx, "no apology: request payload is not an SNS event (the failed queue keeps it)", "error", err)
		return nil
	}
	var errs []error
	for _, r := range payload.Records {
		var job sleuth.Job
		if err := json.Unmarshal([]byte(r.SNS.Message), &job); err != nil {
			log.ErrorContext(ctx, "no apology: message is not a JSON job (the failed queue keeps it)", "snsMessageId", r.SNS.MessageID, "error", err)
			continue
		}
		jobLog := log.With("sid", job.MessageSid, "step", "sms:failure", "failedStep", string(job.Command), "to", sleuth.MaskNumber(job.From))
		// A Reply (the respond Lambda's payload) parses too, with From and
		// To the other way round: only jobs have a known command.
		if err := check(job); err != nil {
			jobLog.ErrorContext(ctx, "no apology: message is not a job (the failed queue keeps it)", "error", err)
			continue
		}
		answered, err := f.answered(ctx, job)
		if err != nil {
			if errors.Is(err, sleuth.ErrInProgress) {
				jobLog.InfoContext(ctx, "apology deferred: a delivery of this job holds its step", "error", err)
			} else {
				jobLog.WarnContext(ctx, "apology deferred: ledger unavailable", "error", err)
			}
			errs = append(errs, err)
			continue
		}
		if answered {
			// A slow first delivery can outlive its duplicates' retries:
			// the user has (or is about to get) the real answer.
			jobLog.InfoContext(ctx, "no apology: another delivery of this job answered")
			continue
		}
		jobLog.WarnContext(ctx, "job failed for good, apologising")
		errs = append(errs, sendOnce(ctx, f.ledger, f.sms, jobLog, job.MessageSid+"#sms:failure", job.To, job.From, replySorryFailed))
	}
	return errors.Join(errs...)
}

// answered reports whether another delivery of job has done its step (its
// reply is published or will be again) or had its reply SMS sent: then an
// apology would contradict the answer. It only reads the ledger.
//
// A claim still held is no answer yet: it may be a live duplicate's, or
// the claim of the failed delivery itself, which Lambda ended (a timeout,
// a crash) before it could release it. Either way the error wraps
// sleuth.ErrInProgress, so that Lambda retries the failure handler: by
// then the duplicate has answered, or the dead claim has lapsed (claims
// end LeaseMargin after their invocation's deadline; Lambda retries a
// minute later) and the user gets the apology instead of silence.
func (f *Failure) answered(ctx context.Context, job sleuth.Job) (bool, error) {
	for _, key := range []string{
		job.MessageSid + "#" + string(job.Command),
		job.MessageSid + "#sms:" + string(job.Command),
	} {
		st, err := f.ledger.Status(ctx, key)
		switch {
		case err != nil:
			return false, fmt.Errorf("worker: failure: %s: %w", key, err)
		case st.Done:
			return true, nil
		case st.Held:
			return false, fmt.Errorf("worker: failure: %s claimed until %s: %w", key, st.Until.UTC().Format(time.RFC3339Nano), sleuth.ErrInProgress)
		}
	}
	return false, nil
}
