package testprovider

import (
	"os"
	"strings"
)

// DefaultAccount is the AWS account the stand-in deploys into unless
// CROSSFAAS_TESTPROVIDER_ACCOUNT says otherwise.
const DefaultAccount = "123456789012"

// ProjectNumber is the number of every Google Cloud project, which
// workload identity pool names carry instead of the project id.
const ProjectNumber = "314159265358"

// Environment variables that shape the computed outputs, so tests can
// point the stack's URLs at loopback servers of their own.
const (
	// EnvRecord names the JSON-lines file every call is appended to.
	EnvRecord = "CROSSFAAS_TESTPROVIDER_RECORD"
	// EnvAccount is the AWS account id in ARNs.
	EnvAccount = "CROSSFAAS_TESTPROVIDER_ACCOUNT"
	// EnvAPIURL is the template of an HTTP API's endpoint (without a
	// trailing slash); "{id}" and "{region}" are replaced.
	EnvAPIURL = "CROSSFAAS_TESTPROVIDER_API_URL"
	// EnvFunctionURL is the template of a Cloud Function's URL; "{name}",
	// "{region}" and "{project}" are replaced.
	EnvFunctionURL = "CROSSFAAS_TESTPROVIDER_FUNCTION_URL"
)

// Env shapes the computed outputs. The zero value gives the real clouds'
// formats with DefaultAccount.
type Env struct {
	Account     string
	APIURL      string
	FunctionURL string
}

// EnvFromOS reads Env from the environment variables above.
func EnvFromOS() Env {
	return Env{Account: os.Getenv(EnvAccount), APIURL: os.Getenv(EnvAPIURL), FunctionURL: os.Getenv(EnvFunctionURL)}
}

func (e Env) account() string {
	if e.Account != "" {
		return e.Account
	}
	return DefaultAccount
}

func (e Env) apiEndpoint(id, region string) string {
	tmpl := e.APIURL
	if tmpl == "" {
		tmpl = "https://{id}.execute-api.{region}.amazonaws.com"
	}
	return strings.NewReplacer("{id}", id, "{region}", region).Replace(tmpl)
}

func (e Env) functionURL(name, region, project string) string {
	tmpl := e.FunctionURL
	if tmpl == "" {
		tmpl = "https://{region}-{project}.cloudfunctions.net/{name}"
	}
	return strings.NewReplacer("{name}", name, "{region}", region, "{project}", project).Replace(tmpl)
}
