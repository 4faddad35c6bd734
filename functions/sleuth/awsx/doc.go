// Package awsx adapts AWS services to the interfaces of package sleuth, with
// the aws-sdk-go-v2 clients. Build the clients from one aws.Config: either
// config.LoadDefaultConfig (the SNS-triggered workers) or LambdaConfig (the
// latency-bound request Lambda, which links nothing of the SDK's credential
// chain). Either way every endpoint can be redirected with the SDK's
// standard AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> variables, which
// is how the tests point the clients at local fakes.
package awsx
