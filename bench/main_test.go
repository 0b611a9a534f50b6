package main

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
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

func TestMatches(t *testing.T) {
	t.Parallel()
	names := []string{"small: warm engine, source-only change", "small: warm builder, source-only change"}
	tests := []struct {
		only []string
		want bool
	}{
		{nil, true},
		{[]string{"warm engine"}, true},
		{[]string{"warm builder"}, true},
		{[]string{"big:", "builder, source"}, true},
		{[]string{"big:"}, false},
		{[]string{"fresh builder"}, false},
	}
	for _, tt := range tests {
		if got := matches(tt.only, names...); got != tt.want {
			t.Errorf("matches(%q) = %v, want %v", tt.only, got, tt.want)
		}
	}
}

func TestRotatePutsEachToolFirstInTurn(t *testing.T) {
	t.Parallel()
	b := &bench{}
	order := func(tools []tool, round int) string {
		var names []string
		for _, t := range rotate(tools, round) {
			names = append(names, t.name())
		}
		return strings.Join(names, ",")
	}
	two := []tool{recipe{b}, msbuild{b: b}}
	three := append(slices.Clone(two), msbuild{b: b, buildkit: true})
	for _, tc := range []struct {
		tools []tool
		round int
		want  string
	}{
		{two, 1, "recipe,ms-build"}, {two, 2, "ms-build,recipe"}, {two, 3, "recipe,ms-build"},
		{three, 1, "recipe,ms-build,BuildKit"}, {three, 2, "ms-build,BuildKit,recipe"},
		{three, 3, "BuildKit,recipe,ms-build"}, {three, 4, "recipe,ms-build,BuildKit"},
	} {
		if got := order(tc.tools, tc.round); got != tc.want {
			t.Errorf("round %d of %d tools: %s, want %s", tc.round, len(tc.tools), got, tc.want)
		}
	}
	if got := order(three, 1); got != "recipe,ms-build,BuildKit" {
		t.Errorf("rotate changed its argument: %s", got)
	}
}

func TestTableRow(t *testing.T) {
	t.Parallel()
	s := func(v ...float64) []time.Duration {
		var ds []time.Duration
		for _, x := range v {
			ds = append(ds, time.Duration(x*float64(time.Second)))
		}
		return ds
	}
	r := row{name: "small: warm engine, source-only change", target: 1.1, times: map[string][]time.Duration{
		toolRecipe: s(2, 9, 1), toolEngine: s(1, 3, 2.4), toolBuildKit: s(1.2, 0.5, 9),
	}}
	// Medians: recipe 2, engine 2.4 (ratio 1.20, over 1.1), BuildKit 1.2.
	want := "small: warm engine, source-only change               2.0s       2.4s    1.20   <=1.1 MISSED       1.2s      0.60      0.50"
	if got := tableRow(r, true); got != want {
		t.Errorf("tableRow() =\n%q, want\n%q", got, want)
	}
	want = "small: warm engine, source-only change               2.0s       2.4s    1.20   <=1.1 MISSED"
	if got := tableRow(r, false); got != want {
		t.Errorf("tableRow() without BuildKit =\n%q, want\n%q", got, want)
	}
	r.times[toolEngine] = s(1, 2, 2)
	if got := tableRow(r, false); !strings.HasSuffix(got, "1.00   <=1.1 met") {
		t.Errorf("tableRow() at ratio 1.00 = %q, want it met", got)
	}
}

// TestWatchPeak: the peak is the child's own after its exec, not the
// bench's, whose memory a child shares until it execs.
func TestWatchPeak(t *testing.T) {
	ballast := make([]byte, 200<<20) // the bench's own memory, touched
	for i := range ballast {
		ballast[i] = 1
	}
	cmd := exec.Command("sleep", "0.2")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep: ", err)
	}
	hwm := watchPeak(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	kb := hwm()
	if kb <= 0 || kb > 50<<10 {
		t.Errorf("sleep's peak = %d kB, want its own few MB, not the bench's 200 MB", kb)
	}
	runtime.KeepAlive(ballast)
}
