// Package awsenv is the sleuth Lambdas' AWS environment: the Twilio
// credentials they read from SSM and the SNS publisher behind
// sleuth.Publisher, with the aws-sdk-go-v2 clients. (Not Pulumi's Crosswalk, awsx: this package runs
// inside the Lambdas.) Build the clients from one aws.Config: either
// config.LoadDefaultConfig (the SNS-triggered workers) or
// lambdaenv.AWSConfig (the latency-bound request Lambda, which links
// nothing of the SDK's credential chain). Either way every endpoint can be redirected with the SDK's
// standard AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> variables, which
// is how the tests point the clients at local fakes.
package awsenv
