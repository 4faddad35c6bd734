package dev

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/internal/dev/bio"
	"github.com/crossfaas/crossfaas/internal/dev/phone"
	"github.com/crossfaas/crossfaas/internal/smswebhook"
)

// TestFaceFlow texts the bot through the phone simulator's HTTP API, as the
// page does, and reads the replies in the thread: every hop is real
// (signed webhook, gateway event, request handler, topics, command
// handlers, media fetch, offline faces, respond handler, Messages API).
func TestFaceFlow(t *testing.T) {
	sys := start(t, nil)
	p := loadPhotos(t)

	steps := []struct {
		name      string
		body      string
		photo     []byte
		photoType string
		wantAck   string
		wantReply string // "" when no asynchronous reply is expected
	}{
		{"help", "help", nil, "", "CelebritySleuth commands", ""},
		{"create", "face addcol demo", nil, "", "Got it - creating collection demo...", "Collection demo was created."},
		{"create again", "face addcol demo", nil, "", "creating collection demo", "Collection demo already exists."},
		{"add a face", "face addimg demo sample_person", p.person, "image/jpeg", "Got it - adding Sample Person to demo...", "Picture of Sample Person added to collection demo."},
		{"match another photo of the face", "face match demo", p.personVariant, "image/jpeg", "looking for this face in demo",
			"Face matched Sample Person with "},
		{"match the face as a smaller PNG", "face match demo", p.personPNG, "image/png", "looking for this face", "Face matched Sample Person"},
		{"a different face", "face match demo", p.otherMan, "image/png", "looking for this face", "No face in collection demo matched with at least 85% similarity."},
		{"no face", "face match demo", p.landscape, "image/jpeg", "looking for this face", "I couldn't find a face in that photo."},
		{"no face to add", "face addimg demo nobody", p.landscape, "image/jpeg", "adding Nobody to demo", "I couldn't find a face in that photo."},
		{"unknown collection", "face match nope", p.person, "image/jpeg", "looking for this face in nope", "Collection nope does not exist. Create it with: face addcol nope"},
		{"photo too large", "face match demo", append(bytes.Clone(p.person), make([]byte, 5<<20)...), "image/jpeg", "looking for this face", "That photo is larger than 5 MB."},
		{"not an image", "face match demo", []byte("just some text"), "text/plain", "JPEG or PNG", ""},
		{"photo missing", "face match demo", nil, "", "photo", ""},
		{"unknown command", "face smile demo", nil, "", "face smile", ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			res := text(t, sys, s.body, s.photo, s.photoType)
			if !strings.Contains(res.Ack, s.wantAck) {
				t.Errorf("text(%q) ack = %q, want it to contain %q", s.body, res.Ack, s.wantAck)
			}
			if s.wantReply == "" {
				return
			}
			got := awaitReply(t, sys, res.MessageSid)
			if !strings.Contains(got, s.wantReply) {
				t.Errorf("text(%q) reply = %q, want it to contain %q", s.body, got, s.wantReply)
			}
		})
	}

	// The biography comes from (the fake) Wikipedia after the match line.
	entries := thread(t, sys)
	var matched string
	for _, e := range entries {
		if strings.HasPrefix(e.Body, "Face matched Sample Person") {
			matched = e.Body
			break
		}
	}
	if !strings.Contains(matched, "Sample Person is the face in pigo's sample photo.") {
		t.Errorf("match reply = %q, want the biography", matched)
	}
	// Synchronous usage errors get no asynchronous reply; every async
	// reply came exactly once.
	seen := map[string]int{}
	for _, e := range entries {
		if e.Kind == "received" {
			seen[e.InReplyTo]++
		}
	}
	for sid, n := range seen {
		if n != 1 {
			t.Errorf("message %s got %d replies, want 1", sid, n)
		}
	}
	if dead := sys.Bus.DeadLetters(); len(dead) != 0 {
		t.Errorf("dead letters = %+v, want none", dead)
	}
}

// TestDuplicateDeliveries delivers every SNS message twice: each command
// still answers once, and the face is indexed once.
func TestDuplicateDeliveries(t *testing.T) {
	counted := &countingFaces{}
	sys := start(t, func(o *Options) {
		o.DuplicateDeliveries = true
		// Both copies arrive at once: the second finds the step claimed
		// and is retried; the retry must come after the first finished
		// (in the cloud: a minute later). A second and then half a
		// minute: a loaded machine finishes a command within either, and
		// the test waits for the replies, not for the delays.
		o.RetryDelays = []time.Duration{time.Second, 30 * time.Second}
		o.editEngines = func(e *engines) { counted.Faces = e.faces; e.faces = counted }
	})
	p := loadPhotos(t)
	var sids []string
	for _, m := range []struct {
		body  string
		photo []byte
	}{
		{"face addcol dup", nil},
		{"face addimg dup sample_person", p.person},
		{"face match dup", p.personVariant},
	} {
		res := text(t, sys, m.body, m.photo, "image/jpeg")
		awaitReply(t, sys, res.MessageSid)
		sids = append(sids, res.MessageSid)
	}
	// Close drains the bus: every duplicate has been handled after it.
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	entries := sys.Phone.Thread(0)
	for _, sid := range sids {
		if got := replies(entries, sid); len(got) != 1 {
			t.Errorf("message %s got %d replies, want 1: %+v", sid, len(got), got)
		}
	}
	if dead := sys.Bus.DeadLetters(); len(dead) != 0 {
		t.Errorf("dead letters = %+v, want none", dead)
	}
	if got := counted.indexed.Load(); got != 1 {
		t.Errorf("faces indexed = %d, want 1", got)
	}
	if got := counted.created.Load(); got != 1 {
		t.Errorf("collections created = %d, want 1", got)
	}
}

// countingFaces counts the side effects that succeed.
type countingFaces struct {
	sleuth.Faces
	created, indexed atomic.Int32
}

func (c *countingFaces) CreateCollection(ctx context.Context, id string) (bool, error) {
	created, err := c.Faces.CreateCollection(ctx, id)
	if created {
		c.created.Add(1)
	}
	return created, err
}

func (c *countingFaces) IndexFace(ctx context.Context, id, externalID string, image []byte) error {
	err := c.Faces.IndexFace(ctx, id, externalID, image)
	if err == nil {
		c.indexed.Add(1)
	}
	return err
}

// failingFaces fails every call, as an unreachable Rekognition would.
type failingFaces struct{}

var errUnavailable = errors.New("service unavailable")

func (failingFaces) CreateCollection(context.Context, string) (bool, error) {
	return false, errUnavailable
}
func (failingFaces) CollectionCreated(context.Context, string) (time.Time, error) {
	return time.Time{}, errUnavailable
}
func (failingFaces) IndexFace(context.Context, string, string, []byte) error { return errUnavailable }
func (failingFaces) FaceIndexed(context.Context, string, string) (bool, error) {
	return false, errUnavailable
}
func (failingFaces) SearchFace(context.Context, string, []byte, float64) (sleuth.Match, error) {
	return sleuth.Match{}, errUnavailable
}

// TestFailureReachesUser: a command that keeps failing is retried, dead-
// lettered, and its on-failure destination tells the user.
func TestFailureReachesUser(t *testing.T) {
	sys := start(t, func(o *Options) {
		o.editEngines = func(e *engines) { e.faces = failingFaces{} }
	})
	res := text(t, sys, "face addcol broken", nil, "")
	if got := awaitReply(t, sys, res.MessageSid); !strings.Contains(got, "Sorry, that failed") {
		t.Errorf("reply = %q, want the apology", got)
	}
	if apology, _ := entryFor(sys.Phone.Thread(0), "received", res.MessageSid); !apology.Problem {
		t.Errorf("apology %+v is not marked as a problem", apology)
	}
	dead := sys.Bus.DeadLetters()
	if len(dead) != 1 || dead[0].Function != DefaultPrefix+"-addcol" || dead[0].Attempts != 3 || dead[0].MessageSid != res.MessageSid ||
		!strings.Contains(dead[0].Error, "service unavailable") {
		t.Errorf("dead letters = %+v, want the addcol event after 3 attempts", dead)
	}
	want := DefaultPrefix + `-addcol gave up on "face addcol broken" from ********0100 (message ` + res.MessageSid + `) after 3 attempts: `
	if len(dead) == 1 && (!strings.HasPrefix(dead[0].Summary, want) || !strings.HasSuffix(dead[0].Summary, "Its on-failure destination, "+DefaultPrefix+"-failures, was told.")) {
		t.Errorf("dead letter summary = %q, want a sentence starting %q", dead[0].Summary, want)
	}
	resp, err := http.Get(sys.PhoneURL + "/_dev/dlq")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(buf.String(), res.MessageSid) {
		t.Errorf("GET /_dev/dlq = %d %s, want the dead letter", resp.StatusCode, &buf)
	}
	if strings.Contains(buf.String(), "Error\"") || strings.Contains(buf.String(), "errorType") {
		t.Errorf("GET /_dev/dlq = %s, want no Go type names", &buf)
	}
}

// TestMediaGoneIsNotRetried: a webhook whose media URL answers 404 (as
// Twilio does for deleted media) gets its own reply at once, without
// retries (they would take a minute here) and without a dead letter.
func TestMediaGoneIsNotRetried(t *testing.T) {
	sys := start(t, func(o *Options) { o.RetryDelays = []time.Duration{time.Minute, time.Minute} })
	sid := "MM" + strings.Repeat("0", 32)
	form := url.Values{
		"MessageSid": {sid}, "AccountSid": {sys.AccountSID}, "From": {phone.DefaultUserNumber}, "To": {phone.DefaultTwilioNumber},
		"Body": {"face match celebs"}, "NumMedia": {"1"}, "MediaContentType0": {"image/jpeg"},
		"MediaUrl0": {sys.PhoneURL + "/2010-04-01/Accounts/" + sys.AccountSID + "/Messages/" + sid + "/Media/ME" + strings.Repeat("0", 32)},
	}
	postWebhook(t, sys, form)
	if got, want := awaitReply(t, sys, sid), "Sorry, I couldn't download the photo you sent: Twilio no longer has it. Please send it again."; got != want {
		t.Errorf("reply = %q, want %q", got, want)
	}
	if dead := sys.Bus.DeadLetters(); len(dead) != 0 {
		t.Errorf("dead letters = %+v, want none", dead)
	}
}

// postWebhook posts form to the gateway's /sms signed as Twilio would, as
// a developer's script does, and fails unless it is answered 200.
func postWebhook(t *testing.T, sys *System, form url.Values) {
	t.Helper()
	req, _ := http.NewRequest("POST", sys.GatewayURL+"/sms", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", smswebhook.Signature(sys.AuthToken, sys.GatewayURL+"/sms", form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /sms = %d %s, want 200", resp.StatusCode, body)
	}
}

// TestNoDeadLetters: the dead-letter list the banner points at is a JSON
// list even before anything failed.
func TestNoDeadLetters(t *testing.T) {
	sys := start(t, nil)
	resp, err := http.Get(sys.PhoneURL + "/_dev/dlq")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if got := strings.TrimSpace(buf.String()); resp.StatusCode != http.StatusOK || got != "[]" {
		t.Errorf("GET /_dev/dlq = %d %s, want 200 []", resp.StatusCode, got)
	}
}

// TestBiographies: offline, biographies come from the data directory's
// file and Wikipedia is never asked unless --wikipedia says so; with it, an
// unreachable Wikipedia gives a line saying so.
func TestBiographies(t *testing.T) {
	// A Wikipedia that refuses connections stands for no network.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	tests := []struct {
		name      string
		wikipedia bool
		url       string // "" for a fake that counts its requests
		local     string // biographies.json, "" for none
		want      string
	}{
		{"offline", false, "", "", bio.OfflineLine},
		{"offline, from the data directory", false, "", `{"Sample Person": "Sample Person lives in pigo's testdata."}`, "Sample Person lives in pigo's testdata."},
		{"--wikipedia, unreachable", true, closed, "", bio.UnreachableLine},
		{"--wikipedia", true, "", "", "Sample Person is the face in pigo's sample photo."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked atomic.Int32
			wikiURL := tt.url
			if wikiURL == "" {
				wiki, _ := url.Parse(fakeWikipedia(t, map[string]string{"Sample_Person": "Sample Person is the face in pigo's sample photo."}))
				forward := httputil.NewSingleHostReverseProxy(wiki)
				proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					asked.Add(1)
					forward.ServeHTTP(w, r)
				}))
				t.Cleanup(proxy.Close)
				wikiURL = proxy.URL
			}
			dir := t.TempDir()
			if tt.local != "" {
				if err := os.WriteFile(filepath.Join(dir, bio.LocalFileName), []byte(tt.local), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			sys := start(t, func(o *Options) { o.Wikipedia, o.WikipediaURL, o.DataDir = tt.wikipedia, wikiURL, dir })
			p := loadPhotos(t)
			awaitReply(t, sys, text(t, sys, "face addimg celebs sample_person", p.person, "image/jpeg").MessageSid)
			got := awaitReply(t, sys, text(t, sys, "face match celebs", p.personVariant, "image/jpeg").MessageSid)
			if !strings.Contains(got, "Face matched Sample Person") || !strings.Contains(got, tt.want) {
				t.Errorf("match reply = %q, want the match and %q", got, tt.want)
			}
			if n := asked.Load(); !tt.wikipedia && n != 0 {
				t.Errorf("Wikipedia was asked %d times offline without --wikipedia, want 0", n)
			}
		})
	}
}

// TestCloudChecksTwilioEnvironmentFirst: a half-set Twilio account fails
// before any cloud client is built (so no network is needed to see it).
func TestCloudChecksTwilioEnvironmentFirst(t *testing.T) {
	tests := []struct {
		name, sid, token, want string
	}{
		{"token without account", "", "secret", "TWILIO_AUTH_TOKEN is set but TWILIO_ACCOUNT_SID is not"},
		{"account without token", "AC" + strings.Repeat("0", 32), "", "TWILIO_ACCOUNT_SID is set but TWILIO_AUTH_TOKEN is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvTwilioAccountSID, tt.sid)
			t.Setenv(EnvTwilioAuthToken, tt.token)
			_, err := Run(context.Background(), Options{Cloud: true, Port: -1, DataDir: t.TempDir(), Logger: testLogger(t)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run(--cloud) = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDefaultDataDir(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DefaultDataDir(); err != nil || got != filepath.Join(root, ".crossfaas", "dev") {
		t.Errorf("DefaultDataDir() in the checkout = %q, %v, want %q", got, err, filepath.Join(root, ".crossfaas", "dev"))
	}
	outside := t.TempDir()
	t.Chdir(outside)
	xdg := filepath.Join(outside, "xdg")
	t.Setenv("XDG_DATA_HOME", xdg)
	if got, err := DefaultDataDir(); err != nil || got != filepath.Join(xdg, "crossfaas") {
		t.Errorf("DefaultDataDir() outside = %q, %v, want %q", got, err, filepath.Join(xdg, "crossfaas"))
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", outside)
	if got, err := DefaultDataDir(); err != nil || got != filepath.Join(outside, ".local", "share", "crossfaas") {
		t.Errorf("DefaultDataDir() without XDG_DATA_HOME = %q, %v", got, err)
	}
}
