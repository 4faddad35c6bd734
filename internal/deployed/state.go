package deployed

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/sig"
)

// Resource types the functions of a crossfaas stack are made of.
const (
	typeLambda        = "aws:lambda/function:Function"
	typeCloudFunction = "gcp:cloudfunctionsv2/function:Function"
	typeBucketObject  = "gcp:storage/bucketObject:BucketObject"
)

// Cloud names where a function runs.
const (
	CloudAWS = "aws"
	CloudGCP = "gcp"
)

// State is a stack's deployment, as `pulumi stack export` gives it.
type State struct {
	// Time is when the state was last written.
	Time      time.Time
	Resources []apitype.ResourceV3
}

// ParseState reads an exported deployment.
func ParseState(dep apitype.UntypedDeployment) (*State, error) {
	if len(dep.Deployment) == 0 {
		return &State{}, nil
	}
	if dep.Version > 3 {
		return nil, fmt.Errorf("parse state: deployment version %d is newer than this crossfaas reads (3)", dep.Version)
	}
	var d apitype.DeploymentV3
	if err := json.Unmarshal(dep.Deployment, &d); err != nil {
		return nil, fmt.Errorf("parse state: %w", err)
	}
	return &State{Time: d.Manifest.Time, Resources: d.Resources}, nil
}

// Outputs returns the stack outputs: those of the root pulumi:pulumi:Stack
// resource, without secret ones.
func (s *State) Outputs() map[string]any {
	out := map[string]any{}
	for _, r := range s.Resources {
		if r.Type != "pulumi:pulumi:Stack" {
			continue
		}
		for k, v := range r.Outputs {
			if m, ok := v.(map[string]any); ok && m[sig.Key] == sig.Secret {
				continue
			}
			out[k] = v
		}
	}
	return out
}

// Function is one deployed function of the stack.
type Function struct {
	// Name is the function's name without the stack prefix: "labeler",
	// "proxy", "sleuth-request", "sleuth-addcol", ...
	Name string
	// Physical is its name in the cloud: "crossfaas-dev-proxy".
	Physical string
	Cloud    string
	// Artifact names the build artifact it runs ("labeler", "proxy",
	// "sleuth", "sleuth-request"); Digest is the hex SHA-256 of the
	// artifact deployed, "" when the state does not tell.
	Artifact string
	Digest   string
	// URN is the function resource's URN. TargetURN is the resource to
	// pass to `pulumi up --target <urn> --target-dependents` to redeploy
	// its code alone: the function for a Lambda; for a Cloud Function the
	// source object its build reads, on which the function depends.
	URN       string
	TargetURN string
	// Region is the AWS or Google Cloud region, Project the Google Cloud
	// project (GCP only).
	Region  string
	Project string
	// LogGroup is the CloudWatch Logs group of a Lambda; Service the Cloud
	// Run service that runs a Cloud Function (its logs' service_name).
	LogGroup string
	Service  string
}

// contentNamedObject matches the labeler's source object,
// "<artifact>-<sha256>.zip".
var contentNamedObject = regexp.MustCompile(`^(.+)-([0-9a-f]{64})\.zip$`)

// Functions returns the stack's functions, sorted by name. prefix is
// "<project>-<stack>", which Name leaves out.
func (s *State) Functions(prefix string) []Function {
	var out []Function
	objects := map[string]string{} // object name -> URN
	for _, r := range s.Resources {
		if string(r.Type) == typeBucketObject && !r.Delete {
			if name, ok := r.Outputs["name"].(string); ok {
				objects[name] = string(r.URN)
			}
		}
	}
	for _, r := range s.Resources {
		if r.Delete {
			continue // a replaced resource awaiting deletion
		}
		switch string(r.Type) {
		case typeLambda:
			out = append(out, lambdaFunction(r, prefix))
		case typeCloudFunction:
			out = append(out, cloudFunction(r, prefix, objects))
		}
	}
	slices.SortFunc(out, func(a, b Function) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func lambdaFunction(r apitype.ResourceV3, prefix string) Function {
	f := Function{Cloud: CloudAWS, URN: string(r.URN), TargetURN: string(r.URN)}
	f.Physical = str(r.Outputs, "name")
	f.Name = strings.TrimPrefix(f.Physical, prefix+"-")
	f.LogGroup = str(r.Outputs, "loggingConfig", "logGroup")
	if f.LogGroup == "" {
		f.LogGroup = "/aws/lambda/" + f.Physical
	}
	if parts := strings.Split(str(r.Outputs, "arn"), ":"); len(parts) > 3 {
		f.Region = parts[3]
	}
	if p := str(r.Inputs, "code", "path"); p != "" {
		f.Artifact = strings.TrimSuffix(path.Base(strings.ReplaceAll(p, `\`, "/")), ".zip")
	}
	// codeSha256 is what Lambda reports for the code it holds; the
	// sourceCodeHash input is what the program asked for.
	for _, v := range []string{str(r.Outputs, "codeSha256"), str(r.Inputs, "sourceCodeHash")} {
		if sum, err := base64.StdEncoding.DecodeString(v); err == nil && len(sum) == 32 {
			f.Digest = hex.EncodeToString(sum)
			break
		}
	}
	return f
}

func cloudFunction(r apitype.ResourceV3, prefix string, objects map[string]string) Function {
	f := Function{Cloud: CloudGCP, URN: string(r.URN), TargetURN: string(r.URN)}
	f.Physical = str(r.Outputs, "name")
	f.Name = strings.TrimPrefix(f.Physical, prefix+"-")
	f.Region = str(r.Outputs, "location")
	f.Project = str(r.Outputs, "project")
	f.Service = path.Base(str(r.Outputs, "serviceConfig", "service"))
	if f.Service == "." || f.Service == "/" {
		f.Service = f.Physical
	}
	object := str(r.Outputs, "buildConfig", "source", "storageSource", "object")
	if m := contentNamedObject.FindStringSubmatch(object); m != nil {
		f.Artifact, f.Digest = m[1], m[2]
	}
	if urn, ok := objects[object]; ok {
		f.TargetURN = urn
	}
	return f
}

// str follows keys through nested maps of a resource's properties and
// returns the string found, or "". Secret values read as "".
func str(m map[string]any, keys ...string) string {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[k]
	}
	s, _ := v.(string)
	return s
}
