package sleuthbot_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/infra/httpapi"
	"github.com/crossfaas/crossfaas/infra/sleuthbot"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// exampleMocks stands in for the AWS provider: an ARN for everything, the
// few other outputs the bot reads, and the account and region.
type exampleMocks struct{}

func (exampleMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	outs := args.Inputs.Copy()
	outs["arn"] = resource.NewProperty("arn:aws:mock:us-east-1:123456789012:" + args.Name)
	switch args.TypeToken {
	case "aws:apigatewayv2/stage:Stage":
		outs["invokeUrl"] = resource.NewProperty("https://abc123.execute-api.us-east-1.amazonaws.com/")
	case "aws:apigatewayv2/api:Api":
		outs["executionArn"] = resource.NewProperty("arn:aws:execute-api:us-east-1:123456789012:abc123")
	case "aws:lambda/function:Function":
		outs["invokeArn"] = resource.NewProperty("arn:aws:apigateway:us-east-1:lambda:path/functions/" + args.Name + "/invocations")
	case "aws:sqs/queue:Queue":
		outs["url"] = resource.NewProperty("https://sqs.us-east-1.amazonaws.com/123456789012/" + args.Inputs["name"].StringValue())
	}
	return args.Name + "-id", outs, nil
}

func (exampleMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	switch {
	case strings.HasSuffix(args.Token, "getCallerIdentity"):
		return resource.NewPropertyMapFromMap(map[string]any{"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/me", "userId": "me"}), nil
	case strings.HasSuffix(args.Token, "getRegion"):
		return resource.NewPropertyMapFromMap(map[string]any{"name": "us-east-1"}), nil
	}
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

// stubZip writes a stand-in for a built Lambda zip (gobuild.All builds
// the real ones) and describes it as gobuild does.
func stubZip(dir, name string) gobuild.Artifact {
	path := filepath.Join(dir, name+".zip")
	if err := os.WriteFile(path, []byte(name), 0o644); err != nil {
		log.Fatal(err)
	}
	sum := sha256.Sum256([]byte(name))
	return gobuild.Artifact{Name: name, Path: path, Size: int64(len(name)), SHA256: hex.EncodeToString(sum[:])}
}

// Deploy the SMS bot on an HTTP API: Twilio's webhook is POST /sms. (Run
// here under mocks: no AWS account.)
func Example() {
	dir, err := os.MkdirTemp("", "sleuthbot-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		api, err := httpapi.New(ctx, "api", &httpapi.Args{Name: "bot-dev-api", ThrottlingBurstLimit: 20, ThrottlingRateLimit: 10})
		if err != nil {
			return err
		}
		bot, err := sleuthbot.New(ctx, "sleuth", &sleuthbot.Args{
			Prefix:           "bot-dev",
			Artifact:         stubZip(dir, "sleuth"),
			RequestArtifact:  stubZip(dir, "sleuth-request"),
			API:              api,
			TwilioAccountSID: pulumi.ToSecret(pulumi.String("AC0123")).(pulumi.StringOutput),
			TwilioAuthToken:  pulumi.ToSecret(pulumi.String("token")).(pulumi.StringOutput),
			MatchThreshold:   85,
			RequestMemoryMB:  128, RequestTimeoutSeconds: 8,
			WorkerMemoryMB: 256, WorkerTimeoutSeconds: 60,
			LogRetentionDays: 14,
		})
		if err != nil {
			return err
		}
		bot.WebhookURL.ApplyT(func(url string) error {
			fmt.Println("Twilio webhook:", url)
			return nil
		})
		return nil
	}, pulumi.WithMocks("example", "dev", exampleMocks{}))
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// Twilio webhook: https://abc123.execute-api.us-east-1.amazonaws.com/sms
}
