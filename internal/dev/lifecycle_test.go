package dev

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/internal/offline/faces"
)

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
