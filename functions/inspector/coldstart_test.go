package inspector

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/internal/lambdatest"
)

// echoPackage is the baseline of cold starts: the smallest aws-lambda-go
// function, built with the same release flags.
const echoPackage = "./internal/lambdatest/echo"

// TestColdStart measures first invocations under the emulator, each in a
// fresh execution environment, in alternating rounds:
//
//   - echo: the hello-world baseline;
//   - inspector-skip: the inspector as deployed (private link configured,
//     S3 client built from the Lambda environment) handling an S3 event it
//     skips (a key outside incoming/): process start, package
//     initialisation and configuration, what the inspector's code costs a
//     cold start;
//   - inspector-upload (reported, not bounded): the first inspection of a
//     small JPEG, which also makes the token exchange, reads and writes S3
//     and calls the labeler.
//
// It requires the median of inspector-skip to be at most 1.3 times echo's.
//
//	CROSSFAAS_BENCH=1 go test -run TestColdStart -v ./functions/inspector/
func TestColdStart(t *testing.T) {
	if os.Getenv("CROSSFAAS_BENCH") != "1" {
		t.Skip("set CROSSFAAS_BENCH=1 to measure cold starts under the Lambda emulator")
	}
	runs := 30
	if n, err := strconv.Atoi(os.Getenv("CROSSFAAS_BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	maxRatio := 1.3
	w := newWorld(t)
	skip := fixtureEvent(t, testBucket, "results/a.jpg.json", 10, "etag", "v1")
	img := testJPEG(t, 64, 48)
	type variant struct {
		name, pkg string
		env       map[string]string
		event     func(i int) any
		firsts    []time.Duration
	}
	echo := &variant{name: "echo", pkg: echoPackage, event: func(int) any { return skip }}
	inspect := &variant{name: "inspector-skip", pkg: bootstrapPackage, env: w.credentialEnv(), event: func(int) any { return skip }}
	upload := &variant{name: "inspector-upload", pkg: bootstrapPackage, env: w.credentialEnv(), event: func(i int) any {
		return w.upload(t, "cold-"+strconv.Itoa(i)+".jpg", img)
	}}
	lambdatest.Build(t, echoPackage)
	lambdatest.Build(t, bootstrapPackage)
	run := func(v *variant, i int) {
		fn := lambdatest.Start(t, lambdatest.Options{Package: v.pkg, Env: v.env})
		defer fn.Close()
		ev := v.event(i)
		start := time.Now()
		if _, err := fn.Invoke(context.Background(), ev); err != nil {
			t.Fatalf("%s: first invocation: %v", v.name, err)
		}
		v.firsts = append(v.firsts, time.Since(start))
	}
	for i := range runs {
		if i%2 == 0 {
			run(echo, i)
			run(inspect, i)
		} else {
			run(inspect, i)
			run(echo, i)
		}
	}
	for i := range runs {
		run(upload, i)
	}
	base := quantile(echo.firsts, 0.5)
	for _, v := range []*variant{echo, inspect, upload} {
		t.Logf("%-16s first invocation median %v (%.2fx echo), quartiles %v-%v", v.name,
			quantile(v.firsts, 0.5).Round(time.Microsecond), float64(quantile(v.firsts, 0.5))/float64(base),
			quantile(v.firsts, 0.25).Round(time.Microsecond), quantile(v.firsts, 0.75).Round(time.Microsecond))
	}
	if r := float64(quantile(inspect.firsts, 0.5)) / float64(base); r > maxRatio {
		t.Errorf("the inspector's cold start is %.2fx echo's, want at most %.2fx", r, maxRatio)
	}
}

// quantile returns the q-quantile (0 to 1) of ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + time.Duration((pos-float64(i))*float64(s[i+1]-s[i]))
}
