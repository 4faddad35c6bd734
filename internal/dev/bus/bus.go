// Package bus is an in-process Amazon SNS with Lambda subscribers, keeping
// the semantics the sleuth handlers are written for: a published message
// fans out to every subscriber of its topic; each subscriber gets it as an
// asynchronous Lambda invocation (an events.SNSEvent) delivered at least
// once, retried on failure (Lambda's default is two retries, after one and
// two minutes; the delays are configurable); after the last retry the
// event is dead-lettered and, if the subscriber has an on-failure
// destination topic, Lambda's invocation record is published to it.
// Optionally every message is delivered twice, as SNS sometimes does, to
// exercise idempotency.
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/crossfaas/crossfaas/internal/dev/devlog"
	"github.com/crossfaas/crossfaas/internal/dev/lambdaemu"
	"github.com/crossfaas/crossfaas/internal/dev/trace"
)

// MaxMessageSize is SNS's limit on a message, in bytes (256 KiB).
const MaxMessageSize = 256 * 1024

// LambdaRetryDelays are the waits of Lambda's asynchronous invocation
// before its two retries.
var LambdaRetryDelays = []time.Duration{time.Minute, 2 * time.Minute}

// Config configures a Bus. The zero value retries twice after one and two
// minutes, like Lambda.
type Config struct {
	// RetryDelays are the waits before each retry of a failed invocation;
	// its length is the number of retries. Nil means LambdaRetryDelays;
	// an empty non-nil slice means no retries.
	RetryDelays []time.Duration
	// DuplicateDeliveries delivers every message to every subscriber twice,
	// concurrently.
	DuplicateDeliveries bool
	// Now returns the time stamped on messages; nil means time.Now.
	Now func() time.Time
	// Describe, if not nil, says in a few words what a message asks for
	// (e.g. `"face match celebs" from ********0100`), for the summaries of
	// dead letters; "" means it cannot tell.
	Describe func(message []byte) string
}

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("bus closed")

// ErrTopicNotFound is wrapped by Publish and Subscribe for an unknown topic
// (SNS's NotFound).
var ErrTopicNotFound = errors.New("topic does not exist")

// Bus is the in-process SNS. Its methods are safe for concurrent use.
type Bus struct {
	cfg    Config
	logger *slog.Logger

	// ctx ends when Close gives up waiting; pending retries stop then.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	topics   map[string][]subscription // by topic ARN
	dead     []DeadLetter
	inflight int           // deliveries running or waiting for a retry
	idle     chan struct{} // closed when inflight drops to zero
}

type subscription struct {
	arn       string
	fn        *lambdaemu.Function
	onFailure string // topic ARN of the on-failure destination, or ""
}

// New returns an empty bus.
func New(cfg Config, logger *slog.Logger) *Bus {
	if cfg.RetryDelays == nil {
		cfg.RetryDelays = LambdaRetryDelays
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Bus{cfg: cfg, logger: logger, ctx: ctx, cancel: cancel, topics: make(map[string][]subscription), idle: make(chan struct{})}
}

// started counts n new deliveries; b.mu must be held.
func (b *Bus) started(n int) {
	b.inflight += n
}

// finished counts a delivery done.
func (b *Bus) finished() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inflight--
	if b.inflight == 0 {
		close(b.idle)
		b.idle = make(chan struct{})
	}
}

// TopicARN returns the ARN of the local topic called name.
func TopicARN(name string) string {
	return fmt.Sprintf("arn:aws:sns:%s:%s:%s", lambdaemu.Region, lambdaemu.AccountID, name)
}

// CreateTopic creates the topic called name, if it does not exist, and
// returns its ARN.
func (b *Bus) CreateTopic(name string) string {
	arn := TopicARN(name)
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.topics[arn]; !ok {
		b.topics[arn] = nil
	}
	return arn
}

// Subscribe subscribes fn to the topic; fn receives events.SNSEvent.
// onFailureTopic, if not empty, is the ARN of fn's on-failure destination:
// the topic receives an InvocationRecord (as JSON) for every event whose
// invocations all failed.
func (b *Bus) Subscribe(topicARN string, fn *lambdaemu.Function, onFailureTopic string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	subs, ok := b.topics[topicARN]
	if !ok {
		return fmt.Errorf("sns subscribe: %s: %w", topicARN, ErrTopicNotFound)
	}
	if _, ok := b.topics[onFailureTopic]; onFailureTopic != "" && !ok {
		return fmt.Errorf("sns subscribe: on-failure destination %s: %w", onFailureTopic, ErrTopicNotFound)
	}
	b.topics[topicARN] = append(subs, subscription{
		arn:       topicARN + ":" + lambdaemu.NewUUID(),
		fn:        fn,
		onFailure: onFailureTopic,
	})
	return nil
}

// Publish publishes message to the topic and returns once it is accepted;
// delivery happens in the background. It implements sleuth.Publisher.
func (b *Bus) Publish(ctx context.Context, topicARN string, message []byte) error {
	switch {
	case len(message) == 0:
		return errors.New("sns publish: message is empty")
	case len(message) > MaxMessageSize:
		return fmt.Errorf("sns publish: message of %d bytes exceeds the limit of %d", len(message), MaxMessageSize)
	case !utf8.Valid(message):
		return errors.New("sns publish: message is not valid UTF-8")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sns publish: %w", err)
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("sns publish: %w", ErrClosed)
	}
	subs, ok := b.topics[topicARN]
	if !ok {
		b.mu.Unlock()
		return fmt.Errorf("sns publish: %s: %w", topicARN, ErrTopicNotFound)
	}
	subs = slices.Clone(subs)
	copies := 1
	if b.cfg.DuplicateDeliveries {
		copies = 2
	}
	b.started(len(subs) * copies)
	b.mu.Unlock()

	messageID := lambdaemu.NewUUID()
	message = slices.Clone(message) // kept for dead-letter summaries
	sid := messageSid(message)
	if sid == "" {
		sid = trace.MessageSid(ctx)
	}
	b.logger.Info("sns: published", "topic", topicName(topicARN), "message_id", messageID,
		"sid", sid, "subscribers", len(subs), "copies", copies)
	now := b.cfg.Now().UTC()
	for _, sub := range subs {
		event := events.SNSEvent{Records: []events.SNSEventRecord{{
			EventVersion:         "1.0",
			EventSubscriptionArn: sub.arn,
			EventSource:          "aws:sns",
			SNS: events.SNSEntity{
				Type:              "Notification",
				MessageID:         messageID,
				TopicArn:          topicARN,
				Subject:           "",
				Message:           string(message),
				Timestamp:         now,
				SignatureVersion:  "1",
				Signature:         "local",
				SigningCertURL:    "http://127.0.0.1/local-sns.pem",
				UnsubscribeURL:    "http://127.0.0.1/unsubscribe?SubscriptionArn=" + sub.arn,
				MessageAttributes: map[string]any{},
			},
		}}}
		payload, err := json.Marshal(event)
		if err != nil { // cannot happen: every field marshals
			panic(fmt.Sprintf("sns publish: encoding event: %v", err))
		}
		for range copies {
			go b.deliver(delivery{sub: sub, topicARN: topicARN, messageID: messageID, messageSid: sid, message: message, payload: payload})
		}
	}
	return nil
}

type delivery struct {
	sub        subscription
	topicARN   string
	messageID  string
	messageSid string
	message    []byte // what was published
	payload    []byte // the SNS event carrying it
	// what, if not empty, names the event in a dead letter's summary (for
	// events that are not SNS messages).
	what string
	// done, if not nil, gets nil after a success, or the last error once
	// the event is dead-lettered.
	done func(error)
}

// deliver runs one asynchronous invocation with its retries and, when they
// are exhausted, the dead-lettering and the on-failure destination.
func (b *Bus) deliver(d delivery) {
	defer b.finished()
	fn := d.sub.fn
	requestID := lambdaemu.NewUUID() // retries of an async invocation keep its request id
	log := b.logger.With("function", fn.Name(), "message_id", d.messageID, "sid", d.messageSid, "request_id", requestID)
	ctx := trace.WithMessageSid(b.ctx, d.messageSid)
	total := len(b.cfg.RetryDelays) + 1

	var lastErr error
	attempts := 0
	for attempt := 0; attempt <= len(b.cfg.RetryDelays); attempt++ {
		if attempt > 0 {
			delay := b.cfg.RetryDelays[attempt-1]
			log.Info("lambda: retrying asynchronous invocation", "attempt", attempt+1, "delay", delay.String())
			select {
			case <-time.After(delay):
			case <-b.ctx.Done():
				log.Warn("lambda: shutting down; pending retry dropped", "attempt", attempt+1, "err", lastErr)
				return
			}
		}
		attempts++
		start := b.cfg.Now()
		_, err := fn.Invoke(ctx, requestID, d.payload, lambdaemu.MaxAsyncPayload)
		if err == nil {
			// The end of the function's hop (see package devlog).
			log.Info("lambda: invoked", devlog.Hop(), "attempt", attempt+1, "of", total, "duration_ms", b.cfg.Now().Sub(start).Milliseconds())
			if d.done != nil {
				d.done(nil)
			}
			return
		}
		lastErr = err
		var fnErr *lambdaemu.Error
		if !errors.As(err, &fnErr) {
			// Not the function's failure (payload too large, shutdown):
			// Lambda would not retry either.
			break
		}
		attrs := []any{devlog.Hop(), "attempt", attempt + 1, "of", total, "duration_ms", b.cfg.Now().Sub(start).Milliseconds(),
			"error_type", fnErr.Type, "err", fnErr.Message}
		if attempt < len(b.cfg.RetryDelays) {
			attrs = append(attrs, "retry_in", b.cfg.RetryDelays[attempt].String())
		}
		log.Warn("lambda: invocation failed", attrs...)
	}
	if b.ctx.Err() != nil {
		log.Warn("lambda: shutting down; invocation abandoned", "err", lastErr)
		return
	}
	b.deadLetter(d, requestID, attempts, lastErr, log)
	if d.done != nil {
		d.done(lastErr)
	}
}

// Close waits for the deliveries in flight, retries and the messages they
// publish included, then stops accepting messages. When ctx ends first, it
// drops the pending retries (logging each), waits for the invocations
// running, and returns ctx's error.
func (b *Bus) Close(ctx context.Context) error {
	var err error
	for {
		b.mu.Lock()
		if b.inflight == 0 {
			b.closed = true
			b.mu.Unlock()
			break
		}
		idle := b.idle
		b.mu.Unlock()
		select {
		case <-idle:
			continue
		case <-ctx.Done():
		}
		// Out of time: refuse new messages and cut the retries short.
		b.mu.Lock()
		b.closed = true
		idle = b.idle
		pending := b.inflight
		b.mu.Unlock()
		b.cancel()
		if pending > 0 {
			<-idle
		}
		err = fmt.Errorf("sns close: deliveries abandoned: %w", ctx.Err())
		break
	}
	b.cancel()
	return err
}

// messageSid extracts the "messageSid" of a sleuth Job or Reply, for logs.
func messageSid(message []byte) string {
	var m struct {
		MessageSid string `json:"messageSid"`
	}
	if json.Unmarshal(message, &m) != nil {
		return ""
	}
	return m.MessageSid
}

func topicName(arn string) string {
	return arn[strings.LastIndex(arn, ":")+1:]
}
