package sleuthbot

import "testing"

func TestSnsToQueuePolicy(t *testing.T) {
	got, err := snsToQueuePolicy("arn:aws:sqs:us-east-1:1:q", "arn:aws:sns:us-east-1:1:t")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Statement":[{"Action":"sqs:SendMessage","Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:1:t"}},` +
		`"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Resource":"arn:aws:sqs:us-east-1:1:q","Sid":"DeadLettersOfOneTopic"}],"Version":"2012-10-17"}`
	if got != want {
		t.Errorf("snsToQueuePolicy() = %q, want %q", got, want)
	}
}
