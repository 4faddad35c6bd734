// Package uploads deploys crossfaas's upload inspection with Pulumi: a
// versioned, private S3 bucket whose objects put under incoming/ invoke
// the inspector (a golambda function) that labels them through the
// private link and quarantines, blurs or tags them; a failed-inspections
// queue and an admin role that alone reads quarantine/.
package uploads

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/crossfaas/crossfaas/infra/sleuthbot"

	"github.com/crossfaas/crossfaas/functions/inspector"
	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/infra/golambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Settings of the uploads pipeline that are not stack config.
const (
	// inspectorMemoryMB: a 10 MiB upload peaks at about 45 MiB resident
	// (see the README); 256 MB also buys the CPU share that decoding it
	// takes.
	inspectorMemoryMB = 256
	// inspectorTimeoutSeconds covers the labeler's 25 s and the S3 calls.
	inspectorTimeoutSeconds = 60
	// inspectorMaxEventAgeSeconds: how long Lambda keeps retrying an event
	// it could not run (throttling) before dead-lettering it: 6 hours, the
	// most it allows.
	inspectorMaxEventAgeSeconds = 6 * 60 * 60
	// noncurrentVersionDays: how long a replaced or deleted version is
	// kept, to recover what a user overwrote. It is the bucket's only
	// expiry: current objects never expire, so a quarantined copy
	// (quarantine/<version id>/<name>, a current object of its own key)
	// stays until the admin role deletes it, as do sidecars, per-version
	// records and blurred copies.
	noncurrentVersionDays = 30
)

// Args are the inputs of a Pipeline.
type Args struct {
	// Prefix is "<project>-<stack>"; BucketName the bucket's global name.
	Prefix     string
	BucketName string
	// AccountID is the AWS account the stack deploys to: the admin role
	// trusts it, and S3 may invoke the inspector on its behalf only.
	AccountID string
	// Partition is the account's AWS partition ("aws", "aws-us-gov",
	// "aws-cn"), which starts its ARNs; "" means "aws".
	Partition string
	// Artifact is the inspector's zip (the "inspector" build artifact).
	Artifact gobuild.Artifact
	// LabelerURL is the labeler's URL; CredentialConfig the private link's
	// credential configuration (nil for a public labeler).
	LabelerURL       pulumi.StringInput
	CredentialConfig pulumi.StringInput
	// MaxMiB is the largest upload inspected; Languages the languages of
	// the labels; Action what is done with an unsafe image.
	MaxMiB           int
	Languages        []string
	Action           string
	LogRetentionDays int
	Tags             pulumi.StringMap
}

// Pipeline is the uploads pipeline: a private bucket whose objects created
// under incoming/ invoke the inspector Lambda, which labels them through
// the private link and quarantines, blurs or tags the unsafe ones.
//
// S3 invokes the inspector directly (asynchronously) rather than through
// an SQS queue: Lambda's asynchronous invocation retries a failure twice
// and then sends the on-failure destination (the failed queue) a record
// holding the whole S3 event (bucket, key, version) together with the
// error message and the attempts, where an SQS dead-letter queue would
// keep only the event. Throttled events are retried for up to six hours.
type Pipeline struct {
	pulumi.ResourceState

	// BucketName and BucketArn identify the bucket.
	BucketName pulumi.StringOutput
	BucketArn  pulumi.StringOutput
	// InspectorName is the inspector Lambda's name; its role has the same.
	InspectorName pulumi.StringOutput
	// AdminRoleArn is the role that alone may read quarantine/.
	AdminRoleArn pulumi.StringOutput
	// FailedQueueURL keeps the events whose inspection failed for good.
	FailedQueueURL pulumi.StringOutput
}

// InspectorName is the inspector Lambda's (and its role's) name.
func InspectorName(prefix string) string { return prefix + "-uploads-inspector" }

// New creates the bucket (private, encrypted, versioned, TLS only),
// the admin role, the inspector with its role, its failed queue and its
// invocation settings, and the notification of incoming/.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Pipeline, error) {
	if args == nil {
		return nil, errors.New("new uploads: args are nil")
	}
	if args.Prefix == "" || args.BucketName == "" || args.AccountID == "" || args.LabelerURL == nil || args.MaxMiB <= 0 {
		return nil, fmt.Errorf("new uploads %s: prefix, bucket name, account, labeler URL and size limit are required", name)
	}
	switch args.Action {
	case inspector.ActionQuarantine, inspector.ActionBlur, inspector.ActionTag:
	default:
		return nil, fmt.Errorf("new uploads %s: action %q is not quarantine, blur or tag", name, args.Action)
	}
	comp := &Pipeline{}
	if err := ctx.RegisterComponentResource("crossfaas:aws:Uploads", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("new uploads %s: %w", name, err)
	}
	parent := pulumi.Parent(comp)
	fail := func(what string, err error) (*Pipeline, error) {
		return nil, fmt.Errorf("new uploads %s: %s: %w", name, what, err)
	}

	// The bucket outlives `pulumi destroy` unless emptied first: it holds
	// the users' uploads.
	bucket, err := s3.NewBucketV2(ctx, name+"-bucket", &s3.BucketV2Args{
		Bucket: pulumi.String(args.BucketName),
		Tags:   args.Tags,
	}, parent)
	if err != nil {
		return fail("bucket", err)
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, name+"-ownership", &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, parent); err != nil {
		return fail("ownership controls", err)
	}
	block, err := s3.NewBucketPublicAccessBlock(ctx, name+"-public-access-block", &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return fail("public access block", err)
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name+"-encryption", &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{&s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm: pulumi.String("AES256"),
			},
			BucketKeyEnabled: pulumi.Bool(true),
		}},
	}, parent); err != nil {
		return fail("encryption", err)
	}
	versioning, err := s3.NewBucketVersioningV2(ctx, name+"-versioning", &s3.BucketVersioningV2Args{
		Bucket:                  bucket.ID(),
		VersioningConfiguration: &s3.BucketVersioningV2VersioningConfigurationArgs{Status: pulumi.String("Enabled")},
	}, parent)
	if err != nil {
		return fail("versioning", err)
	}
	if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, name+"-lifecycle", &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketLifecycleConfigurationV2RuleArray{&s3.BucketLifecycleConfigurationV2RuleArgs{
			Id:                             pulumi.String("expire-noncurrent-versions"),
			Status:                         pulumi.String("Enabled"),
			Filter:                         &s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String("")},
			NoncurrentVersionExpiration:    &s3.BucketLifecycleConfigurationV2RuleNoncurrentVersionExpirationArgs{NoncurrentDays: pulumi.Int(noncurrentVersionDays)},
			AbortIncompleteMultipartUpload: &s3.BucketLifecycleConfigurationV2RuleAbortIncompleteMultipartUploadArgs{DaysAfterInitiation: pulumi.Int(7)},
		}},
	}, parent, pulumi.DependsOn([]pulumi.Resource{versioning})); err != nil {
		return fail("lifecycle", err)
	}

	admin, err := newUploadsAdmin(ctx, name, args, bucket.Arn, parent)
	if err != nil {
		return fail("admin role", err)
	}
	if _, err := s3.NewBucketPolicy(ctx, name+"-policy", &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: pulumi.All(bucket.Arn, admin.Arn).ApplyT(func(v []any) (string, error) {
			return uploadsBucketPolicy(v[0].(string), v[1].(string))
		}).(pulumi.StringOutput),
		// S3 refuses a policy while the public access block is being set.
	}, parent, pulumi.DependsOn([]pulumi.Resource{block})); err != nil {
		return fail("bucket policy", err)
	}

	failed, err := sleuthbot.NewQueue(ctx, name+"-failed", args.Prefix+"-uploads-failed", args.Tags, parent)
	if err != nil {
		return fail("failed queue", err)
	}
	fn, err := golambda.New(ctx, name+"-inspector", &golambda.Args{
		Name:             InspectorName(args.Prefix),
		Artifact:         args.Artifact,
		Handler:          "bootstrap",
		MemoryMB:         inspectorMemoryMB,
		TimeoutSeconds:   inspectorTimeoutSeconds,
		LogRetentionDays: args.LogRetentionDays,
		Environment:      inspectorEnvironment(args),
		Statements:       append(inspectorStatements(bucket.Arn), golambda.PolicyStatement{Actions: []string{"sqs:SendMessage"}, Resources: pulumi.StringArray{failed.Arn}}),
		Tags:             args.Tags,
		FormerParent:     comp,
	}, parent)
	if err != nil {
		return fail("inspector", err)
	}
	permission, err := lambda.NewPermission(ctx, name+"-s3-permission", &lambda.PermissionArgs{
		Action:        pulumi.String("lambda:InvokeFunction"),
		Function:      fn.Function.Name,
		Principal:     pulumi.String("s3.amazonaws.com"),
		SourceArn:     bucket.Arn,
		SourceAccount: pulumi.String(args.AccountID),
	}, parent)
	if err != nil {
		return fail("invoke permission", err)
	}
	if _, err := lambda.NewFunctionEventInvokeConfig(ctx, name+"-invoke-config", &lambda.FunctionEventInvokeConfigArgs{
		FunctionName:             fn.Function.Name,
		MaximumRetryAttempts:     pulumi.Int(2),
		MaximumEventAgeInSeconds: pulumi.Int(inspectorMaxEventAgeSeconds),
		DestinationConfig: &lambda.FunctionEventInvokeConfigDestinationConfigArgs{
			OnFailure: &lambda.FunctionEventInvokeConfigDestinationConfigOnFailureArgs{Destination: failed.Arn},
		},
		// Lambda refuses a destination the function's role may not send to.
	}, parent, pulumi.DependsOn([]pulumi.Resource{fn.Policy})); err != nil {
		return fail("invoke config", err)
	}
	if _, err := s3.NewBucketNotification(ctx, name+"-notification", &s3.BucketNotificationArgs{
		Bucket: bucket.ID(),
		LambdaFunctions: s3.BucketNotificationLambdaFunctionArray{&s3.BucketNotificationLambdaFunctionArgs{
			Id:                pulumi.String("inspect-incoming"),
			LambdaFunctionArn: fn.Function.Arn,
			Events:            pulumi.StringArray{pulumi.String("s3:ObjectCreated:*")},
			// Only uploads: what the inspector writes (results/, quarantine/,
			// public/) must never invoke it again.
			FilterPrefix: pulumi.String(inspector.IncomingPrefix),
		}},
		// S3 checks that it may invoke the function when the notification is set.
	}, parent, pulumi.DependsOn([]pulumi.Resource{permission})); err != nil {
		return fail("notification", err)
	}

	comp.BucketName = bucket.Bucket
	comp.BucketArn = bucket.Arn
	comp.InspectorName = fn.Function.Name
	comp.AdminRoleArn = admin.Arn
	comp.FailedQueueURL = failed.Url
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"bucketName":     comp.BucketName,
		"bucketArn":      comp.BucketArn,
		"inspectorName":  comp.InspectorName,
		"adminRoleArn":   comp.AdminRoleArn,
		"failedQueueUrl": comp.FailedQueueURL,
	}); err != nil {
		return fail("outputs", err)
	}
	return comp, nil
}

// inspectorEnvironment is the inspector's configuration.
func inspectorEnvironment(args *Args) pulumi.StringMap {
	env := pulumi.StringMap{
		inspector.EnvLabelerURL: args.LabelerURL,
		inspector.EnvMaxBytes:   pulumi.String(strconv.Itoa(args.MaxMiB << 20)),
		inspector.EnvAction:     pulumi.String(args.Action),
	}
	if len(args.Languages) > 0 {
		env[inspector.EnvLanguages] = pulumi.String(strings.Join(args.Languages, ","))
	}
	if args.CredentialConfig != nil {
		env[inspector.EnvCredentialConfig] = args.CredentialConfig
	}
	return env
}

// inspectorStatements are the inspector's S3 permissions, each on its
// prefix: read, tag and delete uploads under incoming/; read and write
// results/; write quarantine/ and public/ (never read quarantine/). And
// s3:ListBucket on the bucket, without which S3 answers a missing object
// (a sidecar not yet written, a version already moved) with 403 instead of
// 404: it lists names, never contents.
func inspectorStatements(bucketArn pulumi.StringOutput) []golambda.PolicyStatement {
	under := func(prefix string) pulumi.StringArray {
		return pulumi.StringArray{bucketArn.ApplyT(func(arn string) string { return arn + "/" + prefix + "*" }).(pulumi.StringOutput)}
	}
	return []golambda.PolicyStatement{
		{Actions: []string{
			"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging",
			"s3:PutObjectTagging", "s3:PutObjectVersionTagging", "s3:DeleteObject", "s3:DeleteObjectVersion",
		}, Resources: under(inspector.IncomingPrefix)},
		{Actions: []string{"s3:GetObject", "s3:PutObject"}, Resources: under(inspector.ResultsPrefix)},
		{Actions: []string{"s3:PutObject", "s3:PutObjectTagging"}, Resources: under(inspector.QuarantinePrefix)},
		{Actions: []string{"s3:PutObject", "s3:PutObjectTagging"}, Resources: under(inspector.PublicPrefix)},
		{Actions: []string{"s3:ListBucket"}, Resources: pulumi.StringArray{bucketArn}},
	}
}

// newUploadsAdmin creates the role that alone may read quarantine/: any
// principal of the account whose own policy lets it assume the role.
func newUploadsAdmin(ctx *pulumi.Context, name string, args *Args, bucketArn pulumi.StringOutput, parent pulumi.ResourceOption) (*iam.Role, error) {
	trust, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":    "Allow",
			"Principal": map[string]string{"AWS": "arn:" + cmp.Or(args.Partition, "aws") + ":iam::" + args.AccountID + ":root"},
			"Action":    "sts:AssumeRole",
		}},
	})
	roleName := args.Prefix + "-uploads-admin"
	role, err := iam.NewRole(ctx, name+"-admin", &iam.RoleArgs{
		Name:             pulumi.String(roleName),
		Description:      pulumi.String("Reviews the quarantined uploads of " + args.Prefix),
		AssumeRolePolicy: pulumi.String(string(trust)),
		Tags:             args.Tags,
	}, parent)
	if err != nil {
		return nil, err
	}
	quarantine := bucketArn.ApplyT(func(arn string) string { return arn + "/" + inspector.QuarantinePrefix + "*" }).(pulumi.StringOutput)
	if _, err := iam.NewRolePolicy(ctx, name+"-admin-policy", &iam.RolePolicyArgs{
		Name: pulumi.String(roleName),
		Role: role.ID(),
		Policy: golambda.PolicyDocument([]golambda.PolicyStatement{
			{Actions: []string{"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging", "s3:DeleteObject", "s3:DeleteObjectVersion"},
				Resources: pulumi.StringArray{quarantine}},
			{Actions: []string{"s3:ListBucket", "s3:ListBucketVersions"}, Resources: pulumi.StringArray{bucketArn}},
		}),
	}, parent); err != nil {
		return nil, err
	}
	return role, nil
}

// uploadsBucketPolicy denies every request not made over TLS, and every
// read of quarantine/ except the admin role's (a deny that no IAM policy in
// the account can override).
func uploadsBucketPolicy(bucketArn, adminRoleArn string) (string, error) {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{
			{
				"Sid":       "DenyInsecureTransport",
				"Effect":    "Deny",
				"Principal": "*",
				"Action":    "s3:*",
				"Resource":  []string{bucketArn, bucketArn + "/*"},
				"Condition": map[string]any{"Bool": map[string]string{"aws:SecureTransport": "false"}},
			},
			{
				"Sid":       "QuarantineReadableOnlyByAdmin",
				"Effect":    "Deny",
				"Principal": "*",
				"Action":    []string{"s3:GetObject", "s3:GetObjectVersion"},
				"Resource":  bucketArn + "/" + inspector.QuarantinePrefix + "*",
				"Condition": map[string]any{"ArnNotEquals": map[string]string{"aws:PrincipalArn": adminRoleArn}},
			},
		},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("uploads bucket policy: %w", err)
	}
	return string(b), nil
}
