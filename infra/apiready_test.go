package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// fakeGoogleAPIs answers the readiness probes: each API answers "not
// ready" (its disabled-service error) notReady times, then OK, and the
// fake records when and how it was asked.
type fakeGoogleAPIs struct {
	*httptest.Server
	notReady int

	mu         sync.Mutex
	asked      map[string]int // by path prefix (the API's root)
	auth       []string
	readySince map[string]time.Time
}

// apiRoots maps the custom endpoint settings to the path each API gets
// on the fake.
var apiRoots = map[string]string{
	"gcp:artifactRegistryCustomEndpoint": "/artifactregistry/v1/",
	"gcp:cloudBuildCustomEndpoint":       "/cloudbuild/v1/",
	"gcp:cloudfunctions2CustomEndpoint":  "/cloudfunctions/v2/",
	"gcp:resourceManagerCustomEndpoint":  "/cloudresourcemanager/v1/",
	"gcp:iamCustomEndpoint":              "/iam/v1/",
	"gcp:cloudRunV2CustomEndpoint":       "/run/v2/",
	"gcp:storageCustomEndpoint":          "/storage/v1/",
}

func newFakeGoogleAPIs(t *testing.T, notReady int) *fakeGoogleAPIs {
	t.Helper()
	f := &fakeGoogleAPIs{notReady: notReady, asked: map[string]int{}, readySince: map[string]time.Time{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		root := "/" + strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)[0] + "/"
		f.mu.Lock()
		f.asked[root]++
		n := f.asked[root]
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		if n == f.notReady+1 {
			f.readySince[root] = time.Now()
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if n <= f.notReady {
			w.WriteHeader(http.StatusForbidden)
			if root == "/storage/" {
				// The JSON APIs' older error format.
				fmt.Fprint(w, `{"error":{"code":403,"message":"Cloud Storage JSON API has not been used in project 314159265358 before or it is disabled.","errors":[{"reason":"accessNotConfigured","domain":"usageLimits"}]}}`)
				return
			}
			fmt.Fprint(w, `{"error":{"code":403,"message":"API has not been used in project 314159265358 before or it is disabled. Enable it by visiting https://console.developers.google.com/ then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED","domain":"googleapis.com"}]}}`)
			return
		}
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(f.Close)
	return f
}

// config returns a stack configuration whose probes go to the fake, with
// a static access token, waiting at most wait.
func (f *fakeGoogleAPIs) config(wait string) map[string]string {
	cfg := testConfig()
	cfg["crossfaas:googleApisReadyTimeout"] = wait
	cfg["gcp:accessToken"] = "fake-deployer-token"
	for key, root := range apiRoots {
		cfg[key] = f.URL + root
	}
	return cfg
}

func (f *fakeGoogleAPIs) snapshot() (map[string]int, []string, map[string]time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	asked := map[string]int{}
	for k, v := range f.asked {
		asked[k] = v
	}
	ready := map[string]time.Time{}
	for k, v := range f.readySince {
		ready[k] = v
	}
	return asked, slices.Clone(f.auth), ready
}

func TestUpWaitsForTheGoogleAPIsToAnswer(t *testing.T) {
	f := newFakeGoogleAPIs(t, 3)
	run, err := runStack(t, "dev", f.config("30s"), fixtures(fixtureArtifacts(t, "l", "p")))
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	asked, auth, readySince := f.snapshot()
	if len(asked) != len(apiProbes) {
		t.Errorf("probed %d APIs (%v), want %d", len(asked), asked, len(apiProbes))
	}
	for root, n := range asked {
		if n != 4 {
			t.Errorf("%s asked %d times, want 4 (3 not ready, then ready)", root, n)
		}
	}
	for _, a := range auth {
		if a != "Bearer fake-deployer-token" {
			t.Fatalf("a probe was authorized with %q, want the deployer's token", a)
		}
	}
	var lastReady time.Time
	for _, at := range readySince {
		if at.After(lastReady) {
			lastReady = at
		}
	}
	// Everything that calls the APIs came after they answered.
	for _, typ := range []string{typeFunction, typeBucket, typeAccount, typePool, typeProvider} {
		for _, r := range run.mocks.all(typ) {
			if r.At.Before(lastReady) {
				t.Errorf("%s %s was created %v before the APIs answered", typ, r.Name, lastReady.Sub(r.At))
			}
		}
	}
	for _, r := range run.mocks.all(typeAPIService) {
		if r.At.After(lastReady) {
			t.Errorf("API service %s was enabled after the wait", r.Inputs["service"])
		}
	}
}

func TestUpFailsClearlyWhenAnAPINeverAnswers(t *testing.T) {
	f := newFakeGoogleAPIs(t, 1<<30)
	start := time.Now()
	_, err := runStack(t, "dev", f.config("1s"), fixtures(fixtureArtifacts(t, "l", "p")))
	if err == nil {
		t.Fatal("up succeeded with APIs that never answer")
	}
	for _, want := range []string{"cloudfunctions.googleapis.com", "storage.googleapis.com", "crossfaas:googleApisReadyTimeout", "after 1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want it to mention %q", err, want)
		}
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("gave up after %v, want about the 1s bound", took)
	}
}

func TestPreviewDoesNotWaitForTheAPIs(t *testing.T) {
	f := newFakeGoogleAPIs(t, 1<<30)
	dryRun := func(info *pulumi.RunInfo) { info.DryRun = true }
	if _, err := runStack(t, "dev", f.config("1s"), fixtures(fixtureArtifacts(t, "l", "p")), dryRun); err != nil {
		t.Fatalf("preview: %v", err)
	}
	if asked, _, _ := f.snapshot(); len(asked) != 0 {
		t.Errorf("a preview probed the APIs: %v", asked)
	}
}

func TestServiceDisabled(t *testing.T) {
	tests := []struct {
		name string
		body string
		want bool
	}{
		{"error info", `{"error":{"code":403,"status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED"}]}}`, true},
		{"json api", `{"error":{"code":403,"errors":[{"reason":"accessNotConfigured"}]}}`, true},
		{"message only", `{"error":{"code":403,"message":"Cloud Build API has not been used in project 1 before or it is disabled."}}`, true},
		{"permission denied", `{"error":{"code":403,"message":"Permission 'cloudfunctions.functions.list' denied","status":"PERMISSION_DENIED","details":[{"reason":"IAM_PERMISSION_DENIED"}]}}`, false},
		{"not json", `<html>403</html>`, false},
	}
	for _, tt := range tests {
		if got := serviceDisabled([]byte(tt.body)); got != tt.want {
			t.Errorf("serviceDisabled(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Without credentials to ask with, the wait is skipped: the provider then
// fails first, and says why.
func TestUpWithoutGoogleCredentialsSkipsTheWait(t *testing.T) {
	cfg := testConfig()
	delete(cfg, "crossfaas:googleApisReadyTimeout") // the 5-minute default
	start := time.Now()
	if _, err := runStack(t, "dev", cfg, fixtures(fixtureArtifacts(t, "l", "p"))); err != nil {
		t.Fatalf("up without Google credentials: %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("up took %v: it waited instead of skipping", took)
	}
}
