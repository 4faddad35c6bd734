package worker_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awsrek "github.com/aws/aws-sdk-go-v2/service/rekognition"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/awsenv"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/awsfake"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/twiliofake"
	"github.com/crossfaas/crossfaas/functions/sleuth/ledger"
	"github.com/crossfaas/crossfaas/functions/sleuth/rekognition"
	"github.com/crossfaas/crossfaas/functions/sleuth/twilio"
	"github.com/crossfaas/crossfaas/functions/sleuth/wikipedia"
	"github.com/crossfaas/crossfaas/functions/sleuth/worker"
)

const (
	prefix         = "crossfaas-dev"
	responsesTopic = "arn:aws:sns:us-east-1:123456789012:crossfaas-dev-sleuth-responses"
	table          = "crossfaas-dev-sleuth-idempotency"
	accountSID     = "AC0123456789abcdef0123456789abcdef"
	authToken      = "0123456789abcdef0123456789abcdef"
	user           = "+15550001111" // the user's phone
	botNumber      = "+15550002222" // the Twilio number the user texts
	melBio         = "Mel Columcille Gerard Gibson is an American actor, filmmaker, and writer."
)

// clock is a settable time source for the ledger.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mediaMessage is the inbound message the fake Twilio's media belong to.
const mediaMessage = "MM0123456789abcdef0123456789abcdef"

// fakeTwilio is Twilio's API (twiliofake) with the tests' photos, by name:
// MMS media of mediaMessage, and the Messages resource.
type fakeTwilio struct {
	api  *twiliofake.API
	urls map[string]string
}

// me returns the media SID that stands for a photo's name (at most 16
// bytes): "ME" and the name's bytes in hex, padded with zeros.
func me(name string) string {
	b := make([]byte, 16)
	copy(b, name)
	return "ME" + hex.EncodeToString(b)
}

func newFakeTwilio(t *testing.T) *fakeTwilio {
	t.Helper()
	tw := &fakeTwilio{api: twiliofake.New(t, accountSID, authToken, nil), urls: map[string]string{}}
	for name, img := range map[string]struct {
		contentType string
		body        []byte
	}{
		"mel":     {"image/jpeg", awsfake.FaceJPEG("mel")},
		"mel-png": {"image/png", awsfake.FacePNG("mel")},
		"danny":   {"image/jpeg", awsfake.FaceJPEG("danny")},
		"joe":     {"image/jpeg", awsfake.FaceJPEG("joe")},
		"nobody":  {"image/jpeg", awsfake.FaceJPEG("")},
		"corrupt": {"image/jpeg", awsfake.CorruptJPEG()},
		"gif":     {"image/jpeg", []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00face=mel;")},
		"huge":    {"image/jpeg", append(awsfake.FaceJPEG("mel"), make([]byte, 5*1024*1024)...)},
	} {
		tw.urls[name] = tw.api.AddMedia(mediaMessage, me(name), img.contentType, img.body)
	}
	tw.urls["unavailable"] = tw.api.AddFailingMedia(mediaMessage, me("unavailable"), http.StatusServiceUnavailable)
	return tw
}

// mediaURL returns the URL of the photo name; a name without a photo gets
// a URL the API answers 404 for.
func (tw *fakeTwilio) mediaURL(name string) string {
	if u, ok := tw.urls[name]; ok {
		return u
	}
	return tw.api.URL + "/2010-04-01/Accounts/" + accountSID + "/Messages/" + mediaMessage + "/Media/" + me(name)
}

// sent returns the SMS accepted, as (From, To, Body).
func (tw *fakeTwilio) sent() [][3]string {
	var out [][3]string
	for _, m := range tw.api.Messages() {
		out = append(out, [3]string{m.From, m.To, m.Body})
	}
	return out
}

func (tw *fakeTwilio) failSMS(statuses ...int) { tw.api.FailSends(statuses...) }

func (tw *fakeTwilio) mediaCalls() int { return tw.api.MediaRequests() }

// newFakeWikipedia serves Mel Gibson's summary; Danny Glover's lookups fail
// with a 502; everyone else is not found.
func newFakeWikipedia(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/rest_v1/page/summary/Mel_Gibson":
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]string{"type": "standard", "title": "Mel Gibson", "extract": melBio})
		case "/api/rest_v1/page/summary/Danny_Glover":
			http.Error(w, "bad gateway", http.StatusBadGateway)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of slog.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the JSON log records written so far.
func (b *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// harness is a worker, responder and failure handler with their real
// adapters, pointed at fakes.
type harness struct {
	cloud     *awsfake.Cloud
	twilio    *fakeTwilio
	clock     *clock
	logs      *syncBuffer
	worker    *worker.Worker
	responder *worker.Responder
	failure   *worker.Failure
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		cloud:  awsfake.NewCloud(),
		twilio: newFakeTwilio(t),
		clock:  &clock{t: time.Unix(1_760_000_000, 0)},
		logs:   &syncBuffer{},
	}
	t.Cleanup(h.cloud.Close)
	h.cloud.DynamoDB.CreateTable(table)
	h.cloud.SNS.CreateTopic(responsesTopic)
	awsCfg := h.cloud.Config()
	logger := slog.New(slog.NewJSONHandler(h.logs, nil))
	led := ledger.New(dynamodb.NewFromConfig(awsCfg), table, h.clock.Now)
	tw := twilio.Config{AccountSID: accountSID, AuthToken: authToken, APIURL: h.twilio.api.URL}
	media, err := twilio.NewMedia(tw, nil)
	if err != nil {
		t.Fatal(err)
	}
	bios, err := wikipedia.New(newFakeWikipedia(t).URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.worker, err = worker.New(
		worker.Config{Prefix: prefix, ResponsesTopicARN: responsesTopic, Threshold: 85, FunctionTimeout: 10 * time.Second},
		worker.Deps{
			Faces:       rekognition.New(awsrek.NewFromConfig(awsCfg)),
			Publisher:   awsenv.NewSNSPublisher(sns.NewFromConfig(awsCfg)),
			Ledger:      led,
			Media:       media,
			Biographies: bios,
			Logger:      logger,
		})
	if err != nil {
		t.Fatal(err)
	}
	sender, err := twilio.NewSender(tw)
	if err != nil {
		t.Fatal(err)
	}
	if h.responder, err = worker.NewResponder(led, sender, 10*time.Second, logger); err != nil {
		t.Fatal(err)
	}
	if h.failure, err = worker.NewFailure(led, sender, 10*time.Second, logger); err != nil {
		t.Fatal(err)
	}
	return h
}

// replies returns the replies published to the responses topic.
func (h *harness) replies(t *testing.T) []sleuth.Reply {
	t.Helper()
	var out []sleuth.Reply
	for _, p := range h.cloud.SNS.Published() {
		if p.TopicARN != responsesTopic {
			t.Errorf("published to %q, want %q", p.TopicARN, responsesTopic)
		}
		var r sleuth.Reply
		if err := json.Unmarshal([]byte(p.Message), &r); err != nil {
			t.Fatalf("published %q: %v", p.Message, err)
		}
		out = append(out, r)
	}
	return out
}

// snsEvent wraps messages in an SNS event as Lambda delivers it.
func snsEvent(t *testing.T, topic string, messages ...any) events.SNSEvent {
	t.Helper()
	var ev events.SNSEvent
	for i, m := range messages {
		body, ok := m.(string)
		if !ok {
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			body = string(b)
		}
		ev.Records = append(ev.Records, events.SNSEventRecord{
			EventSource: "aws:sns", EventVersion: "1.0",
			EventSubscriptionArn: topic + ":sub",
			SNS: events.SNSEntity{
				Type: "Notification", MessageID: fmt.Sprintf("msg-%d", i), TopicArn: topic,
				Message: body, Timestamp: time.Unix(1_760_000_000, 0).UTC(),
			},
		})
	}
	return ev
}

// job returns a job of the bot with the usual numbers.
func job(verb sleuth.Verb, collection string) sleuth.Job {
	return sleuth.Job{Command: verb, Collection: collection, From: user, To: botNumber, MessageSid: "MM0123"}
}

// withMedia returns j with an image of the fake Twilio.
func withMedia(j sleuth.Job, tw *fakeTwilio, name, contentType string) sleuth.Job {
	j.MediaURL, j.MediaContentType = tw.mediaURL(name), contentType
	return j
}
