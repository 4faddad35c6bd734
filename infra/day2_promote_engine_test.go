package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/internal/deployed"
	"github.com/crossfaas/crossfaas/internal/enginetest"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// testPromote promotes dev to prod through the inline workspace (the
// crossfaas command would run the project's program through the Go
// language host, which cannot be installed here).
func testPromote(t *testing.T, c *engineCheckout) {
	ctx := engineContext(t)
	promote := func(ws auto.Workspace, stdin string, yes bool) (string, error) {
		var out bytes.Buffer
		err := deployed.Promote(ctx, deployed.PromoteOptions{Root: c.root, Workspace: ws, From: "dev", To: "prod", Yes: yes,
			Stdin: strings.NewReader(stdin), Stdout: &out})
		return out.String(), err
	}
	reason := func(err error) string {
		var r *deployed.RefusedError
		if errors.As(err, &r) {
			return r.Reason
		}
		return fmt.Sprintf("not refused: %v", err)
	}
	prodFunctions := func() int {
		st, err := deployed.OpenStack(ctx, c.ws, "prod")
		if err != nil {
			t.Fatal(err)
		}
		return len(st.Functions())
	}

	// A dirty tree.
	scratch := filepath.Join(c.root, "notes.txt")
	if err := os.WriteFile(scratch, []byte("uncommitted"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := promote(c.ws, "", true)
	if reason(err) != deployed.ReasonDirty || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("promote with a dirty tree: %v, want refused naming notes.txt", err)
	}
	os.Remove(scratch)

	// A commit dev does not run.
	replaceInFile(t, filepath.Join(c.root, "functions", "proxy", "proxy.go"), "const MaxUpstreamBody = 1 << 20", "const MaxUpstreamBody = 3 << 20")
	enginetest.Commit(t, c.root, "proxy: relay larger bodies")
	_, err = promote(c.ws, "", true)
	if reason(err) != deployed.ReasonStale || !strings.Contains(err.Error(), "proxy runs") {
		t.Errorf("promote of a commit dev does not run: %v, want refused naming the proxy", err)
	}
	if _, err := up(t, c.stacks["dev"], "deploy the new commit to dev"); err != nil {
		t.Fatal(err)
	}

	// Nobody confirms.
	out, err := promote(c.ws, "n\n", false)
	if reason(err) != deployed.ReasonDeclined || !strings.Contains(out, "Deploy commit") || !strings.Contains(out, "to create") {
		t.Errorf("promote answered no: %v\n%s", err, out)
	}
	if n := prodFunctions(); n != 0 {
		t.Errorf("a declined promotion deployed %d functions to prod", n)
	}

	// A prod program that deploys other code than dev's: the check after
	// up catches it.
	rogue := c.engine.Workspace(t, c.root, func(ctx *pulumi.Context) error {
		_, err := program(ctx, withChangedProxy(buildArtifacts(c.root, "")))
		return err
	})
	_, err = promote(rogue, "", true)
	if reason(err) != deployed.ReasonMismatch || !strings.Contains(err.Error(), "proxy runs") {
		t.Errorf("promote to a prod that runs other code: %v, want a mismatch naming the proxy", err)
	}

	// The real thing, with dev selected: promote leaves it selected.
	if err := c.ws.SelectStack(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	out, err = promote(c.ws, "y\n", false)
	if err != nil {
		t.Fatalf("promote: %v\n%s", err, out)
	}
	if !strings.Contains(out, "prod now runs commit") {
		t.Errorf("promote does not confirm:\n%s", out)
	}
	dev, err := deployed.OpenStack(ctx, c.ws, "dev")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := deployed.OpenStack(ctx, c.ws, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(prod.Functions()) != 10 {
		t.Fatalf("prod runs %d functions, want 10", len(prod.Functions()))
	}
	for i, f := range prod.Functions() {
		if d := dev.Functions()[i]; f.Name != d.Name || f.Digest != d.Digest || f.Digest == "" {
			t.Errorf("prod's %s runs %s, dev's %s runs %s", f.Name, f.Digest, d.Name, d.Digest)
		}
	}
	if cur, err := c.ws.Stack(ctx); err != nil || cur == nil || cur.Name != "dev" {
		t.Errorf("selected stack after promote = %+v (%v), want dev as before", cur, err)
	}
}

// withChangedProxy returns a Builder that builds as b does but deploys a
// proxy zip with different bytes to prod.
func withChangedProxy(b Builder) Builder {
	return func(ctx *pulumi.Context) ([]gobuild.Artifact, error) {
		arts, err := b(ctx)
		if err != nil || ctx.Stack() != "prod" {
			return arts, err
		}
		for i, a := range arts {
			if a.Name != "proxy" {
				continue
			}
			data, err := os.ReadFile(a.Path)
			if err != nil {
				return nil, err
			}
			path := filepath.Join(filepath.Dir(a.Path), "proxy-rogue.zip")
			// A zip with a trailing comment byte more: other bytes, other digest.
			if err := os.WriteFile(path, append(data, 0), 0o644); err != nil {
				return nil, err
			}
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			sum, err := sha256Hex(f)
			f.Close()
			if err != nil {
				return nil, err
			}
			arts[i] = gobuild.Artifact{Name: "proxy", Path: path, Size: int64(len(data) + 1), SHA256: sum}
		}
		return arts, nil
	}
}

func sha256Hex(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}
