package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/httptransport"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Enabling a Google API (a projects.Service resource) can report success
// before the API answers in the project: the first `pulumi up` on a new
// project then fails creating the function or the service accounts with
// "API has not been used in project ... or it is disabled ... If you enabled
// this API recently, wait a few minutes". Neither provider retries that.
//
// So the program waits, in an Apply on the services' ids that runs during
// `pulumi up` only (in a preview the services' ids are unknown, or the Apply
// returns at once): it lists something cheap (pageSize=1) in every API the
// deployment calls, with the deployer's own Google credentials, until none
// answers SERVICE_DISABLED, for at most crossfaas:googleApisReadyTimeout.
// The resources that need the APIs depend on that Apply (DependsOnInputs),
// so nothing is created before the APIs answer. Any other answer counts as
// ready, an authorization error included: the API itself answered. On an
// update the APIs answer at once; the wait costs one request per API.
//
// Each probe's endpoint honours the gcp provider's custom endpoint setting
// of that API (gcp:cloudfunctions2CustomEndpoint and so on), and the
// credentials follow the provider's order: gcp:accessToken
// (GOOGLE_OAUTH_ACCESS_TOKEN), gcp:credentials (GOOGLE_CREDENTIALS), then
// Application Default Credentials. The tests point both at a loopback fake.

// apiProbe lists something cheap in one API.
type apiProbe struct {
	// endpointKey is the gcp provider's custom endpoint setting for the API
	// and defaultBase its default, both ending in "/".
	endpointKey string
	defaultBase string
	// path is appended to the base; {project} and {region} are replaced.
	path string
}

// apiProbes are the probes of the APIs a deployment calls. The APIs only
// the running functions call (Cloud Vision, STS, IAM Credentials) are not
// waited for: see the README on the first minutes after a first `up`.
var apiProbes = map[string]apiProbe{
	"artifactregistry.googleapis.com":     {"gcp:artifactRegistryCustomEndpoint", "https://artifactregistry.googleapis.com/v1/", "projects/{project}/locations/{region}/repositories?pageSize=1"},
	"cloudbuild.googleapis.com":           {"gcp:cloudBuildCustomEndpoint", "https://cloudbuild.googleapis.com/v1/", "projects/{project}/locations/{region}/builds?pageSize=1"},
	"cloudfunctions.googleapis.com":       {"gcp:cloudfunctions2CustomEndpoint", "https://cloudfunctions.googleapis.com/v2/", "projects/{project}/locations/{region}/functions?pageSize=1"},
	"cloudresourcemanager.googleapis.com": {"gcp:resourceManagerCustomEndpoint", "https://cloudresourcemanager.googleapis.com/v1/", "projects/{project}"},
	"iam.googleapis.com":                  {"gcp:iamCustomEndpoint", "https://iam.googleapis.com/v1/", "projects/{project}/serviceAccounts?pageSize=1"},
	"run.googleapis.com":                  {"gcp:cloudRunV2CustomEndpoint", "https://run.googleapis.com/v2/", "projects/{project}/locations/{region}/services?pageSize=1"},
	"storage.googleapis.com":              {"gcp:storageCustomEndpoint", "https://storage.googleapis.com/storage/v1/", "b?project={project}&maxResults=1"},
}

// apiWaiter waits for APIs to answer.
type apiWaiter struct {
	// client sends the probes, authorized as the deployer; newClient makes
	// it on first use (no credentials are looked for unless a wait runs).
	newClient func(context.Context) (*http.Client, error)
	// urls are the probe URLs by service.
	urls    map[string]string
	timeout time.Duration
	// interval between rounds of probes; it grows to maxInterval.
	interval, maxInterval time.Duration
	log                   func(msg string)
}

// newAPIWaiter returns the waiter for the stack's project and region, or
// nil when cfg disables the wait.
func newAPIWaiter(ctx *pulumi.Context, cfg Config) *apiWaiter {
	if cfg.GoogleAPIsReadyTimeout <= 0 {
		return nil
	}
	urls := map[string]string{}
	for service, p := range apiProbes {
		base, _ := ctx.GetConfig(p.endpointKey)
		if base = strings.TrimSpace(base); base == "" {
			base = p.defaultBase
		}
		if !strings.HasSuffix(base, "/") {
			base += "/"
		}
		urls[service] = base + strings.NewReplacer("{project}", cfg.GCPProject, "{region}", cfg.GCPRegion).Replace(p.path)
	}
	accessToken, _ := ctx.GetConfig("gcp:accessToken")
	credentialsJSON, _ := ctx.GetConfig("gcp:credentials")
	return &apiWaiter{
		newClient: func(c context.Context) (*http.Client, error) { return googleClient(accessToken, credentialsJSON) },
		urls:      urls,
		timeout:   cfg.GoogleAPIsReadyTimeout,
		// A hundredth of the bound, between 50 ms and 2 s, growing to 10 s:
		// about twenty rounds in the first minute of a 5-minute wait.
		interval:    min(max(cfg.GoogleAPIsReadyTimeout/100, 50*time.Millisecond), 2*time.Second),
		maxInterval: min(max(cfg.GoogleAPIsReadyTimeout/20, 50*time.Millisecond), 10*time.Second),
		log:         func(msg string) { ctx.Log.Info(msg, nil) },
	}
}

// googleClient returns an HTTP client authorized as the gcp provider would
// be: with gcp:accessToken (or GOOGLE_OAUTH_ACCESS_TOKEN), gcp:credentials
// (or GOOGLE_CREDENTIALS; a key's JSON or its path), or Application Default
// Credentials.
func googleClient(accessToken, credentialsJSON string) (*http.Client, error) {
	if accessToken == "" {
		accessToken = os.Getenv("GOOGLE_OAUTH_ACCESS_TOKEN")
	}
	if credentialsJSON == "" {
		credentialsJSON = os.Getenv("GOOGLE_CREDENTIALS")
	}
	var creds *auth.Credentials
	switch {
	case accessToken != "":
		creds = auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: staticToken(accessToken)})
	default:
		opts := &credentials.DetectOptions{Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}}
		if credentialsJSON != "" {
			if !strings.HasPrefix(strings.TrimSpace(credentialsJSON), "{") {
				b, err := os.ReadFile(credentialsJSON)
				if err != nil {
					return nil, fmt.Errorf("read gcp:credentials: %w", err)
				}
				credentialsJSON = string(b)
			}
			//lint:ignore SA1019 gcp:credentials is the stack owner's own setting, the one the gcp provider uses, of any credential type: not a configuration from an untrusted source.
			opts.CredentialsJSON = []byte(credentialsJSON)
		}
		var err error
		if creds, err = credentials.DetectDefault(opts); err != nil {
			return nil, err
		}
	}
	return httptransport.NewClient(&httptransport.Options{Credentials: creds})
}

// staticToken is a TokenProvider of a fixed access token.
type staticToken string

func (s staticToken) Token(context.Context) (*auth.Token, error) {
	return &auth.Token{Value: string(s), Type: "Bearer"}, nil
}

// waitFor waits until every service with a probe answers, or the timeout
// passes. Services without a probe are not waited for. It fails with the
// services still disabled and what to do.
func (w *apiWaiter) waitFor(ctx context.Context, services []string) error {
	var pending []string
	for _, s := range services {
		if _, ok := w.urls[s]; ok {
			pending = append(pending, s)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	client, err := w.newClient(ctx)
	if err != nil {
		// Without credentials the provider fails first, and says why.
		w.log(fmt.Sprintf("not waiting for the Google APIs to answer: no credentials to ask them with (%v)", err))
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	interval := w.interval
	reported := false
	for {
		pending = w.probeAll(ctx, client, pending)
		if len(pending) == 0 {
			return nil
		}
		if !reported {
			w.log(fmt.Sprintf("waiting up to %v for newly enabled Google APIs to answer: %s", w.timeout, strings.Join(pending, ", ")))
			reported = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for Google APIs: %s still not answering after %v (they report SERVICE_DISABLED, or do not answer): "+
				"check they are enabled in the project; if they were enabled a moment ago, raise crossfaas:googleApisReadyTimeout",
				strings.Join(pending, ", "), w.timeout)
		case <-time.After(interval):
		}
		interval = min(interval*2, w.maxInterval)
	}
}

// probeAll probes services in parallel and returns those not ready yet.
func (w *apiWaiter) probeAll(ctx context.Context, client *http.Client, services []string) []string {
	ready := make([]bool, len(services))
	var wg sync.WaitGroup
	for i, s := range services {
		wg.Go(func() { ready[i] = w.probe(ctx, client, w.urls[s]) })
	}
	wg.Wait()
	var pending []string
	for i, s := range services {
		if !ready[i] {
			pending = append(pending, s)
		}
	}
	return pending
}

// probe reports whether the API at url answers: any answer but a
// disabled-service error, a 429 or a 5xx.
func (w *apiWaiter) probe(ctx context.Context, client *http.Client, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return false
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusBadRequest:
		return !serviceDisabled(body)
	}
	return true
}

// serviceDisabled reports whether a Google API error says the API is not
// enabled (yet): an ErrorInfo with reason SERVICE_DISABLED, or, in the
// older format of the JSON APIs (Storage), a reason accessNotConfigured.
func serviceDisabled(body []byte) bool {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Details []struct {
				Reason string `json:"reason"`
			} `json:"details"`
			Errors []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	for _, d := range e.Error.Details {
		if d.Reason == "SERVICE_DISABLED" {
			return true
		}
	}
	for _, d := range e.Error.Errors {
		if d.Reason == "accessNotConfigured" {
			return true
		}
	}
	return strings.Contains(e.Error.Message, "has not been used in project") || strings.Contains(e.Error.Message, "it is disabled")
}

// afterAPIsAnswer returns the services, resolved once every API among
// names answers (not during a preview), for pulumi.DependsOnInputs. With a
// nil waiter it resolves with the services at once.
func afterAPIsAnswer(ctx *pulumi.Context, w *apiWaiter, services []pulumi.Resource, names []string) pulumi.ResourceArrayOutput {
	ids := make([]any, len(services))
	for i, s := range services {
		ids[i] = s.(pulumi.CustomResource).ID()
	}
	return pulumi.All(ids...).ApplyTWithContext(ctx.Context(), func(c context.Context, _ []any) ([]pulumi.Resource, error) {
		if w != nil && !ctx.DryRun() {
			if err := w.waitFor(c, names); err != nil {
				return nil, err
			}
		}
		return services, nil
	}).(pulumi.ResourceArrayOutput)
}
