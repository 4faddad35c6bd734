package request

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/command"
)

func TestHandleCommands(t *testing.T) {
	jpeg := smsParams("face addimg celebs Mel Gibson", "image/jpeg")
	png := smsParams("  FACE MATCH Celebs ", "image/png")
	photoAlone := smsParams(" \n ", "image/jpeg")
	tests := []struct {
		name   string
		params map[string]string
		reply  string
		topic  string
		job    sleuth.Job
	}{
		{
			"addcol", smsParams("face addcol Celebs"),
			"Got it - creating collection celebs...",
			testTopics[sleuth.VerbAddCollection],
			sleuth.Job{Command: sleuth.VerbAddCollection, Collection: "celebs",
				From: "+15550001111", To: "+15550002222", MessageSid: "SM0123456789abcdef0123456789abcdef"},
		},
		{
			"addcol ignores an attachment", smsParams("face addcol celebs", "image/gif"),
			"Got it - creating collection celebs...",
			testTopics[sleuth.VerbAddCollection],
			sleuth.Job{Command: sleuth.VerbAddCollection, Collection: "celebs",
				From: "+15550001111", To: "+15550002222", MessageSid: "MM0123456789abcdef0123456789abcdef"},
		},
		{
			"addimg", jpeg,
			"Got it - adding Mel Gibson to celebs...",
			testTopics[sleuth.VerbAddImage],
			sleuth.Job{Command: sleuth.VerbAddImage, Collection: "celebs", Name: "Mel_Gibson",
				MediaURL: jpeg["MediaUrl0"], MediaContentType: "image/jpeg",
				From: "+15550001111", To: "+15550002222", MessageSid: "MM0123456789abcdef0123456789abcdef"},
		},
		{
			"match", png,
			"Got it - looking for this face in celebs...",
			testTopics[sleuth.VerbMatch],
			sleuth.Job{Command: sleuth.VerbMatch, Collection: "celebs",
				MediaURL: png["MediaUrl0"], MediaContentType: "image/png",
				From: "+15550001111", To: "+15550002222", MessageSid: "MM0123456789abcdef0123456789abcdef"},
		},
		{
			"a photo alone is a match in the default collection", photoAlone,
			"Got it - looking for this face in celebs...",
			testTopics[sleuth.VerbMatch],
			sleuth.Job{Command: sleuth.VerbMatch, Collection: sleuth.DefaultCollection,
				MediaURL: photoAlone["MediaUrl0"], MediaContentType: "image/jpeg",
				From: "+15550001111", To: "+15550002222", MessageSid: "MM0123456789abcdef0123456789abcdef"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, pub, logs := newTestHandler(t, Config{})
			resp, err := h.Handle(context.Background(), webhookEvent(testToken, tt.params))
			if err != nil {
				t.Fatalf("Handle() error = %v", err)
			}
			if got := twimlMessage(t, resp); got != tt.reply {
				t.Errorf("reply = %q, want %q", got, tt.reply)
			}
			got := pub.published()
			if len(got) != 1 {
				t.Fatalf("published %d jobs, want 1", len(got))
			}
			if got[0].topic != tt.topic || got[0].job != tt.job {
				t.Errorf("published %+v to %s, want %+v to %s", got[0].job, got[0].topic, tt.job, tt.topic)
			}
			checkLog(t, logs.String(), "job published", map[string]string{
				"sid": tt.job.MessageSid, "command": string(tt.job.Command), "topic": tt.topic,
				"collection": "celebs", "from": "********1111",
			})
		})
	}
}

// checkLog fails unless logs hold a record with message msg and the given
// string attributes, and never the user's full number or the auth token.
func checkLog(t *testing.T, logs, msg string, attrs map[string]string) {
	t.Helper()
	if strings.Contains(logs, "+15550001111") || strings.Contains(logs, testToken) {
		t.Errorf("logs reveal the sender's number or the auth token:\n%s", logs)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if rec["msg"] != msg {
			continue
		}
		for k, want := range attrs {
			if got, _ := rec[k].(string); got != want {
				t.Errorf("log %q has %s = %v, want %q", msg, k, rec[k], want)
			}
		}
		return
	}
	t.Errorf("no log record %q in:\n%s", msg, logs)
}

func TestHandleUsage(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		kind   error // nil: the help text
	}{
		{"help", smsParams("help"), nil},
		{"help with image", smsParams("HELP", "image/jpeg"), nil},
		{"empty", smsParams(""), command.ErrEmpty},
		{"unknown command", smsParams("hello"), command.ErrUnknownCommand},
		{"unknown verb", smsParams("face delete celebs"), command.ErrUnknownCommand},
		{"missing collection", smsParams("face addcol"), command.ErrMissingCollection},
		{"bad collection", smsParams("face match cel/ebs", "image/jpeg"), command.ErrBadCollection},
		{"long collection", smsParams("face addcol " + strings.Repeat("c", 65)), command.ErrBadCollection},
		{"too many words", smsParams("face addcol celebs now"), command.ErrTooManyWords},
		{"missing name", smsParams("face addimg celebs", "image/jpeg"), command.ErrMissingName},
		{"bad name", smsParams("face addimg celebs o'neil", "image/jpeg"), command.ErrBadName},
		{"addimg without image", smsParams("face addimg celebs mel_gibson"), command.ErrMissingImage},
		{"match without image", smsParams("face match celebs"), command.ErrMissingImage},
		{"two images", smsParams("face match celebs", "image/jpeg", "image/png"), command.ErrTooManyImages},
		{"gif", smsParams("face addimg celebs mel_gibson", "image/gif"), command.ErrImageType},
		{"video", smsParams("face match celebs", "video/3gpp"), command.ErrImageType},
		{"a GIF alone", smsParams("", "image/gif"), command.ErrImageType},
		{"two photos alone", smsParams("", "image/jpeg", "image/jpeg"), command.ErrTooManyImages},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, pub, logs := newTestHandler(t, Config{})
			resp, err := h.Handle(context.Background(), webhookEvent(testToken, tt.params))
			if err != nil {
				t.Fatalf("Handle() error = %v", err)
			}
			got := twimlMessage(t, resp)
			if tt.kind == nil {
				if got != command.Usage {
					t.Errorf("reply = %q, want the usage text", got)
				}
			} else {
				var types []string
				for i := 0; tt.params["MediaContentType"+string(rune('0'+i))] != ""; i++ {
					types = append(types, tt.params["MediaContentType"+string(rune('0'+i))])
				}
				_, parseErr := command.ParseMessage(tt.params["Body"], types)
				if !errors.Is(parseErr, tt.kind) {
					t.Fatalf("test case %q is not a %v: %v", tt.params["Body"], tt.kind, parseErr)
				}
				if got != parseErr.Error() {
					t.Errorf("reply = %q, want %q", got, parseErr.Error())
				}
				checkLog(t, logs.String(), "usage error", map[string]string{"kind": tt.kind.Error()})
			}
			if n := len(pub.published()); n != 0 {
				t.Errorf("published %d jobs for a usage error, want 0", n)
			}
		})
	}
}

func TestHandleAllowList(t *testing.T) {
	cfg := Config{AllowedSenders: []string{"+15550001111", "+447700900123"}}
	tests := []struct {
		name      string
		from      string
		reply     string
		published int
	}{
		{"allowed", "+15550001111", "Got it - creating collection celebs...", 1},
		{"other allowed", "+447700900123", "Got it - creating collection celebs...", 1},
		{"not allowed", "+15550009999", replyNotAllowed, 0},
		{"prefix of an allowed number", "+1555000111", replyNotAllowed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, pub, _ := newTestHandler(t, cfg)
			params := smsParams("face addcol celebs")
			params["From"] = tt.from
			resp, err := h.Handle(context.Background(), webhookEvent(testToken, params))
			if err != nil {
				t.Fatalf("Handle() error = %v", err)
			}
			if got := twimlMessage(t, resp); got != tt.reply {
				t.Errorf("reply to %s = %q, want %q", tt.from, got, tt.reply)
			}
			if n := len(pub.published()); n != tt.published {
				t.Errorf("published %d jobs for %s, want %d", n, tt.from, tt.published)
			}
		})
	}
}

func TestHandlePublishFailure(t *testing.T) {
	t.Run("error", func(t *testing.T) {
		h, pub, logs := newTestHandler(t, Config{})
		pub.err = errors.New("sns publish: AuthorizationError")
		resp, err := h.Handle(context.Background(), webhookEvent(testToken, smsParams("face addcol celebs")))
		if err != nil {
			t.Fatalf("Handle() error = %v", err)
		}
		if got := twimlMessage(t, resp); got != replyTryAgain {
			t.Errorf("reply = %q, want %q", got, replyTryAgain)
		}
		checkLog(t, logs.String(), "job not published", map[string]string{
			"error": "sns publish: AuthorizationError", "command": "addcol",
		})
	})
	t.Run("timeout", func(t *testing.T) {
		h, pub, _ := newTestHandler(t, Config{PublishTimeout: 50 * time.Millisecond})
		pub.block = true
		start := time.Now()
		resp, err := h.Handle(context.Background(), webhookEvent(testToken, smsParams("face addcol celebs")))
		if err != nil {
			t.Fatalf("Handle() error = %v", err)
		}
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("Handle() took %v with a 50ms publish timeout", elapsed)
		}
		if got := twimlMessage(t, resp); got != replyTryAgain {
			t.Errorf("reply = %q, want %q", got, replyTryAgain)
		}
	})
	t.Run("no topic", func(t *testing.T) {
		h, pub, _ := newTestHandler(t, Config{Topics: map[sleuth.Verb]string{sleuth.VerbMatch: "arn:x"}})
		resp, err := h.Handle(context.Background(), webhookEvent(testToken, smsParams("face addcol celebs")))
		if err != nil {
			t.Fatalf("Handle() error = %v", err)
		}
		if got := twimlMessage(t, resp); got != replyTryAgain {
			t.Errorf("reply = %q, want %q", got, replyTryAgain)
		}
		if n := len(pub.published()); n != 0 {
			t.Errorf("published %d jobs without a topic, want 0", n)
		}
	})
}

func TestHandleBadRequests(t *testing.T) {
	signed := func(mutate func(map[string]string)) func() events.APIGatewayV2HTTPRequest {
		return func() events.APIGatewayV2HTTPRequest {
			p := smsParams("face addcol celebs")
			mutate(p)
			return webhookEvent(testToken, p)
		}
	}
	tests := []struct {
		name   string
		event  func() events.APIGatewayV2HTTPRequest
		status int
		body   string // a phrase of the explanation
	}{
		{"GET", func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, smsParams("help"))
			ev.RequestContext.HTTP.Method = "GET"
			return ev
		}, 405, "method GET not allowed"},
		{"JSON body", func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, smsParams("help"))
			ev.Headers["content-type"] = "application/json"
			return ev
		}, 415, `"application/json" is not supported`},
		{"no content type", func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, smsParams("help"))
			delete(ev.Headers, "content-type")
			return ev
		}, 415, "not supported"},
		{"bad base64", func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, smsParams("help"))
			ev.Body = "not*base64"
			return ev
		}, 400, "not valid base64"},
		{"bad form", func() events.APIGatewayV2HTTPRequest {
			ev := rawEvent("Body=%zz")
			ev.Headers["x-twilio-signature"] = "x"
			return ev
		}, 400, "not a valid form"},
		{"too large", func() events.APIGatewayV2HTTPRequest {
			return rawEvent("Body=" + strings.Repeat("a", maxBodyBytes))
		}, 413, "larger than"},
		{"too large, plain", func() events.APIGatewayV2HTTPRequest {
			ev := rawEvent("")
			ev.Body, ev.IsBase64Encoded = "Body="+strings.Repeat("a", maxBodyBytes), false
			return ev
		}, 413, "larger than"},
		{"repeated parameter", func() events.APIGatewayV2HTTPRequest {
			ev := webhookEvent(testToken, smsParams("help"))
			form := encodeForm(smsParams("help")) + "&Body=face+addcol+x"
			ev.Body = base64.StdEncoding.EncodeToString([]byte(form))
			return ev
		}, 400, `"Body" is repeated`},
		{"signed without MessageSid", signed(func(p map[string]string) { delete(p, "MessageSid") }), 400, "MessageSid is missing"},
		{"signed without From", signed(func(p map[string]string) { delete(p, "From") }), 400, "From is missing"},
		{"signed without To", signed(func(p map[string]string) { p["To"] = "" }), 400, "To is missing"},
		{"signed with bad NumMedia", signed(func(p map[string]string) { p["NumMedia"] = "x" }), 400, "NumMedia"},
		{"signed with too many media", signed(func(p map[string]string) { p["NumMedia"] = "11" }), 400, "NumMedia"},
		{"signed without MediaUrl0", signed(func(p map[string]string) {
			p["NumMedia"], p["MediaContentType0"] = "1", "image/jpeg"
		}), 400, "MediaUrl0 is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, pub, _ := newTestHandler(t, Config{})
			resp, err := h.Handle(context.Background(), tt.event())
			if err != nil {
				t.Fatalf("Handle() error = %v", err)
			}
			if resp.StatusCode != tt.status || !strings.Contains(resp.Body, tt.body) {
				t.Errorf("Handle() = %d %q, want %d with %q", resp.StatusCode, resp.Body, tt.status, tt.body)
			}
			if n := len(pub.published()); n != 0 {
				t.Errorf("published %d jobs, want 0", n)
			}
		})
	}
}

func TestHandleWithoutToken(t *testing.T) {
	pub := &fakePublisher{t: t}
	h := New(Config{Topics: testTopics}, Deps{Publisher: pub, Logger: slog.New(slog.DiscardHandler)})
	// Signed with the empty key, which an attacker can compute.
	resp, err := h.Handle(context.Background(), webhookEvent("", smsParams("face addcol celebs")))
	if err != nil {
		t.Fatalf("Handle() error = %v", err)
	}
	if resp.StatusCode != 500 {
		t.Errorf("Handle() without a token: status = %d, want 500", resp.StatusCode)
	}
	if n := len(pub.published()); n != 0 {
		t.Errorf("published %d jobs without a token, want 0", n)
	}
}

func TestTwiMLEscapes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"markup", `<Say>&"'</Say>`, `<Say>&"'</Say>`},
		{"newlines", "a\nb", "a\nb"},
		{"forbidden control character", "a\x00b", "a\uFFFDb"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := twimlMessage(t, twiml(tt.in)); got != tt.want {
				t.Errorf("twiml(%q) carries %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
