package request

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/awsenv/awsenvtest"
	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/internal/build"
	"github.com/crossfaas/crossfaas/internal/lambdatest"
)

// The SSM parameters the stack would create for the request Lambda.
const (
	accountSIDParam     = "/crossfaas-dev/sleuth/twilio-account-sid"
	authTokenParam      = "/crossfaas-dev/sleuth/twilio-auth-token"
	allowedSendersParam = "/crossfaas-dev/sleuth/allowed-senders"
)

// Main packages of the sleuth Lambdas: the request Lambda's (the
// sleuth-request artifact) and the SNS-triggered ones' (the sleuth artifact).
const (
	requestPackage   = "./functions/sleuth/request/bootstrap"
	bootstrapPackage = "./functions/sleuth/bootstrap"
)

// rieURL is the URL Twilio signs for a webhook that lambdatest.HTTPEvent
// describes.
const rieURL = "https://" + lambdatest.EventDomainName + "/sms"

// cloud is the fake AWS a bootstrap under the emulator talks to.
type cloud struct {
	sns *awsenvtest.SNS
	ssm *awsenvtest.SSM
	env map[string]string // the function's environment, as the stack sets it
}

func newCloud(t testing.TB) *cloud {
	c := &cloud{
		sns: awsenvtest.NewSNS(t, slices.Collect(maps.Values(testTopics))...),
		ssm: awsenvtest.NewSSM(t, map[string]string{
			accountSIDParam:     "AC0123456789abcdef0123456789abcdef",
			authTokenParam:      testToken,
			allowedSendersParam: "*",
		}),
	}
	c.env = awsenvtest.Env(t, map[string]string{"SNS": c.sns.URL, "SSM": c.ssm.URL})
	maps.Copy(c.env, map[string]string{
		sleuth.EnvAddCollectionTopic:  testTopics[sleuth.VerbAddCollection],
		sleuth.EnvAddImageTopic:       testTopics[sleuth.VerbAddImage],
		sleuth.EnvMatchTopic:          testTopics[sleuth.VerbMatch],
		sleuth.EnvAccountSIDParam:     accountSIDParam,
		sleuth.EnvAuthTokenParam:      authTokenParam,
		sleuth.EnvAllowedSendersParam: allowedSendersParam,
		sleuth.EnvPrefix:              "crossfaas-dev",
		"AWS_LAMBDA_LOG_FORMAT":       "JSON",
	})
	return c
}

// signedEvent is the event API Gateway sends for Twilio's POST of params,
// signed with token.
func signedEvent(token string, params map[string]string) events.APIGatewayV2HTTPRequest {
	return lambdatest.HTTPEvent("POST", "/sms", "", map[string]string{
		"Content-Type":       "application/x-www-form-urlencoded; charset=UTF-8",
		"X-Twilio-Signature": sign(token, rieURL, params),
		"User-Agent":         "TwilioProxy/1.1",
	}, encodeForm(params))
}

// TestBootstrapUnderRIE runs the request Lambda's bootstrap under the
// Runtime Interface Emulator, with SSM and SNS faked on loopback, as an
// on-demand function and with provisioned concurrency (which read the auth
// token at different times).
func TestBootstrapUnderRIE(t *testing.T) {
	for _, initType := range []string{"on-demand", "provisioned-concurrency"} {
		t.Run(initType, func(t *testing.T) {
			c := newCloud(t)
			c.env["AWS_LAMBDA_INITIALIZATION_TYPE"] = initType
			fn := lambdatest.Start(t, lambdatest.Options{Package: requestPackage, Handler: sleuth.HandlerRequest, Env: c.env})
			checkRequestLambda(t, fn, c)
		})
	}
}

// checkRequestLambda checks fn, the request Lambda running against c: it
// publishes a signed command, refuses a forged one, and has read the auth
// token once.
func checkRequestLambda(t *testing.T, fn *lambdatest.Function, c *cloud) {
	t.Helper()
	params := smsParams("face addcol celebs")
	resp := fn.InvokeAPIGatewayV2(t, signedEvent(testToken, params))
	if got, want := twimlMessage(t, resp), "Got it - creating collection celebs..."; got != want {
		t.Errorf("reply = %q, want %q", got, want)
	}
	pubs := c.sns.Published()
	if len(pubs) != 1 {
		t.Fatalf("SNS got %d messages, want 1: %+v", len(pubs), pubs)
	}
	var job sleuth.Job
	if err := json.Unmarshal([]byte(pubs[0].Message), &job); err != nil {
		t.Fatalf("published message %q is not a Job: %v", pubs[0].Message, err)
	}
	want := sleuth.Job{Command: sleuth.VerbAddCollection, Collection: "celebs",
		From: params["From"], To: params["To"], MessageSid: params["MessageSid"]}
	if job != want || pubs[0].TopicARN != testTopics[sleuth.VerbAddCollection] {
		t.Errorf("published %+v to %s, want %+v to %s", job, pubs[0].TopicARN, want, testTopics[sleuth.VerbAddCollection])
	}
	if got := pubs[0].Attributes["command"]; got != "addcol" {
		t.Errorf("message attribute command = %q, want %q", got, "addcol")
	}

	forged := fn.InvokeAPIGatewayV2(t, signedEvent("forged-token", params))
	if forged.StatusCode != 403 {
		t.Errorf("forged request: status = %d (%q), want 403", forged.StatusCode, forged.Body)
	}
	if n := len(c.sns.Published()); n != 1 {
		t.Errorf("SNS has %d messages after a forged request, want still 1", n)
	}

	// The auth token and the allowed senders were read once, in one call,
	// decrypted; the account SID is not needed to check signatures.
	reqs := c.ssm.BatchRequests()
	if want := []awsenvtest.GetParameterRequest{{Name: authTokenParam + "," + allowedSendersParam, WithDecryption: true}}; !slices.Equal(reqs, want) || len(c.ssm.Requests()) != 0 {
		t.Errorf("SSM served GetParameters %+v and GetParameter %+v, want %+v only", reqs, c.ssm.Requests(), want)
	}
	for _, errs := range [][]error{c.sns.Errors(), c.ssm.Errors()} {
		if len(errs) > 0 {
			t.Errorf("fakes saw malformed requests: %v", errs)
		}
	}
	if !fn.WaitOutput(`"message":"job published"`, 2*time.Second) {
		t.Errorf("no JSON log of the publish in the output:\n%s", fn.Output())
	}
	if strings.Contains(fn.Output(), testToken) {
		t.Errorf("the function's output reveals the auth token")
	}
}

// TestBootstrapInitFailures checks that a misconfigured function fails
// with a message naming the problem: at cold start, or, when the auth token
// cannot be read on an on-demand cold start, on its first request (the
// read is then no longer part of init).
func TestBootstrapInitFailures(t *testing.T) {
	const (
		initFails   = "INIT RTDONE(status: error)"   // the emulator's log of a failed init
		invokeFails = "INIT RTDONE(status: success)" // init succeeded, the invocation failed
	)
	provisioned := map[string]string{"AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency", sleuth.EnvAuthTokenParam: "/nope"}
	tests := []struct {
		name    string
		handler string
		env     map[string]string
		want    string
		phase   string // initFails or invokeFails
	}{
		{"other handler", sleuth.HandlerMatch, nil, `handler \"match\" in _HANDLER: this binary serves only \"request\"`, initFails},
		{"missing topic", sleuth.HandlerRequest, map[string]string{sleuth.EnvMatchTopic: ""}, sleuth.EnvMatchTopic + " is not set", initFails},
		{"missing parameter name", sleuth.HandlerRequest, map[string]string{sleuth.EnvAuthTokenParam: ""}, sleuth.EnvAuthTokenParam + " is not set", initFails},
		{"no credentials", sleuth.HandlerRequest, map[string]string{"AWS_SECRET_ACCESS_KEY": ""}, "AWS_SECRET_ACCESS_KEY must both be set", initFails},
		{"parameter not in SSM", sleuth.HandlerRequest, map[string]string{sleuth.EnvAuthTokenParam: "/nope"}, "ssm get parameters: not found: [/nope]", invokeFails},
		{"parameter not in SSM, provisioned", sleuth.HandlerRequest, provisioned, "ssm get parameters: not found: [/nope]", initFails},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCloud(t)
			maps.Copy(c.env, tt.env)
			fn := lambdatest.Start(t, lambdatest.Options{Package: requestPackage, Handler: tt.handler, Env: c.env})
			_, err := fn.Invoke(context.Background(), signedEvent(testToken, smsParams("help")))
			fnErr, ok := err.(*lambdatest.FunctionError)
			if !ok || fnErr.Type != "Runtime.ExitError" {
				t.Fatalf("Invoke() error = %v, want a Runtime.ExitError", err)
			}
			for _, want := range []string{tt.want, tt.phase} {
				if !strings.Contains(fn.Output(), want) {
					t.Errorf("output lacks %q:\n%s", want, fn.Output())
				}
			}
			if n := len(c.sns.Published()); n != 0 {
				t.Errorf("SNS got %d messages from a function that failed to start", n)
			}
		})
	}
}

// helloPackage is the baseline of the cold-start comparison.
const helloPackage = "./functions/sleuth/request/testdata/hello"

// TestColdStart measures the first invocation of the request Lambda as it
// is deployed (the sleuth-request artifact's package) under the emulator —
// process start, package initialisation, the SSM read of the auth token and
// the handling of a signed "face addcol" with its SNS publish — against a
// hello-world aws-lambda-go function built with the same flags, in rounds
// that run each once, in alternating order. It requires the median of the
// request Lambda to be at most 1.5 times hello's, and reports both medians,
// their spread and the init phase of each. Then it builds the sleuth zips
// for Lambda (linux/arm64) as `crossfaas build` does and reports their
// sizes, which must stay under 8 MiB.
//
// Run with CROSSFAAS_BENCH=1, on an otherwise idle machine;
// CROSSFAAS_BENCH_RUNS sets the number of rounds (default 10),
// CROSSFAAS_BENCH_MAX_RATIO the bound (default 1.5).
func TestColdStart(t *testing.T) {
	if os.Getenv("CROSSFAAS_BENCH") != "1" {
		t.Skip("set CROSSFAAS_BENCH=1 to measure cold starts under the Lambda emulator")
	}
	runs := 10
	if n, err := strconv.Atoi(os.Getenv("CROSSFAAS_BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	maxRatio := 1.5
	if r, err := strconv.ParseFloat(os.Getenv("CROSSFAAS_BENCH_MAX_RATIO"), 64); err == nil && r > 0 {
		maxRatio = r
	}
	sleuthTargets := sleuthTargets(t)

	type variant struct {
		name, pkg, handler string
		cloud              bool // needs the fake SSM and SNS
		firsts, inits      []time.Duration
	}
	hello := &variant{name: "hello", pkg: helloPackage}
	req := &variant{name: "request", pkg: requestPackage, handler: sleuth.HandlerRequest, cloud: true}
	variants := []*variant{hello, req}
	for _, v := range variants {
		lambdatest.Build(t, v.pkg) // build before timing anything
	}
	params := smsParams("face addcol celebs")
	run := func(v *variant) {
		var env map[string]string
		var c *cloud
		if v.cloud {
			c = newCloud(t)
			env = c.env
		}
		fn := lambdatest.Start(t, lambdatest.Options{Package: v.pkg, Handler: v.handler, Env: env})
		defer fn.Close()
		ev := signedEvent(testToken, params)
		start := time.Now()
		payload, err := fn.Invoke(context.Background(), ev)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s: first invoke: %v", v.name, err)
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(payload, &resp); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: first invoke answered %s", v.name, payload)
		}
		if c != nil && len(c.sns.Published()) != 1 {
			t.Fatalf("%s: SNS got %d messages, want 1", v.name, len(c.sns.Published()))
		}
		v.firsts = append(v.firsts, took)
		if d, ok := initDuration(fn.Output()); ok {
			v.inits = append(v.inits, d)
		}
	}
	for i := range runs {
		for j := range variants {
			run(variants[(i+j)%len(variants)])
		}
	}
	base := median(hello.firsts)
	for _, v := range variants {
		t.Logf("%-7s first invocation median %v (%.2fx hello), quartiles %v-%v, range %v-%v; init median %v",
			v.name, median(v.firsts).Round(time.Microsecond), float64(median(v.firsts))/float64(base),
			quantile(v.firsts, 0.25).Round(time.Microsecond), quantile(v.firsts, 0.75).Round(time.Microsecond),
			slices.Min(v.firsts).Round(time.Microsecond), slices.Max(v.firsts).Round(time.Microsecond),
			median(v.inits).Round(time.Microsecond))
	}
	if ratio := float64(median(req.firsts)) / float64(base); ratio > maxRatio {
		t.Errorf("the request Lambda's first invocation is %.2fx hello's, want at most %.2fx", ratio, maxRatio)
	}

	artifacts, err := build.All(context.Background(), gobuild.Options{OutDir: t.TempDir(), Targets: sleuthTargets, GOARCH: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range artifacts {
		t.Logf("%s.zip (linux/arm64): %d bytes (%.2f MiB)", a.Name, a.Size, float64(a.Size)/(1<<20))
		if a.Size > 8<<20 {
			t.Errorf("%s.zip is %d bytes, want at most 8 MiB", a.Name, a.Size)
		}
	}
}

// sleuthTargets returns the build targets of the sleuth Lambdas, checking
// that the request Lambda's is the package these tests run.
func sleuthTargets(t *testing.T) []gobuild.Target {
	t.Helper()
	var targets []gobuild.Target
	for _, target := range build.Targets {
		if target.Kind == gobuild.Lambda && strings.HasPrefix(target.Package, "./functions/sleuth/") {
			targets = append(targets, target)
		}
	}
	if !slices.ContainsFunc(targets, func(target gobuild.Target) bool { return target.Package == requestPackage }) {
		t.Fatalf("build.Targets %+v lack the request Lambda's package %s", targets, requestPackage)
	}
	return targets
}

// initDuration returns the duration of the init phase the emulator
// reported in output ("INIT REPORT(durationMs: 8.909000)").
func initDuration(output string) (time.Duration, bool) {
	const marker = "INIT REPORT(durationMs: "
	i := strings.Index(output, marker)
	if i < 0 {
		return 0, false
	}
	rest := output[i+len(marker):]
	end := strings.IndexByte(rest, ')')
	if end < 0 {
		return 0, false
	}
	ms, err := strconv.ParseFloat(rest[:end], 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}

// median returns the middle value of ds (the mean of the two middle ones
// for an even count), or 0 when ds is empty.
func median(ds []time.Duration) time.Duration { return quantile(ds, 0.5) }

// quantile returns the q-quantile (0 to 1) of ds, interpolating linearly
// between the closest ranks, or 0 when ds is empty.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + time.Duration((pos-float64(i))*float64(s[i+1]-s[i]))
}
