package dev

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
// typed commands and an uploaded photo go through the whole system, and
// the ack and the asynchronous replies appear in the thread.
func TestPhonePage(t *testing.T) {
	sys := start(t, nil)
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
	// waitFor waits until n bubbles of kind are shown.
	waitFor := func(kind string, n int) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Poll[bool](fmt.Sprintf(`document.querySelectorAll('#thread li.msg.%s').length >= %d`, kind, n))(ctx, tg)
			return chromedp.Void{}, err
		}
	}
	send := func(body, photo string, acks, replies int) {
		t.Helper()
		steps := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS("#body"))}
		if photo != "" {
			steps = append(steps, chromedp.SetUploadFiles(chromedp.CSS("#media"), []string{photo}),
				chromedp.WaitVisible(chromedp.CSS("#attachment")))
		}
		steps = append(steps,
			chromedp.SendKeys(chromedp.CSS("#body"), body),
			chromedp.Click(chromedp.CSS("#send")),
			waitFor("ack", acks),
			waitFor("received", replies),
		)
		run("sending "+body, steps...)
	}

	run("loading the page", chromedp.Navigate(sys.PhoneURL), chromedp.WaitVisible(chromedp.CSS("#thread")))
	send("face addcol demo", "", 1, 1)
	if acks := texts("ack"); !strings.Contains(acks[0], "Got it - creating collection demo...") {
		t.Errorf("ack bubble = %q, want the TwiML answer", acks[0])
	}
	if got := texts("received"); got[0] != "Collection demo was created." {
		t.Errorf("reply bubble = %q, want %q", got[0], "Collection demo was created.")
	}

	send("face addimg demo sample_person", person, 2, 2)
	send("face match demo", variant, 3, 3)
	got := texts("received")
	if !strings.Contains(got[1], "Picture of Sample Person added") || !strings.HasPrefix(got[2], "Face matched Sample Person") {
		t.Errorf("reply bubbles = %q, want the face added then matched", got)
	}
	sent := texts("sent")
	if len(sent) != 3 || sent[2] != "face match demo" {
		t.Errorf("sent bubbles = %q", sent)
	}
	photos, err := chromedp.Run(ctx, chromedp.Evaluate[int](
		`[...document.querySelectorAll('#thread li.msg.sent img.photo')].filter(i => i.complete && i.naturalWidth > 0).length`))
	if err != nil || photos != 2 {
		t.Errorf("photos shown in the thread = %d, %v, want 2", photos, err)
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
