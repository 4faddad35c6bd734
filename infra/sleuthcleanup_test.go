package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/worker"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
)

// TestSleuthCleanupOnDestroy: `pulumi destroy` removes the collections
// users created, through a CRUD-scoped Invocation of the cleanup Lambda
// whose delete runs before the function goes. The function may delete the
// stack's collections only, and spares the one the stack manages.
func TestSleuthCleanupOnDestroy(t *testing.T) {
	s := runSleuthStack(t, "dev", testConfig())
	fn := s.function(sleuth.HandlerCleanup)
	if got := fn.Inputs["handler"]; got != sleuth.HandlerCleanup {
		t.Errorf("cleanup handler = %v, want %q", got, sleuth.HandlerCleanup)
	}
	if code, ok := fn.Inputs["code"].(*archive.Archive); !ok || !strings.HasSuffix(code.Path, "sleuth.zip") {
		t.Errorf("cleanup code = %#v, want the sleuth zip", fn.Inputs["code"])
	}
	if got := get(fn.Inputs, "environment.variables"); !reflect.DeepEqual(got, map[string]any{sleuth.EnvPrefix: "crossfaas-dev"}) {
		t.Errorf("cleanup environment = %v, want only its prefix", got)
	}
	inv := s.mocks.one(t, "aws:lambda/invocation:Invocation")
	if inv.Inputs["lifecycleScope"] != "CRUD" || inv.Inputs["functionName"] != fn.Inputs["name"] {
		t.Errorf("invocation = %v, want lifecycle scope CRUD on %v", inv.Inputs, fn.Inputs["name"])
	}
	var input worker.CleanupEvent
	if err := json.Unmarshal([]byte(inv.Inputs["input"].(string)), &input); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(input.Keep, []string{"crossfaas-dev.celebs"}) {
		t.Errorf("cleanup keeps %q, want the stack-managed crossfaas-dev.celebs only", input.Keep)
	}
	// Deleted (the function called) before the function, its role, its
	// policy, its log group and the managed collection: it depends on them.
	for _, dep := range []string{"sleuth-cleanup-function", "sleuth-cleanup-role", "sleuth-cleanup-policy", "sleuth-cleanup-logs", "sleuth-collection"} {
		if !slices.ContainsFunc(inv.Dependencies, func(urn string) bool { return strings.HasSuffix(urn, "::"+dep) }) {
			t.Errorf("invocation depends on %v, want %s among them", inv.Dependencies, dep)
		}
	}
	perms := s.permissions(sleuth.HandlerCleanup)
	want := "arn:aws:rekognition:us-east-1:" + mockAccount + ":collection/crossfaas-dev.*"
	if got := perms["rekognition:DeleteCollection"]; !reflect.DeepEqual(got, []string{want}) {
		t.Errorf("cleanup may delete %v, want %s only", got, want)
	}
	if got := perms["rekognition:ListCollections"]; !reflect.DeepEqual(got, []string{"*"}) {
		t.Errorf("cleanup may list %v, want * (ListCollections has no resource scope)", got)
	}
	if len(perms) != 4 {
		t.Errorf("cleanup role allows %v, want its logs, ListCollections and DeleteCollection", perms)
	}
}
