// Package trace carries the Twilio MessageSid of the SMS being handled
// through contexts inside `crossfaas dev`, so every hop (gateway, topic,
// function, SMS out) logs it, even where the handler's API does not pass it.
package trace

import "context"

type messageSidKey struct{}

// WithMessageSid returns a copy of ctx carrying sid; an empty sid returns
// ctx unchanged.
func WithMessageSid(ctx context.Context, sid string) context.Context {
	if sid == "" {
		return ctx
	}
	return context.WithValue(ctx, messageSidKey{}, sid)
}

// MessageSid returns the sid ctx carries, or "".
func MessageSid(ctx context.Context) string {
	sid, _ := ctx.Value(messageSidKey{}).(string)
	return sid
}

type problemKey struct{}

// WithProblem returns a copy of ctx saying that the SMS sent under it
// explains why a command could not be done (sleuth.Reply.Error, or the
// failure function's apology), so the phone simulator shows it apart.
func WithProblem(ctx context.Context) context.Context {
	return context.WithValue(ctx, problemKey{}, true)
}

// Problem reports whether ctx was made by WithProblem.
func Problem(ctx context.Context) bool {
	p, _ := ctx.Value(problemKey{}).(bool)
	return p
}
