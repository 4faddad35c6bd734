package golambda_test

import (
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/infra/golambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TestNewRefuses checks the arguments New refuses before it registers or
// builds anything.
func TestNewRefuses(t *testing.T) {
	valid := func() *golambda.Args {
		return &golambda.Args{Name: "x", Package: ".", ModuleDir: "testdata/hello", OutDir: t.TempDir(),
			Handler: "bootstrap", MemoryMB: 128, TimeoutSeconds: 5, LogRetentionDays: 1}
	}
	tests := []struct {
		name   string
		change func(a *golambda.Args)
		want   string
	}{
		{"architecture", func(a *golambda.Args) { a.Architecture = "x86_64" }, `architecture "x86_64"`},
		{"nothing to deploy", func(a *golambda.Args) { a.Package = "" }, "a package to build or an artifact"},
		{"wildcard action", func(a *golambda.Args) {
			a.Statements = []golambda.PolicyStatement{{Actions: []string{"s3:*"}, Resources: pulumi.StringArray{pulumi.String("arn:aws:s3:::b")}}}
		}, "without wildcards"},
		{"package that does not build", func(a *golambda.Args) { a.Package = "./missing" }, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := valid()
			tt.change(args)
			var made error
			err := pulumi.RunErr(func(ctx *pulumi.Context) error {
				_, made = golambda.New(ctx, "x", args)
				return nil
			}, pulumi.WithMocks("example", "dev", exampleMocks{}))
			if err != nil {
				t.Fatal(err)
			}
			if made == nil || !strings.Contains(made.Error(), tt.want) {
				t.Errorf("New with a bad %s = %v, want an error containing %q", tt.name, made, tt.want)
			}
		})
	}

	t.Run("amd64", func(t *testing.T) {
		args := valid()
		args.Architecture = "amd64"
		var archs pulumi.StringArrayOutput
		err := pulumi.RunErr(func(ctx *pulumi.Context) error {
			fn, err := golambda.New(ctx, "x", args)
			if err != nil {
				return err
			}
			archs = fn.Function.Architectures
			archs.ApplyT(func(a []string) error {
				if len(a) != 1 || a[0] != "amd64" {
					t.Errorf("architectures = %v, want [amd64]", a)
				}
				return nil
			})
			return nil
		}, pulumi.WithMocks("example", "dev", exampleMocks{}))
		if err != nil {
			t.Fatal(err)
		}
	})
}
