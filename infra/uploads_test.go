package main

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/functions/inspector"
	"github.com/crossfaas/crossfaas/functions/labeler"
)

// Resource types of the uploads pipeline.
const (
	typeUploads        = "crossfaas:aws:Uploads"
	typeBucketPolicy   = "aws:s3/bucketPolicy:BucketPolicy"
	typeNotification   = "aws:s3/bucketNotification:BucketNotification"
	typePublicBlock    = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
	typeEncryption     = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
	typeVersioning     = "aws:s3/bucketVersioningV2:BucketVersioningV2"
	typeLifecycle      = "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2"
	typeOwnership      = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
	uploadsBucket      = "crossfaas-dev-uploads-" + mockAccount
	uploadsBucketArn   = "arn:aws:s3:::" + uploadsBucket
	inspectorRoleName  = "crossfaas-dev-uploads-inspector"
	uploadsAdminRole   = "arn:aws:iam::" + mockAccount + ":role/crossfaas-dev-uploads-admin"
	uploadsFailedQueue = "arn:aws:sqs:us-east-1:" + mockAccount + ":crossfaas-dev-uploads-failed"
)

// policyStatement is a statement of a bucket policy.
type policyStatement struct {
	Sid       string
	Effect    string
	Principal any
	Action    any
	Resource  any
	Condition map[string]map[string]any
}

func TestUploadsBucketIsPrivate(t *testing.T) {
	run := mustRunStack(t, "dev", testConfig(), fixtures(fixtureArtifacts(t, "l", "p")))
	m := run.mocks
	bucket := m.one(t, typeBucketV2)
	if bucket.Inputs["bucket"] != uploadsBucket || bucket.Inputs["forceDestroy"] == true {
		t.Errorf("bucket = %v, want %s kept on destroy", bucket.Inputs, uploadsBucket)
	}
	block := m.one(t, typePublicBlock)
	for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		if block.Inputs[k] != true {
			t.Errorf("public access block %s = %v, want true", k, block.Inputs[k])
		}
	}
	if got := get(m.one(t, typeEncryption).Inputs["rules"].([]any)[0], "applyServerSideEncryptionByDefault.sseAlgorithm"); got != "AES256" {
		t.Errorf("default encryption = %v, want AES256", got)
	}
	if got := get(m.one(t, typeVersioning).Inputs, "versioningConfiguration.status"); got != "Enabled" {
		t.Errorf("versioning = %v, want Enabled (versions identify uploads and keep what was moved)", got)
	}
	if got := get(m.one(t, typeOwnership).Inputs, "rule.objectOwnership"); got != "BucketOwnerEnforced" {
		t.Errorf("object ownership = %v, want BucketOwnerEnforced (no ACLs)", got)
	}
	rules := m.one(t, typeLifecycle).Inputs["rules"].([]any)
	rule := rules[0]
	if get(rule, "noncurrentVersionExpiration.noncurrentDays") != float64(30) || get(rule, "status") != "Enabled" {
		t.Errorf("lifecycle rule = %v, want noncurrent versions expired after 30 days", rule)
	}
	for _, r := range rules {
		if exp := get(r, "expiration"); exp != nil || len(rules) != 1 {
			t.Errorf("lifecycle rules = %v, want one that never expires current objects (quarantined copies stay until the admin deletes them)", rules)
		}
	}
	for _, typ := range []string{typePublicBlock, typeEncryption, typeVersioning, typeLifecycle, typeOwnership, typeBucketPolicy, typeNotification} {
		if got := m.one(t, typ).Inputs["bucket"]; got != uploadsBucket {
			t.Errorf("%s is on bucket %v, want %s", typ, got, uploadsBucket)
		}
	}

	var doc struct{ Statement []map[string]any }
	policy := m.one(t, typeBucketPolicy)
	if err := json.Unmarshal([]byte(policy.Inputs["policy"].(string)), &doc); err != nil {
		t.Fatal(err)
	}
	if !policy.dependsOn("uploads-public-access-block") {
		t.Error("the bucket policy does not wait for the public access block")
	}
	want := []policyStatement{
		{
			Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "s3:*",
			Resource:  []any{uploadsBucketArn, uploadsBucketArn + "/*"},
			Condition: map[string]map[string]any{"Bool": {"aws:SecureTransport": "false"}},
		},
		{
			Sid: "QuarantineReadableOnlyByAdmin", Effect: "Deny", Principal: "*", Action: []any{"s3:GetObject", "s3:GetObjectVersion"},
			Resource:  uploadsBucketArn + "/quarantine/*",
			Condition: map[string]map[string]any{"ArnNotEquals": {"aws:PrincipalArn": uploadsAdminRole}},
		},
	}
	var wantDoc []map[string]any
	json.Unmarshal([]byte(mustJSON(t, want)), &wantDoc)
	if !reflect.DeepEqual(doc.Statement, wantDoc) {
		t.Errorf("bucket policy statements = %v, want %v", doc.Statement, wantDoc)
	}
	if run.outputs["uploadsAdminRoleArn"] != uploadsAdminRole {
		t.Errorf("output uploadsAdminRoleArn = %v, want %s", run.outputs["uploadsAdminRoleArn"], uploadsAdminRole)
	}
	trust := m.named(t, typeRole, "uploads-admin").Inputs["assumeRolePolicy"].(string)
	if !strings.Contains(trust, `"AWS":"arn:aws:iam::`+mockAccount+`:root"`) {
		t.Errorf("admin role trust = %s, want the account", trust)
	}
	admin := parsePolicy(t, m.named(t, typeRolePolicy, "uploads-admin-policy").Inputs["policy"].(string))
	if got := admin["s3:GetObject"]; !slices.Equal(got, []string{uploadsBucketArn + "/quarantine/*"}) {
		t.Errorf("admin may read %v, want quarantine/ only", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUploadsNotificationOnlyForIncoming(t *testing.T) {
	run := mustRunStack(t, "dev", testConfig(), fixtures(fixtureArtifacts(t, "l", "p")))
	m := run.mocks
	n := m.one(t, typeNotification)
	fns, _ := n.Inputs["lambdaFunctions"].([]any)
	inspectorFn := m.named(t, typeLambda, "uploads-inspector-function")
	if len(fns) != 1 || n.Inputs["queues"] != nil || n.Inputs["topics"] != nil {
		t.Fatalf("notification = %v, want one Lambda target", n.Inputs)
	}
	f := fns[0]
	if get(f, "filterPrefix") != "incoming/" || get(f, "filterSuffix") != nil || get(f, "lambdaFunctionArn") != inspectorFn.Outputs["arn"] {
		t.Errorf("notification target = %v, want the inspector for incoming/ only", f)
	}
	if events := get(f, "events"); !slices.Equal(policyStrings(t, events), []string{"s3:ObjectCreated:*"}) {
		t.Errorf("notification events = %v, want s3:ObjectCreated:*", events)
	}
	perm := m.named(t, "aws:lambda/permission:Permission", "uploads-s3-permission")
	if perm.Inputs["principal"] != "s3.amazonaws.com" || perm.Inputs["sourceArn"] != uploadsBucketArn || perm.Inputs["sourceAccount"] != mockAccount ||
		perm.Inputs["function"] != inspectorRoleName {
		t.Errorf("invoke permission = %v, want S3 for this bucket and account", perm.Inputs)
	}
	if !n.dependsOn("uploads-s3-permission") {
		t.Error("the notification does not wait for the invoke permission")
	}
}

// TestUploadsInspectorPermissions: the inspector's role acts on its
// prefixes only, and lists the bucket (names, for 404s).
func TestUploadsInspectorPermissions(t *testing.T) {
	run := mustRunStack(t, "dev", testConfig(), fixtures(fixtureArtifacts(t, "l", "p")))
	perms := parsePolicy(t, run.mocks.named(t, typeRolePolicy, "uploads-inspector-policy").Inputs["policy"].(string))
	under := func(prefixes ...string) []string {
		var out []string
		for _, p := range prefixes {
			out = append(out, uploadsBucketArn+"/"+p+"*")
		}
		slices.Sort(out)
		return out
	}
	want := map[string][]string{
		"s3:GetObject":               under("incoming/", "results/"),
		"s3:GetObjectVersion":        under("incoming/"),
		"s3:GetObjectTagging":        under("incoming/"),
		"s3:GetObjectVersionTagging": under("incoming/"),
		"s3:PutObjectTagging":        under("incoming/", "public/", "quarantine/"),
		"s3:PutObjectVersionTagging": under("incoming/"),
		"s3:DeleteObject":            under("incoming/"),
		"s3:DeleteObjectVersion":     under("incoming/"),
		"s3:PutObject":               under("public/", "quarantine/", "results/"),
		"s3:ListBucket":              {uploadsBucketArn},
		"sqs:SendMessage":            {uploadsFailedQueue},
		"logs:CreateLogStream":       {"arn:aws:logs:us-east-1:" + mockAccount + ":log-group:/aws/lambda/" + inspectorRoleName + ":*"},
		"logs:PutLogEvents":          {"arn:aws:logs:us-east-1:" + mockAccount + ":log-group:/aws/lambda/" + inspectorRoleName + ":*"},
	}
	if !maps.EqualFunc(perms, want, slices.Equal) {
		t.Errorf("inspector permissions =\n%v\nwant\n%v", perms, want)
	}
	for _, r := range perms["s3:GetObject"] {
		if strings.Contains(r, "quarantine") {
			t.Error("the inspector may read quarantine/")
		}
	}
}

// TestUploadsInspectorDeliveries: S3's asynchronous invocations are
// retried twice, then the event goes to the failed queue.
func TestUploadsInspectorDeliveries(t *testing.T) {
	run := mustRunStack(t, "dev", testConfig(), fixtures(fixtureArtifacts(t, "l", "p")))
	m := run.mocks
	c := m.named(t, typeInvokeConfig, "uploads-invoke-config")
	if c.Inputs["functionName"] != inspectorRoleName || c.Inputs["maximumRetryAttempts"] != float64(2) ||
		get(c.Inputs, "destinationConfig.onFailure.destination") != uploadsFailedQueue {
		t.Errorf("invoke config = %v, want 2 retries then the failed queue", c.Inputs)
	}
	q := m.named(t, "aws:sqs/queue:Queue", "uploads-failed")
	if q.Inputs["messageRetentionSeconds"] != float64(14*24*3600) || q.Inputs["sqsManagedSseEnabled"] != true {
		t.Errorf("failed queue = %v, want 14 days, encrypted", q.Inputs)
	}
	if !c.dependsOn("uploads-inspector-policy") {
		t.Error("the invoke config does not wait for the role that may send to the queue")
	}
	fn := m.named(t, typeLambda, "uploads-inspector-function")
	if fn.Inputs["memorySize"] != float64(256) || fn.Inputs["architectures"].([]any)[0] != "arm64" || fn.Inputs["runtime"] != "provided.al2023" {
		t.Errorf("inspector = memory %v, %v, %v; want 256 MB arm64 provided.al2023", fn.Inputs["memorySize"], fn.Inputs["architectures"], fn.Inputs["runtime"])
	}
	if fn.Inputs["name"] != inspectorRoleName || !fn.dependsOn("uploads-inspector-policy") {
		t.Errorf("inspector name = %v", fn.Inputs["name"])
	}
	if m.one(t, typeUploads).Parent == "" {
		t.Error("the uploads component has no parent")
	}
	for _, r := range m.snapshot() {
		if strings.HasPrefix(r.Name, "uploads-") && !strings.HasSuffix(r.Parent, "crossfaas:aws:Uploads::uploads") &&
			!strings.HasSuffix(r.Parent, "crossfaas:aws:Uploads$crossfaas:aws:GoLambda::uploads-inspector") {
			t.Errorf("%s %s is not a child of the uploads component (parent %s)", r.Type, r.Name, r.Parent)
		}
	}
}

// TestUploadsSettingsReachTheFunctions: crossfaas:uploadMaxMiB,
// labelLanguages and safeSearchAction configure the inspector and the
// labeler, and the labeler's account may translate only when languages
// are set.
func TestUploadsSettingsReachTheFunctions(t *testing.T) {
	cfg := testConfig()
	cfg["crossfaas:uploadMaxMiB"] = "4"
	cfg["crossfaas:labelLanguages"] = "es,fr,de"
	cfg["crossfaas:safeSearchAction"] = "blur"
	run := mustRunStack(t, "dev", cfg, fixtures(fixtureArtifacts(t, "l", "p")))
	m := run.mocks
	env, _ := get(m.named(t, typeLambda, "uploads-inspector-function").Inputs, "environment.variables").(map[string]any)
	proxyEnv, _ := get(m.named(t, typeLambda, "proxy-function").Inputs, "environment.variables").(map[string]any)
	wantEnv := map[string]any{
		inspector.EnvLabelerURL:       proxyEnv["LABELER_URL"],
		inspector.EnvCredentialConfig: proxyEnv["LABELER_CREDENTIAL_CONFIG"],
		inspector.EnvMaxBytes:         "4194304",
		inspector.EnvLanguages:        "es,fr,de",
		inspector.EnvAction:           "blur",
	}
	if !maps.Equal(env, wantEnv) || proxyEnv["LABELER_CREDENTIAL_CONFIG"] == nil {
		t.Errorf("inspector environment = %v, want %v", env, wantEnv)
	}
	labelerEnv := get(m.one(t, typeFunction).Inputs, "serviceConfig.environmentVariables")
	if want := map[string]any{"GOOGLE_CLOUD_PROJECT": "test-project-123", "LABELER_MAX_IMAGE_BYTES": "4194304", "LABELER_LANGUAGES": "es,fr,de"}; !maps.Equal(labelerEnv.(map[string]any), want) {
		t.Errorf("labeler environment = %v, want %v", labelerEnv, want)
	}
	runtime := m.named(t, typeAccount, "labeler-runtime").Outputs["member"]
	var runtimeRoles []string
	for _, b := range m.all(typeProjectIAMMember) {
		if b.Inputs["member"] == runtime {
			runtimeRoles = append(runtimeRoles, b.Inputs["role"].(string))
		}
	}
	if !slices.Equal(runtimeRoles, []string{"roles/cloudtranslate.user"}) {
		t.Errorf("labeler runtime roles = %v, want roles/cloudtranslate.user only", runtimeRoles)
	}
	if !m.one(t, typeFunction).dependsOn("labeler-runtime-cloudtranslate-user") {
		t.Error("the labeler does not wait for its translation role")
	}
	var apis []string
	for _, s := range m.all(typeAPIService) {
		apis = append(apis, s.Inputs["service"].(string))
	}
	if !slices.Contains(apis, "translate.googleapis.com") {
		t.Errorf("enabled APIs %v lack translate.googleapis.com", apis)
	}

	// Public labeler: no credential configuration for the inspector either.
	cfg["crossfaas:labelerAccess"] = "public"
	run = mustRunStack(t, "dev", cfg, fixtures(fixtureArtifacts(t, "l", "p")))
	env, _ = get(run.mocks.named(t, typeLambda, "uploads-inspector-function").Inputs, "environment.variables").(map[string]any)
	if _, ok := env[inspector.EnvCredentialConfig]; ok {
		t.Error("a public labeler's inspector has a credential configuration")
	}
}

func TestLoadConfigUploadsRejects(t *testing.T) {
	tests := []struct{ key, value, want string }{
		{"crossfaas:uploadMaxMiB", "0", "crossfaas:uploadMaxMiB"},
		{"crossfaas:uploadMaxMiB", "20", "crossfaas:uploadMaxMiB"},
		{"crossfaas:labelLanguages", "es,Spanish", `"Spanish" is not a language code`},
		{"crossfaas:labelLanguages", "aa,ab,ac,ad,ae,af,ag,ah,ai,aj,ak", "at most 10"},
		{"crossfaas:safeSearchAction", "delete", "crossfaas:safeSearchAction"},
	}
	for _, tt := range tests {
		cfg := testConfig()
		cfg[tt.key] = tt.value
		if _, err := loadConfig(t, "crossfaas", "dev", cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%q: error %v, want %q", tt.key, tt.value, err, tt.want)
		}
	}
}

// TestLanguagesAgreeWithTheLabeler: what the stack accepts, the labeler
// accepts, and the other way round.
func TestLanguagesAgreeWithTheLabeler(t *testing.T) {
	for _, code := range []string{"es", "fr", "zh-CN", "pt-BR", "sr-Latn", "fil", "Spanish", "e", "es_ES", "zh-Hant-TW", "1a", "es-"} {
		_, err := labeler.ParseLanguages(code)
		if got := languagePattern.MatchString(code); got != (err == nil) {
			t.Errorf("%q: the stack accepts it %v, the labeler %v", code, got, err == nil)
		}
	}
}
