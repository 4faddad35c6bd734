package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// capture rewrites the stack captures of testdata instead of comparing
// against them: go test ./infra -run TestStackMatchesCapture -capture.
// Only for an intended change of the deployed stack.
var capture = flag.Bool("capture", false, "rewrite testdata/stack-*.json from the current program")

// capturedResource is one resource of a stack capture: what decides whether
// an existing stack's resource is updated in place, replaced or left alone.
type capturedResource struct {
	URN    string         `json:"urn"`
	Type   string         `json:"type"`
	Name   string         `json:"name"`
	Custom bool           `json:"custom"`
	Parent string         `json:"parent"`
	Inputs map[string]any `json:"inputs"`
	// Aliases are the URNs the resource answers to besides its own; a
	// capture taken before a move has none.
	Aliases []string `json:"aliases,omitempty"`
}

// captureCases are the stacks captured: the dev defaults, a prod-like stage
// with its bigger settings and access logs, and a public labeler (no
// private link).
func captureCases() map[string]struct {
	stack string
	cfg   map[string]string
} {
	prod := testConfig()
	for k, v := range map[string]string{
		"crossfaas:labelerMemory":           "512M",
		"crossfaas:labelerMaxInstances":     "50",
		"crossfaas:proxyMemoryMb":           "256",
		"crossfaas:proxyTimeoutSeconds":     "15",
		"crossfaas:logRetentionDays":        "90",
		"crossfaas:apiAccessLogs":           "true",
		"crossfaas:apiThrottlingBurstLimit": "500",
		"crossfaas:apiThrottlingRateLimit":  "200",
		"crossfaas:sleuthWorkerMemoryMb":    "512",
		"crossfaas:labelLanguages":          "es,fr",
		"crossfaas:allowedSenders":          "+15551234567",
	} {
		prod[k] = v
	}
	public := testConfig()
	public["crossfaas:labelerAccess"] = "public"
	return map[string]struct {
		stack string
		cfg   map[string]string
	}{
		"dev":    {"dev", testConfig()},
		"prod":   {"prod", prod},
		"public": {"dev", public},
	}
}

// captureStack runs the program under mocks for one case, with fixture
// artifacts, and returns its resources sorted by URN. Artifact paths, which
// lie in a temporary directory, are replaced by "$ARTIFACTS".
func captureStack(t *testing.T, stack string, cfg map[string]string) []capturedResource {
	t.Helper()
	arts := fixtureArtifacts(t, "labeler source zip", "proxy zip")
	run := mustRunStack(t, stack, cfg, fixtures(arts))
	dir := filepath.Dir(arts[0].Path)
	var out []capturedResource
	for _, r := range run.mocks.snapshot() {
		inputs := map[string]any{}
		b, err := json.Marshal(r.Inputs)
		if err != nil {
			t.Fatalf("marshal the inputs of %s: %v", r.Name, err)
		}
		b = []byte(strings.ReplaceAll(string(b), dir, "$ARTIFACTS"))
		if err := json.Unmarshal(b, &inputs); err != nil {
			t.Fatal(err)
		}
		urn := resourceURN(stack, r.Parent, r.Type, r.Name)
		out = append(out, capturedResource{
			URN: string(urn), Type: r.Type, Name: r.Name, Custom: r.Custom, Parent: r.Parent,
			Inputs: inputs, Aliases: aliasURNs(stack, r.Type, r.Name, r.Parent, r.Aliases),
		})
	}
	slices.SortFunc(out, func(a, b capturedResource) int { return strings.Compare(a.URN, b.URN) })
	return out
}

// resourceURN is the URN the engine gives a resource of type typ named
// name under the resource whose URN is parent.
func resourceURN(stack, parent, typ, name string) resource.URN {
	var parentType tokens.Type
	if parent != "" {
		parentType = resource.URN(parent).QualifiedType()
	}
	return resource.NewURN(tokens.QName(stack), "crossfaas", parentType, tokens.Type(typ), name)
}

// aliasURNs resolves a registration's alias specs to URNs the way the
// engine does: a field the spec leaves out is the resource's own.
func aliasURNs(stack, typ, name, parent string, aliases []*pulumirpc.Alias) []string {
	var out []string
	for _, a := range aliases {
		if u := a.GetUrn(); u != "" {
			out = append(out, u)
			continue
		}
		spec := a.GetSpec()
		aName, aType, aParent := name, typ, parent
		if spec.GetName() != "" {
			aName = spec.GetName()
		}
		if spec.GetType() != "" {
			aType = spec.GetType()
		}
		switch {
		case spec.GetNoParent():
			aParent = ""
		case spec.GetParentUrn() != "":
			aParent = spec.GetParentUrn()
		}
		aStack := stack
		if spec.GetStack() != "" {
			aStack = spec.GetStack()
		}
		out = append(out, string(resourceURN(aStack, aParent, aType, aName)))
	}
	slices.Sort(out)
	return out
}

func captureFile(name string) string { return filepath.Join("testdata", "stack-"+name+".json") }

// TestStackMatchesCapture runs the program for each capture case and
// compares its resources with testdata/stack-<case>.json, taken from the
// program before the components moved into packages: every captured
// resource must still be there, under its URN or an alias of it, with the
// same type, name and inputs, and nothing may be added. That is what lets
// an existing stack update in place.
func TestStackMatchesCapture(t *testing.T) {
	for name, c := range captureCases() {
		t.Run(name, func(t *testing.T) {
			got := captureStack(t, c.stack, c.cfg)
			if *capture {
				b, err := json.MarshalIndent(got, "", " ")
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(captureFile(name), append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(captureFile(name))
			if err != nil {
				t.Fatalf("read the capture: %v (write it with -capture)", err)
			}
			var want []capturedResource
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatalf("read the capture: %v", err)
			}
			compareCapture(t, want, got)
		})
	}
}

// movedInto are the component types that the move into packages added
// around resources the stack already had: new components, which hold no
// cloud resource of their own, are created; their children are aliased.
var movedInto = map[string]bool{"crossfaas:aws:GoLambda": true, "crossfaas:gcp:GoFunction": true}

// compareCapture reports every captured resource that the run lost,
// renamed or changed the inputs of, and every resource the run added.
func compareCapture(t *testing.T, want, got []capturedResource) {
	t.Helper()
	byURN := map[string]int{}
	for i, r := range got {
		byURN[r.URN] = i
		for _, a := range r.Aliases {
			byURN[a] = i
		}
	}
	matched := make([]bool, len(got))
	for _, w := range want {
		i, ok := byURN[w.URN]
		if !ok {
			t.Errorf("%s: no resource has this URN or an alias of it (it would be deleted and created anew)", w.URN)
			continue
		}
		g := got[i]
		matched[i] = true
		if g.Type != w.Type || g.Name != w.Name || g.Custom != w.Custom {
			t.Errorf("%s is now %s %q (custom %v), want %s %q (custom %v)", w.URN, g.Type, g.Name, g.Custom, w.Type, w.Name, w.Custom)
		}
		gb, _ := json.Marshal(g.Inputs)
		wb, _ := json.Marshal(w.Inputs)
		if string(gb) != string(wb) {
			t.Errorf("%s: inputs\n%s\nwant\n%s", w.URN, gb, wb)
		}
	}
	for i, g := range got {
		if !matched[i] && (g.Custom || !movedInto[g.Type]) {
			t.Errorf("%s is new: the captured stack has no such resource", g.URN)
		}
	}
}
