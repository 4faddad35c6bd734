// Command infra is crossfaas's Pulumi program: one stack per stage (dev,
// prod, ...) deploys the labeler Cloud Function on Google Cloud and the
// proxy Lambda behind an API Gateway HTTP API on AWS, wiring the labeler's
// URL into the proxy, and the sleuth SMS bot (POST /sms on the same API).
// Unless crossfaas:labelerAccess is public, only the proxy may invoke the
// labeler: the private link (infra/privatelink) federates the proxy's AWS role
// to a Google service account, with no key anywhere.
//
// It builds the functions itself (internal/build, cached by Go's build
// cache), so no build step comes first. From the repository root:
//
//	pulumi stack select dev           # or: pulumi stack init dev
//	pulumi config set gcp:project <your-gcp-project-id>
//	pulumi config set --secret crossfaas:twilioAccountSid <AC...>
//	pulumi config set --secret crossfaas:twilioAuthToken <token>
//	pulumi preview
//	pulumi up
//	curl "$(pulumi stack output endpoint)?imageUri=gs://cloud-samples-data/vision/label/wakeupcat.jpg"
//
// Stack outputs: endpoint (the public GET /detect URL), labelerUrl,
// smsWebhookUrl (the URL to set as the Twilio number's "A message comes
// in" webhook, HTTP POST), uploadsBucket (put images under incoming/ to
// have them inspected), uploadsAdminRoleArn (the role that alone reads
// quarantine/), uploadsFailedQueueUrl (inspections that failed for good)
// and artifacts (function name to the SHA-256 of what was deployed).
// Pulumi.dev.yaml and Pulumi.prod.yaml list the settings.
package main

import (
	"fmt"
	"os"

	"github.com/crossfaas/crossfaas/infra/uploads"

	"github.com/crossfaas/crossfaas/infra/sleuthbot"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/infra/httpapi"
	"github.com/crossfaas/crossfaas/infra/privatelink"
	"github.com/crossfaas/crossfaas/internal/build"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		_, err := program(ctx, buildArtifacts("", ""))
		return err
	})
}

// Builder produces the deployable artifacts; the program needs "labeler",
// "proxy", "sleuth", "sleuth-request" and "inspector". Tests substitute fixtures for the real build.
type Builder func(ctx *pulumi.Context) ([]gobuild.Artifact, error)

// buildArtifacts returns the Builder the program uses: it builds every
// target of internal/build for the repository at root ("" means the one
// holding Pulumi.yaml), into outDir ("" means <root>/dist). A root is given
// by programs run inline through the Automation API, which Pulumi tells no
// project directory.
func buildArtifacts(root, outDir string) Builder {
	return func(ctx *pulumi.Context) ([]gobuild.Artifact, error) {
		root := root
		if root == "" {
			var err error
			if root, err = repoRoot(ctx); err != nil {
				return nil, fmt.Errorf("build artifacts: %w", err)
			}
		}
		arts, err := build.All(ctx.Context(), gobuild.Options{Root: root, OutDir: outDir})
		if err != nil {
			return nil, fmt.Errorf("build artifacts: %w", err)
		}
		return arts, nil
	}
}

// repoRoot finds the repository root from the project directory Pulumi
// reports (the directory of Pulumi.yaml) or, with a CLI too old to report
// it, from the working directory.
func repoRoot(ctx *pulumi.Context) (string, error) {
	dir := ctx.RootDirectory()
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("find repository root: %w", err)
		}
		dir = wd
	}
	return build.FindRoot(dir)
}

// program is the whole stack: it reads the config, gets the artifacts from
// builder, creates the components and exports d.Outputs().
func program(ctx *pulumi.Context, builder Builder) (*deployment, error) {
	cfg, err := LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	arts, err := builder(ctx)
	if err != nil {
		return nil, err
	}
	d, err := deploy(ctx, cfg, arts)
	if err != nil {
		return nil, err
	}
	for name, value := range d.Outputs() {
		ctx.Export(name, value)
	}
	return d, nil
}

// deployment holds what deploy created.
type deployment struct {
	Labeler *Labeler
	// PrivateLink is nil when the labeler is public.
	PrivateLink *privatelink.Link
	// LabelerURL is the labeler's URL, known once the proxy may call it.
	LabelerURL pulumi.StringOutput
	API        *httpapi.API
	Proxy      *Proxy
	Sleuth     *sleuthbot.Bot
	Uploads    *uploads.Pipeline
	Artifacts  []gobuild.Artifact
}

// deploy creates the stack's components from a valid config and the built
// artifacts.
func deploy(ctx *pulumi.Context, cfg Config, arts []gobuild.Artifact) (*deployment, error) {
	labelerSource, err := findArtifact(arts, "labeler")
	if err != nil {
		return nil, err
	}
	proxyZip, err := findArtifact(arts, "proxy")
	if err != nil {
		return nil, err
	}
	sleuthZip, err := findArtifact(arts, "sleuth")
	if err != nil {
		return nil, err
	}
	sleuthRequestZip, err := findArtifact(arts, "sleuth-request")
	if err != nil {
		return nil, err
	}
	inspectorZip, err := findArtifact(arts, "inspector")
	if err != nil {
		return nil, err
	}

	private := cfg.LabelerAccess == LabelerPrivate
	var extraAPIs []string
	if private {
		extraAPIs = privatelink.APIs
	}
	labeler, err := NewLabeler(ctx, "labeler", &LabelerArgs{
		FunctionName:          cfg.Name("labeler"),
		BucketName:            cfg.SourceBucketName(),
		ServiceAccountID:      boundedName(cfg.Name("labeler"), 30),
		BuildServiceAccountID: boundedName(cfg.Name("labeler-build"), 30),
		Project:               cfg.GCPProject,
		Region:                cfg.GCPRegion,
		Source:                labelerSource,
		Runtime:               cfg.LabelerRuntime,
		Memory:                cfg.LabelerMemory,
		TimeoutSeconds:        cfg.LabelerTimeoutSeconds,
		MaxInstances:          cfg.LabelerMaxInstances,
		MaxImageBytes:         cfg.UploadMaxMiB << 20,
		Languages:             cfg.LabelLanguages,
		Public:                !private,
		ExtraAPIs:             extraAPIs,
		APIWaiter:             newAPIWaiter(ctx, cfg),
		Labels:                cfg.Labels(),
	})
	if err != nil {
		return nil, err
	}

	// The proxy's and the inspector's roles are named like their
	// functions (golambda.New).
	caller, err := aws.GetCallerIdentity(ctx, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("find the AWS account: %w", err)
	}
	// The caller's ARN names the partition (aws, aws-us-gov, aws-cn) that
	// every ARN the stack writes starts with.
	partition, err := privatelink.AWSPartitionOf(caller.Arn)
	if err != nil {
		return nil, fmt.Errorf("find the AWS account: %w", err)
	}
	labelerURL, credentialConfig := labeler.URL, pulumi.StringInput(nil)
	var link *privatelink.Link
	if private {
		link, err = privatelink.New(ctx, "private-link", &privatelink.Args{
			Project:         cfg.GCPProject,
			Prefix:          cfg.Prefix,
			CallerAccountID: boundedName(cfg.Name("caller"), 30),
			AWSAccountID:    caller.AccountId,
			AWSPartition:    partition,
			CallerRoleNames: []string{cfg.Name("proxy"), uploads.InspectorName(cfg.Prefix)},
			Service:         labeler.ServiceName,
			Location:        cfg.GCPRegion,
			ServiceURL:      labeler.URL,
			APIs:            labeler.APIs,
		})
		if err != nil {
			return nil, err
		}
		labelerURL, credentialConfig = link.ServiceURL, link.CredentialConfig
	}

	accessLogDays := 0
	if cfg.APIAccessLogs {
		accessLogDays = cfg.LogRetentionDays
	}
	api, err := httpapi.New(ctx, "api", &httpapi.Args{
		Name:                   cfg.Name("api"),
		AccessLogRetentionDays: accessLogDays,
		ThrottlingBurstLimit:   cfg.APIThrottlingBurst,
		ThrottlingRateLimit:    cfg.APIThrottlingRate,
		Tags:                   cfg.Tags(),
	})
	if err != nil {
		return nil, err
	}

	proxy, err := NewProxy(ctx, "proxy", &ProxyArgs{
		FunctionName:     cfg.Name("proxy"),
		Artifact:         proxyZip,
		API:              api,
		LabelerURL:       labelerURL,
		CredentialConfig: credentialConfig,
		MemoryMB:         cfg.ProxyMemoryMB,
		TimeoutSeconds:   cfg.ProxyTimeoutSeconds,
		LogRetentionDays: cfg.LogRetentionDays,
		Tags:             cfg.Tags(),
	})
	if err != nil {
		return nil, err
	}

	bot, err := sleuthbot.New(ctx, "sleuth", &sleuthbot.Args{
		Prefix:                cfg.Prefix,
		Artifact:              sleuthZip,
		RequestArtifact:       sleuthRequestZip,
		API:                   api,
		TwilioAccountSID:      cfg.TwilioAccountSID,
		TwilioAuthToken:       cfg.TwilioAuthToken,
		AllowedSenders:        cfg.AllowedSenders,
		MatchThreshold:        cfg.MatchThreshold,
		RequestMemoryMB:       cfg.SleuthRequestMemoryMB,
		RequestTimeoutSeconds: cfg.SleuthRequestTimeoutSeconds,
		WorkerMemoryMB:        cfg.SleuthWorkerMemoryMB,
		WorkerTimeoutSeconds:  cfg.SleuthWorkerTimeoutSeconds,
		LogRetentionDays:      cfg.LogRetentionDays,
		Tags:                  cfg.Tags(),
	})
	if err != nil {
		return nil, err
	}
	pipeline, err := uploads.New(ctx, "uploads", &uploads.Args{
		Prefix:           cfg.Prefix,
		BucketName:       cfg.UploadsBucketName(caller.AccountId),
		AccountID:        caller.AccountId,
		Partition:        partition,
		Artifact:         inspectorZip,
		LabelerURL:       labelerURL,
		CredentialConfig: credentialConfig,
		MaxMiB:           cfg.UploadMaxMiB,
		Languages:        cfg.LabelLanguages,
		Action:           cfg.SafeSearchAction,
		LogRetentionDays: cfg.LogRetentionDays,
		Tags:             cfg.Tags(),
	})
	if err != nil {
		return nil, err
	}
	return &deployment{Labeler: labeler, PrivateLink: link, LabelerURL: labelerURL, API: api, Proxy: proxy, Sleuth: bot, Uploads: pipeline, Artifacts: arts}, nil
}

// Outputs returns the stack outputs: endpoint, labelerUrl, smsWebhookUrl,
// uploadsBucket, uploadsAdminRoleArn, uploadsFailedQueueUrl and artifacts.
func (d *deployment) Outputs() pulumi.Map {
	digests := pulumi.StringMap{}
	for _, a := range d.Artifacts {
		digests[a.Name] = pulumi.String(a.SHA256)
	}
	return pulumi.Map{
		"endpoint":              d.Proxy.URL,
		"labelerUrl":            d.LabelerURL,
		"smsWebhookUrl":         d.Sleuth.WebhookURL,
		"uploadsBucket":         d.Uploads.BucketName,
		"uploadsAdminRoleArn":   d.Uploads.AdminRoleArn,
		"uploadsFailedQueueUrl": d.Uploads.FailedQueueURL,
		"artifacts":             digests,
	}
}

// findArtifact returns the artifact called name.
func findArtifact(arts []gobuild.Artifact, name string) (gobuild.Artifact, error) {
	for _, a := range arts {
		if a.Name == name {
			return a, nil
		}
	}
	return gobuild.Artifact{}, fmt.Errorf("find artifact: the build produced no %q artifact", name)
}
