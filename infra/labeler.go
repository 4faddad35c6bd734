package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/infra/gofunction"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// labelerEntryPoint is the name the labeler registers with
// functions.HTTP in functions/labeler.
const labelerEntryPoint = "Detect"

// labelerAPIs are the Google APIs a 2nd gen Go function that calls Cloud
// Vision needs: Cloud Functions deploys through Cloud Build into Artifact
// Registry and runs on Cloud Run, under a service account of its own.
// LabelerArgs.ExtraAPIs adds the private link's.
var labelerAPIs = []string{
	"artifactregistry.googleapis.com",
	"cloudbuild.googleapis.com",
	"cloudfunctions.googleapis.com",
	// The build account's project roles are granted through it.
	"cloudresourcemanager.googleapis.com",
	"iam.googleapis.com",
	"run.googleapis.com",
	"storage.googleapis.com",
	// Translating the uploads' labels (crossfaas:labelLanguages).
	"translate.googleapis.com",
	"vision.googleapis.com",
}

// translationRole lets the labeler's runtime account call Cloud
// Translation (cloudtranslate.generalModels.predict). Cloud Vision needs no
// role: a project's own service account may call it once the API is on.
const translationRole = "roles/cloudtranslate.user"

// LabelerArgs are the inputs of a Labeler.
type LabelerArgs struct {
	// FunctionName, BucketName and ServiceAccountID are physical names,
	// carrying the stack prefix. The bucket name must be globally unique;
	// the account id has 6 to 30 characters.
	FunctionName     string
	BucketName       string
	ServiceAccountID string
	// Project and Region are the Google Cloud project id and region.
	Project string
	Region  string
	// Source is the zip of functions/labeler's source (the "labeler" build
	// artifact); Cloud Build compiles it.
	Source gobuild.Artifact
	// Runtime is the Cloud Functions runtime id, e.g. "go126".
	Runtime string
	// Memory is in Cloud Functions notation, e.g. "256M".
	Memory         string
	TimeoutSeconds int
	MaxInstances   int
	// Public lets anyone invoke the function (allUsers get run.invoker);
	// false leaves invocation to IAM (see PrivateLink).
	Public bool
	// BuildServiceAccountID is the account id (6 to 30 characters) of the
	// service account Cloud Build builds the function as.
	BuildServiceAccountID string
	// ExtraAPIs are enabled with the labeler's own (labelerAPIs).
	ExtraAPIs []string
	// APIWaiter, if not nil, holds back everything that needs the APIs
	// until they answer (see apiready.go).
	APIWaiter *apiWaiter
	// MaxImageBytes is the largest image a POST may carry
	// (LABELER_MAX_IMAGE_BYTES); 0 leaves the labeler's default.
	MaxImageBytes int
	// Languages are the languages the labeler may translate labels into
	// (LABELER_LANGUAGES); when not empty its runtime account gets
	// roles/cloudtranslate.user on the project, and nothing else.
	Languages []string
	Labels    pulumi.StringMap
}

// buildRoles are the project roles of the labeler's build account: what
// Google lists for a custom build service account of a 2nd gen function and
// no more. Google's own Terraform module for 2nd gen functions
// (GoogleCloudPlatform/terraform-google-cloud-functions, README) names
// these three "at a minimum"; the Cloud Functions page "Custom Service
// Account for Cloud Build" names the same, and adds roles/storage.objectAdmin
// for 1st gen builds, which write to their own gcf-sources bucket; the
// broader alternative, roles/cloudbuild.builds.builder, would also let
// the account create and update builds, create and publish to Pub/Sub
// topics and read Cloud Source Repositories (Google's "Cloud Build service
// account" page lists its permissions). The build reads the source
// from the staging bucket Cloud Functions copies it into
// (gcf-v2-sources-<number>-<region>, which does not exist before the first
// function, not the stack's), so the object reader role is granted on the
// project.
//
// The function depends on the grants, so its build starts after they
// exist; IAM may take a minute or two more to apply them on a new project,
// which no API shows: the README's troubleshooting says to run `pulumi up`
// again if that first build is refused.
var buildRoles = []string{
	"roles/artifactregistry.writer", // push the built image to gcf-artifacts
	"roles/logging.logWriter",       // write the build log
	"roles/storage.objectViewer",    // read the function's source
}

// Labeler is the Google Cloud side of labeling: a 2nd gen Cloud Function
// built from source that labels images with Cloud Vision.
type Labeler struct {
	pulumi.ResourceState

	// URL is the function's HTTPS URL.
	URL pulumi.StringOutput
	// FunctionName is the function's name; ServiceName is the full name of
	// the Cloud Run service that runs it
	// ("projects/<p>/locations/<r>/services/<name>").
	FunctionName pulumi.StringOutput
	ServiceName  pulumi.StringOutput
	// ServiceAccountEmail is the identity the function runs as.
	ServiceAccountEmail pulumi.StringOutput
	// SourceObject is the name of the uploaded source zip,
	// "labeler-<sha256>.zip".
	SourceObject pulumi.StringOutput
	// BuildServiceAccountEmail is the identity Cloud Build builds as.
	BuildServiceAccountEmail pulumi.StringOutput
	// APIs are the enabled API services, resolved once they answer: pass
	// them to pulumi.DependsOnInputs.
	APIs pulumi.ResourceArrayOutput
}

// NewLabeler enables the APIs the labeler needs (and waits for them to
// answer) and creates its source bucket and object, its runtime and build
// service accounts with the build account's roles, the function and, when
// args.Public, the public invoker binding.
func NewLabeler(ctx *pulumi.Context, name string, args *LabelerArgs, opts ...pulumi.ResourceOption) (*Labeler, error) {
	if args == nil {
		return nil, errors.New("new labeler: args are nil")
	}
	if args.FunctionName == "" || args.BucketName == "" || args.ServiceAccountID == "" || args.BuildServiceAccountID == "" || args.Project == "" || args.Region == "" {
		return nil, fmt.Errorf("new labeler %s: function, bucket and service account names, project and region are required", name)
	}
	if sum, err := hex.DecodeString(args.Source.SHA256); err != nil || len(sum) != sha256.Size || args.Source.Path == "" {
		return nil, fmt.Errorf("new labeler %s: source artifact %q needs a path and a 64-digit SHA256", name, args.Source.Name)
	}
	comp := &Labeler{}
	if err := ctx.RegisterComponentResource("crossfaas:gcp:Labeler", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("new labeler %s: %w", name, err)
	}
	parent := pulumi.Parent(comp)

	enabled := append(slices.Clone(labelerAPIs), args.ExtraAPIs...)
	apis := make([]pulumi.Resource, 0, len(enabled))
	for _, api := range enabled {
		svc, err := projects.NewService(ctx, name+"-"+strings.TrimSuffix(api, ".googleapis.com"), &projects.ServiceArgs{
			Project: pulumi.String(args.Project),
			Service: pulumi.String(api),
			// Stacks share projects: destroying dev must not switch off
			// an API prod uses.
			DisableOnDestroy:         pulumi.Bool(false),
			DisableDependentServices: pulumi.Bool(false),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("new labeler %s: enable %s: %w", name, api, err)
		}
		apis = append(apis, svc)
	}
	ready := afterAPIsAnswer(ctx, args.APIWaiter, apis, enabled)
	afterAPIs := pulumi.DependsOnInputs(ready)

	bucket, err := storage.NewBucket(ctx, name+"-source", &storage.BucketArgs{
		Name:                     pulumi.String(args.BucketName),
		Project:                  pulumi.String(args.Project),
		Location:                 pulumi.String(strings.ToUpper(args.Region)),
		UniformBucketLevelAccess: pulumi.Bool(true),
		PublicAccessPrevention:   pulumi.String("enforced"),
		ForceDestroy:             pulumi.Bool(true),
		Labels:                   args.Labels,
	}, parent, afterAPIs)
	if err != nil {
		return nil, fmt.Errorf("new labeler %s: source bucket: %w", name, err)
	}

	// Its own identity, with no project roles: the default compute
	// service account would run a public function as a project Editor.
	account, err := serviceaccount.NewAccount(ctx, name+"-runtime", &serviceaccount.AccountArgs{
		Project:     pulumi.String(args.Project),
		AccountId:   pulumi.String(args.ServiceAccountID),
		DisplayName: pulumi.String("Runs the Cloud Function " + args.FunctionName),
	}, parent, afterAPIs)
	if err != nil {
		return nil, fmt.Errorf("new labeler %s: service account: %w", name, err)
	}

	// Cloud Build's own identity for this function, with only the roles a
	// Go function build uses: projects created since mid-2024 no longer
	// give the default build account enough, or any role at all.
	builder, err := serviceaccount.NewAccount(ctx, name+"-build", &serviceaccount.AccountArgs{
		Project:     pulumi.String(args.Project),
		AccountId:   pulumi.String(args.BuildServiceAccountID),
		DisplayName: pulumi.String("Builds the Cloud Function " + args.FunctionName),
	}, parent, afterAPIs)
	if err != nil {
		return nil, fmt.Errorf("new labeler %s: build service account: %w", name, err)
	}
	grants := make([]pulumi.Resource, 0, len(buildRoles))
	for _, role := range buildRoles {
		grant, err := projects.NewIAMMember(ctx, name+"-build-"+strings.TrimPrefix(strings.ReplaceAll(role, ".", "-"), "roles/"), &projects.IAMMemberArgs{
			Project: pulumi.String(args.Project),
			Role:    pulumi.String(role),
			Member:  builder.Member,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("new labeler %s: build role %s: %w", name, role, err)
		}
		grants = append(grants, grant)
	}

	environment := pulumi.StringMap{"GOOGLE_CLOUD_PROJECT": pulumi.String(args.Project)}
	if args.MaxImageBytes > 0 {
		environment["LABELER_MAX_IMAGE_BYTES"] = pulumi.String(strconv.Itoa(args.MaxImageBytes))
	}
	runtimeGrants := []pulumi.Resource{}
	if len(args.Languages) > 0 {
		environment["LABELER_LANGUAGES"] = pulumi.String(strings.Join(args.Languages, ","))
		grant, err := projects.NewIAMMember(ctx, name+"-runtime-cloudtranslate-user", &projects.IAMMemberArgs{
			Project: pulumi.String(args.Project),
			Role:    pulumi.String(translationRole),
			Member:  account.Member,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("new labeler %s: translation role: %w", name, err)
		}
		runtimeGrants = append(runtimeGrants, grant)
	}

	gofn, err := gofunction.New(ctx, name, &gofunction.Args{
		Name:                args.FunctionName,
		Project:             args.Project,
		Region:              args.Region,
		Source:              args.Source,
		EntryPoint:          labelerEntryPoint,
		Runtime:             args.Runtime,
		Bucket:              bucket.Name,
		BuildServiceAccount: builder.Name,
		ServiceAccountEmail: account.Email,
		Description:         "Labels images with Cloud Vision",
		Memory:              args.Memory,
		TimeoutSeconds:      args.TimeoutSeconds,
		MaxInstances:        args.MaxInstances,
		Environment:         environment,
		Labels:              args.Labels,
		FunctionOptions:     []pulumi.ResourceOption{afterAPIs, pulumi.DependsOn(append(grants, runtimeGrants...))},
		FormerParent:        comp,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("new labeler %s: %w", name, err)
	}
	fn, object := gofn.Function, gofn.Object
	service := fn.ServiceConfig.Service().Elem()

	url := fn.Url
	if args.Public {
		// A 2nd gen function is a Cloud Run service: invoking it is
		// run.invoker on that service.
		invoker, err := cloudrunv2.NewServiceIamMember(ctx, name+"-public", &cloudrunv2.ServiceIamMemberArgs{
			Project:  pulumi.String(args.Project),
			Location: pulumi.String(args.Region),
			Name:     service,
			Role:     pulumi.String("roles/run.invoker"),
			Member:   pulumi.String("allUsers"),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("new labeler %s: public invoker: %w", name, err)
		}
		// Until the binding exists every call gets 403: publish the URL
		// after it.
		url = pulumi.All(fn.Url, invoker.ID()).ApplyT(func(v []any) string {
			return v[0].(string)
		}).(pulumi.StringOutput)
	}

	comp.URL = url
	comp.FunctionName = fn.Name
	comp.ServiceName = service
	comp.ServiceAccountEmail = account.Email
	comp.SourceObject = object.Name
	comp.BuildServiceAccountEmail = builder.Email
	comp.APIs = ready
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"url":                      comp.URL,
		"functionName":             comp.FunctionName,
		"serviceName":              comp.ServiceName,
		"serviceAccountEmail":      comp.ServiceAccountEmail,
		"buildServiceAccountEmail": comp.BuildServiceAccountEmail,
		"sourceObject":             comp.SourceObject,
	}); err != nil {
		return nil, fmt.Errorf("new labeler %s: outputs: %w", name, err)
	}
	return comp, nil
}
