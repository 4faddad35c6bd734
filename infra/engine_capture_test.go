package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/internal/enginetest"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// checkpointFile holds the dev stack as the engine deployed it from the
// program before the components moved into packages (`pulumi stack
// export`, secrets encrypted with enginetest.Passphrase).
const checkpointFile = "testdata/checkpoint-dev.json"

// checkpointProject writes a project directory for the checkpoint stack:
// the repository's Pulumi.yaml and a Pulumi.dev.yaml of its own with
// testConfig's settings, so the stack does not change when the committed
// stage files do.
func checkpointProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	project, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var settings strings.Builder
	settings.WriteString("config:\n")
	keys := []string{}
	for k := range testConfig() {
		if _, secret := engineSecrets[k]; !secret {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		settings.WriteString("  " + k + ": " + `"` + testConfig()[k] + `"` + "\n")
	}
	// Pulumi.yaml's main must exist, though the program runs inline.
	if err := os.Mkdir(filepath.Join(dir, "infra"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"Pulumi.yaml": project, "Pulumi.dev.yaml": []byte(settings.String())} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkpointProgram is the program with fixed stand-in artifacts, so the
// checkpoint does not depend on the functions' source or the toolchain.
func checkpointProgram(t *testing.T) pulumi.RunFunc {
	arts := fixtureArtifacts(t, "labeler source zip", "proxy zip")
	return func(ctx *pulumi.Context) error {
		_, err := program(ctx, fixtures(arts))
		return err
	}
}

// TestEngineUpdatesTheCapturedStackInPlace imports the dev stack deployed
// by the program before its components moved into packages and runs
// preview and up of today's program on it: the engine must delete, replace
// and update nothing (the aliases carry every moved resource over) and
// create only the components the move added (GoLambda), which are no cloud
// resource; the providers must be asked to create, update or delete
// nothing, and the clouds' ids stay the same.
//
// With -capture it instead deploys the current program and rewrites the
// checkpoint, for an intended change of the stack.
func TestEngineUpdatesTheCapturedStackInPlace(t *testing.T) {
	e := enginetest.New(t, nil)
	dir := checkpointProject(t)
	ws := e.Workspace(t, dir, checkpointProgram(t))
	st := e.NewStack(t, ws, "dev", engineSecrets)

	if *capture {
		if _, err := up(t, &st, "capture up"); err != nil {
			t.Fatalf("capture up: %v", err)
		}
		stdout, _, err := e.Run(engineContext(t), dir, "stack", "export", "--stack", "dev")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(checkpointFile, slimCheckpoint(t, stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}

	data, err := os.ReadFile(checkpointFile)
	if err != nil {
		t.Fatalf("read the checkpoint: %v", err)
	}
	var dep apitype.UntypedDeployment
	if err := json.Unmarshal(data, &dep); err != nil {
		t.Fatalf("read the checkpoint: %v", err)
	}
	if err := st.Import(engineContext(t), dep); err != nil {
		t.Fatalf("import the checkpoint: %v", err)
	}
	before := exportState(t, &st)

	pre, err := st.Preview(engineContext(t), optpreview.Diff())
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	// The components the move added around aliased resources are the only
	// creates: they hold no cloud resource of their own.
	added := addedComponents(t, &st)
	if n := pre.ChangeSummary[apitype.OpCreate]; n != added {
		t.Errorf("preview: %d creates, want %d (the new %v components)\n%s", n, added, movedInto, pre.StdOut)
	}
	forbidden := []apitype.OpType{apitype.OpDelete, apitype.OpReplace, apitype.OpCreateReplacement, apitype.OpDeleteReplaced}
	for _, op := range forbidden {
		if n := pre.ChangeSummary[op]; n != 0 {
			t.Errorf("preview: %d %s, want none\n%s", n, op, pre.StdOut)
		}
	}
	if n := pre.ChangeSummary[apitype.OpUpdate]; n != 0 {
		t.Errorf("preview: %d updates, want none\n%s", n, pre.StdOut)
	}
	t.Logf("preview: %v", pre.ChangeSummary)

	calls := len(e.Calls(t))
	res, err := up(t, &st, "up over the checkpoint", optup.Diff())
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	got := changes(res.Summary)
	t.Logf("up: %v", got)
	after := exportState(t, &st)
	created := 0
	// Custom resources are matched by their ids below (an aliased one has
	// a new URN); a component new to the state must be of a movedInto type.
	for _, r := range after.managed() {
		if !r.Custom && !slices.ContainsFunc(before.managed(), func(b apitype.ResourceV3) bool { return b.URN == r.URN }) {
			if !movedInto[string(r.Type)] {
				t.Errorf("up created the component %s, want only new %v components", r.URN, movedInto)
			}
			created++
		}
	}
	if got["create"] != created || created != added {
		t.Errorf("up: %d creates, %d new resources in the state, want %d (the new components)", got["create"], created, added)
	}
	for _, op := range []string{"delete", "replace", "update"} {
		if got[op] != 0 {
			t.Errorf("up: %d %s, want none\n%s", got[op], op, res.StdOut)
		}
	}
	for _, m := range []string{"Create", "Update", "Delete"} {
		if urns := urnsOf(e.Calls(t)[calls:], m); len(urns) > 0 {
			t.Errorf("up: the providers were asked to %s %v, want nothing", m, urns)
		}
	}
	if got, want := physicalIDs(after), physicalIDs(before); !slices.Equal(got, want) {
		t.Errorf("the custom resources after up differ from the checkpoint's:\n%v\nwant\n%v", got, want)
	}
}

// addedComponents counts the components of movedInto types that the
// program registers under mocks with the checkpoint's settings.
func addedComponents(t *testing.T, st *auto.Stack) int {
	t.Helper()
	cfg := testConfig()
	run := mustRunStack(t, st.Name(), cfg, fixtures(fixtureArtifacts(t, "labeler source zip", "proxy zip")))
	n := 0
	for _, r := range run.mocks.snapshot() {
		if !r.Custom && movedInto[r.Type] {
			n++
		}
	}
	return n
}

// physicalIDs returns "<type> <id>" of every custom resource of s, sorted:
// what the clouds hold, whatever URNs the state knows them by.
func physicalIDs(s stackState) []string {
	var out []string
	for _, r := range s.managed() {
		if r.Custom {
			out = append(out, string(r.Type)+" "+string(r.ID))
		}
	}
	slices.Sort(out)
	return out
}

// slimCheckpoint drops what the engine records only for people (each
// resource's stackTrace and sourcePosition), which is most of a
// checkpoint's bytes and changes with every edit of the program.
func slimCheckpoint(t *testing.T, exported string) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(exported), &d); err != nil {
		t.Fatalf("read the export: %v", err)
	}
	deployment, _ := d["deployment"].(map[string]any)
	resources, _ := deployment["resources"].([]any)
	for _, r := range resources {
		if m, ok := r.(map[string]any); ok {
			delete(m, "stackTrace")
			delete(m, "sourcePosition")
		}
	}
	b, err := json.MarshalIndent(d, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}
