package main

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestDevTerminal runs the real `crossfaas dev` with its default logs, its
// stdout and stderr on one stream as in a terminal: the banner comes
// first, then one human line per hop of a message (the phone, the webhook,
// the command function, the reply), then the stop line.
func TestDevTerminal(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("stops the command with SIGINT, which Windows cannot send")
	}
	var terminal syncBuffer
	child := exec.Command(os.Args[0], "dev", "--port", "0", "--data", t.TempDir())
	child.Env = append(os.Environ(), envRunMain+"=1")
	child.Stdout, child.Stderr = &terminal, &terminal
	if err := child.Start(); err != nil {
		t.Fatalf("start crossfaas dev: %v", err)
	}
	exited := make(chan struct{}) // closed when the child has exited
	go func() {
		child.Wait()
		close(exited)
	}()
	defer func() {
		child.Process.Kill()
		<-exited
	}()
	phoneURL := awaitBanner(t, &terminal, exited)

	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("body", "face addcol terminal")
	mw.Close()
	resp, err := http.Post(phoneURL+"/api/messages", mw.FormDataContentType(), &form)
	if err != nil {
		t.Fatal(err)
	}
	var sent struct{ MessageSid string }
	json.NewDecoder(resp.Body).Decode(&sent)
	resp.Body.Close()
	if sent.MessageSid == "" {
		t.Fatalf("texting from the page API: %d, no MessageSid", resp.StatusCode)
	}
	// The whole MessageSid, as `crossfaas logs --grep` takes it: a prefix
	// is not unique.
	short := sent.MessageSid
	hops := []string{"phone +" + short + ` texted the bot "face addcol terminal"`, "request +" + short + " job published", "addcol +" + short + " job done", "respond +" + short + " sms sent"}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(terminal.String(), "respond   "+short); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no respond line for %s within 30s:\n%s", short, terminal.String())
		}
	}
	child.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("crossfaas dev did not stop within 10s of SIGINT:\n%s", terminal.String())
	}
	out := terminal.String()
	if !strings.HasPrefix(strings.TrimLeft(out, "\n"), "crossfaas dev: the whole system on this machine") {
		t.Errorf("the terminal does not start with the banner:\n%s", out)
	}
	_, logs, _ := strings.Cut(out, "Ctrl-C stops everything.\n")
	var lines []string
	for line := range strings.Lines(logs) {
		if strings.Contains(line, short) {
			lines = append(lines, strings.TrimSpace(line))
		}
		if strings.HasPrefix(line, "{") {
			t.Errorf("a JSON log line in the default format: %s", line)
		}
	}
	if len(lines) != len(hops) {
		t.Errorf("lines about %s = %d, want one per hop (%d):\n%s", short, len(lines), len(hops), strings.Join(lines, "\n"))
	}
	// A hop's line is written when its invocation ends. The addcol
	// invocation publishes the reply before it ends, so the respond
	// invocation runs alongside it and, on a loaded machine, may end
	// first: the last two lines come in either order.
	if len(lines) == len(hops) && strings.Contains(lines[2], "respond ") {
		lines[2], lines[3] = lines[3], lines[2]
	}
	for i, hop := range hops {
		if i < len(lines) && !regexp.MustCompile(`^\d\d:\d\d:\d\d +`+hop).MatchString(lines[i]) {
			t.Errorf("line %d = %q, want time, %q", i+1, lines[i], hop)
		}
	}
	if !strings.HasSuffix(out, "crossfaas dev: stopped.\n") {
		t.Errorf("the terminal does not end with the stop line:\n%s", out)
	}
}

// awaitBanner waits for the banner of a crossfaas dev child writing to out
// and returns the phone simulator's URL.
func awaitBanner(t *testing.T, out *syncBuffer, exited <-chan struct{}) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "Ctrl-C stops everything.") {
		select {
		case <-exited:
			t.Fatalf("crossfaas dev stopped early:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner after 60s:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := regexp.MustCompile(`Phone simulator\s+(http://\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("banner lacks the phone simulator's URL:\n%s", out.String())
	}
	return m[1]
}
