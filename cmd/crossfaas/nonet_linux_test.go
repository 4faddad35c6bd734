package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/internal/dev/bio"
	"github.com/crossfaas/crossfaas/internal/offline/faces/facetest"
)

// The helper process of TestOfflineMakesNoNetworkCall runs in a network
// namespace of its own (and a mount namespace, for its resolv.conf): it
// sets up a trap there, runs `crossfaas dev` as its child, texts the bot
// and reports what the trap caught as the last line of its output.
const (
	envNetns      = "CROSSFAAS_TEST_NETNS"       // "1" in the helper
	envNetnsFlags = "CROSSFAAS_TEST_NETNS_FLAGS" // more flags for crossfaas dev, space-separated
	resultPrefix  = "NETNS RESULT "
)

func init() {
	helperMode = func() (int, bool) {
		if os.Getenv(envNetns) != "1" {
			return 0, false
		}
		return netnsHelper(), true
	}
}

// netnsResult is what the helper reports.
type netnsResult struct {
	Attempts   []string `json:"attempts"` // one line per connection or query the trap caught
	MatchReply string   `json:"matchReply"`
	Error      string   `json:"error,omitempty"`
}

// TestOfflineMakesNoNetworkCall runs `crossfaas dev` in a network namespace
// holding only the loopback interface, where a trap catches any attempt to
// reach another machine: every IPv4 and IPv6 address is made local to lo
// (a "local" route for 0.0.0.0/0 and ::/0), listeners on ports 53, 80 and
// 443 of all addresses record whatever connects, and resolv.conf names a
// DNS trap on 127.0.0.1 that records every name looked up. Offline, a face
// is added and matched and the labeler labels its default image: the trap
// must catch nothing. With --wikipedia, the same run must be caught looking
// up Wikipedia, which shows the trap works.
func TestOfflineMakesNoNetworkCall(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this test needs root, to create network namespaces; CI runs as root")
		}
		t.Skip("needs root to create a network namespace (run as root, as CI does)")
	}
	testdata, err := filepath.Abs("../../internal/offline/faces/testdata")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		flags        string
		wantCaught   string // "" for nothing at all
		wantBiograph string
	}{
		{"offline", "", "", bio.OfflineLine},
		{"with --wikipedia the trap catches Wikipedia", "--wikipedia", "en.wikipedia.org", bio.UnreachableLine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
			defer cancel()
			helper := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
			helper.Env = append(os.Environ(), envNetns+"=1", envNetnsFlags+"="+tt.flags, "CROSSFAAS_TEST_TESTDATA="+testdata)
			helper.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS}
			out, err := helper.CombinedOutput()
			if errors.Is(err, syscall.EPERM) {
				t.Skipf("cannot create a network namespace here: %v", err)
			}
			var res netnsResult
			i := bytes.LastIndex(out, []byte(resultPrefix))
			if i < 0 || json.Unmarshal(bytes.TrimSpace(out[i+len(resultPrefix):]), &res) != nil {
				t.Fatalf("helper in a network namespace: %v; no result in its output:\n%s", err, out)
			}
			if res.Error != "" {
				t.Fatalf("helper in a network namespace: %s\noutput:\n%s", res.Error, out)
			}
			switch {
			case tt.wantCaught == "" && len(res.Attempts) > 0:
				t.Errorf("offline crossfaas dev tried to reach the network %d times:\n%s", len(res.Attempts), strings.Join(res.Attempts, "\n"))
			case tt.wantCaught != "" && !slices.ContainsFunc(res.Attempts, func(a string) bool { return strings.Contains(a, tt.wantCaught) }):
				t.Errorf("the trap caught %q, want an attempt naming %s (the trap does not work)", res.Attempts, tt.wantCaught)
			}
			t.Logf("the trap caught: %q", res.Attempts)
			if !strings.HasPrefix(res.MatchReply, "Face matched Mel Gibson") || !strings.Contains(res.MatchReply, tt.wantBiograph) {
				t.Errorf("match reply = %q, want the match and %q", res.MatchReply, tt.wantBiograph)
			}
		})
	}
}

// netnsHelper runs inside the namespaces and prints the result.
func netnsHelper() int {
	var res netnsResult
	if err := netnsScenario(&res); err != nil {
		res.Error = err.Error()
	}
	if res.Attempts == nil {
		res.Attempts = []string{}
	}
	line, _ := json.Marshal(res)
	fmt.Printf("\n%s%s\n", resultPrefix, line)
	return 0
}

func netnsScenario(res *netnsResult) error {
	ipv6, err := setUpTrapNetwork()
	if err != nil {
		return err
	}
	trap, err := startTrap(ipv6)
	if err != nil {
		return err
	}
	defer func() { res.Attempts = trap.stop() }()
	if err := trap.selfCheck(); err != nil {
		return err
	}

	testdata := os.Getenv("CROSSFAAS_TEST_TESTDATA")
	sample, err := facetest.Decode(filepath.Join(testdata, "pigo-sample.jpg"))
	if err != nil {
		return err
	}
	person := facetest.JPEG(sample, 90)
	variant := facetest.JPEG(facetest.Scaled(facetest.Cropped(sample, image.Rect(20, 10, 310, 380)), 0.8), 60)

	data, err := os.MkdirTemp("", "crossfaas-netns-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	args := append([]string{"dev", "--port", "0", "--data", data}, strings.Fields(os.Getenv(envNetnsFlags))...)
	dev := exec.Command(os.Args[0], args...)
	dev.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, envNetns) })
	dev.Env = append(dev.Env, envRunMain+"=1")
	stdout, err := dev.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr syncBuffer
	dev.Stderr = &stderr
	if err := dev.Start(); err != nil {
		return fmt.Errorf("start crossfaas dev: %w", err)
	}
	exited := make(chan error, 1)
	banner := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Ctrl-C stops everything.") {
				banner <- b.String()
			}
		}
		exited <- dev.Wait()
	}()
	defer func() {
		dev.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			dev.Process.Kill()
		}
	}()
	var text string
	select {
	case text = <-banner:
	case err := <-exited:
		return fmt.Errorf("crossfaas dev stopped early: %v\n%s", err, stderr.String())
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("no banner from crossfaas dev within 2 minutes:\n%s", stderr.String())
	}
	url := func(label string) (string, error) {
		m := regexp.MustCompile(regexp.QuoteMeta(label) + `\s+(?:GET\s+)?(http://[^/\s]+)`).FindStringSubmatch(text)
		if m == nil {
			return "", fmt.Errorf("banner lacks the %s URL:\n%s", label, text)
		}
		return m[1], nil
	}
	phoneURL, err := url("Phone simulator")
	if err != nil {
		return err
	}
	gatewayURL, err := url("API (gateway)")
	if err != nil {
		return err
	}
	labelerURL, err := url("Labeler")
	if err != nil {
		return err
	}

	if _, err := textAndWait(phoneURL, "face addimg celebs mel_gibson", person); err != nil {
		return err
	}
	if res.MatchReply, err = textAndWait(phoneURL, "face match celebs", variant); err != nil {
		return err
	}
	// The labeler through the gateway and the proxy, over the local
	// private link (its STS, IAM Credentials and issuer must be local
	// too); a direct call gets the private labeler's 403.
	for _, c := range []struct {
		url  string
		want int
	}{{gatewayURL + "/detect", http.StatusOK}, {labelerURL + "/", http.StatusForbidden}} {
		resp, err := http.Get(c.url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			return fmt.Errorf("GET %s = %d, want %d", c.url, resp.StatusCode, c.want)
		}
	}
	return nil
}

// textAndWait texts body with photo from the phone simulator's page API
// and returns the first asynchronous reply.
func textAndWait(phoneURL, body string, photo []byte) (string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("body", body)
	w, _ := mw.CreateFormFile("media", "photo.jpg")
	w.Write(photo)
	mw.Close()
	resp, err := http.Post(phoneURL+"/api/messages", mw.FormDataContentType(), &buf)
	if err != nil {
		return "", err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var sent struct {
		MessageSid string `json:"messageSid"`
		Error      string `json:"error"`
	}
	if err := json.Unmarshal(raw, &sent); err != nil || resp.StatusCode != http.StatusOK || sent.Error != "" {
		return "", fmt.Errorf("texting %q: %d %s", body, resp.StatusCode, raw)
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(phoneURL + "/api/thread")
		if err != nil {
			return "", err
		}
		var entries []struct {
			Kind, Body, InReplyTo string
		}
		err = json.NewDecoder(resp.Body).Decode(&entries)
		resp.Body.Close()
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			if e.Kind == "received" && e.InReplyTo == sent.MessageSid {
				return e.Body, nil
			}
		}
	}
	return "", fmt.Errorf("no reply to %q within a minute", body)
}
