// Package privatelink lets AWS Lambda functions, and nothing else, invoke a
// private Google Cloud Run service (such as a 2nd gen Cloud Function) with
// no key anywhere: New creates a workload identity pool whose AWS provider
// admits only sessions of the given Lambda roles, a caller service account
// those roles may impersonate, the bindings, and the external account
// credential configuration to hand the functions.
package privatelink

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/crossfaas/crossfaas/federation"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/iam"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// APIs are the Google APIs a caller uses to get its ID tokens: Security
// Token Service (the exchange) and IAM Credentials (generateIdToken).
// Enable them in the project (and pass them as Args.APIs) before New.
var APIs = []string{"iamcredentials.googleapis.com", "sts.googleapis.com"}

// awsProviderID is the id of the AWS provider in the pool. Its pool's id
// changes at each re-creation (see workloadPoolID), so a fixed provider id
// never meets a soft-deleted one.
const awsProviderID = "aws-proxy"

// AWSRoleMapping is Google's default attribute.aws_role of an AWS
// provider: an assumed-role ARN without its session name, so that a
// principal set names the role and not one of its sessions.
const AWSRoleMapping = "assertion.arn.contains('assumed-role') ? " +
	"assertion.arn.extract('{account_arn}assumed-role/') + 'assumed-role/' + assertion.arn.extract('assumed-role/{role_name}/') : assertion.arn"

// Args are the inputs of a Link.
type Args struct {
	// Project is the Google Cloud project of the labeler and the pool.
	Project string
	// Prefix starts the pool's id ("<project>-<stack>").
	Prefix string
	// CallerAccountID is the caller service account's id, 6 to 30
	// characters.
	CallerAccountID string
	// AWSAccountID is the account of the callers' roles (from
	// aws.GetCallerIdentity) and CallerRoleNames the roles' names (the
	// proxy's first, then the upload inspector's): the pool provider admits
	// only sessions of these roles, and only their principal sets may
	// impersonate the caller account.
	AWSAccountID    string
	CallerRoleNames []string
	// AWSPartition is the account's partition ("aws", "aws-us-gov",
	// "aws-cn"; see AWSPartitionOf): it starts the roles' ARNs and names
	// the AWS STS endpoint the subject tokens describe. "" means "aws".
	AWSPartition string
	// Service is the full name of the Cloud Run service the Lambdas may
	// invoke, in crossfaas the labeler's
	// ("projects/<p>/locations/<r>/services/<name>"), Location its region
	// and ServiceURL its URL (the audience of the ID tokens).
	Service    pulumi.StringInput
	Location   string
	ServiceURL pulumi.StringInput
	// APIs are the enabled API services, once they answer (Labeler.APIs).
	APIs pulumi.ResourceArrayInput
}

// Link lets the proxy Lambda, and nothing else, invoke the labeler,
// with no key anywhere: a workload identity pool whose AWS provider admits
// only the sessions of the callers' roles (the proxy's and the upload
// inspector's), a caller service account that these roles' principal sets
// may impersonate (roles/iam.workloadIdentityUser),
// and roles/run.invoker on the labeler's Cloud Run service for that account
// alone.
type Link struct {
	pulumi.ResourceState

	// PoolName and ProviderName are the pool's and provider's full names
	// ("projects/<number>/locations/global/workloadIdentityPools/<id>[/providers/<id>]").
	PoolName     pulumi.StringOutput
	ProviderName pulumi.StringOutput
	// CallerEmail is the caller service account's email.
	CallerEmail pulumi.StringOutput
	// CredentialConfig is the proxy's LABELER_CREDENTIAL_CONFIG: Google's
	// external account JSON for AWS, which holds no secret.
	CredentialConfig pulumi.StringOutput
	// ServiceURL is the service's URL, known once the callers may invoke it.
	ServiceURL pulumi.StringOutput
}

// New creates the private link's Google Cloud side under a component of
// type crossfaas:gcp:PrivateLink.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Link, error) {
	if args == nil {
		return nil, errors.New("new private link: args are nil")
	}
	if args.Project == "" || args.Prefix == "" || args.CallerAccountID == "" || args.AWSAccountID == "" || len(args.CallerRoleNames) == 0 ||
		args.Service == nil || args.Location == "" || args.ServiceURL == nil || args.APIs == nil {
		return nil, fmt.Errorf("new private link %s: project, prefix, caller account, AWS account, caller roles and labeler are required", name)
	}
	comp := &Link{}
	if err := ctx.RegisterComponentResource("crossfaas:gcp:PrivateLink", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("new private link %s: %w", name, err)
	}
	partition := args.AWSPartition
	if partition == "" {
		partition = "aws"
	}
	stsSuffix, ok := awsDNSSuffixes[partition]
	if !ok {
		return nil, fmt.Errorf("new private link %s: the AWS partition %q has no AWS STS endpoint Google's workload identity federation can verify (use aws, aws-us-gov or aws-cn, or crossfaas:labelerAccess public)", name, partition)
	}
	parent := pulumi.Parent(comp)
	afterAPIs := pulumi.DependsOnInputs(args.APIs)
	roles := make([]string, len(args.CallerRoleNames))
	for i, name := range args.CallerRoleNames {
		roles[i] = assumedRoleARN(partition, args.AWSAccountID, name)
	}

	caller, err := serviceaccount.NewAccount(ctx, name+"-caller", &serviceaccount.AccountArgs{
		Project:     pulumi.String(args.Project),
		AccountId:   pulumi.String(args.CallerAccountID),
		DisplayName: pulumi.String(boundedName("Invokes the labeler for "+args.Prefix, 100)),
		Description: pulumi.String("Impersonated by the AWS roles " + strings.Join(roles, ", ") + " through workload identity federation"),
	}, parent, afterAPIs)
	if err != nil {
		return nil, fmt.Errorf("new private link %s: caller service account: %w", name, err)
	}

	pool, err := iam.NewWorkloadIdentityPool(ctx, name+"-pool", &iam.WorkloadIdentityPoolArgs{
		Project: pulumi.String(args.Project),
		WorkloadIdentityPoolId: caller.UniqueId.ApplyT(func(id string) string {
			return workloadPoolID(args.Prefix, id)
		}).(pulumi.StringOutput),
		DisplayName: pulumi.String(boundedName(args.Prefix+" proxy", 32)),
		Description: pulumi.String("The proxy's and the upload inspector's AWS roles, federated to call the labeler"),
	}, parent, afterAPIs)
	if err != nil {
		return nil, fmt.Errorf("new private link %s: pool: %w", name, err)
	}

	provider, err := iam.NewWorkloadIdentityPoolProvider(ctx, name+"-aws", &iam.WorkloadIdentityPoolProviderArgs{
		Project:                        pulumi.String(args.Project),
		WorkloadIdentityPoolId:         pool.WorkloadIdentityPoolId,
		WorkloadIdentityPoolProviderId: pulumi.String(awsProviderID),
		DisplayName:                    pulumi.String("AWS " + args.AWSAccountID),
		Description:                    pulumi.String(boundedName("Admits only sessions of "+strings.Join(args.CallerRoleNames, ", "), 256)),
		Aws:                            &iam.WorkloadIdentityPoolProviderAwsArgs{AccountId: pulumi.String(args.AWSAccountID)},
		AttributeMapping: pulumi.StringMap{
			"google.subject":     pulumi.String("assertion.arn"),
			"attribute.aws_role": pulumi.String(AWSRoleMapping),
		},
		AttributeCondition: pulumi.String(rolesCondition(roles)),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("new private link %s: provider: %w", name, err)
	}

	// One binding per role; the first (the proxy's) keeps the name it had
	// before there were more.
	var bindings []pulumi.Resource
	for i, r := range roles {
		bindingName := name + "-workload-identity-user"
		if i > 0 {
			bindingName += "-" + args.CallerRoleNames[i]
		}
		impersonate, err := serviceaccount.NewIAMMember(ctx, bindingName, &serviceaccount.IAMMemberArgs{
			ServiceAccountId: caller.Name,
			Role:             pulumi.String("roles/iam.workloadIdentityUser"),
			Member: pool.Name.ApplyT(func(pool string) string {
				return rolePrincipalSet(pool, r)
			}).(pulumi.StringOutput),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("new private link %s: workload identity user of %s: %w", name, args.CallerRoleNames[i], err)
		}
		bindings = append(bindings, impersonate)
	}

	invoker, err := cloudrunv2.NewServiceIamMember(ctx, name+"-invoker", &cloudrunv2.ServiceIamMemberArgs{
		Project:  pulumi.String(args.Project),
		Location: pulumi.String(args.Location),
		Name:     args.Service,
		Role:     pulumi.String("roles/run.invoker"),
		Member:   caller.Member,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("new private link %s: invoker: %w", name, err)
	}

	comp.PoolName = pool.Name
	comp.ProviderName = provider.Name
	comp.CallerEmail = caller.Email
	comp.CredentialConfig = pulumi.All(provider.Name, caller.Email).ApplyT(func(v []any) string {
		c := federation.NewAWSCredentialConfig(v[0].(string), v[1].(string))
		c.CredentialSource.RegionalCredVerificationURL = federation.RegionalCredVerificationURLFor(stsSuffix)
		return string(c.JSON())
	}).(pulumi.StringOutput)
	// Until both bindings exist the proxy's calls are refused: publish the
	// URL after them.
	waits := []any{args.ServiceURL, invoker.ID()}
	for _, b := range bindings {
		waits = append(waits, b.(*serviceaccount.IAMMember).ID())
	}
	comp.ServiceURL = pulumi.All(waits...).ApplyT(func(v []any) string {
		return v[0].(string)
	}).(pulumi.StringOutput)
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"poolName":     comp.PoolName,
		"providerName": comp.ProviderName,
		"callerEmail":  comp.CallerEmail,
		"serviceUrl":   comp.ServiceURL,
	}); err != nil {
		return nil, fmt.Errorf("new private link %s: outputs: %w", name, err)
	}
	return comp, nil
}

// assumedRoleARN is the ARN AWS STS reports for sessions of a role, without
// the session name: "arn:<partition>:sts::<account>:assumed-role/<role>".
func assumedRoleARN(partition, account, role string) string {
	return "arn:" + partition + ":sts::" + account + ":assumed-role/" + role
}

// awsDNSSuffixes are the DNS suffixes of AWS STS's regional endpoints in
// the partitions the private link supports.
var awsDNSSuffixes = map[string]string{
	"aws":        "amazonaws.com",
	"aws-us-gov": "amazonaws.com",
	"aws-cn":     "amazonaws.com.cn",
}

// AWSPartitionOf returns the partition of an ARN
// ("arn:<partition>:<service>:..."), e.g. the caller identity's.
func AWSPartitionOf(arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 3)
	if len(parts) < 3 || parts[0] != "arn" || parts[1] == "" {
		return "", fmt.Errorf("aws partition: %q is not an ARN", arn)
	}
	return parts[1], nil
}

// rolesCondition is the provider's attribute condition: only sessions of
// the roles ("<assumed-role ARN>/<session>"). The slash keeps a role whose
// name merely starts with the same letters out.
func rolesCondition(roles []string) string {
	parts := make([]string, len(roles))
	for i, role := range roles {
		parts[i] = "assertion.arn.startsWith('" + role + "/')"
	}
	return strings.Join(parts, " || ")
}

// rolePrincipalSet is the principal set of the sessions of role in pool
// ("projects/<number>/locations/global/workloadIdentityPools/<id>"), by the
// attribute.aws_role mapping.
func rolePrincipalSet(pool, role string) string {
	return "principalSet://iam.googleapis.com/" + pool + "/attribute.aws_role/" + role
}

// workloadPoolID returns the pool's id: the prefix, cut to leave room, and
// six hex digits of the caller service account's unique id. Google keeps a
// deleted pool's id for 30 days, during which it cannot be created again;
// the account's unique id is new each time the account is created, so
// after `pulumi destroy` and `pulumi up` the pool gets a new id, while
// updates keep it. Ids have 4 to 32 lower-case letters, digits and hyphens
// and may not start with "gcp-".
func workloadPoolID(prefix, uniqueID string) string {
	sum := sha256.Sum256([]byte(uniqueID))
	suffix := "-" + hex.EncodeToString(sum[:3])
	if strings.HasPrefix(prefix, "gcp-") || prefix == "gcp" {
		prefix = "p-" + prefix
	}
	if max := 32 - len(suffix); len(prefix) > max {
		prefix = prefix[:max]
	}
	return strings.TrimRight(prefix, "-") + suffix
}

// boundedName returns name when it has at most limit characters. A longer
// name is cut and ends in "-" and 8 hex digits of its SHA-256, so two long
// names sharing a start still differ. (infra's config has the same rule
// for the physical names it makes.)
func boundedName(name string, limit int) string {
	if len(name) <= limit {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "-" + hex.EncodeToString(sum[:4])
	return strings.TrimRight(name[:limit-len(suffix)], "-") + suffix
}
