//go:build tools

// Package deps pins modules that the packages under construction will import.
// TEMPORARY: removed once every module is imported by real code.
package deps

import (
	_ "cloud.google.com/go/vision/v2/apiv1"
	_ "github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"
	_ "github.com/aws/aws-lambda-go/events"
	_ "github.com/aws/aws-lambda-go/lambda"
	_ "github.com/aws/aws-lambda-go/lambdacontext"
	_ "github.com/aws/aws-sdk-go-v2/aws"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/aws/aws-sdk-go-v2/service/rekognition"
	_ "github.com/aws/aws-sdk-go-v2/service/sns"
	_ "github.com/aws/aws-sdk-go-v2/service/sqs"
	_ "github.com/aws/aws-sdk-go-v2/service/ssm"
	_ "github.com/chromedp/chromedp"
	_ "github.com/crossfaas/crossfaas/functions/labeler"
	_ "github.com/esimov/pigo/core"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/apigatewayv2"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rekognition"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	_ "github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudfunctionsv2"
	_ "github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	_ "github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	_ "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	_ "github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	_ "github.com/twilio/twilio-go"
	_ "go.etcd.io/bbolt"
	_ "google.golang.org/grpc"
)
