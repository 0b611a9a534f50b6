package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestSkipCallsLine(t *testing.T) {
	t.Parallel()
	same := map[string]int{"BatchGetImage": 1, "PutImage": 1}
	tests := []struct {
		name   string
		rounds []map[string]int
		want   string
	}{
		{
			name:   "every round alike",
			rounds: []map[string]int{same, same, same},
			want:   "ECR calls of a skip (small): 2 (BatchGetImage 1, PutImage 1) (target <= 3) met",
		},
		{
			name:   "rounds differ",
			rounds: []map[string]int{same, {"BatchGetImage": 2, "GetAuthorizationToken": 1, "PutImage": 1}},
			want:   "ECR calls of a skip (small): round 1: 2 (BatchGetImage 1, PutImage 1); round 2: 4 (BatchGetImage 2, GetAuthorizationToken 1, PutImage 1) (target <= 3) MISSED",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := skipCallsLine("small", tt.rounds); got != tt.want {
				t.Errorf("skipCallsLine() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestECRCallsCountsOnlyWhileRecording(t *testing.T) {
	t.Parallel()
	c := &ecrCalls{}
	h := c.wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	call := func(target string) {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921."+target)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	call("GetAuthorizationToken")
	c.start()
	call("BatchGetImage")
	call("PutImage")
	got := c.stop()
	call("DescribeImages")
	if got, want := formatCalls(got), "2 (BatchGetImage 1, PutImage 1)"; got != want {
		t.Errorf("calls while recording = %q, want %q", got, want)
	}
}
