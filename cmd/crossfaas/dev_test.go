package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDevFlags(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantErr    string // "" for flag.ErrHelp
		wantStderr string
	}{
		{"help", []string{"-h"}, "", "-duplicate-deliveries"},
		{"port too large", []string{"--port", "65535"}, "--port 65535 is not a port number", ""},
		{"negative port", []string{"--port", "-1"}, "--port -1 is not a port number", ""},
		{"threshold", []string{"--threshold", "101"}, "--threshold 101 is not between 0 and 100", ""},
		{"argument", []string{"extra"}, `unexpected argument "extra"`, ""},
		{"undefined flag", []string{"--bogus"}, "bad flags", "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runDev(t.Context(), tt.args, &stdout, &stderr)
			switch {
			case tt.wantErr == "" && !errors.Is(err, flag.ErrHelp):
				t.Errorf("runDev(%q) = %v, want flag.ErrHelp", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("runDev(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("runDev(%q) stderr = %q, want it to contain %q", tt.args, &stderr, tt.wantStderr)
			}
		})
	}
}

func TestDevPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"dev", "--port", fmt.Sprint(port), "--data", t.TempDir()}, &stdout, &stderr)
	want := fmt.Sprintf("port %d is in use; pass --port", port)
	if code != 1 || !strings.Contains(stderr.String(), want) {
		t.Errorf("crossfaas dev on a taken port = %d, stderr %q, want 1 and %q", code, &stderr, want)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDevRunsUntilInterrupted starts `crossfaas dev` on free ports, checks
// the banner's URLs answer, and stops it as Ctrl-C would.
func TestDevRunsUntilInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, []string{"--port", "0", "--data", t.TempDir()}, &stdout, &stderr)
	}()

	phoneURL := regexp.MustCompile(`Phone simulator\s+(http://\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	var m []string
	for m = phoneURL.FindStringSubmatch(stdout.String()); m == nil; m = phoneURL.FindStringSubmatch(stdout.String()) {
		select {
		case err := <-done:
			t.Fatalf("crossfaas dev stopped early: %v\nstderr: %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner after 20s; stdout %q", stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"/detect?imageUri=", "/sms", "Labeler", "Data directory", "auth token", "offline"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, stdout.String())
		}
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatalf("GET %s: %v", m[1], err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s = %d, want 200", m[1], resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("crossfaas dev after Ctrl-C = %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("crossfaas dev did not stop within 15s of Ctrl-C")
	}
	if !strings.Contains(stdout.String(), "stopped") {
		t.Errorf("stdout lacks the stop line: %q", stdout.String())
	}
	if !strings.Contains(stderr.String(), `"msg":"dev: running"`) {
		t.Errorf("stderr lacks the JSON logs: %q", stderr.String())
	}
}
