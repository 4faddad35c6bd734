package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/internal/enginetest"
	"github.com/crossfaas/crossfaas/internal/enginetest/testprovider"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// engineTimeout bounds one engine operation: an up of the whole stack
// takes seconds; a loaded CI machine gets ample room.
const engineTimeout = 5 * time.Minute

// engineSecrets are the Twilio credentials and allowed senders of the
// engine tests' stacks: sentinels that must never appear in plain text in
// state or CLI output.
var engineSecrets = map[string]string{
	configTwilioAccountSID:              "AC5e9f1d2c3b4a59687766554433221100",
	configTwilioAuthToken:               "sentinel-engine-auth-token-7d2e91",
	configNamespace + ":allowedSenders": "+15551234567," + engineSenderSentinel,
}

// engineSenderSentinel is an allowed sender that appears nowhere else:
// only the SSM parameter may hold it, as ciphertext.
const engineSenderSentinel = "+15550004242"

// inlineProgram is what infra's main runs, with the build rooted at the
// checkout root (an inline program is told no project directory).
func inlineProgram(root string) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		_, err := program(ctx, buildArtifacts(root, ""))
		return err
	}
}

// engineCheckout is a copy of the repository with the dev and prod stacks
// created from its Pulumi.dev.yaml and Pulumi.prod.yaml, the Twilio
// secrets set, and everything committed.
type engineCheckout struct {
	engine *enginetest.Engine
	root   string
	ws     auto.Workspace
	stacks map[string]*auto.Stack
}

func newEngineCheckout(t *testing.T, env map[string]string, stacks ...string) *engineCheckout {
	t.Helper()
	start := time.Now()
	e := enginetest.New(t, env)
	t.Logf("engine ready in %v", time.Since(start).Round(time.Millisecond))
	root := enginetest.Checkout(t)
	c := &engineCheckout{engine: e, root: root, stacks: map[string]*auto.Stack{}}
	c.ws = e.Workspace(t, root, inlineProgram(root))
	for _, name := range stacks {
		st := e.NewStack(t, c.ws, name, engineSecrets)
		c.stacks[name] = &st
	}
	enginetest.Commit(t, root, "stacks "+strings.Join(stacks, ", "))
	t.Logf("checkout and stacks %v ready in %v", stacks, time.Since(start).Round(time.Millisecond))
	return c
}

func engineContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	t.Cleanup(cancel)
	return ctx
}

// up runs up on st and logs how long it took.
func up(t *testing.T, st *auto.Stack, what string, opts ...optup.Option) (auto.UpResult, error) {
	t.Helper()
	start := time.Now()
	res, err := st.Up(engineContext(t), opts...)
	t.Logf("%s (up %s) took %v", what, st.Name(), time.Since(start).Round(time.Millisecond))
	return res, err
}

// changes returns an operation's resource changes without the zero counts.
func changes(s auto.UpdateSummary) map[string]int {
	out := map[string]int{}
	if s.ResourceChanges != nil {
		for k, v := range *s.ResourceChanges {
			if v != 0 {
				out[k] = v
			}
		}
	}
	return out
}

// stackState is a stack's exported deployment (with its secrets
// decrypted: the Automation API exports with --show-secrets).
type stackState struct {
	resources []apitype.ResourceV3
}

func exportState(t *testing.T, st *auto.Stack) stackState {
	t.Helper()
	dep, err := st.Export(engineContext(t))
	if err != nil {
		t.Fatalf("export %s: %v", st.Name(), err)
	}
	var d apitype.DeploymentV3
	if err := json.Unmarshal(dep.Deployment, &d); err != nil {
		t.Fatalf("export %s: %v", st.Name(), err)
	}
	return stackState{resources: d.Resources}
}

// managed returns the resources the program declared: custom resources
// and components, without the engine's providers.
func (s stackState) managed() []apitype.ResourceV3 {
	var out []apitype.ResourceV3
	for _, r := range s.resources {
		if !strings.HasPrefix(string(r.Type), "pulumi:providers:") {
			out = append(out, r)
		}
	}
	return out
}

// custom returns the URNs of the custom resources the program declared.
func (s stackState) custom() []string {
	var out []string
	for _, r := range s.managed() {
		if r.Custom {
			out = append(out, string(r.URN))
		}
	}
	slices.Sort(out)
	return out
}

// urnsOf returns the URNs recorded for method calls (Create, Update, ...)
// from calls[from:], in the order made; a replacement shows as a Create of
// the new resource and a Delete of the old one.
func urnsOf(calls []testprovider.Call, method string) []string {
	var out []string
	for _, c := range calls {
		if c.Method == method {
			out = append(out, c.URN)
		}
	}
	slices.Sort(out)
	return out
}

// TestEngineDevStack runs the program on the real engine: a fresh up of
// dev creates every resource and the CLI prints the endpoint; a second up
// changes nothing; a change to the proxy's source updates only the proxy's
// function.
func TestEngineDevStack(t *testing.T) {
	c := newEngineCheckout(t, nil, "dev")
	dev := c.stacks["dev"]

	res, err := up(t, dev, "first up")
	if err != nil {
		t.Fatalf("first up: %v", err)
	}
	state := exportState(t, dev)
	// Every resource in the state was created: the stack, the components
	// and the custom resources (the summary does not count providers).
	if got, want := changes(res.Summary), map[string]int{"create": len(state.managed())}; !mapsEqual(got, want) {
		t.Errorf("first up: resource changes %v, want %v", got, want)
	}
	custom := state.custom()
	if len(custom) < 50 {
		t.Errorf("first up: %d custom resources in the state, want the whole system (over 50)", len(custom))
	}
	calls := c.engine.Calls(t)
	if got := urnsOf(calls, "Create"); !slices.Equal(got, custom) {
		t.Errorf("first up: the providers created\n%v\nwant every custom resource in the state:\n%v", got, custom)
	}
	for _, typ := range []string{"gcp:cloudfunctionsv2/function:Function", "aws:lambda/function:Function", "aws:apigatewayv2/stage:Stage", "aws:ssm/parameter:Parameter"} {
		if !slices.ContainsFunc(state.resources, func(r apitype.ResourceV3) bool { return string(r.Type) == typ }) {
			t.Errorf("first up: no %s in the state", typ)
		}
	}
	assertPrivateLink(t, state)
	for _, tok := range []string{"aws:index/getCallerIdentity:getCallerIdentity", "aws:index/getRegion:getRegion"} {
		if !slices.ContainsFunc(calls, func(c testprovider.Call) bool { return c.Method == "Invoke" && c.Token == tok }) {
			t.Errorf("first up: the program never invoked %s", tok)
		}
	}

	// The CLI itself, in the checkout, reads the output.
	endpoint, _ := res.Outputs["endpoint"].Value.(string)
	if !strings.HasPrefix(endpoint, "https://") || !strings.HasSuffix(endpoint, ".execute-api.us-east-1.amazonaws.com/detect") {
		t.Errorf("endpoint output = %q, want https://<api>.execute-api.us-east-1.amazonaws.com/detect", endpoint)
	}
	stdout, _, err := c.engine.Run(engineContext(t), c.root, "stack", "output", "endpoint", "--stack", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(stdout); got != endpoint {
		t.Errorf("pulumi stack output endpoint printed %q, want %q", got, endpoint)
	}

	// Nothing changed: the engine reports every resource the same and the
	// providers create, update and delete nothing.
	before := len(c.engine.Calls(t))
	res, err = up(t, dev, "second up")
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	if got, want := changes(res.Summary), map[string]int{"same": len(state.managed())}; !mapsEqual(got, want) {
		t.Errorf("second up: resource changes %v, want %v", got, want)
	}
	again := c.engine.Calls(t)[before:]
	for _, m := range []string{"Create", "Update", "Delete"} {
		if got := urnsOf(again, m); len(got) > 0 {
			t.Errorf("second up: %s called for %v, want no calls", m, got)
		}
	}

	// A change to the proxy's source: only the proxy's Lambda is updated.
	proxySource := filepath.Join(c.root, "functions", "proxy", "proxy.go")
	replaceInFile(t, proxySource, "const MaxUpstreamBody = 1 << 20", "const MaxUpstreamBody = 2 << 20")
	before = len(c.engine.Calls(t))
	res, err = up(t, dev, "up after a proxy change")
	if err != nil {
		t.Fatalf("up after a proxy change: %v", err)
	}
	if got, want := changes(res.Summary), map[string]int{"update": 1, "same": len(state.managed()) - 1}; !mapsEqual(got, want) {
		t.Errorf("up after a proxy change: resource changes %v, want %v", got, want)
	}
	proxyFunction := urnOf(t, state, "aws:lambda/function:Function", "proxy-function")
	changed := c.engine.Calls(t)[before:]
	if got := urnsOf(changed, "Update"); !slices.Equal(got, []string{proxyFunction}) {
		t.Errorf("up after a proxy change updated %v, want only %s", got, proxyFunction)
	}
	for _, m := range []string{"Create", "Delete"} {
		if got := urnsOf(changed, m); len(got) > 0 {
			t.Errorf("up after a proxy change: %s called for %v, want none", m, got)
		}
	}
}

// assertPrivateLink checks the private link as the engine deployed it:
// the pool and its AWS provider, the caller service account alone allowed
// to invoke the labeler, and the proxy's credential configuration naming
// both (the proxy's identity).
func assertPrivateLink(t *testing.T, state stackState) {
	t.Helper()
	var caller, pool, provider string
	var invokers []string
	var credentialConfig string
	for _, r := range state.resources {
		switch string(r.Type) {
		case "gcp:serviceaccount/account:Account":
			if strings.HasSuffix(r.URN.Name(), "-caller") {
				caller, _ = r.Outputs["email"].(string)
			}
		case "gcp:iam/workloadIdentityPool:WorkloadIdentityPool":
			pool, _ = r.Outputs["name"].(string)
		case "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
			provider, _ = r.Outputs["name"].(string)
		case "gcp:cloudrunv2/serviceIamMember:ServiceIamMember":
			if r.Outputs["role"] == "roles/run.invoker" {
				m, _ := r.Outputs["member"].(string)
				invokers = append(invokers, m)
			}
		case "aws:lambda/function:Function":
			if r.URN.Name() == "proxy-function" {
				credentialConfig, _ = get(r.Inputs, "environment.variables.LABELER_CREDENTIAL_CONFIG").(string)
			}
		}
	}
	if caller == "" || pool == "" || !strings.HasPrefix(provider, pool+"/providers/") {
		t.Fatalf("private link: caller %q, pool %q, provider %q: want all three, the provider in the pool", caller, pool, provider)
	}
	if want := []string{"serviceAccount:" + caller}; !slices.Equal(invokers, want) {
		t.Errorf("run.invoker members = %v, want only %v", invokers, want)
	}
	var cfg struct {
		Audience      string `json:"audience"`
		Impersonation string `json:"service_account_impersonation_url"`
	}
	if err := json.Unmarshal([]byte(credentialConfig), &cfg); err != nil {
		t.Fatalf("the proxy's LABELER_CREDENTIAL_CONFIG %q: %v", credentialConfig, err)
	}
	if cfg.Audience != "//iam.googleapis.com/"+provider || !strings.Contains(cfg.Impersonation, "/serviceAccounts/"+caller+":") {
		t.Errorf("the proxy's credential config names %q and %q, want the provider %s and the caller %s", cfg.Audience, cfg.Impersonation, provider, caller)
	}
}

// urnOf returns the URN of the resource of type typ named name.
func urnOf(t *testing.T, s stackState, typ, name string) string {
	t.Helper()
	for _, r := range s.resources {
		if string(r.Type) == typ && r.URN.Name() == name {
			return string(r.URN)
		}
	}
	t.Fatalf("no %s named %s in the state", typ, name)
	return ""
}

func replaceInFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
