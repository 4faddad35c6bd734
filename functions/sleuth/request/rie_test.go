package request

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/awsx/awsxtest"
	"github.com/crossfaas/crossfaas/internal/build"
	"github.com/crossfaas/crossfaas/internal/lambdatest"
)

// The SSM parameters the stack would create for the request Lambda.
const (
	accountSIDParam = "/crossfaas-dev/sleuth/twilio-account-sid"
	authTokenParam  = "/crossfaas-dev/sleuth/twilio-auth-token"
)

// bootstrapPackage is the sleuth Lambdas' main package.
const bootstrapPackage = "./functions/sleuth/bootstrap"

// rieURL is the URL Twilio signs for a webhook that lambdatest.HTTPEvent
// describes.
const rieURL = "https://" + lambdatest.EventDomainName + "/sms"

// cloud is the fake AWS a bootstrap under the emulator talks to.
type cloud struct {
	sns *awsxtest.SNS
	ssm *awsxtest.SSM
	env map[string]string // the function's environment, as the stack sets it
}

func newCloud(t testing.TB) *cloud {
	c := &cloud{
		sns: awsxtest.NewSNS(t, slices.Collect(maps.Values(testTopics))...),
		ssm: awsxtest.NewSSM(t, map[string]string{
			accountSIDParam: "AC0123456789abcdef0123456789abcdef",
			authTokenParam:  testToken,
		}),
	}
	c.env = awsxtest.Env(t, map[string]string{"SNS": c.sns.URL, "SSM": c.ssm.URL})
	maps.Copy(c.env, map[string]string{
		sleuth.EnvAddCollectionTopic: testTopics[sleuth.VerbAddCollection],
		sleuth.EnvAddImageTopic:      testTopics[sleuth.VerbAddImage],
		sleuth.EnvMatchTopic:         testTopics[sleuth.VerbMatch],
		sleuth.EnvAccountSIDParam:    accountSIDParam,
		sleuth.EnvAuthTokenParam:     authTokenParam,
		sleuth.EnvPrefix:             "crossfaas-dev",
		"AWS_LAMBDA_LOG_FORMAT":      "JSON",
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

// TestBootstrapUnderRIE runs the real bootstrap as the request Lambda under
// the Runtime Interface Emulator, with SSM and SNS faked on loopback.
func TestBootstrapUnderRIE(t *testing.T) {
	c := newCloud(t)
	fn := lambdatest.Start(t, lambdatest.Options{Package: bootstrapPackage, Handler: sleuth.HandlerRequest, Env: c.env})

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

	// The secrets were read once, at cold start, decrypted.
	reqs := c.ssm.Requests()
	if len(reqs) != 2 || !reqs[0].WithDecryption || !reqs[1].WithDecryption {
		t.Errorf("SSM served %+v, want the two parameters read once each with decryption", reqs)
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

// TestBootstrapInitFailures checks that a misconfigured function fails at
// cold start with a message naming the problem.
func TestBootstrapInitFailures(t *testing.T) {
	tests := []struct {
		name    string
		handler string
		env     map[string]string
		want    string
	}{
		{"unknown handler", "nope", nil, `unknown handler \"nope\" in _HANDLER`},
		{"missing topic", sleuth.HandlerRequest, map[string]string{sleuth.EnvMatchTopic: ""}, sleuth.EnvMatchTopic + " is not set"},
		{"missing parameter name", sleuth.HandlerRequest, map[string]string{sleuth.EnvAuthTokenParam: ""}, sleuth.EnvAuthTokenParam + " is not set"},
		{"parameter not in SSM", sleuth.HandlerRequest, map[string]string{sleuth.EnvAuthTokenParam: "/nope"}, "ssm get parameter /nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCloud(t)
			maps.Copy(c.env, tt.env)
			fn := lambdatest.Start(t, lambdatest.Options{Package: bootstrapPackage, Handler: tt.handler, Env: c.env})
			_, err := fn.Invoke(context.Background(), signedEvent(testToken, smsParams("help")))
			fnErr, ok := err.(*lambdatest.FunctionError)
			if !ok || fnErr.Type != "Runtime.ExitError" {
				t.Fatalf("Invoke() error = %v, want a Runtime.ExitError", err)
			}
			if !strings.Contains(fn.Output(), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, fn.Output())
			}
			if n := len(c.sns.Published()); n != 0 {
				t.Errorf("SNS got %d messages from a function that failed to start", n)
			}
		})
	}
}

// Packages of the cold-start comparison.
const (
	helloPackage       = "./functions/sleuth/request/testdata/hello"
	requestOnlyPackage = "./functions/sleuth/request/testdata/requestonly"
)

// TestColdStart measures the first invocation of the request Lambda under
// the emulator (process start, init with the SSM reads, and the handling of
// a signed "face addcol" with its SNS publish) against a hello-world
// aws-lambda-go function built with the same flags, in rounds that run each
// function once in rotating order. It requires the median of the shared
// sleuth bootstrap to be at most 1.5 times hello's, and also reports the
// request handler built alone (testdata/requestonly) and the init phase of
// each. Then it reports the size of the sleuth zip for Lambda
// (linux/arm64), which must stay under 8 MiB.
//
// Run with CROSSFAAS_BENCH=1; CROSSFAAS_BENCH_RUNS sets the number of
// rounds (default 10), CROSSFAAS_BENCH_MAX_RATIO the bound (default 1.5).
func TestColdStart(t *testing.T) {
	if os.Getenv("CROSSFAAS_BENCH") != "1" {
		t.Skip("set CROSSFAAS_BENCH=1 to measure cold starts under the Lambda emulator")
	}
	runs := 10
	if n, err := strconv.Atoi(os.Getenv("CROSSFAAS_BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	type variant struct {
		name, pkg, handler string
		cloud              bool // needs the fake SSM and SNS
		firsts, inits      []time.Duration
	}
	variants := []*variant{
		{name: "hello", pkg: helloPackage},
		{name: "sleuth bootstrap (request)", pkg: bootstrapPackage, handler: sleuth.HandlerRequest, cloud: true},
		{name: "request alone", pkg: requestOnlyPackage, cloud: true},
	}
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
	hello := median(variants[0].firsts)
	for _, v := range variants {
		t.Logf("%-27s first invocation median %8v (%.2fx hello), init median %8v; runs %v",
			v.name, median(v.firsts), float64(median(v.firsts))/float64(hello), median(v.inits), v.firsts)
	}
	maxRatio := 1.5
	if r, err := strconv.ParseFloat(os.Getenv("CROSSFAAS_BENCH_MAX_RATIO"), 64); err == nil && r > 0 {
		maxRatio = r
	}
	if ratio := float64(median(variants[1].firsts)) / float64(hello); ratio > maxRatio {
		t.Errorf("the request Lambda's first invocation is %.2fx hello's, want at most %.2fx", ratio, maxRatio)
	}

	root, err := build.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin, zipPath := filepath.Join(dir, "bootstrap"), filepath.Join(dir, "sleuth.zip")
	if err := build.Binary(context.Background(), root, bootstrapPackage, bin, "linux", "arm64"); err != nil {
		t.Fatal(err)
	}
	if err := build.ZipLambda(bin, zipPath); err != nil {
		t.Fatal(err)
	}
	zi, err := os.Stat(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	bi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sleuth.zip (linux/arm64): %d bytes (%.2f MiB); bootstrap %.2f MiB",
		zi.Size(), float64(zi.Size())/(1<<20), float64(bi.Size())/(1<<20))
	if zi.Size() > 8<<20 {
		t.Errorf("sleuth.zip is %d bytes, want at most 8 MiB", zi.Size())
	}
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
// for an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
