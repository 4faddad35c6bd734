package dev

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/internal/dev/bio"
)

// TestREADMEWalkthrough texts the README's walkthrough of the SMS bot, as
// written there, to a freshly started system: no `face addcol` first,
// because dev creates the default collection (celebs) at start as the stack
// does; then a photo alone, which is a match in celebs.
func TestREADMEWalkthrough(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	p := loadPhotos(t)
	steps := []struct {
		body      string
		photo     []byte
		wantAck   string
		wantReply string // "" when only the instant reply comes
	}{
		{"help", nil, "CelebritySleuth commands", ""},
		{"face addimg celebs mel_gibson", p.person, "Got it - adding Mel Gibson to celebs...", "Picture of Mel Gibson added to collection celebs."},
		{"face match celebs", p.personVariant, "Got it - looking for this face in celebs...", "Face matched Mel Gibson with "},
		{"", p.personPNG, "Got it - looking for this face in celebs...", "Face matched Mel Gibson with "},
	}
	for _, s := range steps {
		if s.body != "" && !strings.Contains(string(readme), "`"+s.body+"`") {
			t.Errorf("README.md does not show the command `%s` this walkthrough texts", s.body)
		}
	}
	if !strings.Contains(string(readme), "no text") {
		t.Errorf("README.md does not say that a photo with no text is a match")
	}

	sys := start(t, func(o *Options) { o.Wikipedia = false }) // as `crossfaas dev` runs by default
	for _, s := range steps {
		res := text(t, sys, s.body, s.photo, "image/jpeg")
		if !strings.Contains(res.Ack, s.wantAck) {
			t.Errorf("text(%q) instant reply = %q, want %q", s.body, res.Ack, s.wantAck)
		}
		if s.wantReply == "" {
			continue
		}
		got := awaitReply(t, sys, res.MessageSid)
		if !strings.Contains(got, s.wantReply) {
			t.Errorf("text(%q) reply = %q, want %q", s.body, got, s.wantReply)
		}
		if strings.HasPrefix(got, "Face matched") && !strings.Contains(got, bio.OfflineLine) {
			t.Errorf("text(%q) reply = %q, want the offline biography line %q", s.body, got, bio.OfflineLine)
		}
	}
}

// TestDefaultCollectionKeptAcrossStarts: the default collection is created
// at the first start and left as it is (faces included) by the next.
func TestDefaultCollectionKeptAcrossStarts(t *testing.T) {
	dir := t.TempDir()
	p := loadPhotos(t)
	first := start(t, func(o *Options) { o.DataDir = dir })
	if got := awaitReply(t, first, text(t, first, "face addcol "+sleuth.DefaultCollection, nil, "").MessageSid); got != "Collection celebs already exists." {
		t.Errorf("face addcol celebs after the first start = %q, want it to exist already", got)
	}
	awaitReply(t, first, text(t, first, "face addimg celebs mel_gibson", p.person, "image/jpeg").MessageSid)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second := start(t, func(o *Options) { o.DataDir = dir })
	if got := awaitReply(t, second, text(t, second, "face match celebs", p.personVariant, "image/jpeg").MessageSid); !strings.HasPrefix(got, "Face matched Mel Gibson") {
		t.Errorf("face match celebs after a restart = %q, want the face added before", got)
	}
}

// TestREADMESignedWebhook runs the README's shell example that signs a
// webhook by hand (bash, openssl, curl; skipped without them) against a
// running system: the bot answers it.
func TestREADMESignedWebhook(t *testing.T) {
	for _, tool := range []string{"bash", "openssl", "curl", "sed", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README's example needs %s", tool)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n  ```sh\n(  TOKEN=.*?)  ```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no example signing a webhook (TOKEN=...)")
	}
	var script strings.Builder
	for line := range strings.Lines(string(m[1])) {
		script.WriteString(strings.TrimPrefix(line, "  "))
	}
	root := t.TempDir() // stands for the checkout: the data directory is .crossfaas/dev in it
	sys := start(t, func(o *Options) { o.DataDir = filepath.Join(root, ".crossfaas", "dev") })
	port := strings.TrimPrefix(sys.GatewayURL, "http://127.0.0.1:")
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.ReplaceAll(script.String(), ":8787/", ":"+port+"/"))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "CelebritySleuth commands") {
		t.Fatalf("the README's example = %v:\n%s\nwant the usage as TwiML", err, out)
	}
	if sent, ok := entryFor(sys.Phone.Thread(0), "sent", "SM00000000000000000000000000000001"); !ok || !sent.External {
		t.Errorf("the example's message is not on the page as sent from outside: %+v", sys.Phone.Thread(0))
	}
}
