package main

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// mockAccount is the AWS account the mocks pretend to deploy into.
const mockAccount = "123456789012"

// mockProjectNumber is the number of the Google Cloud project the mocks
// pretend to deploy into, which workload identity pool names carry.
const mockProjectNumber = "314159265358"

// recorded is one resource registration the mocks saw.
type recorded struct {
	Type    string
	Name    string
	Custom  bool
	Parent  string // the parent's URN
	Inputs  map[string]any
	Outputs map[string]any
	ID      string
	// SecretInputs are the top-level inputs that arrived as secrets.
	SecretInputs map[string]bool
	// Dependencies are the URNs the resource depends on explicitly or
	// through its inputs.
	Dependencies []string
	// At is when the registration reached the mocks.
	At time.Time
	// Aliases are the registration's alias specs.
	Aliases []*pulumirpc.Alias
}

// mocks answers resource registrations like the real providers would,
// computing the outputs that depend on the cloud (ARNs, URLs, ids), and
// records every registration for the tests to inspect.
type mocks struct {
	awsRegion  string
	gcpProject string
	// awsPartition is the deployer's ARN's partition; "" means "aws".
	awsPartition string
	// generation plays the clouds' unique ids: a service account's unique
	// id changes with it, as it does when a destroyed stack is deployed
	// again.
	generation int

	mu        sync.Mutex
	resources []recorded
}

// NewResource returns realistic outputs for each resource type the stack
// uses. An unknown custom type fails the run, so a new resource gets its
// outputs here instead of passing unchecked.
func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	outs := args.Inputs.Copy()
	in := plain(args.Inputs)
	str := func(key string) string { s, _ := in[key].(string); return s }
	set := func(key string, v any) { outs[resource.PropertyKey(key)] = resource.NewPropertyValue(v) }
	var id string
	switch args.TypeToken {
	case "crossfaas:gcp:Labeler", "crossfaas:gcp:PrivateLink", "crossfaas:aws:GoLambda", "crossfaas:gcp:GoFunction", "crossfaas:aws:HTTPAPI", "crossfaas:aws:Proxy", "crossfaas:aws:Sleuth", "crossfaas:aws:Uploads":
		id = ""
	case "aws:s3/bucketV2:BucketV2":
		id = str("bucket")
		set("arn", "arn:aws:s3:::"+id)
		set("bucketDomainName", id+".s3.amazonaws.com")
		set("bucketRegionalDomainName", id+".s3."+m.awsRegion+".amazonaws.com")
		set("region", m.awsRegion)
		set("hostedZoneId", "Z3AQBSTGFYJSTF")
	case "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
		"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
		"aws:s3/bucketVersioningV2:BucketVersioningV2", "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
		"aws:s3/bucketPolicy:BucketPolicy", "aws:s3/bucketNotification:BucketNotification":
		id = str("bucket")
	case "aws:cloudwatch/logGroup:LogGroup":
		id = str("name")
		set("arn", fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", m.awsRegion, mockAccount, id))
	case "aws:iam/role:Role":
		id = str("name")
		set("arn", fmt.Sprintf("arn:aws:iam::%s:role/%s", mockAccount, id))
		set("uniqueId", "AROA"+strings.ToUpper(shortHash(id, 17)))
	case "aws:iam/rolePolicy:RolePolicy":
		id = str("role") + ":" + str("name")
	case "aws:lambda/function:Function":
		id = str("name")
		arn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", m.awsRegion, mockAccount, id)
		set("arn", arn)
		set("qualifiedArn", arn+":$LATEST")
		set("invokeArn", fmt.Sprintf("arn:aws:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations", m.awsRegion, arn))
		set("version", "$LATEST")
	case "aws:lambda/permission:Permission":
		id = "terraform-" + shortHash(args.Name, 26)
		set("statementId", id)
	case "aws:apigatewayv2/api:Api":
		id = shortHash(args.Name, 10)
		set("apiEndpoint", fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com", id, m.awsRegion))
		set("executionArn", fmt.Sprintf("arn:aws:execute-api:%s:%s:%s", m.awsRegion, mockAccount, id))
	case "aws:apigatewayv2/stage:Stage":
		id = str("name")
		apiID := str("apiId")
		set("executionArn", fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s", m.awsRegion, mockAccount, apiID, id))
		// The provider's invoke_url of the $default stage ends in "/".
		set("invokeUrl", fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com/", apiID, m.awsRegion))
	case "aws:apigatewayv2/integration:Integration":
		id = shortHash(args.Name, 7)
	case "aws:apigatewayv2/route:Route":
		id = shortHash(args.Name, 7)
	case "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig":
		id = str("functionName")
	case "aws:sns/topic:Topic":
		arn := fmt.Sprintf("arn:aws:sns:%s:%s:%s", m.awsRegion, mockAccount, str("name"))
		id = arn
		set("arn", arn)
	case "aws:sns/topicSubscription:TopicSubscription":
		arn := str("topic") + ":" + shortHash(args.Name, 8) + "-" + shortHash(args.Name+"/", 4)
		id = arn
		set("arn", arn)
		set("ownerId", mockAccount)
	case "aws:sqs/queue:Queue":
		id = fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", m.awsRegion, mockAccount, str("name"))
		set("url", id)
		set("arn", fmt.Sprintf("arn:aws:sqs:%s:%s:%s", m.awsRegion, mockAccount, str("name")))
	case "aws:sqs/queuePolicy:QueuePolicy":
		id = str("queueUrl")
	case "aws:dynamodb/table:Table":
		id = str("name")
		set("arn", fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", m.awsRegion, mockAccount, id))
	case "aws:ssm/parameter:Parameter":
		id = str("name")
		// Hierarchical names start with "/", which the ARN keeps.
		set("arn", fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", m.awsRegion, mockAccount, id))
		set("version", 1)
	case "aws:lambda/invocation:Invocation":
		// The provider invokes the function and keeps its answer.
		id = str("functionName") + "_" + shortHash(str("input"), 8)
		set("result", `{"action":"create","deleted":[]}`)
	case "aws:rekognition/collection:Collection":
		id = str("collectionId")
		set("arn", fmt.Sprintf("arn:aws:rekognition:%s:%s:collection/%s", m.awsRegion, mockAccount, id))
		set("faceModelVersion", "7.0")
	case "gcp:projects/service:Service":
		id = str("project") + "/" + str("service")
	case "gcp:storage/bucket:Bucket":
		id = str("name")
		set("url", "gs://"+id)
		set("selfLink", "https://www.googleapis.com/storage/v1/b/"+id)
	case "gcp:storage/bucketObject:BucketObject":
		id = str("bucket") + "-" + str("name")
		set("generation", 1733140000000000+m.generation)
		set("outputName", str("name"))
		set("mediaLink", "https://storage.googleapis.com/download/storage/v1/b/"+str("bucket")+"/o/"+str("name")+"?alt=media")
	case "gcp:serviceaccount/account:Account":
		email := fmt.Sprintf("%s@%s.iam.gserviceaccount.com", str("accountId"), str("project"))
		id = "projects/" + str("project") + "/serviceAccounts/" + email
		set("email", email)
		set("member", "serviceAccount:"+email)
		set("name", id)
		set("uniqueId", "1"+numericHash(fmt.Sprintf("%s#%d", email, m.generation), 20))
	case "gcp:serviceaccount/iAMMember:IAMMember":
		id = str("serviceAccountId") + "/" + str("role") + "/" + str("member")
		set("etag", "BwY"+shortHash(id, 9))
	case "gcp:projects/iAMMember:IAMMember":
		id = str("project") + "/" + str("role") + "/" + str("member")
		set("etag", "BwY"+shortHash(id, 9))
	case "gcp:iam/workloadIdentityPool:WorkloadIdentityPool":
		id = "projects/" + str("project") + "/locations/global/workloadIdentityPools/" + str("workloadIdentityPoolId")
		set("name", "projects/"+mockProjectNumber+"/locations/global/workloadIdentityPools/"+str("workloadIdentityPoolId"))
		set("state", "ACTIVE")
	case "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
		pool := "projects/" + mockProjectNumber + "/locations/global/workloadIdentityPools/" + str("workloadIdentityPoolId")
		id = "projects/" + str("project") + "/locations/global/workloadIdentityPools/" + str("workloadIdentityPoolId") + "/providers/" + str("workloadIdentityPoolProviderId")
		set("name", pool+"/providers/"+str("workloadIdentityPoolProviderId"))
		set("state", "ACTIVE")
	case "gcp:cloudfunctionsv2/function:Function":
		name, region, project := str("name"), str("location"), str("project")
		id = fmt.Sprintf("projects/%s/locations/%s/functions/%s", project, region, name)
		set("url", fmt.Sprintf("https://%s-%s.cloudfunctions.net/%s", region, project, name))
		set("state", "ACTIVE")
		sc := args.Inputs["serviceConfig"].ObjectValue().Copy()
		sc["service"] = resource.NewProperty(fmt.Sprintf("projects/%s/locations/%s/services/%s", project, region, name))
		sc["uri"] = resource.NewProperty(fmt.Sprintf("https://%s-%s-uc.a.run.app", name, shortHash(name, 10)))
		outs["serviceConfig"] = resource.NewObjectProperty(sc)
	case "gcp:cloudrunv2/serviceIamMember:ServiceIamMember":
		id = str("name") + "/" + str("role") + "/" + str("member")
		set("etag", "BwY"+shortHash(id, 9))
	default:
		return "", nil, fmt.Errorf("mocks: no outputs for resource type %s (%s): add it to mocks.NewResource", args.TypeToken, args.Name)
	}

	secrets := map[string]bool{}
	for k, v := range args.Inputs {
		if v.ContainsSecrets() {
			secrets[string(k)] = true
		}
	}
	m.mu.Lock()
	m.resources = append(m.resources, recorded{
		Type:         args.TypeToken,
		Name:         args.Name,
		Custom:       args.Custom,
		Parent:       args.RegisterRPC.GetParent(),
		Inputs:       in,
		Outputs:      plain(outs),
		ID:           id,
		SecretInputs: secrets,
		Dependencies: args.RegisterRPC.GetDependencies(),
		At:           time.Now(),
		Aliases:      args.RegisterRPC.GetAliases(),
	})
	m.mu.Unlock()
	return id, outs, nil
}

// Call answers the provider functions the stack calls: the AWS account and
// region it deploys to. Any other call fails the run.
func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	switch args.Token {
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": mockAccount,
			"arn":       "arn:" + cmp.Or(m.awsPartition, "aws") + ":iam::" + mockAccount + ":user/deployer",
			"id":        mockAccount,
			"userId":    "AIDA" + strings.ToUpper(shortHash("deployer", 17)),
		}), nil
	case "aws:index/getRegion:getRegion":
		return resource.NewPropertyMapFromMap(map[string]any{
			"name":        m.awsRegion,
			"id":          m.awsRegion,
			"description": "mock region " + m.awsRegion,
			"endpoint":    "ec2." + m.awsRegion + ".amazonaws.com",
		}), nil
	}
	return nil, fmt.Errorf("mocks: unexpected call of %s", args.Token)
}

// all returns the recorded resources of type typ, in registration order.
func (m *mocks) all(typ string) []recorded {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []recorded
	for _, r := range m.resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// one returns the only recorded resource of type typ.
func (m *mocks) one(t *testing.T, typ string) recorded {
	t.Helper()
	rs := m.all(typ)
	if len(rs) != 1 {
		t.Fatalf("registered %d resources of type %s, want 1", len(rs), typ)
	}
	return rs[0]
}

// named returns the recorded resource of type typ whose logical name is
// name.
func (m *mocks) named(t *testing.T, typ, name string) recorded {
	t.Helper()
	for _, r := range m.all(typ) {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no resource %s of type %s registered", name, typ)
	return recorded{}
}

// dependsOn reports whether r depends on the resource named name.
func (r recorded) dependsOn(name string) bool {
	for _, urn := range r.Dependencies {
		if strings.HasSuffix(urn, "::"+name) {
			return true
		}
	}
	return false
}

// snapshot returns every recorded resource.
func (m *mocks) snapshot() []recorded {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.resources)
}

// plain converts a property map to Go values, unwrapping secrets.
func plain(pm resource.PropertyMap) map[string]any {
	return pm.MapRepl(nil, func(v resource.PropertyValue) (any, bool) {
		if v.IsSecret() {
			return v.SecretValue().Element.Mappable(), true
		}
		return nil, false
	})
}

// get follows a dotted path ("serviceConfig.availableMemory") through
// nested maps; it returns nil when a step is missing.
func get(v any, path string) any {
	for _, key := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// numericHash is n decimal digits derived from s.
func numericHash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	digits := make([]byte, n)
	for i := range digits {
		digits[i] = '0' + sum[i%len(sum)]%10
	}
	return string(digits)
}

func shortHash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}
