package request

import (
	"context"
	"encoding/base64"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/twilio/twilio-go/client"
)

// TestSignMatchesTwilio cross-checks the test signer against twilio-go's
// validator, so the tests sign exactly as Twilio does.
func TestSignMatchesTwilio(t *testing.T) {
	tests := []struct {
		name   string
		url    string
		params map[string]string
	}{
		{"sms", testURL, smsParams("face addcol celebs")},
		{"mms", "https://example.com/prod/sms?x=1&y=2", smsParams("face match c", "image/jpeg")},
		{"no params", "https://example.com/sms", map[string]string{}},
		{"unicode and symbols", testURL, map[string]string{"Body": "Zoë & <Mel> 😀", "From": "+1 555"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := sign(testToken, tt.url, tt.params)
			v := client.NewRequestValidator(testToken)
			if !v.Validate(tt.url, tt.params, sig) {
				t.Errorf("twilio-go rejects sign(%q, %v) = %q", tt.url, tt.params, sig)
			}
			other := client.NewRequestValidator("another-token")
			if other.Validate(tt.url, tt.params, sig) {
				t.Errorf("twilio-go accepts sign(%q, %v) under another token", tt.url, tt.params)
			}
		})
	}
	// The known answer twilio-go's own tests use.
	knownParams := map[string]string{
		"Digits": "1234", "CallSid": "CA1234567890ABCDE", "To": "+18005551212", "Caller": "+14158675309",
		"From": "+14158675309", "ReasonConferenceEnded": "test", "Reason": "Participant",
	}
	const knownURL = "https://mycompany.com/myapp.php?foo=1&bar=2"
	if got, want := sign("12345", knownURL, knownParams), "vOEb5UThFn24KEfnOFLQY2AE5FY="; got != want {
		t.Errorf("sign(\"12345\", %q, knownParams) = %q, want %q", knownURL, got, want)
	}
}

func TestHandleSignature(t *testing.T) {
	params := smsParams("face addcol celebs")
	tests := []struct {
		name   string
		cfg    Config
		event  func() events.APIGatewayV2HTTPRequest
		status int
	}{
		{"valid", Config{}, func() events.APIGatewayV2HTTPRequest {
			return webhookEvent(testToken, params)
		}, 200},
		{"forged with another token", Config{}, func() events.APIGatewayV2HTTPRequest {
			return webhookEvent("not-the-token", params)
		}, 403},
		{"tampered body", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			tampered := maps.Clone(params)
			tampered["Body"] = "face addcol other"
			ev.Body = base64.StdEncoding.EncodeToString([]byte(encodeForm(tampered)))
			return ev
		}, 403},
		{"tampered sender", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			tampered := maps.Clone(params)
			tampered["From"] = "+15559999999"
			ev.Body = base64.StdEncoding.EncodeToString([]byte(encodeForm(tampered)))
			return ev
		}, 403},
		{"parameter added", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			extra := maps.Clone(params)
			extra["MediaUrl0"] = "https://evil.example/x.jpg"
			ev.Body = base64.StdEncoding.EncodeToString([]byte(encodeForm(extra)))
			return ev
		}, 403},
		{"signed for another path", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.Headers["x-twilio-signature"] = sign(testToken, "https://"+testDomain+"/other", params)
			return ev
		}, 403},
		{"signed for another host", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.Headers["x-twilio-signature"] = sign(testToken, "https://evil.example/sms", params)
			return ev
		}, 403},
		{"signed for http", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.Headers["x-twilio-signature"] = sign(testToken, "http://"+testDomain+"/sms", params)
			return ev
		}, 403},
		{"signed for another stage", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.Headers["x-twilio-signature"] = sign(testToken, "https://"+testDomain+"/prod/sms", params)
			return ev
		}, 403},
		{"signed without the query", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.RawQueryString = "stage=dev"
			return ev
		}, 403},
		{"signed with the query", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.RawQueryString = "stage=dev&x=%2F"
			ev.Headers["x-twilio-signature"] = sign(testToken, testURL+"?stage=dev&x=%2F", params)
			return ev
		}, 200},
		{"signed with the default port", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.Headers["x-twilio-signature"] = sign(testToken, "https://"+testDomain+":443/sms", params)
			return ev
		}, 200},
		{"missing signature", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			delete(ev.Headers, "x-twilio-signature")
			return ev
		}, 403},
		{"empty signature", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.Headers["x-twilio-signature"] = ""
			return ev
		}, 403},
		{"signature header in canonical case", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.Headers["X-Twilio-Signature"] = ev.Headers["x-twilio-signature"]
			delete(ev.Headers, "x-twilio-signature")
			return ev
		}, 200},
		{"body not base64-encoded", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.Body, ev.IsBase64Encoded = encodeForm(params), false
			return ev
		}, 200},
		{"named stage in rawPath", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.RequestContext.Stage, ev.RawPath = "prod", "/prod/sms"
			ev.Headers["x-twilio-signature"] = sign(testToken, "https://"+testDomain+"/prod/sms", params)
			return ev
		}, 200},
		{"named stage missing from rawPath", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.RequestContext.Stage = "prod"
			ev.Headers["x-twilio-signature"] = sign(testToken, "https://"+testDomain+"/prod/sms", params)
			return ev
		}, 200},
		{"named stage, signed without it", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.RequestContext.Stage, ev.RawPath = "prod", "/prod/sms"
			return ev
		}, 403},
		{"webhook URL override", Config{WebhookURL: "https://sms.example.com/hooks/sms"}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.Headers["x-twilio-signature"] = sign(testToken, "https://sms.example.com/hooks/sms", params)
			return ev
		}, 200},
		{"webhook URL override ignores the event URL", Config{WebhookURL: "https://sms.example.com/hooks/sms"}, func() events.APIGatewayV2HTTPRequest {
			return webhookEvent(testToken, params)
		}, 403},
		{"no domain to rebuild the URL", Config{}, func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, params)
			ev.RequestContext.DomainName = ""
			return ev
		}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, pub, _ := newTestHandler(t, tt.cfg)
			ev := tt.event()
			resp, err := h.Handle(context.Background(), ev)
			if err != nil {
				t.Fatalf("Handle() error = %v, want nil", err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("Handle() status = %d (body %q), want %d", resp.StatusCode, resp.Body, tt.status)
			}
			wantPublished := 0
			if tt.status == 200 {
				wantPublished = 1
				twimlMessage(t, resp)
			} else if ct := resp.Headers["Content-Type"]; !strings.HasPrefix(ct, "text/plain") || strings.Contains(resp.Body, "<Response>") {
				t.Errorf("403 answered with %q %q, want a short text/plain body", ct, resp.Body)
			}
			if got := len(pub.published()); got != wantPublished {
				t.Errorf("published %d jobs, want %d", got, wantPublished)
			}
		})
	}
}

func TestRebuildURL(t *testing.T) {
	tests := []struct {
		name     string
		stage    string
		rawPath  string
		httpPath string
		query    string
		scheme   string
		want     string
	}{
		{"default stage", "$default", "/sms", "", "", "", "https://" + testDomain + "/sms"},
		{"no stage", "", "/sms", "", "", "", "https://" + testDomain + "/sms"},
		{"query", "$default", "/sms", "", "a=1&b=%2F", "", "https://" + testDomain + "/sms?a=1&b=%2F"},
		{"named stage in rawPath", "prod", "/prod/sms", "", "", "", "https://" + testDomain + "/prod/sms"},
		{"named stage not in rawPath", "prod", "/sms", "", "", "", "https://" + testDomain + "/prod/sms"},
		{"stage named like the route", "sms", "/sms/sms", "", "", "", "https://" + testDomain + "/sms/sms"},
		{"stage is a prefix of the path", "pro", "/prod/sms", "", "", "", "https://" + testDomain + "/pro/prod/sms"},
		{"http path when no rawPath", "$default", "", "/sms", "", "", "https://" + testDomain + "/sms"},
		{"plain http (crossfaas dev)", "$default", "/sms", "", "", "http", "http://" + testDomain + "/sms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := events.APIGatewayV2HTTPRequest{RawPath: tt.rawPath, RawQueryString: tt.query}
			ev.RequestContext.DomainName, ev.RequestContext.Stage = testDomain, tt.stage
			ev.RequestContext.HTTP.Path = tt.httpPath
			got, err := rebuildURL(ev, tt.scheme)
			if err != nil || got != tt.want {
				t.Errorf("rebuildURL(stage %q, rawPath %q) = %q, %v, want %q", tt.stage, tt.rawPath, got, err, tt.want)
			}
		})
	}
}

// TestSignatureURLIgnoresHostHeaders: the URL the signature must cover is
// rebuilt from requestContext.domainName, which API Gateway sets, never
// from the Host or X-Forwarded-Host headers, which the caller sets. A
// request signed for a spoofed host, with that host in either header, is
// refused and publishes nothing.
func TestSignatureURLIgnoresHostHeaders(t *testing.T) {
	const spoofed = "evil.example.com"
	spoofedURL := "https://" + spoofed + "/sms"
	for _, tt := range []struct {
		name    string
		headers map[string]string
	}{
		{"Host", map[string]string{"host": spoofed}},
		{"X-Forwarded-Host", map[string]string{"x-forwarded-host": spoofed}},
		{"both", map[string]string{"host": spoofed, "x-forwarded-host": spoofed, "x-forwarded-proto": "https"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pub := &fakePublisher{t: t}
			h := New(Config{Topics: testTopics}, Deps{Publisher: pub, AuthToken: testToken, Logger: slog.New(slog.DiscardHandler)})
			params := smsParams("face addcol celebs")
			ev := rawEvent(encodeForm(params))
			maps.Copy(ev.Headers, tt.headers)
			ev.Headers["x-twilio-signature"] = sign(testToken, spoofedURL, params)
			resp, err := h.Handle(context.Background(), ev)
			if err != nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("Handle(signed for %s in %s) = %d %q, %v, want 403", spoofed, tt.name, resp.StatusCode, resp.Body, err)
			}
			if n := len(pub.published()); n != 0 {
				t.Errorf("published %d jobs, want none", n)
			}
			// The same headers with a signature for the real URL pass.
			ev.Headers["x-twilio-signature"] = sign(testToken, "https://"+testDomain+"/sms", params)
			if resp, _ := h.Handle(context.Background(), ev); resp.StatusCode != http.StatusOK {
				t.Errorf("Handle(signed for the API's domain, %s spoofed) = %d, want 200", tt.name, resp.StatusCode)
			}
		})
	}
}
