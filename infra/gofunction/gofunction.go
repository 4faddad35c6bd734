// Package gofunction deploys a Go module as a Google Cloud Function (2nd
// gen) with Pulumi: New zips exactly what Cloud Build needs from the module
// (gobuild.ZipSource: go.mod, go.sum and the non-test files of the packages
// the function compiles), uploads it to a bucket under its content hash,
// and creates the function from that object. A source change is a new
// object, hence a rebuild; no change, no diff.
package gofunction

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudfunctionsv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/mod/modfile"
)

// Args are the inputs of a GoFunction.
type Args struct {
	// Name is the function's physical name; Project and Region where it
	// runs.
	Name    string
	Project string
	Region  string
	// ModuleDir is the directory of the function's go.mod. Unless Source is
	// given, New zips it (into OutDir/<logical name>.zip; "" means
	// <ModuleDir>/dist), and Runtime is checked against its go directive.
	ModuleDir string
	OutDir    string
	// Source is an already zipped module (gobuild.All with a Source target);
	// when its Path is set, ModuleDir is not zipped.
	Source gobuild.Artifact
	// EntryPoint is the name the function registers with functions.HTTP.
	EntryPoint string
	// Runtime is the Go runtime id, such as "go126": it must cover the
	// module's go directive, or Cloud Build would fail after the upload.
	Runtime string
	// Bucket is the bucket the source is uploaded to, as
	// "<name>-<sha256>.zip".
	Bucket pulumi.StringInput
	// BuildServiceAccount ("projects/<p>/serviceAccounts/<email>") is whom
	// Cloud Build builds as; nil leaves Google's default.
	BuildServiceAccount pulumi.StringInput
	// ServiceAccountEmail is whom the function runs as; nil leaves Google's
	// default.
	ServiceAccountEmail pulumi.StringInput
	Description         string
	// Memory is in Cloud Functions notation, such as "256M".
	Memory         string
	TimeoutSeconds int
	MaxInstances   int
	Environment    pulumi.StringMap
	Labels         pulumi.StringMap
	// FunctionOptions are added to the function's own options, such as
	// pulumi.DependsOn on the grants its build needs.
	FunctionOptions []pulumi.ResourceOption
	// FormerParent, when not nil, is the resource that parented the source
	// object and the function before they moved under this component: each
	// gets an alias to its URN there, so an existing stack updates them in
	// place instead of replacing them.
	FormerParent pulumi.Resource
}

// GoFunction is a Cloud Function (2nd gen) built by Cloud Build from a Go
// module's source.
type GoFunction struct {
	pulumi.ResourceState

	// URL is the function's HTTPS URL; FunctionName its name; ServiceName
	// the full name of the Cloud Run service that runs it
	// ("projects/<p>/locations/<r>/services/<name>").
	URL          pulumi.StringOutput
	FunctionName pulumi.StringOutput
	ServiceName  pulumi.StringOutput
	// SourceObject is the uploaded zip's name, "<name>-<sha256>.zip";
	// Artifact the zip's hex SHA-256.
	SourceObject pulumi.StringOutput
	Artifact     pulumi.StringOutput

	// Function and Object are the resources themselves, for composing.
	Function *cloudfunctionsv2.Function
	Object   *storage.BucketObject
}

// New zips the module unless args.Source is given, uploads it as
// name-source-zip and creates the function name, under a component of type
// crossfaas:gcp:GoFunction.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*GoFunction, error) {
	if args == nil {
		return nil, errors.New("new go function: args are nil")
	}
	if args.Name == "" || args.Project == "" || args.Region == "" || args.EntryPoint == "" || args.Runtime == "" || args.Bucket == nil {
		return nil, fmt.Errorf("new go function %s: name, project, region, entry point, runtime and bucket are required", name)
	}
	source := args.Source
	if args.ModuleDir != "" {
		if err := CheckRuntime(args.Runtime, filepath.Join(args.ModuleDir, "go.mod")); err != nil {
			return nil, fmt.Errorf("new go function %s: %w", name, err)
		}
	}
	if source.Path == "" {
		if args.ModuleDir == "" {
			return nil, fmt.Errorf("new go function %s: a module directory or a source artifact is required", name)
		}
		root, err := filepath.Abs(args.ModuleDir)
		if err != nil {
			return nil, fmt.Errorf("new go function %s: %w", name, err)
		}
		arts, err := gobuild.All(ctx.Context(), gobuild.Options{
			Root: root, OutDir: args.OutDir,
			Targets: []gobuild.Target{{Name: name, Kind: gobuild.Source, Dir: "."}},
		})
		if err != nil {
			return nil, fmt.Errorf("new go function %s: %w", name, err)
		}
		source = arts[0]
	}
	if sum, err := hex.DecodeString(source.SHA256); err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("new go function %s: source artifact %q needs a 64-digit SHA256", name, source.Name)
	}
	comp := &GoFunction{}
	if err := ctx.RegisterComponentResource("crossfaas:gcp:GoFunction", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("new go function %s: %w", name, err)
	}
	children := []pulumi.ResourceOption{pulumi.Parent(comp)}
	if args.FormerParent != nil {
		children = append(children, pulumi.Aliases([]pulumi.Alias{{Parent: args.FormerParent}}))
	}

	// Naming the object by its content makes a source change a new object,
	// hence a changed buildConfig, hence a rebuild and redeploy.
	object, err := storage.NewBucketObject(ctx, name+"-source-zip", &storage.BucketObjectArgs{
		Bucket:      args.Bucket,
		Name:        pulumi.String(fmt.Sprintf("%s-%s.zip", source.Name, source.SHA256)),
		Source:      pulumi.NewFileAsset(source.Path),
		ContentType: pulumi.String("application/zip"),
	}, children...)
	if err != nil {
		return nil, fmt.Errorf("new go function %s: source object: %w", name, err)
	}

	fn, err := cloudfunctionsv2.NewFunction(ctx, name, &cloudfunctionsv2.FunctionArgs{
		Name:        pulumi.String(args.Name),
		Project:     pulumi.String(args.Project),
		Location:    pulumi.String(args.Region),
		Description: pulumi.String(args.Description),
		BuildConfig: &cloudfunctionsv2.FunctionBuildConfigArgs{
			Runtime:    pulumi.String(args.Runtime),
			EntryPoint: pulumi.String(args.EntryPoint),
			// "projects/<project>/serviceAccounts/<email>".
			ServiceAccount: args.BuildServiceAccount,
			Source: &cloudfunctionsv2.FunctionBuildConfigSourceArgs{
				StorageSource: &cloudfunctionsv2.FunctionBuildConfigSourceStorageSourceArgs{
					Bucket: args.Bucket,
					Object: object.Name,
					// The exact bytes uploaded: a later write to the same
					// name cannot change what is built.
					Generation: object.Generation,
				},
			},
		},
		ServiceConfig: &cloudfunctionsv2.FunctionServiceConfigArgs{
			AvailableMemory:            pulumi.String(args.Memory),
			TimeoutSeconds:             pulumi.Int(args.TimeoutSeconds),
			MinInstanceCount:           pulumi.Int(0),
			MaxInstanceCount:           pulumi.Int(args.MaxInstances),
			IngressSettings:            pulumi.String("ALLOW_ALL"),
			AllTrafficOnLatestRevision: pulumi.Bool(true),
			ServiceAccountEmail:        args.ServiceAccountEmail,
			EnvironmentVariables:       args.Environment,
		},
		Labels: args.Labels,
	}, append(children, args.FunctionOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("new go function %s: function: %w", name, err)
	}

	comp.Function, comp.Object = fn, object
	comp.URL, comp.FunctionName = fn.Url, fn.Name
	comp.ServiceName = fn.ServiceConfig.Service().Elem()
	comp.SourceObject = object.Name
	comp.Artifact = pulumi.String(source.SHA256).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"url":          comp.URL,
		"functionName": comp.FunctionName,
		"serviceName":  comp.ServiceName,
		"sourceObject": comp.SourceObject,
		"artifact":     comp.Artifact,
	}); err != nil {
		return nil, fmt.Errorf("new go function %s: outputs: %w", name, err)
	}
	return comp, nil
}

// runtimePattern is a Go runtime id of Cloud Functions: "go" and the
// major and minor version run together ("go126" is Go 1.26).
var runtimePattern = regexp.MustCompile(`^go1([0-9]{2,})$`)

// CheckRuntime reports an error when runtime ("go126") is not a Go
// runtime id or is older than the go directive of the go.mod at gomod,
// which Cloud Build would refuse to compile.
func CheckRuntime(runtime, gomod string) error {
	m := runtimePattern.FindStringSubmatch(runtime)
	if m == nil {
		return fmt.Errorf("runtime %q is not a Go runtime id such as go126", runtime)
	}
	data, err := os.ReadFile(gomod)
	if err != nil {
		return fmt.Errorf("check the runtime: %w", err)
	}
	f, err := modfile.ParseLax(gomod, data, nil)
	if err != nil {
		return fmt.Errorf("check the runtime: %w", err)
	}
	if f.Go == nil {
		return fmt.Errorf("check the runtime: %s has no go directive", gomod)
	}
	var major, minor int
	if _, err := fmt.Sscanf(f.Go.Version, "%d.%d", &major, &minor); err != nil || major != 1 {
		return fmt.Errorf("check the runtime: %s: go directive %q is not 1.N", gomod, f.Go.Version)
	}
	have, _ := strconv.Atoi(m[1])
	if have < minor {
		return fmt.Errorf("runtime %s is Go 1.%d, older than the go %s of %s: use go1%d or later", runtime, have, f.Go.Version, gomod, minor)
	}
	return nil
}
