package dev

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/internal/dev/bio"
	"github.com/crossfaas/crossfaas/internal/offline/faces"
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
		// (in the cloud: a minute later).
		o.RetryDelays = []time.Duration{300 * time.Millisecond, 600 * time.Millisecond}
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
func (failingFaces) IndexFace(context.Context, string, string, []byte) error { return errUnavailable }
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
	dead := sys.Bus.DeadLetters()
	if len(dead) != 1 || dead[0].Function != DefaultPrefix+"-addcol" || dead[0].Attempts != 3 || dead[0].MessageSid != res.MessageSid ||
		!strings.Contains(dead[0].Error, "service unavailable") {
		t.Errorf("dead letters = %+v, want the addcol event after 3 attempts", dead)
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

// signallingFaces fails every call, as failingFaces, and says when it was
// called.
type signallingFaces struct {
	failingFaces
	called chan struct{}
}

func (f signallingFaces) CreateCollection(ctx context.Context, id string) (bool, error) {
	select {
	case f.called <- struct{}{}:
	default:
	}
	return f.failingFaces.CreateCollection(ctx, id)
}

// TestCloseAfterAbandonedDrain: when Close runs out of time for a pending
// retry while the page follows the thread, the system still stops cleanly
// (Ctrl-C must not end in an error).
func TestCloseAfterAbandonedDrain(t *testing.T) {
	called := make(chan struct{}, 1)
	sys := start(t, func(o *Options) {
		o.RetryDelays = []time.Duration{time.Minute, time.Minute}
		o.drainTimeout = 100 * time.Millisecond
		o.editEngines = func(e *engines) { e.faces = signallingFaces{called: called} }
	})
	// The page's event stream, open across the shutdown.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", sys.PhoneURL+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	go io.Copy(io.Discard, resp.Body)

	text(t, sys, "face addcol stuck", nil, "")
	select {
	case <-called:
	case <-ctx.Done():
		t.Fatal("the addcol function never ran")
	}
	if err := sys.Close(); err != nil {
		t.Errorf("Close with a retry pending and the page open = %v, want nil", err)
	}
}

// TestCloseWithUnusedConnection: a connection to the phone simulator that
// never sent a request (an HTTP client's spare dial) neither fails Close nor
// holds it for the 5 seconds http.Server.Shutdown gives such connections.
func TestCloseWithUnusedConnection(t *testing.T) {
	sys := start(t, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(sys.PhoneURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(50 * time.Millisecond) // accepted by the server
	begin := time.Now()
	if err := sys.Close(); err != nil {
		t.Errorf("Close with an unused connection open = %v, want nil", err)
	}
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("Close with an unused connection open took %v, want at most about %v", took, phoneShutdownTimeout)
	}
}

// TestWebhookNeedsSignature: the gateway runs the real signature check.
func TestWebhookNeedsSignature(t *testing.T) {
	sys := start(t, nil)
	form := url.Values{"MessageSid": {"SM1"}, "From": {"+15555550100"}, "To": {"+15555550199"}, "Body": {"help"}}
	tests := []struct {
		name      string
		signature string
		want      int
	}{
		{"unsigned", "", http.StatusForbidden},
		{"signed with another token", smswebhook.Signature("not-the-token", sys.GatewayURL+"/sms", form), http.StatusForbidden},
		{"signed with the local token", smswebhook.Signature(sys.AuthToken, sys.GatewayURL+"/sms", form), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", sys.GatewayURL+"/sms", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.signature != "" {
				req.Header.Set("X-Twilio-Signature", tt.signature)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("POST /sms %s = %d, want %d", tt.name, resp.StatusCode, tt.want)
			}
		})
	}
}

func TestBiographyOffline(t *testing.T) {
	// A Wikipedia that refuses connections stands for no network.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	sys := start(t, func(o *Options) { o.WikipediaURL = closed })
	p := loadPhotos(t)
	for _, body := range []string{"face addcol off"} {
		awaitReply(t, sys, text(t, sys, body, nil, "").MessageSid)
	}
	awaitReply(t, sys, text(t, sys, "face addimg off sample_person", p.person, "image/jpeg").MessageSid)
	got := awaitReply(t, sys, text(t, sys, "face match off", p.personVariant, "image/jpeg").MessageSid)
	if !strings.Contains(got, "Face matched Sample Person") || !strings.Contains(got, bio.OfflineLine) {
		t.Errorf("match reply offline = %q, want the match and %q", got, bio.OfflineLine)
	}
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = Run(context.Background(), Options{Port: port, DataDir: t.TempDir(), Logger: testLogger(t)})
	want := fmt.Sprintf("port %d is in use; pass --port", port)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Run on a taken port = %v, want an error containing %q", err, want)
	}
}

// TestCloseReleasesEverything: after Close the ports are free and the face
// database can be opened again.
func TestCloseReleasesEverything(t *testing.T) {
	sys := start(t, nil)
	awaitReply(t, sys, text(t, sys, "face addcol kept", nil, "").MessageSid)
	if err := sys.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := sys.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, u := range []string{sys.GatewayURL, sys.PhoneURL, sys.LabelerURL} {
		host := strings.TrimPrefix(u, "http://")
		ln, err := net.Listen("tcp", host)
		if err != nil {
			t.Errorf("listen on %s after Close: %v", host, err)
			continue
		}
		ln.Close()
	}
	db, err := faces.Open(sys.DataDir)
	if err != nil {
		t.Fatalf("faces.Open after Close: %v", err)
	}
	defer db.Close()
	created, err := db.CreateCollection(context.Background(), DefaultPrefix+"-kept")
	if err != nil || created {
		t.Errorf("CreateCollection(kept) after restart = %v, %v, want it to exist already", created, err)
	}
}

func TestBanner(t *testing.T) {
	sys := start(t, nil)
	var buf bytes.Buffer
	sys.Banner(&buf)
	for _, want := range []string{sys.PhoneURL, sys.GatewayURL + "/detect", sys.GatewayURL + "/sms", sys.LabelerURL, sys.DataDir, sys.AuthToken, "offline", "/_dev/dlq"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("Banner lacks %q:\n%s", want, &buf)
		}
	}
	if _, err := strconv.Atoi(strings.TrimPrefix(sys.GatewayURL, "http://127.0.0.1:")); err != nil {
		t.Errorf("GatewayURL = %q, want http://127.0.0.1:<port>", sys.GatewayURL)
	}
}

func TestHosts(t *testing.T) {
	t.Run("all interfaces", func(t *testing.T) {
		sys := start(t, func(o *Options) { o.Host = "0.0.0.0" })
		if !strings.HasPrefix(sys.GatewayURL, "http://127.0.0.1:") || !strings.HasPrefix(sys.PhoneURL, "http://127.0.0.1:") {
			t.Errorf("URLs = %s, %s, want loopback ones for the system's own calls", sys.GatewayURL, sys.PhoneURL)
		}
		if got := awaitReply(t, sys, text(t, sys, "face addcol wide", nil, "").MessageSid); got != "Collection wide was created." {
			t.Errorf("reply = %q", got)
		}
	})
	for _, host := range []string{"10.1.2.3", "example.com"} {
		t.Run(host, func(t *testing.T) {
			_, err := Run(context.Background(), Options{Host: host, Port: -1, DataDir: t.TempDir(), Logger: testLogger(t)})
			if err == nil || !strings.Contains(err.Error(), "loopback") {
				t.Errorf("Run(Host %q) = %v, want an error asking for a loopback address", host, err)
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
