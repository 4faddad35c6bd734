package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"github.com/aws/aws-sdk-go-v2/aws"

	"cloud.google.com/go/logging/logadmin"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// EnvLoggingEndpoint, when set to host:port, points the Cloud Logging
// client at a plain-gRPC Logging API without credentials (a fake or an
// emulator), as LABELER_VISION_ENDPOINT does for Vision. CloudWatch Logs
// honours the AWS SDK's AWS_ENDPOINT_URL_CLOUDWATCH_LOGS (or
// AWS_ENDPOINT_URL).
const EnvLoggingEndpoint = "CROSSFAAS_LOGGING_ENDPOINT"

// Target is the log of one deployed function.
type Target struct {
	// Function is the function's name without the stack prefix.
	Function string
	// Cloud is "aws" (Group and Region are set) or "gcp" (Service and
	// Project are set).
	Cloud   string
	Group   string
	Region  string
	Service string
	Project string
}

// NewSources returns a source per target, with one client per AWS region
// and Google Cloud project, and a closer for the Google clients. AWS
// credentials come from the SDK's default chain, Google's from
// Application Default Credentials.
func NewSources(ctx context.Context, targets []Target) ([]Source, io.Closer, error) {
	closers := multiCloser{}
	aws := map[string]*cloudwatchlogs.Client{}
	gcp := map[string]*logadmin.Client{}
	var sources []Source
	for _, t := range targets {
		switch t.Cloud {
		case "aws":
			c, ok := aws[t.Region]
			if !ok {
				cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(t.Region))
				if err != nil {
					closers.Close()
					return nil, nil, fmt.Errorf("logs: AWS configuration: %w", err)
				}
				if err := checkAWSCredentials(ctx, cfg, t.Function); err != nil {
					closers.Close()
					return nil, nil, err
				}
				cfg.Credentials = markedCredentials{cfg.Credentials}
				c = cloudwatchlogs.NewFromConfig(cfg, NoRetries)
				aws[t.Region] = c
			}
			sources = append(sources, &CloudWatch{Client: c, Group: t.Group, Function: t.Function})
		case "gcp":
			c, ok := gcp[t.Project]
			if !ok {
				var opts []option.ClientOption
				if ep := os.Getenv(EnvLoggingEndpoint); ep != "" {
					opts = append(opts, option.WithEndpoint(ep), option.WithoutAuthentication(),
						option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
				} else {
					creds, err := googleCredentials(ctx, t.Function)
					if err != nil {
						closers.Close()
						return nil, nil, err
					}
					opts = append(opts, option.WithAuthCredentials(creds))
				}
				var err error
				c, err = logadmin.NewClient(ctx, t.Project, opts...)
				if err != nil {
					closers.Close()
					return nil, nil, fmt.Errorf("logs: Cloud Logging client for project %s (Google Cloud credentials: `gcloud auth application-default login`): %w", t.Project, err)
				}
				gcp[t.Project] = c
				closers = append(closers, c)
			}
			sources = append(sources, &CloudLogging{Client: c, Service: t.Service, Function: t.Function})
		default:
			closers.Close()
			return nil, nil, fmt.Errorf("logs: function %s runs on an unknown cloud %q", t.Function, t.Cloud)
		}
	}
	return sources, closers, nil
}

// credentialsTimeout bounds the look-up of each cloud's credentials
// before the first query: a metadata service that does not answer means
// there are none.
const credentialsTimeout = 15 * time.Second

// checkAWSCredentials fails, saying what to set, when the SDK's default
// chain finds no AWS credentials to read function's logs with. Without
// this check the chain's last resort, EC2's metadata service, fails with
// a network error on a laptop, which looks transient and would be retried
// for as long as `logs -t` runs.
func checkAWSCredentials(ctx context.Context, cfg aws.Config, function string) error {
	if cfg.Credentials == nil {
		return fmt.Errorf("logs: no AWS credentials to read the logs of %s: %s", function, awsCredentialsHint)
	}
	ctx, cancel := context.WithTimeout(ctx, credentialsTimeout)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return fmt.Errorf("logs: no AWS credentials to read the logs of %s: %s (%w)", function, awsCredentialsHint, err)
	}
	return nil
}

// A credentialsError is a failure to get credentials. It is never
// transient, even when its cause is a network error: credentials that
// expire during `logs -t` (an SSO session, say) end the tail with a
// message instead of retrying for ever.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string {
	return "no AWS credentials (" + awsCredentialsHint + "): " + e.err.Error()
}
func (e *credentialsError) Unwrap() error { return e.err }

// markedCredentials makes every error of its provider a *credentialsError.
type markedCredentials struct{ aws.CredentialsProvider }

func (m markedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := m.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return c, &credentialsError{err}
	}
	return c, nil
}

const awsCredentialsHint = "configure them as for the AWS CLI (`aws configure`, `aws sso login` with AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"

// googleCredentials returns Application Default Credentials able to read
// Cloud Logging, having fetched a token once, or an error saying what to
// set: for the same reason as checkAWSCredentials, a metadata server that
// does not answer must not be retried for ever.
func googleCredentials(ctx context.Context, function string) (*auth.Credentials, error) {
	const hint = "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a credentials file"
	creds, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{"https://www.googleapis.com/auth/logging.read"}})
	if err != nil {
		return nil, fmt.Errorf("logs: no Google Cloud credentials to read the logs of %s: %s (%w)", function, hint, err)
	}
	ctx, cancel := context.WithTimeout(ctx, credentialsTimeout)
	defer cancel()
	if _, err := creds.Token(ctx); err != nil {
		return nil, fmt.Errorf("logs: no Google Cloud credentials to read the logs of %s: %s (%w)", function, hint, err)
	}
	return creds, nil
}

// Hint adds what to do to an error from Stream, when there is something
// to say: missing credentials are the usual first failure.
func Hint(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "get credentials") || strings.Contains(msg, "no EC2 IMDS role"):
		return fmt.Errorf("%w\n(no AWS credentials: configure them as for the AWS CLI, e.g. `aws configure` or AWS_PROFILE)", err)
	case strings.Contains(msg, "AccessDenied") || strings.Contains(msg, "PermissionDenied"):
		return fmt.Errorf("%w\n(your credentials may not read these logs: they need logs:FilterLogEvents on AWS and roles/logging.viewer on Google Cloud)", err)
	}
	return err
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var errs []error
	for _, c := range m {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
