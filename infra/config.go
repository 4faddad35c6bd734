package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// configNamespace is the namespace of crossfaas's own stack settings
// ("crossfaas:labelerMemory" and so on).
const configNamespace = "crossfaas"

// Defaults of the crossfaas:* settings, applied when a stack does not set
// them. The Pulumi.<stack>.yaml files document every key.
const (
	// defaultLabelerRuntime must be at least the go directive of
	// functions/labeler/go.mod (go 1.26.0), or Cloud Build refuses the
	// source; TestDefaultLabelerRuntimeCoversGoMod keeps the two in step.
	defaultLabelerRuntime        = "go126"
	defaultLabelerMemory         = "256M"
	defaultLabelerTimeoutSeconds = 60
	defaultLabelerMaxInstances   = 5
	defaultProxyMemoryMB         = 128
	defaultProxyTimeoutSeconds   = 10
	defaultLogRetentionDays      = 14
	defaultAPIAccessLogs         = false
	defaultAPIThrottlingBurst    = 20
	defaultAPIThrottlingRate     = 10
	defaultGCPRegion             = "us-central1"
	defaultLabelerAccess         = LabelerPrivate
	// defaultGoogleAPIsReadyTimeout is how long `pulumi up` waits for
	// freshly enabled Google APIs to answer: Google says "a few minutes".
	defaultGoogleAPIsReadyTimeout = 5 * time.Minute
	maxGoogleAPIsReadyTimeout     = 30 * time.Minute

	defaultSleuthRequestMemoryMB       = 128
	defaultSleuthRequestTimeoutSeconds = 8
	defaultSleuthWorkerMemoryMB        = 256
	defaultSleuthWorkerTimeoutSeconds  = 60
	// defaultMatchThreshold is worker.DefaultThreshold, the similarity
	// Rekognition must report for a face to match.
	defaultMatchThreshold = 85

	// defaultUploadMaxMiB is the largest upload inspected; maxUploadMaxMiB
	// is Cloud Vision's limit on one image (20 MB).
	defaultUploadMaxMiB = 10
	maxUploadMaxMiB     = 19
	// maxLabelLanguages is the labeler's limit of languages per request.
	maxLabelLanguages       = 10
	defaultSafeSearchAction = "quarantine"
)

// Limits of the sleuth Lambdas' timeouts.
const (
	// maxSleuthRequestTimeoutSeconds leaves the webhook room to answer
	// within the 15 s Twilio waits, cold start and API Gateway included.
	maxSleuthRequestTimeoutSeconds = 12
	// maxSleuthWorkerTimeoutSeconds is Lambda's limit. The idempotency
	// ledger's claims follow the timeout (the stack passes it to the
	// functions): a claim lapses sleuth.LeaseMargin after its invocation's
	// deadline, so any timeout works; a long one only delays the answer
	// after a crash (see the README's worst-case answer time).
	maxSleuthWorkerTimeoutSeconds = 900
)

// Values of crossfaas:labelerAccess.
const (
	// LabelerPrivate lets only the proxy invoke the labeler: its Lambda role
	// gets Google ID tokens of one service account through workload
	// identity federation, and that account alone holds roles/run.invoker.
	LabelerPrivate = "private"
	// LabelerPublic lets anyone who knows the URL invoke the labeler
	// (allUsers hold roles/run.invoker), skipping the HTTP API's throttling.
	LabelerPublic = "public"
)

// Config keys of the Twilio credentials, which must be Pulumi secrets.
const (
	configTwilioAccountSID = configNamespace + ":twilioAccountSid"
	configTwilioAuthToken  = configNamespace + ":twilioAuthToken"
)

// maxPrefixLength keeps "<project>-<stack>" short enough for every physical
// name built from it: Lambda function and IAM role names allow 64
// characters, Cloud Functions 63, and the longest suffix we add is about 20.
const maxPrefixLength = 40

// logRetentionDays lists the retention periods CloudWatch Logs accepts.
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

var (
	prefixPattern    = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$`)
	runtimePattern   = regexp.MustCompile(`^go[0-9]+$`)
	memoryPattern    = regexp.MustCompile(`^([0-9]+)(k|M|G|Mi|Gi)?$`)
	awsRegionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	gcpRegionPattern = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
	// gcpProjectPattern is Google's rule for project ids: 6 to 30
	// characters, lower-case letters, digits and hyphens, starting with a
	// letter and not ending with a hyphen.
	gcpProjectPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	// e164Pattern is an E.164 phone number, as the request handler checks
	// SLEUTH_ALLOWED_SENDERS.
	e164Pattern = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	// twilioAccountSIDPattern is the shape of a Twilio account SID; it
	// catches the SID and the auth token set the wrong way round.
	twilioAccountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	// languagePattern is a language code as the labeler takes it (see
	// labeler.ParseLanguages): "es", "zh-CN", "sr-Latn".
	languagePattern = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$`)
)

// Config is the stack's configuration, read once from Pulumi config with
// defaults applied and every value validated.
type Config struct {
	// Project and Stack are the Pulumi project and stack names; every
	// physical name starts with Prefix, "<Project>-<Stack>".
	Project string
	Stack   string
	Prefix  string

	// AWSRegion (aws:region), GCPProject (gcp:project) and GCPRegion
	// (gcp:region, default us-central1) are the providers' own settings.
	AWSRegion  string
	GCPProject string
	GCPRegion  string

	// LabelerRuntime is the Cloud Functions runtime id, e.g. "go126".
	LabelerRuntime string
	// LabelerMemory is the Cloud Function's memory in Cloud Functions
	// notation: a number with an optional unit k, M, G, Mi or Gi.
	LabelerMemory         string
	LabelerTimeoutSeconds int
	LabelerMaxInstances   int
	// LabelerAccess is LabelerPrivate (the default) or LabelerPublic.
	LabelerAccess string
	// GoogleAPIsReadyTimeout bounds the wait, during `pulumi up`, for the
	// Google APIs the stack enables to answer in the project (enabling one
	// can report success minutes before it works); zero skips the wait.
	GoogleAPIsReadyTimeout time.Duration

	ProxyMemoryMB       int
	ProxyTimeoutSeconds int

	// LogRetentionDays is the retention of every log group the stack owns.
	LogRetentionDays int

	// APIAccessLogs turns on the HTTP API's access log.
	APIAccessLogs bool
	// APIThrottlingBurst and APIThrottlingRate (requests per second) cap the
	// HTTP API: its routes are public and end in a paid Vision API call.
	APIThrottlingBurst int
	APIThrottlingRate  float64

	// SleuthRequestMemoryMB and SleuthRequestTimeoutSeconds size the SMS
	// bot's webhook Lambda (POST /sms); SleuthWorkerMemoryMB and
	// SleuthWorkerTimeoutSeconds its SNS-triggered Lambdas (the commands,
	// respond and failure).
	SleuthRequestMemoryMB       int
	SleuthRequestTimeoutSeconds int
	SleuthWorkerMemoryMB        int
	SleuthWorkerTimeoutSeconds  int
	// AllowedSenders are the phone numbers (E.164) that may use the bot;
	// empty lets anyone.
	AllowedSenders []string
	// MatchThreshold is the similarity, 0 to 100, a face must reach to
	// match.
	MatchThreshold float64
	// TwilioAccountSID and TwilioAuthToken are secret outputs of the
	// crossfaas:twilioAccountSid and crossfaas:twilioAuthToken secrets.
	// They reach the functions only through SSM SecureString parameters.
	TwilioAccountSID pulumi.StringOutput
	TwilioAuthToken  pulumi.StringOutput

	// UploadMaxMiB is the largest upload the inspector labels (and the
	// labeler accepts), in MiB.
	UploadMaxMiB int
	// LabelLanguages are the languages the uploads' labels are translated
	// into; empty turns translation off (and grants the labeler no
	// Translation role).
	LabelLanguages []string
	// SafeSearchAction is what happens to an unsafe upload: quarantine,
	// blur or tag.
	SafeSearchAction string
}

// LoadConfig reads the stack's configuration from ctx. It reports every
// missing or invalid setting at once, each error naming its key (for
// example "crossfaas:proxyTimeoutSeconds"), so one `pulumi preview` shows
// all there is to fix.
func LoadConfig(ctx *pulumi.Context) (Config, error) {
	// ctx.GetConfig rather than the config package, which would pull in a
	// module this repository does not otherwise need.
	r := configReader{
		get: func(key string) string {
			v, _ := ctx.GetConfig(key)
			return v
		},
		isSecret: ctx.IsConfigSecret,
	}
	cfg := Config{
		Project: ctx.Project(),
		Stack:   ctx.Stack(),
		Prefix:  ctx.Project() + "-" + ctx.Stack(),

		AWSRegion:  r.required("aws:region"),
		GCPProject: r.required("gcp:project"),
		GCPRegion:  r.str("gcp:region", defaultGCPRegion),

		LabelerRuntime:         r.str(configNamespace+":labelerRuntime", defaultLabelerRuntime),
		LabelerMemory:          r.str(configNamespace+":labelerMemory", defaultLabelerMemory),
		LabelerTimeoutSeconds:  r.intIn(configNamespace+":labelerTimeoutSeconds", defaultLabelerTimeoutSeconds, 1, 3600),
		LabelerMaxInstances:    r.intIn(configNamespace+":labelerMaxInstances", defaultLabelerMaxInstances, 1, 1000),
		LabelerAccess:          r.oneOf(configNamespace+":labelerAccess", defaultLabelerAccess, LabelerPrivate, LabelerPublic),
		GoogleAPIsReadyTimeout: r.duration(configNamespace+":googleApisReadyTimeout", defaultGoogleAPIsReadyTimeout, 0, maxGoogleAPIsReadyTimeout),

		ProxyMemoryMB: r.intIn(configNamespace+":proxyMemoryMb", defaultProxyMemoryMB, 128, 10240),
		// API Gateway gives up on an integration after 30 s, so a longer
		// Lambda timeout would only bill for answers nobody receives.
		ProxyTimeoutSeconds: r.intIn(configNamespace+":proxyTimeoutSeconds", defaultProxyTimeoutSeconds, 1, 30),

		LogRetentionDays: r.intIn(configNamespace+":logRetentionDays", defaultLogRetentionDays, 1, 3653),

		APIAccessLogs:      r.boolean(configNamespace+":apiAccessLogs", defaultAPIAccessLogs),
		APIThrottlingBurst: r.intIn(configNamespace+":apiThrottlingBurstLimit", defaultAPIThrottlingBurst, 1, 5000),
		APIThrottlingRate:  r.floatIn(configNamespace+":apiThrottlingRateLimit", defaultAPIThrottlingRate, 0.1, 10000),

		SleuthRequestMemoryMB:       r.intIn(configNamespace+":sleuthRequestMemoryMb", defaultSleuthRequestMemoryMB, 128, 10240),
		SleuthRequestTimeoutSeconds: r.intIn(configNamespace+":sleuthRequestTimeoutSeconds", defaultSleuthRequestTimeoutSeconds, 1, maxSleuthRequestTimeoutSeconds),
		SleuthWorkerMemoryMB:        r.intIn(configNamespace+":sleuthWorkerMemoryMb", defaultSleuthWorkerMemoryMB, 128, 10240),
		SleuthWorkerTimeoutSeconds:  r.intIn(configNamespace+":sleuthWorkerTimeoutSeconds", defaultSleuthWorkerTimeoutSeconds, 1, maxSleuthWorkerTimeoutSeconds),
		AllowedSenders:              r.list(configNamespace + ":allowedSenders"),
		MatchThreshold:              r.floatIn(configNamespace+":matchThreshold", defaultMatchThreshold, 0, 100),

		UploadMaxMiB:     r.intIn(configNamespace+":uploadMaxMiB", defaultUploadMaxMiB, 1, maxUploadMaxMiB),
		LabelLanguages:   r.list(configNamespace + ":labelLanguages"),
		SafeSearchAction: r.oneOf(configNamespace+":safeSearchAction", defaultSafeSearchAction, "quarantine", "blur", "tag"),
	}
	accountSID := r.secret(configTwilioAccountSID)
	authToken := r.secret(configTwilioAuthToken)
	cfg.TwilioAccountSID = pulumi.ToSecretWithContext(ctx.Context(), pulumi.String(accountSID)).(pulumi.StringOutput)
	cfg.TwilioAuthToken = pulumi.ToSecretWithContext(ctx.Context(), pulumi.String(authToken)).(pulumi.StringOutput)

	if len(cfg.Prefix) > maxPrefixLength || !prefixPattern.MatchString(cfg.Prefix) {
		r.fail("project %q and stack %q give the name prefix %q: it must be lower-case letters, digits and hyphens, start with a letter and be at most %d characters",
			cfg.Project, cfg.Stack, cfg.Prefix, maxPrefixLength)
	}
	if cfg.AWSRegion != "" && !awsRegionPattern.MatchString(cfg.AWSRegion) {
		r.fail("aws:region %q is not an AWS region such as us-east-1", cfg.AWSRegion)
	}
	if cfg.GCPProject != "" && !gcpProjectPattern.MatchString(cfg.GCPProject) {
		r.fail("gcp:project %q is not a Google Cloud project id (6 to 30 lower-case letters, digits or hyphens, starting with a letter)", cfg.GCPProject)
	}
	if !gcpRegionPattern.MatchString(cfg.GCPRegion) {
		r.fail("gcp:region %q is not a Google Cloud region such as us-central1", cfg.GCPRegion)
	}
	if !runtimePattern.MatchString(cfg.LabelerRuntime) {
		r.fail("%s:labelerRuntime %q is not a Go runtime id such as %q", configNamespace, cfg.LabelerRuntime, defaultLabelerRuntime)
	}
	if err := validateFunctionMemory(cfg.LabelerMemory); err != nil {
		r.fail("%s:labelerMemory: %v", configNamespace, err)
	}
	if !slices.Contains(logRetentionDays, cfg.LogRetentionDays) {
		r.fail("%s:logRetentionDays %d is not a retention CloudWatch Logs accepts: use one of %v", configNamespace, cfg.LogRetentionDays, logRetentionDays)
	}
	// Phone numbers are personal data: like the Twilio credentials, they
	// stay out of the stack file and the state in plain text, and no
	// number appears in an error.
	if len(cfg.AllowedSenders) > 0 && !r.isSecret(configNamespace+":allowedSenders") {
		r.fail("%s:allowedSenders holds phone numbers and is stored in plain text: set it again with `pulumi config set --secret %s:allowedSenders \"+15551234567,+15557654321\"`", configNamespace, configNamespace)
	}
	for i, number := range cfg.AllowedSenders {
		if !e164Pattern.MatchString(number) {
			r.fail("%s:allowedSenders: item %d is not an E.164 phone number such as +15551234567", configNamespace, i+1)
		}
	}
	for _, lang := range cfg.LabelLanguages {
		if !languagePattern.MatchString(lang) {
			r.fail("%s:labelLanguages: %q is not a language code such as es, fr or zh-CN", configNamespace, lang)
		}
	}
	if len(cfg.LabelLanguages) > maxLabelLanguages {
		r.fail("%s:labelLanguages lists %d languages, at most %d", configNamespace, len(cfg.LabelLanguages), maxLabelLanguages)
	}
	// The value stays out of the message: it is a secret.
	if accountSID != "" && !twilioAccountSIDPattern.MatchString(accountSID) {
		r.fail("%s is not a Twilio account SID (AC and 32 hex digits): is it the auth token?", configTwilioAccountSID)
	}
	if err := errors.Join(r.errs...); err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	return cfg, nil
}

// Name returns the physical name of one of the stack's resources:
// "<project>-<stack>-<suffix>".
func (c Config) Name(suffix string) string {
	return c.Prefix + "-" + suffix
}

// Tags returns the tags every AWS resource of the stack carries.
func (c Config) Tags() pulumi.StringMap {
	return pulumi.StringMap{
		"project": pulumi.String(c.Project),
		"stack":   pulumi.String(c.Stack),
	}
}

// Labels returns the labels every Google Cloud resource of the stack
// carries. The prefix rule keeps both values valid label values.
func (c Config) Labels() pulumi.StringMap {
	return pulumi.StringMap{
		"project": pulumi.String(c.Project),
		"stack":   pulumi.String(c.Stack),
	}
}

// UploadsBucketName returns the uploads bucket's name,
// "<project>-<stack>-uploads-<account id>". S3 bucket names are global
// across all AWS accounts: without the account a second user of the same
// project and stack names could never create theirs.
func (c Config) UploadsBucketName(accountID string) string {
	return boundedName(c.Prefix+"-uploads-"+accountID, 63)
}

// SourceBucketName returns the name of the bucket holding the labeler's
// source. Bucket names are global across Google Cloud, so the name carries
// the GCP project id as well as the stack prefix; when that would pass
// the 63-character limit the tail is replaced by a hash of the full name.
func (c Config) SourceBucketName() string {
	return boundedName(c.Prefix+"-src-"+c.GCPProject, 63)
}

// boundedName returns name when it has at most limit characters. A longer
// name is cut and ends in "-" and 8 hex digits of its SHA-256, so two long
// names sharing a start still differ.
func boundedName(name string, limit int) string {
	if len(name) <= limit {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "-" + hex.EncodeToString(sum[:4])
	return strings.TrimRight(name[:limit-len(suffix)], "-") + suffix
}
