package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/awsenv/awsenvtest"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/awsfake"
	"github.com/crossfaas/crossfaas/functions/sleuth/worker"
	"github.com/crossfaas/crossfaas/internal/lambdatest"
)

// cleanupCollections fills a fake Rekognition with the stack's collections
// (more than one page of ListCollections), the one it manages, and other
// stacks' whose ids look alike; it returns the ids the cleanup must delete.
func cleanupCollections(cloud *awsfake.Cloud) []string {
	var mine []string
	for i := range 1100 {
		id := fmt.Sprintf("%s.c%04d", prefix, i)
		cloud.Rekognition.AddCollection(id)
		mine = append(mine, id)
	}
	for _, id := range []string{prefix + ".eu-celebs", prefix + ".x"} {
		cloud.Rekognition.AddFace(id, "mel_gibson:MM1", "mel")
		mine = append(mine, id)
	}
	for _, id := range []string{
		prefix + ".celebs",      // the stack's own, managed by Pulumi
		prefix + "-eu.celebs",   // stack dev-eu
		prefix + "x.celebs",     // stack devx
		prefix + "-celebs",      // an id of the old scheme: whose is ambiguous
		"crossfaas-prod.celebs", // another stage
		"someone-else",
	} {
		cloud.Rekognition.AddCollection(id)
	}
	slices.Sort(mine)
	return mine
}

func cleanupEvent(action string) string {
	return fmt.Sprintf(`{"keep":[%q],"tf":{"action":%q,"prev_input":{"keep":[%q]}}}`, prefix+".celebs", action, prefix+".celebs")
}

// checkCleanup checks that exactly the stack's collections but the kept
// one are gone.
func checkCleanup(t *testing.T, cloud *awsfake.Cloud, deleted, mine []string) {
	t.Helper()
	slices.Sort(deleted)
	if !slices.Equal(deleted, mine) {
		t.Errorf("deleted %d collections, want the stack's %d", len(deleted), len(mine))
	}
	left := cloud.Rekognition.Collections()
	want := []string{prefix + "-celebs", prefix + "-eu.celebs", prefix + ".celebs", prefix + "x.celebs", "crossfaas-prod.celebs", "someone-else"}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("collections left = %q, want %q", left, want)
	}
}

func TestCleanupDeletesOnlyTheStacksCollections(t *testing.T) {
	cloud := awsfake.NewCloud()
	t.Cleanup(cloud.Close)
	mine := cleanupCollections(cloud)
	t.Setenv(sleuth.EnvPrefix, prefix)
	awsenvtest.Setenv(t, map[string]string{"REKOGNITION": cloud.URL()})
	handle, err := worker.CleanupFromEnv(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"create", "update"} {
		res, err := handle(context.Background(), json.RawMessage(cleanupEvent(action)))
		if err != nil || len(res.Deleted) != 0 {
			t.Errorf("cleanup on %s = %+v, %v, want nothing deleted", action, res, err)
		}
	}
	res, err := handle(context.Background(), json.RawMessage(cleanupEvent("delete")))
	if err != nil || res.Action != "delete" {
		t.Fatalf("cleanup on delete = %+v, %v", res, err)
	}
	checkCleanup(t, cloud, res.Deleted, mine)
	// Again (an interrupted destroy run twice): nothing left to delete.
	if res, err := handle(context.Background(), json.RawMessage(cleanupEvent("delete"))); err != nil || len(res.Deleted) != 0 {
		t.Errorf("second cleanup = %+v, %v, want nothing deleted", res, err)
	}
	if _, err := handle(context.Background(), json.RawMessage(`not json`)); err == nil {
		t.Error("cleanup of a malformed event: error = nil")
	}
}

// TestCleanupUnderRIE runs the cleanup handler of the real sleuth
// bootstrap under the emulator with the event Pulumi's Invocation sends on
// delete.
func TestCleanupUnderRIE(t *testing.T) {
	cloud := awsfake.NewCloud()
	t.Cleanup(cloud.Close)
	mine := cleanupCollections(cloud)
	fn := lambdatest.Start(t, lambdatest.Options{
		Package: "./functions/sleuth/bootstrap", Handler: sleuth.HandlerCleanup, Name: prefix + "-sleuth-cleanup",
		Env: map[string]string{"AWS_ENDPOINT_URL_REKOGNITION": cloud.URL(), sleuth.EnvPrefix: prefix, "AWS_LAMBDA_LOG_FORMAT": "JSON"},
	})
	out, err := fn.Invoke(context.Background(), json.RawMessage(cleanupEvent("delete")))
	if err != nil {
		t.Fatalf("cleanup invocation: %v", err)
	}
	var res worker.CleanupResult
	if err := json.Unmarshal(out, &res); err != nil || res.Action != "delete" {
		t.Fatalf("cleanup answered %s (%v)", out, err)
	}
	checkCleanup(t, cloud, res.Deleted, mine)
	if !strings.Contains(fn.Output(), "cleanup: collections deleted") {
		t.Errorf("no \"collections deleted\" log record:\n%s", fn.Output())
	}
}
