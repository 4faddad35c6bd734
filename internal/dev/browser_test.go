package dev

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/internal/dev/phone"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium for the test. Without Chromium the
// test is skipped on a developer's machine and fails in CI, where .ci/run
// installs it.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		if found, lookErr := exec.LookPath("chromium"); lookErr == nil {
			path = found
		} else if os.Getenv("CI") != "" {
			t.Fatalf("Chromium is required in CI but %s is missing: apt-get install -y chromium", chromiumPath)
		} else {
			t.Skipf("Chromium not installed (%s); apt-get install -y chromium to run the phone simulator's browser test", chromiumPath)
		}
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 860),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// TestPhonePage drives the phone simulator's page in headless Chromium:
// typed commands and an uploaded photo go through the whole system; the
// page shows the instant reply under its plain name, each reply under the
// message it answers (and the message waiting until it comes), problems
// apart, a webhook posted from outside the page as such, the collections
// with their faces, the auth token; and the thread can be cleared.
func TestPhonePage(t *testing.T) {
	gate := make(chan struct{}) // matches wait for it
	sys := start(t, func(o *Options) {
		o.editEngines = func(e *engines) { e.faces = gatedFaces{Faces: e.faces, gate: gate} }
	})
	ctx := browser(t)
	p := loadPhotos(t)
	dir := t.TempDir()
	person := filepath.Join(dir, "person.jpg")
	variant := filepath.Join(dir, "variant.jpg")
	if err := os.WriteFile(person, p.person, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(variant, p.personVariant, 0o600); err != nil {
		t.Fatal(err)
	}

	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		stepCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(stepCtx, steps...); err != nil {
			t.Fatalf("%s: %v\nthread: %+v", what, err, sys.Phone.Thread(0))
		}
	}
	eval := func(what, js string) string {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return got
	}
	// texts returns the bubbles of the given kind, in order.
	texts := func(kind string) []string {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(
			`[...document.querySelectorAll('#thread li.msg.%s .bubble')].map(b => b.textContent)`, kind)))
		if err != nil {
			t.Fatalf("reading the %s bubbles: %v", kind, err)
		}
		return got
	}
	// waitFor waits until the JavaScript condition holds.
	waitFor := func(cond string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Poll[bool](cond)(ctx, tg)
			return chromedp.Void{}, err
		}
	}
	count := func(kind string, n int) chromedp.Action[chromedp.Void] {
		return waitFor(fmt.Sprintf(`document.querySelectorAll('#thread li.msg.%s').length >= %d`, kind, n))
	}
	send := func(body, photo string, waits ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		steps := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS("#body"))}
		if photo != "" {
			steps = append(steps, chromedp.SetUploadFiles(chromedp.CSS("#media"), []string{photo}),
				chromedp.WaitVisible(chromedp.CSS("#attachment")))
		}
		if body != "" {
			steps = append(steps, chromedp.SendKeys(chromedp.CSS("#body"), body))
		}
		steps = append(steps, chromedp.Click(chromedp.CSS("#send")))
		run("sending "+body, append(steps, waits...)...)
	}
	// last returns a property of the last message of kind.
	last := func(kind, js string) string {
		t.Helper()
		return eval("reading the last "+kind, fmt.Sprintf(`(() => { const all = document.querySelectorAll('#thread li.msg.%s'); const li = all[all.length - 1]; return String(%s); })()`, kind, js))
	}

	run("loading the page", chromedp.Navigate(sys.PhoneURL), chromedp.WaitVisible(chromedp.CSS("#thread")),
		waitFor(fmt.Sprintf(`document.getElementById('auth-token').textContent === %q`, sys.AuthToken)))

	// The walkthrough: the instant reply, then the reply, under the message.
	send("face addimg celebs sample_person", person, count("ack", 1), count("received", 1))
	if acks := texts("ack"); !strings.Contains(acks[0], "Instant reply") || !strings.Contains(acks[0], "Got it - adding Sample Person to celebs...") {
		t.Errorf("instant reply bubble = %q, want it named and the TwiML answer", acks[0])
	}
	if strings.Contains(strings.ToLower(eval("the thread", `document.getElementById('thread').textContent`)), "twiml") {
		t.Errorf("the thread says TwiML, which means nothing to most users")
	}
	if got := texts("received"); got[0] != "Picture of Sample Person added to collection celebs." {
		t.Errorf("reply bubble = %q", got[0])
	}
	if got := last("received", "li.querySelector('.quote').textContent"); got != "↩ face addimg celebs sample_person" {
		t.Errorf("the reply's link to its command = %q", got)
	}
	run("following a reply to its command", chromedp.Click(chromedp.CSS("#thread li.msg.received .quote")),
		waitFor(`document.querySelector('#thread li.msg.sent').classList.contains('flash')`))

	// A match waits (the face engine is held): the page says so, until the
	// reply comes.
	send("face match celebs", variant, count("ack", 2),
		waitFor(`[...document.querySelectorAll('#thread li.msg.sent')].pop().dataset.state === 'waiting'`))
	if got := last("sent", "li.querySelector('.state').textContent"); !strings.Contains(got, "waiting for the bot's reply") {
		t.Errorf("state of the waiting message = %q", got)
	}
	close(gate)
	run("the match's reply", count("received", 2),
		waitFor(`[...document.querySelectorAll('#thread li.msg.sent')].pop().dataset.state === 'answered'`))
	if got := texts("received")[1]; !strings.HasPrefix(got, "Face matched Sample Person") {
		t.Errorf("match reply = %q", got)
	}
	if problem := last("received", "li.classList.contains('problem')"); problem != "false" {
		t.Errorf("a successful reply is styled as a problem")
	}
	okColor := last("received", "getComputedStyle(li.querySelector('.bubble')).backgroundColor")

	// Problems are styled apart: a usage mistake's instant reply, a reply
	// explaining why the command could not be done.
	send("face match celebs", "", count("ack", 3))
	if last("ack", "li.classList.contains('problem')") != "true" {
		t.Errorf("the usage mistake's instant reply is not styled as a problem")
	}
	send("face match nope", variant, count("received", 3))
	if got := last("received", "li.classList.contains('problem') + ' ' + li.textContent"); !strings.HasPrefix(got, "true ") || !strings.Contains(got, "Collection nope does not exist") {
		t.Errorf("unknown collection reply = %q, want it styled as a problem", got)
	}
	if color := last("received", "getComputedStyle(li.querySelector('.bubble')).backgroundColor"); color == okColor {
		t.Errorf("a problem reply has the background of a good one (%s)", color)
	}

	// A webhook posted by a script shows as such, its answers under it.
	external := "SM" + strings.Repeat("7e", 16)
	postWebhook(t, sys, url.Values{"MessageSid": {external}, "From": {"+15555550123"}, "To": {phone.DefaultTwilioNumber}, "Body": {"face addcol friends"}})
	run("the external message and its reply", waitFor(`document.querySelector('#thread li.msg.sent.external') !== null`), count("received", 4))
	if got := last("sent", "li.classList.contains('external') + ' ' + li.querySelector('.origin').textContent"); got != "true from outside the page · +15555550123" {
		t.Errorf("external message = %q", got)
	}
	if got := last("received", "li.querySelector('.quote').textContent + ' / ' + li.querySelector('.bubble').textContent"); got != "↩ face addcol friends / Collection friends was created." {
		t.Errorf("reply to the external message = %q", got)
	}

	// The collections, their faces and the photo of the face added here.
	run("the collections panel", waitFor(`document.querySelectorAll('#collections li.collection').length === 2`),
		waitFor(`(() => { const img = document.querySelector('#collections li[data-name="celebs"] .face img'); return img !== null && img.complete && img.naturalWidth > 0; })()`))
	if got := eval("the collections", `[...document.querySelectorAll('#collections li.collection')].map(c => c.querySelector('.collection-name').textContent + ': ' + [...c.querySelectorAll('.face-name')].map(f => f.textContent).join(', ')).join(' | ')`); got != "celebs · 1 face: Sample Person | friends · 0 faces: " {
		t.Errorf("collections panel = %q", got)
	}

	sent := texts("sent")
	if len(sent) != 5 || sent[1] != "face match celebs" {
		t.Errorf("sent bubbles = %q", sent)
	}
	photos, err := chromedp.Run(ctx, chromedp.Evaluate[int](
		`[...document.querySelectorAll('#thread li.msg.sent img.photo')].filter(i => i.complete && i.naturalWidth > 0).length`))
	if err != nil || photos != 3 {
		t.Errorf("photos shown in the thread = %d, %v, want 3", photos, err)
	}

	if out := os.Getenv("CROSSFAAS_SCREENSHOT"); out != "" {
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot written to %s", out)
	}

	// Clear: the thread empties, and stays empty after a reload.
	run("clearing the thread", chromedp.Click(chromedp.CSS("#clear")),
		waitFor(`document.querySelectorAll('#thread li.msg').length === 0 && document.getElementById('empty') !== null`))
	run("reloading", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#thread")),
		waitFor(`document.getElementById('auth-token').textContent !== '…'`))
	if n := eval("counting after a reload", `String(document.querySelectorAll('#thread li.msg').length)`); n != "0" {
		t.Errorf("messages after clearing and reloading = %s, want 0", n)
	}
}

// gatedFaces holds every face search until gate is closed.
type gatedFaces struct {
	sleuth.Faces
	gate chan struct{}
}

func (g gatedFaces) SearchFace(ctx context.Context, id string, image []byte, threshold float64) (sleuth.Match, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return sleuth.Match{}, ctx.Err()
	}
	return g.Faces.SearchFace(ctx, id, image, threshold)
}

// TestUploadPanel drives the simulator page's upload panel in headless
// Chromium: an image chosen in the panel goes to the local S3, the
// inspector's verdict comes back with the labels, and, for an unsafe image
// under the blur action, the blurred copy's thumbnail loads. The labeler
// answers through a test annotator with SafeSearch (offline has none).
func TestUploadPanel(t *testing.T) {
	sys := start(t, func(o *Options) {
		withUnsafeLabeler(o)
		o.UploadAction = "blur"
	})
	ctx := browser(t)
	file := filepath.Join(t.TempDir(), "party.jpg")
	if err := os.WriteFile(file, photoJPEG(t, 320, 240), 0o600); err != nil {
		t.Fatal(err)
	}
	stepCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := chromedp.Do(stepCtx,
		chromedp.Navigate(sys.PhoneURL),
		chromedp.WaitVisible(chromedp.CSS("#dropzone")),
		chromedp.SetUploadFiles(chromedp.CSS("#upload-input"), []string{file}),
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Poll[bool](`(() => { const i = document.querySelector('#uploads li.upload img.blurred'); return !!i && i.complete && i.naturalWidth > 0; })()`)(ctx, tg)
			return chromedp.Void{}, err
		},
	)
	if err != nil {
		t.Fatalf("uploading through the panel: %v", err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`(() => {
		const li = document.querySelector('#uploads li.upload');
		return {
			verdict: li.dataset.verdict,
			badge: li.querySelector('.verdict').textContent,
			action: li.querySelector('.action').textContent,
			label: li.querySelector('.label .description').textContent,
			notes: li.querySelector('.notes').textContent,
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if got["verdict"] != "unsafe" || got["badge"] != "unsafe" || got["action"] != "blur" || got["label"] != "Party" || !strings.Contains(got["notes"], "engine: test") {
		t.Errorf("the panel shows %v, want the unsafe verdict, the blur, the label and the engine", got)
	}
}

// TestUploadPanelOffline: offline, the panel says there is no SafeSearch
// and no translation instead of showing a verdict it cannot have.
func TestUploadPanelOffline(t *testing.T) {
	sys := start(t, func(o *Options) { o.LabelLanguages = []string{"es", "fr"} })
	ctx := browser(t)
	file := filepath.Join(t.TempDir(), "cat.jpg")
	if err := os.WriteFile(file, photoJPEG(t, 160, 120), 0o600); err != nil {
		t.Fatal(err)
	}
	stepCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := chromedp.Do(stepCtx,
		chromedp.Navigate(sys.PhoneURL),
		chromedp.WaitVisible(chromedp.CSS("#dropzone")),
		chromedp.SetUploadFiles(chromedp.CSS("#upload-input"), []string{file}),
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Poll[bool](`!!document.querySelector('#uploads li.upload .verdict')`)(ctx, tg)
			return chromedp.Void{}, err
		},
	)
	if err != nil {
		t.Fatalf("uploading through the panel: %v", err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`(() => {
		const li = document.querySelector('#uploads li.upload');
		return {verdict: li.dataset.verdict, reason: li.querySelector('.reason').textContent, notes: li.querySelector('.notes').textContent,
			blurred: String(!!li.querySelector('img.blurred')), translations: String(li.querySelectorAll('.translation').length)};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if got["verdict"] != "unknown" || !strings.Contains(got["reason"], "no SafeSearch") || !strings.Contains(got["notes"], "engine: offline") ||
		!strings.Contains(got["notes"], "Cloud Translation does not exist offline") || got["blurred"] != "false" || got["translations"] != "0" {
		t.Errorf("the offline panel shows %v", got)
	}
	if out := os.Getenv("CROSSFAAS_UPLOAD_SCREENSHOT"); out != "" {
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err == nil {
			os.WriteFile(out, png, 0o644)
		}
	}
}
