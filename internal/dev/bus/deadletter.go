package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/crossfaas/crossfaas/internal/dev/lambdaemu"
	"github.com/crossfaas/crossfaas/internal/dev/trace"
)

// What happens to an event whose invocations all failed: it is kept as a
// DeadLetter, summed up in a sentence, and Lambda's invocation record goes
// to the subscriber's on-failure destination.

// DeadLetter is an event whose invocations all failed.
type DeadLetter struct {
	// Summary says in one sentence which function gave up on what, after
	// how many attempts, and why.
	Summary    string `json:"summary"`
	Function   string `json:"function"`
	TopicARN   string `json:"topicArn,omitempty"`
	MessageID  string `json:"messageId,omitempty"`
	MessageSid string `json:"messageSid,omitempty"`
	Attempts   int    `json:"attempts"`
	// Error is the last attempt's error message, on one line.
	Error   string          `json:"error"`
	Time    time.Time       `json:"time"`
	Payload json.RawMessage `json:"payload"`
}

// InvocationRecord is what Lambda sends to an on-failure destination after
// an asynchronous invocation exhausted its retries.
type InvocationRecord struct {
	Version         string                    `json:"version"`
	Timestamp       string                    `json:"timestamp"`
	RequestContext  InvocationRequestContext  `json:"requestContext"`
	RequestPayload  json.RawMessage           `json:"requestPayload"`
	ResponseContext InvocationResponseContext `json:"responseContext"`
	ResponsePayload json.RawMessage           `json:"responsePayload"`
}

// InvocationRequestContext identifies the failed invocation.
type InvocationRequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"` // "RetriesExhausted"
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// InvocationResponseContext describes the last attempt's outcome.
type InvocationResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError"` // "Handled" or "Unhandled"
}

func (b *Bus) deadLetter(d delivery, requestID string, attempts int, lastErr error, log *slog.Logger) {
	errType, functionError := "", "Unhandled"
	var fnErr *lambdaemu.Error
	if errors.As(lastErr, &fnErr) {
		errType = fnErr.Type
		if !fnErr.Unhandled {
			functionError = "Handled"
		}
	}
	letter := DeadLetter{
		Function:   d.sub.fn.Name(),
		TopicARN:   d.topicARN,
		MessageID:  d.messageID,
		MessageSid: d.messageSid,
		Attempts:   attempts,
		Error:      oneLine(errMessage(lastErr)),
		Time:       b.cfg.Now().UTC(),
		Payload:    json.RawMessage(d.payload),
	}
	letter.Summary = b.summary(letter, d)
	b.mu.Lock()
	b.dead = append(b.dead, letter)
	b.mu.Unlock()
	log.Error("lambda: retries exhausted; event dead-lettered", "attempts", attempts, "err", lastErr)

	if d.sub.onFailure == "" {
		return
	}
	response, _ := json.Marshal(map[string]string{"errorMessage": errMessage(lastErr), "errorType": errType})
	record, err := json.Marshal(InvocationRecord{
		Version:   "1.0",
		Timestamp: b.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: InvocationRequestContext{
			RequestID:              requestID,
			FunctionARN:            d.sub.fn.ARN() + ":$LATEST",
			Condition:              "RetriesExhausted",
			ApproximateInvokeCount: attempts,
		},
		RequestPayload:  json.RawMessage(d.payload),
		ResponseContext: InvocationResponseContext{StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: functionError},
		ResponsePayload: response,
	})
	if err != nil { // cannot happen: the payload is valid JSON
		log.Error("lambda: encoding invocation record", "err", err)
		return
	}
	log.Info("lambda: sending the invocation record to the on-failure destination", "destination", topicName(d.sub.onFailure))
	if err := b.Publish(trace.WithMessageSid(b.ctx, d.messageSid), d.sub.onFailure, record); err != nil {
		log.Error("lambda: on-failure destination refused the record", "err", err)
	}
}

// summary is the sentence of a dead letter, e.g. `crossfaas-local-match
// gave up on "face match celebs" from ********0100 (message MM0f3…) after 3
// attempts: twilio media: get ...: status 500. Its on-failure destination,
// failures, was told.`
func (b *Bus) summary(l DeadLetter, d delivery) string {
	what := d.what
	if what == "" && b.cfg.Describe != nil {
		what = b.cfg.Describe(d.message)
	}
	switch {
	case what != "" && l.MessageSid != "":
		what += " (message " + l.MessageSid + ")"
	case what == "" && l.MessageSid != "":
		what = "message " + l.MessageSid
	case what == "":
		what = "SNS message " + l.MessageID
	}
	attempts := "after 1 attempt"
	if l.Attempts != 1 {
		attempts = fmt.Sprintf("after %d attempts", l.Attempts)
	}
	s := fmt.Sprintf("%s gave up on %s %s: %s.", l.Function, what, attempts, strings.TrimRight(l.Error, "."))
	if d.sub.onFailure != "" {
		s += " Its on-failure destination, " + topicName(d.sub.onFailure) + ", was told."
	}
	return s
}

// oneLine joins the lines of a message (errors.Join puts one error per
// line) with "; ".
func oneLine(s string) string {
	var parts []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, "; ")
}

func errMessage(err error) string {
	var fnErr *lambdaemu.Error
	if errors.As(err, &fnErr) {
		return fnErr.Message
	}
	return err.Error()
}

// DeadLetters returns the dead-lettered events, oldest first; never nil, so
// that it encodes as a JSON list even when empty.
func (b *Bus) DeadLetters() []DeadLetter {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]DeadLetter{}, b.dead...)
}
