package request

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/internal/smswebhook"
)

const (
	testToken  = "12345678901234567890123456789012"
	testDomain = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
	testURL    = "https://" + testDomain + "/sms"
)

var testTopics = map[sleuth.Verb]string{
	sleuth.VerbAddCollection: "arn:aws:sns:us-east-1:123456789012:crossfaas-dev-sleuth-addcol",
	sleuth.VerbAddImage:      "arn:aws:sns:us-east-1:123456789012:crossfaas-dev-sleuth-addimg",
	sleuth.VerbMatch:         "arn:aws:sns:us-east-1:123456789012:crossfaas-dev-sleuth-match",
}

// sign computes an X-Twilio-Signature as Twilio does for a form POST, with
// the phone simulator's signer (one implementation, checked here against
// twilio-go's validator and Twilio's published example).
func sign(token, rawURL string, params map[string]string) string {
	form := make(url.Values, len(params))
	for name, value := range params {
		form.Set(name, value)
	}
	return smswebhook.Signature(token, rawURL, form)
}

// smsParams returns the parameters Twilio posts for an SMS with body and
// the given media types (one MediaUrlN per type).
func smsParams(body string, mediaTypes ...string) map[string]string {
	p := map[string]string{
		"ToCountry": "US", "ToState": "CA", "SmsMessageSid": "SM0123456789abcdef0123456789abcdef",
		"NumMedia": "0", "ToCity": "", "FromZip": "94105", "SmsSid": "SM0123456789abcdef0123456789abcdef",
		"FromState": "CA", "SmsStatus": "received", "FromCity": "SAN FRANCISCO", "Body": body,
		"FromCountry": "US", "To": "+15550002222", "ToZip": "", "NumSegments": "1",
		"MessageSid": "SM0123456789abcdef0123456789abcdef", "AccountSid": "AC0123456789abcdef0123456789abcdef",
		"From": "+15550001111", "ApiVersion": "2010-04-01",
	}
	if len(mediaTypes) > 0 {
		p["MessageSid"] = "MM0123456789abcdef0123456789abcdef"
		p["NumMedia"] = string(rune('0' + len(mediaTypes)))
		for i, ct := range mediaTypes {
			n := string(rune('0' + i))
			p["MediaContentType"+n] = ct
			p["MediaUrl"+n] = "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/MM0123456789abcdef0123456789abcdef/Media/ME" + n
		}
	}
	return p
}

// encodeForm encodes params as a form body, in sorted order.
func encodeForm(params map[string]string) string {
	v := url.Values{}
	for name, value := range params {
		v.Set(name, value)
	}
	return v.Encode()
}

// webhookEvent returns the API Gateway event ($default stage, base64 body,
// lower-cased headers) for a POST of params to /sms, signed with token for
// testURL.
func webhookEvent(token string, params map[string]string) events.APIGatewayV2HTTPRequest {
	ev := rawEvent(encodeForm(params))
	ev.Headers["x-twilio-signature"] = sign(token, testURL, params)
	return ev
}

// rawEvent returns an unsigned API Gateway event POSTing form to /sms.
func rawEvent(form string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: "POST /sms",
		RawPath:  "/sms",
		Headers: map[string]string{
			"content-type":               "application/x-www-form-urlencoded; charset=UTF-8",
			"host":                       testDomain,
			"user-agent":                 "TwilioProxy/1.1",
			"i-twilio-idempotency-token": "5b5e0bf3-6d42-4a6c-8f35-1a2b3c4d5e6f",
		},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   "POST /sms",
			AccountID:  "123456789012",
			Stage:      "$default",
			RequestID:  "Jf9KZjIvIAMEV3w=",
			APIID:      "a1b2c3d4e5",
			DomainName: testDomain,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: "POST", Path: "/sms", Protocol: "HTTP/1.1", SourceIP: "54.172.60.1", UserAgent: "TwilioProxy/1.1",
			},
		},
		Body:            base64.StdEncoding.EncodeToString([]byte(form)),
		IsBase64Encoded: true,
	}
}

// published is one message a fakePublisher received.
type published struct {
	topic string
	job   sleuth.Job
}

// fakePublisher records what it publishes. err, when set, fails every
// publish; block makes Publish wait for its context to end.
type fakePublisher struct {
	mu    sync.Mutex
	got   []published
	err   error
	block bool
	t     testing.TB
}

func (p *fakePublisher) Publish(ctx context.Context, topicARN string, message []byte) error {
	if p.block {
		<-ctx.Done()
		return ctx.Err()
	}
	if p.err != nil {
		return p.err
	}
	var job sleuth.Job
	dec := json.NewDecoder(bytes.NewReader(message))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&job); err != nil {
		p.t.Errorf("published message %q is not a sleuth.Job: %v", message, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, published{topic: topicARN, job: job})
	return nil
}

func (p *fakePublisher) published() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]published(nil), p.got...)
}

// newTestHandler returns a handler for cfg (topics filled in when nil) with a
// fake publisher, and a buffer collecting its JSON logs.
func newTestHandler(t testing.TB, cfg Config) (*Handler, *fakePublisher, *bytes.Buffer) {
	t.Helper()
	if cfg.Topics == nil {
		cfg.Topics = testTopics
	}
	pub := &fakePublisher{t: t}
	var logs bytes.Buffer
	h := New(cfg, Deps{
		Publisher: pub,
		AuthToken: testToken,
		Logger:    slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	return h, pub, &logs
}

// twimlMessage parses a TwiML response and returns its one message; it
// fails the test unless resp is a 200 with valid TwiML.
func twimlMessage(t testing.TB, resp events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d (body %q), want 200 with TwiML", resp.StatusCode, resp.Body)
	}
	if ct := resp.Headers["Content-Type"]; !strings.HasPrefix(ct, "text/xml") {
		t.Fatalf("Content-Type = %q, want text/xml", ct)
	}
	if !strings.HasPrefix(resp.Body, `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("body %q lacks the XML declaration", resp.Body)
	}
	var doc struct {
		XMLName  xml.Name `xml:"Response"`
		Messages []string `xml:"Message"`
	}
	if err := xml.Unmarshal([]byte(resp.Body), &doc); err != nil {
		t.Fatalf("body %q is not TwiML: %v", resp.Body, err)
	}
	if len(doc.Messages) != 1 {
		t.Fatalf("body %q has %d messages, want 1", resp.Body, len(doc.Messages))
	}
	return doc.Messages[0]
}
