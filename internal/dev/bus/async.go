package bus

import (
	"fmt"

	"github.com/crossfaas/crossfaas/internal/dev/lambdaemu"
)

// InvokeAsync invokes fn with payload asynchronously, as a service such as
// S3 invokes the function it notifies: it returns at once, and the
// invocation gets Lambda's retries (Config.RetryDelays) and, when they are
// exhausted, a dead letter (DeadLetters, where source stands for the
// service as an SNS delivery's topic does, and what names the event in its
// summary). done, if not nil, is called
// with nil after a success, or with the last error once the event is
// dead-lettered; not at all when the bus shuts down first.
func (b *Bus) InvokeAsync(source, what string, fn *lambdaemu.Function, payload []byte, done func(error)) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("invoke %s asynchronously: %w", fn.Name(), ErrClosed)
	}
	b.started(1)
	b.mu.Unlock()
	go b.deliver(delivery{sub: subscription{arn: source, fn: fn}, topicARN: source, message: payload, payload: payload, what: what, done: done})
	return nil
}
