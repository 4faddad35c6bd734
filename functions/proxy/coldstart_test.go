package proxy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/internal/lambdatest"
)

// echoPackage is the baseline of cold starts: the smallest aws-lambda-go
// function (it returns its event), built with the same release flags;
// echoGooglePackage is the same with Google's externalaccount package
// linked in.
const (
	echoPackage       = "./internal/lambdatest/echo"
	echoGooglePackage = "./internal/lambdatest/echogoogle"
)

// TestColdStart measures first invocations under the emulator, each in a
// fresh execution environment:
//
//   - echo: the hello-world baseline;
//   - proxy-404: the proxy configured for a private labeler, answering a
//     request that needs no labeler: process start, package
//     initialisation and configuration, which is what the token client's
//     code can cost a cold start (the token is fetched lazily, never at
//     init);
//   - proxy-detect: the same proxy's first GET /detect, which also makes
//     the whole exchange (subject token, STS, generateIdToken) against the
//     loopback fakes and calls the labeler behind the Cloud Run front;
//   - echo+google: echo with cloud.google.com/go/auth/credentials/externalaccount
//     linked in, what Google's library would cost the proxy before it does
//     anything (reported, with its zip's size, not bounded: it is why the
//     proxy does not link it).
//
// echo, proxy-404 and echo+google run in rotating rounds first; proxy-detect runs
// after them, so that the fakes' work in this process (RS256 signing) does
// not fall into the others' measurements. It requires the median of
// proxy-404 to be at most 1.15 times echo's, and reports every median, its
// quartiles and the ratios. proxy-detect's extra is the exchange's round
// trips and the fakes' signing, which a deployed proxy pays once an hour.
//
// Run with CROSSFAAS_BENCH=1, on an otherwise idle machine;
// CROSSFAAS_BENCH_RUNS sets the rounds (default 40), CROSSFAAS_BENCH_MAX_RATIO
// the bound (default 1.15):
//
//	CROSSFAAS_BENCH=1 go test -run TestColdStart -v ./functions/proxy/
func TestColdStart(t *testing.T) {
	if os.Getenv("CROSSFAAS_BENCH") != "1" {
		t.Skip("set CROSSFAAS_BENCH=1 to measure cold starts under the Lambda emulator")
	}
	runs := 40
	if n, err := strconv.Atoi(os.Getenv("CROSSFAAS_BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	maxRatio := 1.15
	if r, err := strconv.ParseFloat(os.Getenv("CROSSFAAS_BENCH_MAX_RATIO"), 64); err == nil && r > 0 {
		maxRatio = r
	}
	g := startGoogle(t, nil)
	labeler := newPrivateLabeler(t, g, callerAccount, jsonReply(200, labelsJSON))

	type variant struct {
		name, pkg, path string
		env             map[string]string
		want            int
		firsts          []time.Duration
	}
	echo := &variant{name: "echo", pkg: echoPackage, path: "/nope"}
	google := &variant{name: "echo+google", pkg: echoGooglePackage, path: "/nope"}
	init404 := &variant{name: "proxy-404", pkg: bootstrapPackage, path: "/nope", env: privateEnv(g, labeler.URL, nil), want: 404}
	detect := &variant{name: "proxy-detect", pkg: bootstrapPackage, path: "/detect", env: privateEnv(g, labeler.URL, nil), want: 200}
	for _, v := range []*variant{echo, init404, google} {
		bin := lambdatest.Build(t, v.pkg) // build before timing anything
		zipPath := filepath.Join(t.TempDir(), "bootstrap.zip")
		if err := gobuild.ZipLambda(bin, zipPath); err != nil {
			t.Fatal(err)
		}
		if info, err := os.Stat(zipPath); err == nil {
			t.Logf("%-12s zip (host build) %d bytes (%.2f MiB)", v.name, info.Size(), float64(info.Size())/(1<<20))
		}
	}
	run := func(v *variant) {
		fn := lambdatest.Start(t, lambdatest.Options{Package: v.pkg, Env: v.env})
		defer fn.Close()
		event := lambdatest.HTTPEvent("GET", v.path, "imageUri=gs://b/o.jpg", nil, "")
		start := time.Now()
		payload, err := fn.Invoke(context.Background(), event)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s: first invocation: %v", v.name, err)
		}
		if v.want != 0 {
			if resp, err := decodeResponse(payload); err != nil || resp.StatusCode != v.want {
				t.Fatalf("%s: first invocation answered %s, want %d", v.name, payload, v.want)
			}
		}
		v.firsts = append(v.firsts, took)
	}
	rounds := [][]*variant{{echo, init404, google}, {init404, google, echo}, {google, echo, init404}}
	for i := range runs {
		for _, v := range rounds[i%len(rounds)] {
			run(v)
		}
	}
	for range runs {
		run(detect)
	}
	base := quantile(echo.firsts, 0.5)
	for _, v := range []*variant{echo, init404, google, detect} {
		t.Logf("%-12s first invocation median %v (%.2fx echo), quartiles %v-%v", v.name,
			quantile(v.firsts, 0.5).Round(time.Microsecond), ratio(quantile(v.firsts, 0.5), base),
			quantile(v.firsts, 0.25).Round(time.Microsecond), quantile(v.firsts, 0.75).Round(time.Microsecond))
	}
	t.Logf("token exchanges: %d for %d first /detect invocations", g.Exchanges(), runs)
	if r := ratio(quantile(init404.firsts, 0.5), base); r > maxRatio {
		t.Errorf("the proxy's cold start is %.2fx echo's, want at most %.2fx", r, maxRatio)
	}
}

// ratio is a/b.
func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// quantile returns the q-quantile (0 to 1) of ds, interpolating between
// the closest ranks.
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
