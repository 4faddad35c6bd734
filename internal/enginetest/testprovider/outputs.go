package testprovider

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// resourceInfo is what an output rule gets: the resource's inputs, its
// URN (unique per stack, so generated ids differ between stacks) and the
// provider's settings.
type resourceInfo struct {
	urn     string
	now     time.Time
	inputs  resource.PropertyMap
	region  string // aws:region or gcp:region
	project string // gcp:project
	env     Env
}

// str returns the string input key, "" when it is not a known string.
func (r resourceInfo) str(key string) string {
	v, ok := r.inputs[resource.PropertyKey(key)]
	if !ok {
		return ""
	}
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if !v.IsString() {
		return ""
	}
	return v.StringValue()
}

// generated returns n lower-case hex digits standing in for an id the
// cloud generates, stable for the resource's URN.
func (r resourceInfo) generated(n int) string {
	sum := sha256.Sum256([]byte(r.urn))
	return hex.EncodeToString(sum[:])[:n]
}

// project0 returns the resource's project input, or the provider's.
func (r resourceInfo) project0() string {
	if p := r.str("project"); p != "" {
		return p
	}
	return r.project
}

// digits returns n decimal digits derived from s.
func digits(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	var b strings.Builder
	for i := range n {
		b.WriteByte('0' + sum[i%len(sum)]%10)
	}
	return b.String()
}

func (r resourceInfo) arn(service, resourcePart string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, r.region, r.env.account(), resourcePart)
}

// outputRule computes a resource's id and the outputs the cloud adds to
// its inputs.
type outputRule func(r resourceInfo, set func(key string, v resource.PropertyValue)) (id string, err error)

func str(s string) resource.PropertyValue { return resource.NewProperty(s) }

// outputRules has one rule per resource type the program creates.
var outputRules = map[string]outputRule{
	"aws:cloudwatch/logGroup:LogGroup": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		name := r.str("name")
		set("arn", str(r.arn("logs", "log-group:"+name)))
		return name, nil
	},
	"aws:iam/role:Role": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		name := r.str("name")
		set("arn", str(fmt.Sprintf("arn:aws:iam::%s:role/%s", r.env.account(), name)))
		set("uniqueId", str("AROA"+strings.ToUpper(r.generated(17))))
		return name, nil
	},
	"aws:iam/rolePolicy:RolePolicy": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		return r.str("role") + ":" + r.str("name"), nil
	},
	"aws:lambda/function:Function": lambdaFunction,
	"aws:lambda/permission:Permission": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		id := "terraform-" + r.generated(26)
		set("statementId", str(id))
		return id, nil
	},
	"aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": func(r resourceInfo, _ func(string, resource.PropertyValue)) (string, error) {
		return r.str("functionName"), nil
	},
	"aws:apigatewayv2/api:Api": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		id := r.generated(10)
		set("apiEndpoint", str(r.env.apiEndpoint(id, r.region)))
		set("executionArn", str(r.arn("execute-api", id)))
		set("arn", str(fmt.Sprintf("arn:aws:apigateway:%s::/apis/%s", r.region, id)))
		return id, nil
	},
	"aws:apigatewayv2/stage:Stage": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		name, apiID := r.str("name"), r.str("apiId")
		set("executionArn", str(r.arn("execute-api", apiID+"/"+name)))
		// The provider's invoke_url of the $default stage ends in "/".
		set("invokeUrl", str(r.env.apiEndpoint(apiID, r.region)+"/"))
		set("arn", str(fmt.Sprintf("arn:aws:apigateway:%s::/apis/%s/stages/%s", r.region, apiID, name)))
		return name, nil
	},
	"aws:apigatewayv2/integration:Integration": func(r resourceInfo, _ func(string, resource.PropertyValue)) (string, error) {
		return r.generated(7), nil
	},
	"aws:apigatewayv2/route:Route": func(r resourceInfo, _ func(string, resource.PropertyValue)) (string, error) {
		return r.generated(7), nil
	},
	"aws:sns/topic:Topic": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		arn := r.arn("sns", r.str("name"))
		set("arn", str(arn))
		return arn, nil
	},
	"aws:sns/topicSubscription:TopicSubscription": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		g := r.generated(32)
		arn := fmt.Sprintf("%s:%s-%s-%s-%s-%s", r.str("topic"), g[:8], g[8:12], g[12:16], g[16:20], g[20:32])
		set("arn", str(arn))
		set("ownerId", str(r.env.account()))
		return arn, nil
	},
	"aws:sqs/queue:Queue": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		name := r.str("name")
		url := fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", r.region, r.env.account(), name)
		set("url", str(url))
		set("arn", str(r.arn("sqs", name)))
		return url, nil
	},
	"aws:sqs/queuePolicy:QueuePolicy": func(r resourceInfo, _ func(string, resource.PropertyValue)) (string, error) {
		return r.str("queueUrl"), nil
	},
	"aws:dynamodb/table:Table": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		name := r.str("name")
		set("arn", str(r.arn("dynamodb", "table/"+name)))
		return name, nil
	},
	"aws:ssm/parameter:Parameter": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		name := r.str("name")
		// Hierarchical names start with "/", which the ARN keeps.
		set("arn", str(r.arn("ssm", "parameter"+name)))
		set("version", resource.NewProperty(1.0))
		return name, nil
	},
	// The provider invokes the function (with tf.action "create") and
	// keeps its answer; the test provider answers as the cleanup handler
	// does when told to create.
	"aws:lambda/invocation:Invocation": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		set("result", str(`{"action":"create","deleted":[]}`))
		return r.str("functionName") + "_" + r.generated(8), nil
	},
	"aws:s3/bucketV2:BucketV2": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		name := r.str("bucket")
		set("arn", str("arn:aws:s3:::"+name))
		set("bucketDomainName", str(name+".s3.amazonaws.com"))
		set("bucketRegionalDomainName", str(name+".s3."+r.region+".amazonaws.com"))
		set("region", str(r.region))
		set("hostedZoneId", str("Z3AQBSTGFYJSTF"))
		return name, nil
	},
	// The bucket's settings are resources of their own, each named by its
	// bucket.
	"aws:s3/bucketOwnershipControls:BucketOwnershipControls":                                     bucketSetting,
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":                                     bucketSetting,
	"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": bucketSetting,
	"aws:s3/bucketVersioningV2:BucketVersioningV2":                                               bucketSetting,
	"aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2":                       bucketSetting,
	"aws:s3/bucketPolicy:BucketPolicy":                                                           bucketSetting,
	"aws:s3/bucketNotification:BucketNotification":                                               bucketSetting,
	"aws:rekognition/collection:Collection": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		id := r.str("collectionId")
		set("arn", str(r.arn("rekognition", "collection/"+id)))
		set("faceModelVersion", str("7.0"))
		return id, nil
	},
	"gcp:projects/service:Service": func(r resourceInfo, _ func(string, resource.PropertyValue)) (string, error) {
		return r.str("project") + "/" + r.str("service"), nil
	},
	"gcp:storage/bucket:Bucket": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		name := r.str("name")
		set("url", str("gs://"+name))
		set("selfLink", str("https://www.googleapis.com/storage/v1/b/"+name))
		return name, nil
	},
	"gcp:storage/bucketObject:BucketObject": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		bucket, name := r.str("bucket"), r.str("name")
		// Cloud Storage's generation is the upload's time in microseconds.
		set("generation", resource.NewProperty(float64(r.now.UnixMicro())))
		set("outputName", str(name))
		set("mediaLink", str("https://storage.googleapis.com/download/storage/v1/b/"+bucket+"/o/"+name+"?alt=media"))
		set("selfLink", str("https://www.googleapis.com/storage/v1/b/"+bucket+"/o/"+name))
		return bucket + "-" + name, nil
	},
	"gcp:serviceaccount/account:Account": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		project := r.str("project")
		email := fmt.Sprintf("%s@%s.iam.gserviceaccount.com", r.str("accountId"), project)
		set("email", str(email))
		set("member", str("serviceAccount:"+email))
		set("name", str("projects/"+project+"/serviceAccounts/"+email))
		// A new account, even of the same name, gets a new unique id.
		set("uniqueId", str("1"+digits(r.urn+r.now.String(), 20)))
		return "projects/" + project + "/serviceAccounts/" + email, nil
	},
	"gcp:serviceaccount/iAMMember:IAMMember": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		id := r.str("serviceAccountId") + "/" + r.str("role") + "/" + r.str("member")
		set("etag", str("BwY"+r.generated(9)))
		return id, nil
	},
	"gcp:projects/iAMMember:IAMMember": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		id := r.str("project") + "/" + r.str("role") + "/" + r.str("member")
		set("etag", str("BwY"+r.generated(9)))
		return id, nil
	},
	"gcp:iam/workloadIdentityPool:WorkloadIdentityPool": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		pool := r.str("workloadIdentityPoolId")
		set("name", str("projects/"+ProjectNumber+"/locations/global/workloadIdentityPools/"+pool))
		set("state", str("ACTIVE"))
		return "projects/" + r.project0() + "/locations/global/workloadIdentityPools/" + pool, nil
	},
	"gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		pool, provider := r.str("workloadIdentityPoolId"), r.str("workloadIdentityPoolProviderId")
		set("name", str("projects/"+ProjectNumber+"/locations/global/workloadIdentityPools/"+pool+"/providers/"+provider))
		set("state", str("ACTIVE"))
		return "projects/" + r.project0() + "/locations/global/workloadIdentityPools/" + pool + "/providers/" + provider, nil
	},
	"gcp:cloudfunctionsv2/function:Function": cloudFunction,
	"gcp:cloudrunv2/serviceIamMember:ServiceIamMember": func(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
		id := r.str("name") + "/" + r.str("role") + "/" + r.str("member")
		set("etag", str("BwY"+r.generated(9)))
		return id, nil
	},
}

// lambdaFunction computes a Lambda function's ARNs and, from the zip
// itself, codeSha256: what AWS reports for the code it received.
func lambdaFunction(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
	name := r.str("name")
	arn := r.arn("lambda", "function:"+name)
	set("arn", str(arn))
	set("qualifiedArn", str(arn+":$LATEST"))
	invoke := fmt.Sprintf("arn:aws:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations", r.region, arn)
	set("invokeArn", str(invoke))
	set("qualifiedInvokeArn", str(fmt.Sprintf("arn:aws:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations", r.region, arn+":$LATEST")))
	set("version", str("$LATEST"))
	if code, ok := r.inputs["code"]; ok && code.IsArchive() && code.ArchiveValue().Path != "" {
		b, err := os.ReadFile(code.ArchiveValue().Path)
		if err != nil {
			return "", fmt.Errorf("read the function's code: %w", err)
		}
		sum := sha256.Sum256(b)
		set("codeSha256", str(base64.StdEncoding.EncodeToString(sum[:])))
		set("sourceCodeSize", resource.NewProperty(float64(len(b))))
	}
	return name, nil
}

// cloudFunction computes a 2nd gen Cloud Function's URL and the Cloud Run
// service behind it.
func cloudFunction(r resourceInfo, set func(string, resource.PropertyValue)) (string, error) {
	name, region, project := r.str("name"), r.str("location"), r.str("project")
	if project == "" {
		project = r.project
	}
	set("url", str(r.env.functionURL(name, region, project)))
	set("state", str("ACTIVE"))
	set("environment", str("GEN_2"))
	sc := resource.PropertyMap{}
	if v, ok := r.inputs["serviceConfig"]; ok && v.IsObject() {
		sc = v.ObjectValue().Copy()
	}
	sc["service"] = str(fmt.Sprintf("projects/%s/locations/%s/services/%s", project, region, name))
	sc["uri"] = str(fmt.Sprintf("https://%s-%s-uc.a.run.app", name, r.generated(10)))
	set("serviceConfig", resource.NewProperty(sc))
	return fmt.Sprintf("projects/%s/locations/%s/functions/%s", project, region, name), nil
}

// bucketSetting is the id of one of a bucket's settings: the bucket's name.
func bucketSetting(r resourceInfo, _ func(string, resource.PropertyValue)) (string, error) {
	return r.str("bucket"), nil
}

// forceNew lists, per type, the inputs the real provider cannot change in
// place: changing one replaces the resource. Only the properties the
// program sets are listed.
var forceNew = map[string][]string{
	"aws:cloudwatch/logGroup:LogGroup":                               {"name"},
	"aws:iam/role:Role":                                              {"name"},
	"aws:iam/rolePolicy:RolePolicy":                                  {"name", "role"},
	"aws:lambda/function:Function":                                   {"name"},
	"aws:lambda/permission:Permission":                               {"action", "function", "principal", "sourceArn", "statementId"},
	"aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": {"functionName"},
	"aws:apigatewayv2/stage:Stage":                                   {"apiId", "name"},
	"aws:apigatewayv2/integration:Integration":                       {"apiId", "integrationType"},
	"aws:apigatewayv2/route:Route":                                   {"apiId"},
	"aws:sns/topic:Topic":                                            {"name"},
	"aws:sns/topicSubscription:TopicSubscription":                    {"topic", "protocol", "endpoint"},
	"aws:sqs/queue:Queue":                                            {"name"},
	"aws:sqs/queuePolicy:QueuePolicy":                                {"queueUrl"},
	"aws:dynamodb/table:Table":                                       {"name"},
	"aws:ssm/parameter:Parameter":                                    {"name"},
	"aws:rekognition/collection:Collection":                          {"collectionId"},
	"aws:s3/bucketV2:BucketV2":                                       {"bucket"},
	"aws:s3/bucketOwnershipControls:BucketOwnershipControls":         {"bucket"},
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":         {"bucket"},
	"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": {"bucket"},
	"aws:s3/bucketVersioningV2:BucketVersioningV2":                                               {"bucket"},
	"aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2":                       {"bucket"},
	"aws:s3/bucketPolicy:BucketPolicy":                                                           {"bucket"},
	"aws:s3/bucketNotification:BucketNotification":                                               {"bucket"},
	"aws:lambda/invocation:Invocation":                                                           {"functionName"},
	"gcp:projects/service:Service":                                                               {"project", "service"},
	"gcp:storage/bucket:Bucket":                                                                  {"name", "location", "project"},
	"gcp:storage/bucketObject:BucketObject":                                                      {"bucket", "name", "source", "contentType"},
	"gcp:serviceaccount/account:Account":                                                         {"accountId", "project"},
	"gcp:cloudfunctionsv2/function:Function":                                                     {"name", "location", "project"},
	"gcp:cloudrunv2/serviceIamMember:ServiceIamMember":                                           {"project", "location", "name", "role", "member"},
	"gcp:serviceaccount/iAMMember:IAMMember":                                                     {"serviceAccountId", "role", "member", "condition"},
	"gcp:projects/iAMMember:IAMMember":                                                           {"project", "role", "member", "condition"},
	"gcp:iam/workloadIdentityPool:WorkloadIdentityPool":                                          {"project", "workloadIdentityPoolId"},
	"gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":                          {"project", "workloadIdentityPoolId", "workloadIdentityPoolProviderId"},
}

// stableOutputs lists, per type, the generated outputs an update keeps.
var stableOutputs = map[string]map[string]bool{
	"aws:apigatewayv2/api:Api":              {"apiEndpoint": true, "executionArn": true, "arn": true},
	"aws:lambda/permission:Permission":      {"statementId": true},
	"aws:iam/role:Role":                     {"uniqueId": true},
	"gcp:serviceaccount/account:Account":    {"uniqueId": true},
	"gcp:storage/bucketObject:BucketObject": {"generation": true},
}

// outputs returns the id and outputs of a resource of type typ with inputs
// ins: the inputs plus the computed outputs.
func (p *Provider) outputs(typ, urn string, ins resource.PropertyMap) (string, resource.PropertyMap, error) {
	rule, ok := outputRules[typ]
	if !ok {
		return "", nil, fmt.Errorf("the test provider does not model resource type %s", typ)
	}
	outs := ins.Copy()
	r := resourceInfo{urn: urn, inputs: ins, env: p.env, now: time.Now(),
		region: p.setting(p.pkg+":region", ""), project: p.setting("gcp:project", "")}
	id, err := rule(r, func(key string, v resource.PropertyValue) { outs[resource.PropertyKey(key)] = v })
	if err != nil {
		return "", nil, err
	}
	if id == "" {
		return "", nil, fmt.Errorf("%s: no id: a required input is missing", typ)
	}
	return id, outs, nil
}

// invoke answers a data source.
func (p *Provider) invoke(token string, _ resource.PropertyMap) (resource.PropertyMap, error) {
	account := p.env.account()
	region := p.setting("aws:region", "")
	switch token {
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": account,
			"arn":       "arn:aws:iam::" + account + ":user/deployer",
			"id":        account,
			"userId":    "AIDA" + strings.ToUpper(resourceInfo{urn: account}.generated(17)),
		}), nil
	case "aws:index/getRegion:getRegion":
		if region == "" {
			return nil, fmt.Errorf("the provider has no region: set aws:region")
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"name":        region,
			"id":          region,
			"description": "stand-in region " + region,
			"endpoint":    "ec2." + region + ".amazonaws.com",
		}), nil
	}
	return nil, fmt.Errorf("the test provider does not model data source %s", token)
}
