package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/crossfaas/crossfaas/internal/deployed"
	"github.com/crossfaas/crossfaas/internal/enginetest"
	"github.com/crossfaas/crossfaas/internal/enginetest/testprovider"
	"github.com/crossfaas/crossfaas/internal/lambdatest"
	"github.com/crossfaas/crossfaas/internal/logs"
	"github.com/crossfaas/crossfaas/internal/logs/logsfake"
	"github.com/twilio/twilio-go/client"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// gateway stands in for the deployed HTTP APIs: the test providers give
// every API the endpoint <gateway>/<api id>, so GET /<id>/detect and POST
// /<id>/sms land here. /sms checks the Twilio signature as the request
// Lambda does, against the URL the stack published.
type gateway struct {
	srv   *httptest.Server
	token string

	mu       sync.Mutex
	requests []*http.Request
	forms    []map[string]string
}

func newGateway(t *testing.T, token string) *gateway {
	g := &gateway{token: token}
	g.srv = httptest.NewServer(g)
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.requests = append(g.requests, r)
	g.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/detect"):
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"imageUri":%q,"defaultImage":false,"engine":"cloud-vision","labels":[{"description":"Cat","score":0.98},{"description":"Whiskers","score":0.91}]}`, r.URL.Query().Get("imageUri"))
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/sms"):
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		form := map[string]string{}
		for k, v := range r.PostForm {
			form[k] = v[0]
		}
		v := client.NewRequestValidator(g.token)
		if !v.Validate("http://"+r.Host+r.URL.Path, form, r.Header.Get("X-Twilio-Signature")) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		g.mu.Lock()
		g.forms = append(g.forms, form)
		g.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Message>Got it - %s</Message></Response>`, form["Body"])
	default:
		http.NotFound(w, r)
	}
}

// crossfaas runs the crossfaas command, built from this checkout, in dir
// with the engine's environment and extra variables.
func crossfaas(t *testing.T, e *enginetest.Engine, dir string, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin := lambdatest.Build(t, "./cmd/crossfaas")
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range e.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// TestEngineDay2 runs crossfaas status, invoke and logs against a stack
// deployed on the engine, and promote from dev to prod: refused when the
// tree is dirty, when dev does not run the commit, when nobody confirms,
// and when prod ends up running other code; successful otherwise.
func TestEngineDay2(t *testing.T) {
	gw := newGateway(t, engineSecrets[configTwilioAuthToken])
	cw := logsfake.NewCloudWatchLogs()
	cwSrv := httptest.NewServer(cw)
	t.Cleanup(cwSrv.Close)
	cl := logsfake.NewCloudLogging()
	clAddr := cl.Serve(t)
	env := map[string]string{
		testprovider.EnvAPIURL: gw.srv.URL + "/{id}",
	}
	// The children's clouds: loopback fakes and made-up credentials.
	cloudEnv := map[string]string{
		"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": cwSrv.URL,
		"AWS_ACCESS_KEY_ID":                "AKIDENGINETEST",
		"AWS_SECRET_ACCESS_KEY":            "engine-test-secret",
		"AWS_EC2_METADATA_DISABLED":        "true",
		logs.EnvLoggingEndpoint:            clAddr,
	}
	c := newEngineCheckout(t, env, "dev", "prod")
	if _, err := up(t, c.stacks["dev"], "deploy dev"); err != nil {
		t.Fatalf("up dev: %v", err)
	}
	head := strings.TrimSpace(enginetest.Git(t, c.root, "rev-parse", "HEAD"))

	t.Run("status", func(t *testing.T) {
		// Reading a stack needs no secrets: no passphrase.
		stdout, stderr, err := crossfaas(t, c.engine, c.root, map[string]string{"PULUMI_CONFIG_PASSPHRASE": ""}, "status", "--stack", "dev")
		if err != nil {
			t.Fatalf("crossfaas status: %v\n%s", err, stderr)
		}
		for _, want := range []string{"Stack dev", "from commit " + head[:12], gw.srv.URL + "/", "/detect", "/sms",
			"labeler", "proxy", "sleuth-request", "sleuth-match", "urn:pulumi:dev::crossfaas::"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("crossfaas status does not show %q:\n%s", want, stdout)
			}
		}
		// The labeler, the proxy, the six sleuth functions, its cleanup and the
		// upload inspector.
		if n := strings.Count(stdout, deployed.UpToDate); n != 10 {
			t.Errorf("crossfaas status shows %d functions up to date, want all 10:\n%s", n, stdout)
		}
		stdout, _, err = crossfaas(t, c.engine, c.root, nil, "status", "--stack", "prod", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var s deployed.Status
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatalf("status --json: %v\n%s", err, stdout)
		}
		if len(s.Functions) != 5 || s.UpToDate() || s.Functions[0].State != deployed.NotDeployed {
			t.Errorf("status of the empty prod = %+v, want the 5 artifacts not deployed", s.Functions)
		}
	})

	t.Run("status names what is missing", func(t *testing.T) {
		_, stderr, err := crossfaas(t, c.engine, c.root, nil, "status", "--stack", "staging")
		if err == nil || !strings.Contains(stderr, `stack "staging" does not exist`) {
			t.Errorf("status of a missing stack: %v\n%s", err, stderr)
		}
		_, stderr, err = crossfaas(t, c.engine, c.root, nil, "invoke", "detect", "--stack", "prod")
		if err == nil || !strings.Contains(stderr, `stack prod has no output "endpoint"`) {
			t.Errorf("invoke on an empty stack: %v\n%s", err, stderr)
		}
		_, stderr, err = crossfaas(t, c.engine, c.root, map[string]string{"PATH": "/nonexistent"}, "status", "--stack", "dev")
		if err == nil || !strings.Contains(stderr, "the pulumi CLI is not installed") {
			t.Errorf("status without the CLI: %v\n%s", err, stderr)
		}
	})

	t.Run("invoke detect", func(t *testing.T) {
		stdout, stderr, err := crossfaas(t, c.engine, c.root, nil, "invoke", "detect", "--stack", "dev", "--image", "gs://cloud-samples-data/vision/label/wakeupcat.jpg")
		if err != nil {
			t.Fatalf("invoke detect: %v\n%s", err, stderr)
		}
		for _, want := range []string{"gs://cloud-samples-data/vision/label/wakeupcat.jpg", "98.0%  Cat", "Whiskers"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("invoke detect does not print %q:\n%s", want, stdout)
			}
		}
		stdout, _, err = crossfaas(t, c.engine, c.root, nil, "invoke", "detect", "--stack", "dev", "--json")
		if err != nil || !json.Valid([]byte(stdout)) || !strings.Contains(stdout, `"labels"`) {
			t.Errorf("invoke detect --json = %v, %q: want the raw JSON body", err, stdout)
		}
	})

	t.Run("invoke sms", func(t *testing.T) {
		stdout, stderr, err := crossfaas(t, c.engine, c.root, nil, "invoke", "sms", "--stack", "dev", "--from", "+15551234567", "--to", "+15557654321", "face addcol test")
		if err != nil {
			t.Fatalf("invoke sms: %v\n%s", err, stderr)
		}
		if !strings.Contains(stdout, "Bot: Got it - face addcol test") {
			t.Errorf("invoke sms does not print the acknowledgement:\n%s", stdout)
		}
		gw.mu.Lock()
		defer gw.mu.Unlock()
		if len(gw.forms) != 1 {
			t.Fatalf("the webhook accepted %d signed posts, want 1", len(gw.forms))
		}
		f := gw.forms[0]
		if f["AccountSid"] != engineSecrets[configTwilioAccountSID] || f["From"] != "+15551234567" || f["To"] != "+15557654321" || !strings.Contains(stdout, f["MessageSid"]) {
			t.Errorf("the webhook got %v; output:\n%s", f, stdout)
		}
		assertNoSentinels(t, map[string]string{"invoke sms output": stdout + stderr})
	})

	t.Run("logs", func(t *testing.T) {
		state := exportState(t, c.stacks["dev"])
		fns := (&deployed.State{Resources: state.resources}).Functions("crossfaas-dev")
		now := time.Now()
		sid := "SMfeedfacefeedfacefeedfacefeedface"
		n := 0
		for _, f := range fns {
			n++
			at := now.Add(-time.Duration(10*n) * time.Second)
			line := fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"hello from %s","sid":%q}`, at.Format(time.RFC3339Nano), f.Name, sid)
			switch f.Cloud {
			case deployed.CloudAWS:
				cw.Put(f.LogGroup, logsfake.CloudWatchEvent{Time: at, Message: line})
			case deployed.CloudGCP:
				payload, _ := structpb.NewStruct(map[string]any{"message": "hello from " + f.Name, "traceId": "0af7651916cd43dd8448eb211c80319c"})
				cl.Add(&loggingpb.LogEntry{
					Resource:  &monitoredres.MonitoredResource{Type: "cloud_run_revision", Labels: map[string]string{"service_name": f.Service}},
					Timestamp: timestamppb.New(at), Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: payload},
				})
			}
		}
		stdout, stderr, err := crossfaas(t, c.engine, c.root, cloudEnv, "logs", "--stack", "dev", "--since", "30m")
		if err != nil {
			t.Fatalf("logs: %v\n%s", err, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) != len(fns) {
			t.Fatalf("logs printed %d lines, want one per function (%d):\n%s", len(lines), len(fns), stdout)
		}
		// The oldest first: the last function put is the oldest.
		for i, line := range lines {
			f := fns[len(fns)-1-i]
			if !strings.Contains(line, "hello from "+f.Name) || !strings.Contains(line, " "+f.Cloud+" ") {
				t.Errorf("line %d = %q, want %s's (%s)", i+1, line, f.Name, f.Cloud)
			}
		}
		stdout, _, err = crossfaas(t, c.engine, c.root, cloudEnv, "logs", "--stack", "dev", "--function", "labeler", "--json")
		if err != nil || strings.Count(stdout, "\n") != 1 || !strings.Contains(stdout, `"correlationId":"0af7651916cd43dd8448eb211c80319c"`) {
			t.Errorf("logs --function labeler --json = %v:\n%s", err, stdout)
		}
		_, stderr, err = crossfaas(t, c.engine, c.root, cloudEnv, "logs", "--stack", "dev", "--function", "nope")
		if err == nil || !strings.Contains(stderr, "sleuth-request") {
			t.Errorf("logs --function nope = %v, want the list of functions:\n%s", err, stderr)
		}
	})

	t.Run("promote", func(t *testing.T) {
		testPromote(t, c)
	})
}
